"""Faults a nightly run meets: a full disk, an unreadable input, a folder
removed under juggle, closed pipes, daemons left behind, floods of output,
a wall clock that jumps. Each must end with the right status, an error that
names the file or job and what happened, nothing half-written under an
output's name, and a state log the next run can trust."""
import errno
import os
import re
import signal
import subprocess
import time

from harness import Result, Skip, backends, exits_within, leftovers, no_valgrind, timeout
from testbed import nginx

FAKETIME_LIBS = ["/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
                 "/usr/lib/faketime/libfaketimeMT.so.1"]


def tmpfs(t, path, size="1m"):
    """Mounts a small tmpfs at path (created), unmounted by t.cleanups.
    Skips the test where mounting is not permitted."""
    os.makedirs(path, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path],
                       capture_output=True, text=True)
    if p.returncode != 0:
        raise Skip("cannot mount a tmpfs: %s" % p.stderr.strip())
    t.cleanups.append(lambda: subprocess.run(["umount", "-l", path], check=False))


def resize(path, size):
    subprocess.run(["mount", "-o", "remount,size=%s" % size, path], check=True)


def fill(path):
    """Fills the file system holding the folder path: a file that grows
    until the disk says ENOSPC. Returns its name."""
    filler = os.path.join(path, "filler")
    with open(filler, "wb", buffering=0) as f:
        for chunk in (1 << 16, 4096, 1):
            try:
                while True:
                    f.write(b"\0" * chunk)
            except OSError as e:
                assert e.errno == errno.ENOSPC, e
    return filler


def in_w(t, *args, rc):
    """juggle -C w, with the result reading w/.juggle."""
    r = t.juggle("-C", "w", *args, rc=rc)
    r.cwd = os.path.join(t.dir, "w")
    return r


def kill_pid_file(path):
    """Kills the process whose pid a test's command wrote, if it runs."""
    try:
        pid = int(open(path).read().split()[0])
    except (OSError, ValueError, IndexError):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


# ---- 1. a full disk ----

@backends
@timeout(240)
def test_disk_full_outputs(t):
    """Outputs on a full disk: a command whose own write fails, a cpu task
    whose write hits ENOSPC, a download bigger than the free space. The
    failures name what happened; no output is half-written, a previous
    output is kept, no temporary file is left; once there is room, the
    next run makes everything."""
    tmpfs(t, "full", "1m")
    web = nginx(t)
    big = os.urandom(3 << 20)
    web.put("big.bin", big)
    t.write("rand.bin", big)
    t.write("full/rand.gz", "old gz\n")
    t.write("full/dl.bin", "old dl\n")
    t.ini("""
        [command big]
        output = full/big.bin
        command = sh -c 'head -c 3000000 /dev/zero > full/big.bin'

        [cpu gz]
        task = gzip
        input = rand.bin
        output = full/rand.gz

        [download dl]
        url = %s
        output = full/dl.bin
        """ % web.url("/big.bin"))
    r = t.juggle("-k", rc=1)
    assert r.statuses() == {"big": "failed", "gz": "failed", "dl": "failed"}, r
    b = r.job("big")
    assert b["exit_code"] == 1 and b["error"] == "exited with status 1", b
    # The log is not on the full disk, so it keeps the command's own words.
    assert "No space left on device" in t.read(".juggle/logs/big.log"), t.read(
        ".juggle/logs/big.log")
    assert not os.path.exists("full/big.bin")  # .DELETE_ON_ERROR
    g = r.job("gz")
    assert g["error"] == "cannot write 'full/rand.gz': No space left on device", g
    d = r.job("dl")
    assert "full/dl.bin" in d["error"] and "No space left on device" in d["error"], d
    assert t.read("full/rand.gz") == "old gz\n"
    assert t.read("full/dl.bin") == "old dl\n"
    assert leftovers("full") == [], leftovers("full")
    for name in ("big", "gz", "dl"):
        assert "FAILED %s" % name in r.out + r.err, r

    resize("full", "16m")
    r = t.juggle("-k", rc=0)
    assert r.statuses() == {"big": "ok", "gz": "ok", "dl": "ok"}, r
    assert os.path.getsize("full/big.bin") == 3000000
    with open("full/dl.bin", "rb") as f:
        assert f.read() == big
    subprocess.run(["gzip", "-t", "full/rand.gz"], check=True)
    assert leftovers("full") == []
    r = t.juggle(rc=0)
    assert r.statuses() == {"big": "skipped-up-to-date", "gz": "skipped-up-to-date",
                            "dl": "ok"}, r
    assert r.job("dl")["http_status"] == 304, r.job("dl")


