"""juggle's own files under .juggle/ are its own: a link planted there,
a .juggle that is a link or another user's folder, and an output that
reaches .juggle through a link lead nowhere; the lock keeps other users
out. The state log learns a touched file's new stat signature once its
content hash has confirmed it, so later no-op runs are stat-only again."""
import fcntl
import os
import stat
import subprocess
import textwrap

from harness import Skip, backends, valgrind_slow


def graph(t):
    t.ini("""
        [command a]
        output = a.txt
        command = sh -c "echo made > a.txt"
        """)


def victim(t):
    """A file outside the graph's folder that nothing may touch."""
    path = os.path.join(os.path.dirname(t.dir), os.path.basename(t.dir) + "-victim.txt")
    with open(path, "w") as f:
        f.write("precious\n")
    t.cleanups.append(lambda: os.path.exists(path) and os.unlink(path))
    return path


def outside_path(t, name):
    path = os.path.join(os.path.dirname(t.dir), os.path.basename(t.dir) + "-" + name)
    t.cleanups.append(lambda: os.path.lexists(path) and (
        subprocess.run(["rm", "-rf", path]) and None))
    return path


@backends
def test_ownfiles_log_link_is_not_followed(t):
    """A link at .juggle/logs/NAME.log: the next run neither truncates nor
    appends to its target."""
    graph(t)
    t.juggle(rc=0)
    v = victim(t)
    assert not os.path.exists(".juggle/logs/a.log")  # a says nothing
    os.symlink(v, ".juggle/logs/a.log")
    r = t.juggle("-B", rc=1)
    assert "cannot open the log of 'a'" in r.job("a")["error"], r
    assert t.read(v) == "precious\n"
    # A FIFO there does not hang the run: not a log either.
    os.unlink(".juggle/logs/a.log")
    os.mkfifo(".juggle/logs/a.log")
    r = t.juggle("-B", rc=1, timeout=60)
    assert "cannot open the log of 'a'" in r.job("a")["error"], r
    # Once it is gone, the job runs as before.
    os.unlink(".juggle/logs/a.log")
    t.juggle(rc=0)
    assert t.read("a.txt") == "made\n"


def test_ownfiles_lock_link_is_not_followed(t):
    graph(t)
    os.makedirs(".juggle")
    v = victim(t)
    os.symlink(v, ".juggle/lock")
    r = t.juggle(rc=3)
    assert "'.juggle/lock'" in r.err and "remove it" in r.err, r
    assert t.read(v) == "precious\n"
    assert not os.path.exists("a.txt")
    r = t.juggle("clean", rc=3)
    assert t.read(v) == "precious\n"


def test_ownfiles_dangling_state_link_creates_nothing(t):
    graph(t)
    os.makedirs(".juggle")
    target = outside_path(t, "created.txt")
    os.symlink(target, ".juggle/state")
    r = t.juggle(rc=3)
    assert "'.juggle/state'" in r.err and "remove it" in r.err, r
    assert not os.path.lexists(target)
    # A link to a real file is not read either: not the state.
    v = victim(t)
    os.unlink(".juggle/state")
    os.symlink(v, ".juggle/state")
    t.juggle(rc=3)
    assert t.read(v) == "precious\n"
    os.unlink(".juggle/state")
    t.juggle(rc=0)


def test_ownfiles_juggle_folder_must_be_a_real_folder(t):
    graph(t)
    out = outside_path(t, "elsewhere")
    os.makedirs(out)
    os.symlink(out, ".juggle")
    r = t.juggle(rc=3)
    assert "'.juggle' is a symbolic link" in r.err and "remove it" in r.err, r
    assert os.listdir(out) == [], os.listdir(out)
    assert not os.path.exists("a.txt")
    t.juggle("clean", rc=3)
    assert os.path.isdir(out)
    # A dry run reads nothing through it either.
    t.juggle("-n", rc=3)
    os.unlink(".juggle")
    t.juggle(rc=0)
    assert stat.S_ISDIR(os.lstat(".juggle").st_mode)