@backends
@timeout(180)
def test_disk_full_state_log_stays_sound(t):
    """.juggle on a disk that fills up during a run, and has room again
    before the run ends (another program freed space). The record that
    hit the full disk may be torn; the records after it must not follow
    the torn line, or the next run would find the log damaged, set it
    aside and run every job again."""
    tmpfs(t, "w", "1m")
    t.ini("""
        [command seed]
        command = true
        """, path="w/juggle.ini")
    in_w(t, rc=0)
    fill("w")
    # 80 records of some 90 bytes cross a page of the state log whatever
    # its length: the write that crosses it is cut short by the full disk.
    t.ini("""
        [command seed]
        command = true

        [command j]
        foreach = range:0..79
        command = true

        [command free]
        after = j
        command = rm -f filler

        [command z]
        after = free
        command = true
        """, path="w/juggle.ini")
    r = in_w(t, "-j", "2", rc=1)
    assert set(r.statuses().values()) == {"ok", "skipped-up-to-date"}, r
    m = re.search(r"juggle: cannot record the result of (\d+) jobs? in "
                  r"'\.juggle/state': No space left on device; they will run again next time",
                  r.err)
    assert m, r

    r = in_w(t, rc=0)
    assert "damaged" not in r.err and "moved it" not in r.err, r
    st = r.statuses()
    # What was recorded before the disk filled is still known; the jobs
    # whose records were lost run again (and free and z after them).
    assert st["seed"] == "skipped-up-to-date", r
    kept = [n for n, s in st.items() if n.startswith("j[") and s == "skipped-up-to-date"]
    reran = [n for n, s in st.items() if n.startswith("j[") and s == "ok"]
    assert kept and len(kept) + len(reran) == 80, r
    assert len(reran) == int(m.group(1)), (m.group(0), reran)
    assert "nothing to do" in in_w(t, rc=0).out


@backends
@timeout(180)
def test_disk_full_state_reports_and_logs(t):
    """The graph's folder, .juggle with it, on a disk that is full for the
    whole run: jobs fail naming the file, the report cannot be written and
    juggle says so, nothing crashes, and once there is room the next run
    redoes exactly what did not get done."""
    tmpfs(t, "w", "1m")
    t.ini("""
        [cpu a]
        task = sum_squares
        n = 10
        output = out/a.txt

        [command b]
        output = out/b.txt
        command = sh -c 'echo b > out/b.txt'
        """, path="w/juggle.ini")
    r = in_w(t, rc=0)
    old_report = t.read("w/.juggle/last-report.json")
    t.ini("""
        [cpu a]
        task = sum_squares
        n = 11
        output = out/a.txt

        [command b]
        output = out/b.txt
        command = sh -c 'echo b > out/b.txt'

        [cpu c]
        task = sum_squares
        n = 12
        output = out/c.txt
        """, path="w/juggle.ini")
    filler = fill("w")
    # -j 1: a job's log truncated by its next attempt frees a page of the
    # full disk, which a job running beside it could take.
    r = in_w(t, "-k", "-j", "1", rc=1)
    assert "cannot write report '.juggle/last-report.json': No space left on device" in r.err, r
    assert "FAILED a: cannot write 'out/a.txt': No space left on device" in r.out + r.err, r
    assert "FAILED c: cannot write 'out/c.txt': No space left on device" in r.out + r.err, r
    assert "Sanitizer" not in r.err, r
    # The old report and outputs are whole; nothing half-written.
    assert t.read("w/.juggle/last-report.json") == old_report
    assert t.read("w/out/a.txt") == "285\n" and t.read("w/out/b.txt") == "b\n"
    assert not os.path.exists("w/out/c.txt")
    assert leftovers("w") == [], leftovers("w")

    os.unlink(filler)
    r = in_w(t, rc=0)
    assert "damaged" not in r.err, r
    assert r.statuses() == {"a": "ok", "b": "skipped-up-to-date", "c": "ok"}, r
    assert t.read("w/out/a.txt") == "385\n" and t.read("w/out/c.txt") == "506\n"
    assert "nothing to do" in in_w(t, rc=0).out