def test_ownfiles_subfolder_links_refused(t):
    graph(t)
    t.juggle(rc=0)
    out = outside_path(t, "logs")
    os.makedirs(out)
    for sub in ("logs", "results"):
        saved = ".juggle/%s.saved" % sub
        os.rename(".juggle/" + sub, saved)
        os.symlink(out, ".juggle/" + sub)
        r = t.juggle("-B", rc=3)
        assert "'.juggle/%s' is a symbolic link" % sub in r.err, r
        assert os.listdir(out) == []
        os.unlink(".juggle/" + sub)
        os.rename(saved, ".juggle/" + sub)
    t.juggle("-B", rc=0)


def test_ownfiles_juggle_folder_of_another_user_refused(t):
    if os.geteuid() != 0:
        raise Skip("needs root to give .juggle to another user")
    graph(t)
    os.makedirs(".juggle")
    os.chown(".juggle", 65534, 65534)
    r = t.juggle(rc=3)
    assert "'.juggle' belongs to user 65534" in r.err and "not starting" in r.err, r
    assert os.listdir(".juggle") == []
    assert not os.path.exists("a.txt")
    assert "not cleaning" in t.juggle("clean", rc=3).err
    # Reading it is harmless: explain and -n still work.
    t.juggle("explain", "a", rc=0)


def test_ownfiles_output_through_link_into_juggle_folder(t):
    """`st -> .juggle` and `output = st/state`: a load error with its
    file:line, whether .juggle exists yet or not, and the state survives."""
    t.ini("""
        [command a]
        output = a.txt
        command = sh -c "echo made > a.txt"

        [command clobber]
        output = st/state
        command = sh -c "echo clobbered > st/state"
        """)
    os.symlink(".juggle", "st")
    r = t.juggle("check", rc=2)
    assert "juggle.ini:7:" in r.err and "'st/state'" in r.err and ".juggle/" in r.err, r
    os.makedirs(".juggle/logs")
    r = t.juggle(rc=2)
    assert "juggle.ini:7:" in r.err, r
    assert not os.path.exists(".juggle/state")
    # Through a link to a folder inside .juggle, by an absolute path too.
    os.unlink("st")
    os.symlink(os.path.join(t.dir, ".juggle", "logs"), "st")
    r = t.juggle("check", rc=2)
    assert "juggle.ini:7:" in r.err, r
    # A link elsewhere inside the folder is fine.
    os.unlink("st")
    os.makedirs("real")
    os.symlink("real", "st")
    t.juggle(rc=0)
    assert t.read("real/state") == "clobbered\n"


def test_ownfiles_lock_is_private(t):
    """The lock is 0600, so no other user can open it to flock it; a lock
    left readable by an older juggle is made private too."""
    graph(t)
    t.juggle(rc=0)
    assert stat.S_IMODE(os.stat(".juggle/lock").st_mode) == 0o600
    os.chmod(".juggle/lock", 0o644)
    t.juggle("-B", rc=0)
    assert stat.S_IMODE(os.stat(".juggle/lock").st_mode) == 0o600
    if os.geteuid() == 0:
        # Another user cannot open it, so cannot take even a shared lock.
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "flock", "-n", "-s", ".juggle/lock", "true"],
                           capture_output=True, text=True)
        assert p.returncode != 0 and "Permission denied" in p.stderr, p


def test_ownfiles_lock_names_only_a_live_holder(t):
    """A holder whose pid is long gone (another tool holding the lock over
    an old pid) is not named: the pid would point at the wrong process."""
    graph(t)
    os.makedirs(".juggle")
    dead = subprocess.Popen(["true"])
    dead.wait()
    fd = os.open(".juggle/lock", os.O_RDWR | os.O_CREAT, 0o600)
    t.cleanups.append(lambda: os.close(fd))
    os.write(fd, b"%d\n" % dead.pid)
    fcntl.flock(fd, fcntl.LOCK_EX)
    r = t.juggle(rc=3)
    assert "another juggle run holds '.juggle/lock'" in r.err, r
    assert "pid" not in r.err, r
    # A live holder is named.
    os.ftruncate(fd, 0)
    os.pwrite(fd, b"%d\n" % os.getpid(), 0)
    r = t.juggle(rc=3)
    assert "(pid %d)" % os.getpid() in r.err, r


def state_files(name):
    """{path: (mtime_ns, size, hash)} of the job's last record in the state log."""
    files = None
    with open(".juggle/state") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "S" and fields[1] == name:
                n = int(fields[7]) + int(fields[8])
                files = {fields[9 + 4 * i]: (int(fields[10 + 4 * i]), int(fields[11 + 4 * i]),
                                             fields[12 + 4 * i]) for i in range(n)}
    return files


@backends
def test_ownfiles_touched_input_hashed_once(t):
    """After a touch that changes nothing, the run that hashes the file to
    find it unchanged records its new mtime, so the runs after it decide
    with stat() alone: a file rewritten then with other bytes of the same
    size and the same mtime is, as make would, taken as unchanged."""
    t.write("big.bin", b"x" * (1 << 20))
    t.ini("""
        [command sum]
        input = big.bin
        output = sum.txt
        command = sh -c "wc -c < big.bin > sum.txt"
        """)
    t.juggle(rc=0)
    old = state_files("sum")
    # touch, an hour ago (a mtime in the last second is learnt only once it
    # has settled: the same tick could see another write).
    st = os.stat("big.bin")
    touched = st.st_mtime_ns - 3600 * 10**9
    os.utime("big.bin", ns=(touched, touched))
    os.utime("sum.txt", ns=(touched, touched))
    r = t.juggle(rc=0)
    assert "nothing to do" in r.out, r
    now = state_files("sum")
    assert now["big.bin"] == (touched, 1 << 20, old["big.bin"][2]), (old, now)
    assert now["sum.txt"] == (touched, old["sum.txt"][1], old["sum.txt"][2]), (old, now)
    # The next run does not hash: other bytes behind the same signature
    # go unseen (today's make-like contract for stat-equal files).
    with open("big.bin", "r+b") as f:
        f.write(b"y")
    os.utime("big.bin", ns=(touched, touched))
    r = t.juggle(rc=0)
    assert "nothing to do" in r.out, r
    assert t.read("sum.txt").strip() == str(1 << 20)
    # A real change of size or mtime is still seen and hashed.
    t.write("big.bin", b"z" * 10)
    r = t.juggle(rc=0)
    assert r.ran() == ["sum"] and t.read("sum.txt").strip() == "10", r
    # A dry run and explain learn nothing and write nothing.
    t.juggle(rc=0)
    before = t.read(".juggle/state")
    os.utime("big.bin", ns=(touched, touched))
    t.juggle("-n", rc=0)
    t.juggle("explain", "sum", rc=0)
    assert t.read(".juggle/state") == before


# ---- Slurm results are taken from this run's exec-job only ----

FORGED_OK = ('{"status":0,"retryable":false,"unchanged":false,"timed_out":false,'
             '"retry_after":0,"exit_code":0,"signal":0,"http_status":0,"connections":0,'
             '"bytes":0,"cpu_s":0,"duration":0.1,"error":null,"value":%s,"extra":null,'
             '"outs":[]}')


def slurm_cluster(t):
    import slurm
    why = slurm.unavailable()
    if why:
        raise Skip(why)
    c = slurm.Cluster()
    t.cleanups.append(c.stop)
    c.start()
    os.environ["SLURM_CONF"] = c.conf
    t.backend = "slurm"
    return c


def epilog(t, job, script):
    """srun --epilog: runs on this host once a step has ended, before srun
    returns and juggle reads the step's result, with the step's command as
    its arguments; script runs (sh, in the graph's folder) for job's
    exec-job steps only. What another user who can write .juggle/results/
    can do in that moment."""
    path = t.write("epilog.sh", "#!/bin/sh\n"
                   "case \"$*\" in *' exec-job -- %s '*) ;; *) exit 0 ;; esac\n"
                   "cd '%s' || exit 1\n%s\n" % (job, t.dir, script), mode=0o755)
    return "[settings]\nslurm_args = --epilog=%s\n" % os.path.abspath(path)