# ---- 2. an unreadable input ----

def as_nobody(t):
    """argv prefix running juggle as user nobody (root reads any file, so a
    chmod 000 input only fails for another user), with the test folder
    handed over to nobody. Skips without setpriv or when not root."""
    if os.geteuid() != 0 or not os.path.exists("/usr/bin/setpriv"):
        raise Skip("needs root and setpriv to run juggle as another user")
    for root, dirs, files in os.walk(t.dir):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), 65534, 65534)
    os.chown(t.dir, 65534, 65534)
    return ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@no_valgrind("runs juggle as user nobody, who cannot run the valgrind wrapper in root's scratch folder")
@backends
def test_unreadable_input(t):
    """An input that exists but cannot be read (permission denied for the
    user juggle runs as; a folder where a file was expected) fails its job
    with the file and the reason, not 'does not exist', and only that job:
    -k runs the rest."""
    t.write("secret.txt", "s\n")
    t.write("fine.txt", "f\n")
    os.mkdir("adir")
    t.ini("""
        [cpu digest]
        task = sha256
        input = secret.txt
        output = secret.sha256

        [command copy]
        input = secret.txt
        output = copy.txt
        command = cp secret.txt copy.txt

        [cpu folder]
        task = sha256
        input = adir
        output = adir.sha256

        [cpu ok]
        task = sha256
        input = fine.txt
        output = fine.sha256
        """)
    prefix = as_nobody(t)
    os.chmod("secret.txt", 0)
    cmd = prefix + [t.exe, "-b", t.backend, "-k"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, NO_COLOR="1"))
    out = p.stdout + p.stderr
    assert p.returncode == 1, (p.returncode, out)
    r = Result(p, t.dir)
    for name in ("digest", "copy"):
        j = r.job(name)
        assert j["status"] == "failed", j
        assert j["error"] == "cannot read input 'secret.txt': Permission denied", j
        assert "FAILED %s: cannot read input 'secret.txt': Permission denied" % name in out, out
    assert r.job("folder")["error"] == "cannot read input 'adir': Is a directory", r.job("folder")
    assert r.job("ok")["status"] == "ok"
    for f in ("secret.sha256", "copy.txt", "adir.sha256"):
        assert not os.path.exists(f), f


@no_valgrind("runs juggle as user nobody, who cannot run the valgrind wrapper in root's scratch folder")
def test_unreadable_state_log_is_kept(t):
    """.juggle/state that is there but cannot be read (write-only for the
    user juggle runs as; an I/O error would do the same): juggle does not
    start afresh over it, which would truncate it and forget every job's
    last success; it says why and exits 3, and the log is untouched."""
    t.ini("""
        [command a]
        command = true
        """)
    t.juggle(rc=0)
    prefix = as_nobody(t)
    os.chmod(".juggle/state", 0o200)
    before = t.read(".juggle/state")
    for args in ([], ["list"]):
        p = subprocess.run(prefix + [t.exe, "-b", t.backend] + args, capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 3, (args, p)
        assert p.stderr == "juggle: cannot read '.juggle/state': Permission denied\n", p
    assert t.read(".juggle/state") == before
    os.chmod(".juggle/state", 0o644)
    # Back to root, who runs t.juggle(): juggle refuses a .juggle of
    # another user's.
    for root, dirs, files in os.walk(t.dir):
        for n in dirs + files:
            os.lchown(os.path.join(root, n), 0, 0)
    assert "nothing to do" in t.juggle(rc=0).out


# ---- 3. the folder goes away ----

@backends
def test_graph_folder_removed_during_the_run(t):
    """A job removes the graph's folder: the jobs after it fail saying so,
    the report that cannot be written is named, exit status 1, no crash,
    no hang."""
    t.ini("""
        [command rm]
        command = sh -c 'rm -rf "$PWD"'

        [cpu after]
        task = sum_squares
        n = 10
        output = sq.txt
        after = rm

        [command later]
        command = true
        after = after
        """, path="w/juggle.ini")
    r = t.juggle("-C", "w", "-k", rc=1, timeout=60)
    assert "FAILED after: the graph's folder" in r.out + r.err, r
    assert "No such file or directory" in r.out + r.err, r
    assert "cannot write report '.juggle/last-report.json'" in r.err, r
    assert "Sanitizer" not in r.err and "Aborted" not in r.err, r
    assert not os.path.exists("w")


@no_valgrind("the valgrind wrapper is a shell script, which prints its own complaint about the missing folder first")
def test_graph_folder_missing_at_start(t):
    """-C to a folder that does not exist, or a cwd already removed: a
    clear error and exit status 2 or 3, never a crash."""
    r = t.juggle("-C", "no/such/dir", rc=2)
    assert r.err == "juggle: cannot change to folder 'no/such/dir': No such file or directory\n", r
    r = t.juggle("-f", "no/such/dir/juggle.ini", rc=2)
    assert "cannot read graph file 'no/such/dir/juggle.ini': No such file or directory" in r.err
    os.mkdir("gone")
    p = subprocess.run(["sh", "-c", 'cd gone && rmdir "$PWD" && exec "$0" -b serial', t.exe],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode in (2, 3), (p.returncode, p.stderr)
    assert p.stderr.startswith("juggle: ") and "No such file or directory" in p.stderr, p.stderr


# ---- 4. closed pipes ----

@backends
def test_command_with_closed_stdout(t):
    """A command that closes its own stdout and then writes fails with its
    status; one whose pipeline reader quits early is fine; one killed by
    SIGPIPE says so."""
    t.ini("""
        [command closes]
        command = sh -c 'exec 1>&-; echo lost || exit 7'

        [command pipeline]
        output = first.txt
        command = sh -c 'yes | head -n 1 > first.txt'

        [command sigpipe]
        command = sh -c 'kill -PIPE $$$$'
        """)
    r = t.juggle("-k", rc=1)
    assert r.job("closes")["exit_code"] == 7, r.job("closes")
    assert r.job("pipeline")["status"] == "ok" and t.read("first.txt") == "y\n"
    s = r.job("sigpipe")
    assert s["signal"] == "SIGPIPE" and s["error"] == "killed by SIGPIPE", s


@backends
def test_juggle_stdout_closed_early(t):
    """`juggle | head -1` and `juggle >&-`: no death by SIGPIPE, the run
    completes, the state and report are written, the status is right."""
    t.ini("""
        [command a]
        command = sh -c 'echo a'

        [command b]
        foreach = range:1..30
        command = true
        after = a

        [command bad]
        command = false
        after = b
        """)
    p = subprocess.Popen([t.exe, "-b", t.backend, "-k", "-v", "--progress", "plain"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         env=dict(os.environ, NO_COLOR="1"))
    first = p.stdout.readline()
    assert first, "no output at all"
    p.stdout.close()  # as head -1 does
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 1, (p.returncode, err)
    assert "Broken pipe" not in err, err
    r = Result(p, t.dir)
    assert r.report["counts"]["ok"] == 31 and r.report["counts"]["failed"] == 1, r.report
    # A second run trusts the state: only the failed job runs again.
    r = t.juggle("-k", rc=1)
    assert r.ran() == ["bad"], r

    for closed in (">&-", "2>&-", ">&- 2>&-"):
        p = subprocess.run(["sh", "-c", 'exec "$0" -b %s -k -B %s' % (t.backend, closed),
                            t.exe], input="", capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, NO_COLOR="1"))
        assert p.returncode == 1, (closed, p)
        r = t.juggle("-k", rc=1)
        assert "damaged" not in r.err and r.ran() == ["bad"], (closed, r)
        assert t.read(".juggle/logs/a.log") == "a\n"


# ---- 5. daemons ----

@backends
def test_command_leaves_a_daemon(t):
    """A command that starts a background process and exits, one that
    double-forks a setsid daemon: the job ends when the program juggle
    started exits, without waiting for what it left behind (as make, not
    ninja); the daemons keep running (see juggle(1), BUGS), and what they
    write later still goes to the job's log."""
    t.ini("""
        [command bg]
        shell = yes
        command = sleep 3600 & echo $! > bg.pid; echo started bg

        [command daemon]
        shell = yes
        command = setsid sh -c 'echo $$$$ > daemon.pid; exec sleep 3600' &
            while [ ! -s daemon.pid ]; do sleep 0.01; done; echo started daemon

        [command next]
        after = bg daemon
        command = true
        """)
    t.cleanups.append(lambda: kill_pid_file("bg.pid"))
    t.cleanups.append(lambda: kill_pid_file("daemon.pid"))
    # A juggle that waited for the daemons would run into this time-out.
    r = t.juggle(rc=0, timeout=60)
    assert r.statuses() == {"bg": "ok", "daemon": "ok", "next": "ok"}, r
    assert t.read(".juggle/logs/bg.log") == "started bg\n"
    assert t.read(".juggle/logs/daemon.log") == "started daemon\n"
    for f in ("bg.pid", "daemon.pid"):
        pid = int(t.read(f))
        assert not exits_within(pid, 0), "%s: %d is not running" % (f, pid)
        os.kill(pid, signal.SIGKILL)
    assert "nothing to do" in t.juggle(rc=0).out


@backends
def test_a_daemon_never_writes_into_another_jobs_log(t):
    """A silent program's log is kept for the next job's (one file less
    to make per job) only when nothing still holds it: here quietd leaves
    a background process with the log as its output, which writes only
    once the next job has started; what it writes must not turn up in any
    other job's log. The jobs after it are silent and leave no log, and
    no kept file outlives the run."""
    t.ini("""
        [command quietd]
        shell = yes
        command = ( while [ ! -e go ]; do sleep 0.01; done; echo late-from-daemon; touch said ) &

        [command first]
        after = quietd
        shell = yes
        timeout = 60
        command = touch go; while [ ! -e said ]; do sleep 0.01; done

        [command rest]
        foreach = range:1..20
        after = first
        command = true
        """)
    r = t.juggle("-j1", rc=0, timeout=120)
    assert set(r.statuses().values()) == {"ok"}, r.statuses()
    assert os.path.exists("said")
    logs = os.listdir(".juggle/logs")
    for name in logs:
        assert "late-from-daemon" not in t.read(".juggle/logs/" + name), name
    assert logs == [], logs
    assert all(j["log"] is None for j in r.report["jobs"]), r.report["jobs"]


@backends
def test_failing_command_takes_its_group_along_on_timeout(t):
    """A command that times out: its whole process group goes, the
    background process it started included."""
    t.ini("""
        [command slow]
        shell = yes
        timeout = 1
        command = sleep 3600 & echo $! > bg.pid; wait
        """)
    t.cleanups.append(lambda: kill_pid_file("bg.pid"))
    r = t.juggle(rc=1, timeout=60)
    assert "timed out after 1 s" in r.job("slow")["error"], r
    pid = int(t.read("bg.pid"))
    # The group was sent SIGKILL before juggle returned.
    assert exits_within(pid, 30), pid


# ---- 6. floods of output ----

def rss_kib_of(argv, env=None):
    """Runs argv; its exit status, and the peak RSS (KiB) of it and every
    descendant it waited for."""
    p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         env=dict(os.environ, NO_COLOR="1", **(env or {})))
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode()
    return p.returncode, ru.ru_maxrss, err


@backends
@timeout(300)
def test_megabytes_of_output(t):
    """A job that writes 64 MiB to stdout and stderr, interleaved: the log
    gets every byte, no backend deadlocks, juggle's memory does not grow
    with the output."""
    t.ini("""
        [command flood]
        shell = yes
        command = i=0; while [ $i -lt ${n} ]; do
            head -c 1048576 /dev/zero | tr '\\0' o; head -c 1048576 /dev/zero | tr '\\0' e >&2;
            i=$((i+1)); done; echo end

        [command after]
        after = flood
        command = true
        """)
    base_rc, base_rss, err = rss_kib_of([t.exe, "-b", t.backend, "-s", "n=1"])
    assert base_rc == 0, err
    rc, rss, err = rss_kib_of([t.exe, "-b", t.backend, "-s", "n=32"])
    assert rc == 0, err
    size = os.path.getsize(".juggle/logs/flood.log")
    assert size == 64 * 1048576 + 4, size
    with open(".juggle/logs/flood.log", "rb") as f:
        f.seek(-4, os.SEEK_END)
        assert f.read() == b"end\n"
    # The same run with 1 MiB of output is the baseline: 64 MiB more output
    # may not cost 32 MiB more memory anywhere in juggle or its workers.
    assert rss < base_rss + 32 * 1024, (base_rss, rss)
    r = t.juggle("-s", "n=32", rc=0)
    assert "nothing to do" in r.out, r


# ---- 7. a wall clock that jumps ----

def faketime_env(**extra):
    lib = next((p for p in FAKETIME_LIBS if os.path.exists(p)), None)
    if not lib:
        raise Skip("libfaketime is not installed (tools/deps)")
    env = {"LD_PRELOAD": lib,
           # The realistic case: the wall clock is stepped (NTP, an admin,
           # a VM resumed), CLOCK_MONOTONIC is not. libfaketime would
           # otherwise fake that too, which no real clock step does.
           "FAKETIME_DONT_FAKE_MONOTONIC": "1",
           "FAKETIME_NO_CACHE": "1",
           # ASan wants to be the first library; libfaketime is preloaded.
           "ASAN_OPTIONS": "verify_asan_link_order=0:" + os.environ.get("ASAN_OPTIONS", "")}
    env.update(extra)
    return env


@backends
@timeout(180)
def test_wall_clock_jumps(t):
    """The wall clock steps back a day, then forward two, in the middle of
    a run: durations come from the monotonic clock and stay sane; what is
    up to date stays so, what changed is redone, whatever the mtimes say."""
    t.write("in.txt", "one\n")
    t.write("clock", "+0d\n")
    t.ini("""
        [cpu digest]
        task = sha256
        input = in.txt
        output = in.sha256

        [command back]
        after = digest
        shell = yes
        command = echo -1d > clock; echo stepped back

        [command forth]
        after = back
        shell = yes
        command = echo +2d > clock; echo stepped forth

        [command last]
        after = forth
        input = in.sha256
        output = last.txt
        command = cp in.sha256 last.txt
        """)
    env = faketime_env(FAKETIME_TIMESTAMP_FILE=os.path.join(t.dir, "clock"))
    r = t.juggle(rc=0, env=env)
    rep = r.report
    assert rep["wall_s"] >= 0 and rep["wall_s"] < 3600, rep["wall_s"]
    for j in rep["jobs"]:
        for k in ("queued_s", "started_s", "finished_s", "duration_s"):
            assert j[k] is not None and 0 <= j[k] < 3600, (k, j)
        assert j["finished_s"] >= j["started_s"] >= j["queued_s"], j
    assert t.read("clock") == "+2d\n"

    # Up to date under any clock: a day back, two days on.
    for offset in ("-1d", "+2d", "-365d"):
        t.write("clock", offset + "\n")
        r = t.juggle(rc=0, env=env)
        assert "nothing to do" in r.out, (offset, r)
    # The fake clock did reach juggle: its report is dated a year back.
    assert int(r.report["started"][:4]) < int(time.strftime("%Y", time.gmtime())), r.report

    # The input changes while the clock is a day behind, and its mtime goes
    # back to before the last run: the content decides, digest and last run.
    t.write("clock", "-1d\n")
    st = os.stat("in.txt")
    t.write("in.txt", "two\n")
    os.utime("in.txt", ns=(st.st_atime_ns, st.st_mtime_ns - 86400 * 10**9))
    r = t.juggle(rc=0, env=env)
    assert r.statuses()["digest"] == "ok" and r.statuses()["last"] == "ok", r
    assert "in.txt" in t.read("last.txt") and t.read("last.txt") == t.read("in.sha256")

    # A touch with a future mtime but the same bytes redoes nothing.
    os.utime("in.txt", ns=(st.st_atime_ns, st.st_mtime_ns + 86400 * 10**9))
    r = t.juggle(rc=0, env=env)
    assert "nothing to do" in r.out, r