@valgrind_slow("a private Slurm per test: slow under memcheck, for one backend")
def test_ownfiles_slurm_forged_ok_over_failed_step(t):
    """A step fails (exit 1, Slurm says FAILED); a results file saying ok
    is written over its result before juggle reads it: the step stays
    failed and its dependents do not run."""
    slurm_cluster(t)
    t.write("bad.xml", "<a><b></a>\n")
    t.ini(epilog(t, "check", "printf '%%s' '%s' > .juggle/results/check.json"
                 % (FORGED_OK % "null")) + textwrap.dedent("""
        [cpu check]
        task = xmlcheck
        input = bad.xml
        output = check.txt

        [command after]
        input = check.txt
        output = after.txt
        command = touch after.txt
        """))
    r = t.juggle("-k", rc=1)
    assert r.statuses() == {"check": "failed", "after": "not-run"}, r.statuses()
    err = r.job("check")["error"]
    assert "not written by this run's juggle exec-job" in err, err
    assert not os.path.exists("after.txt") and not os.path.exists("check.txt")
    # Next time it runs again: nothing of the forgery was recorded.
    os.unlink("epilog.sh")
    t.write("epilog.sh", "#!/bin/sh\n", mode=0o755)
    t.write("bad.xml", "<a><b/></a>\n")
    r = t.juggle(rc=0)
    assert r.ran() == ["after", "check"], r.ran()


@valgrind_slow("a private Slurm per test: slow under memcheck, for one backend")
def test_ownfiles_slurm_forged_value_rejected(t):
    """A step that succeeds has its result rewritten (another value, no
    seal): rejected, even though Slurm says COMPLETED. The run's key is
    private (0600), never on srun's command line, and gone after the run."""
    slurm_cluster(t)
    t.ini(epilog(t, "squares",
                 "cat .juggle/run-key > key.seen; stat -c '%%a %%u' .juggle/run-key > key.mode\n"
                 "echo \"$*\" > step.args\n"
                 "printf '%%s' '%s' > .juggle/results/squares.json" % (FORGED_OK % '"666"')) + textwrap.dedent("""
        [cpu squares]
        task = sum_squares
        n = 10
        """))
    r = t.juggle(rc=1)
    j = r.job("squares")
    assert j["status"] == "failed" and j.get("result") != "666", j
    assert "not written by this run's juggle exec-job" in j["error"], j
    assert t.read("key.mode") == "600 %d\n" % os.geteuid()
    key = t.read("key.seen").strip()
    assert len(key) == 64 and key not in t.read("step.args"), t.read("step.args")
    assert not os.path.exists(".juggle/run-key")
    # Untouched, the node's sealed result is taken.
    t.write("epilog.sh", "#!/bin/sh\n", mode=0o755)
    r = t.juggle(rc=0)
    assert r.job("squares")["result"] == "285", r.job("squares")


@valgrind_slow("a private Slurm per test: slow under memcheck, for one backend")
def test_ownfiles_slurm_output_missing_on_host(t):
    """The node says ok, but the declared output is not on the submitting
    host: the step fails and its dependents do not run."""
    slurm_cluster(t)
    t.write("data.txt", "abc")
    t.ini(epilog(t, "digest", "rm -f data.sha256") + textwrap.dedent("""
        [cpu digest]
        task = sha256
        input = data.txt
        output = data.sha256

        [command after]
        input = data.sha256
        output = after.txt
        command = touch after.txt
        """))
    r = t.juggle("-k", rc=1)
    assert r.statuses() == {"digest": "failed", "after": "not-run"}, r.statuses()
    err = r.job("digest")["error"]
    assert "output 'data.sha256' is missing on this host" in err, err
