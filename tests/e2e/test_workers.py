"""Persistent workers: `worker = PROGRAM ARGS` serves a section's jobs from
one long-lived process on Bazel's JSON worker protocol, and the same jobs
run one-shot (--no-workers) with byte-identical outputs."""
import os
import signal
import select
import shutil

from harness import backends, timeout

# A worker in the standard library: `up SRC DST` writes SRC upper-cased to
# DST. Each request it serves appends "PID ARGS" to requests.log. An input
# holding a word below makes it misbehave, in worker mode only where the
# protocol is at stake.
WORKER = r'''
import json, os, sys, time

def work(args):
    op, src, dst = args
    text = open(src).read()
    sys.stderr.write("worker stderr: working on %s\n" % src)
    sys.stderr.flush()
    if "FAIL" in text:
        return 2, "cannot convert %s\n" % src
    with open(dst, "w") as f:
        f.write(text.upper())
    return 0, "converted %s\n" % src

def serve():
    for line in sys.stdin:
        if not line.strip():
            continue
        req = json.loads(line)
        args = req["arguments"]
        with open("requests.log", "a") as f:
            f.write("%d %s\n" % (os.getpid(), " ".join(args)))
        text = open(args[1]).read()
        rid = req.get("requestId", 0)
        if "DIE" in text:
            open(args[2], "w").write("half")
            sys.stderr.write("worker stderr: about to die\n")
            sys.stderr.flush()
            os._exit(3)
        if "GARBAGE" in text:
            print("this is not json", flush=True)
            continue
        if "WRONGID" in text:
            rid = 7
        if "HANG" in text:
            open("hanging", "w").close()
            time.sleep(3600)
        code, out = work(args)
        sys.stdout.write(json.dumps({"exitCode": code, "output": out, "requestId": rid}) + "\n")
        sys.stdout.flush()

if sys.argv[-1] == "--persistent_worker":
    with open("workers.log", "a") as f:
        f.write("%d started\n" % os.getpid())
    with open("lives.log", "a") as f:
        f.write("start %d\n" % os.getpid())
    serve()
    # Its stdin ended: juggle stops it.
    with open("lives.log", "a") as f:
        f.write("exit %d\n" % os.getpid())
else:
    code, out = work(sys.argv[1:])
    sys.stdout.write(out)
    sys.exit(code)
'''


def setup(t, names, extra="", jobs_key=""):
    t.write("w.py", WORKER)
    for n in names:
        t.write("in/%s.txt" % n, "text of %s\n" % n)
    t.ini("""
        %s
        [command up]
        foreach = in/*.txt
        output = out/{stem}.up
        worker = python3 w.py
        command = up {input} {output}
        %s
        """ % (jobs_key, extra))


def requests(t):
    if not os.path.exists("requests.log"):
        return []
    return [line.split(" ", 1) for line in t.read("requests.log").splitlines()]


NAMES = ["a", "b", "c", "d", "e", "f"]


@backends
def test_one_worker_serves_many_jobs_and_stays_incremental(t):
    setup(t, NAMES)
    r = t.juggle("-j", "2", rc=0)
    for n in NAMES:
        assert t.read("out/%s.up" % n) == "TEXT OF %s\n" % n.upper()
        assert "converted in/%s.txt" % n in t.read(".juggle/logs/up[%s.txt].log" % n)
    reqs = requests(t)
    assert sorted(a for _, a in reqs) == ["up in/%s.txt out/%s.up" % (n, n) for n in NAMES]
    pids = {p for p, _ in reqs}
    # At most -j workers, and at least one served several jobs.
    assert 1 <= len(pids) <= 2, reqs
    assert len(t.read("workers.log").splitlines()) == len(pids)
    # Its CPU is charged to the jobs it served.
    assert all(r.job("up[%s.txt]" % n)["cpu_s"] >= 0 for n in NAMES)
    # Every worker stopped at the end of the run.
    for p in pids:
        assert not os.path.exists("/proc/%s" % p) or \
            open("/proc/%s/stat" % p).read().split(") ")[1][0] == "Z", p
    # Nothing changed: nothing runs, no worker starts.
    r = t.juggle("-j", "2", rc=0)
    assert r.ran() == [], r.ran()
    assert len(requests(t)) == len(NAMES)
    # One input changes: that one job runs.
    t.write("in/c.txt", "new c\n")
    r = t.juggle("-j", "2", rc=0)
    assert r.ran() == ["up[c.txt]"], r.ran()
    assert t.read("out/c.up") == "NEW C\n"
    # The worker's command is part of the definition: all run again.
    t.write("juggle.ini", t.read("juggle.ini").replace("python3 w.py", "python3 ./w.py"))
    r = t.juggle("-j", "2", rc=0)
    assert len(r.ran()) == len(NAMES), r.ran()


@backends
def test_no_workers_runs_one_shot_with_identical_outputs(t):
    setup(t, NAMES)
    t.juggle("-j", "3", rc=0)
    assert len(requests(t)) == len(NAMES)
    with_workers = {n: open("out/%s.up" % n, "rb").read() for n in NAMES}
    shutil.rmtree("out")
    shutil.rmtree(".juggle")
    os.remove("requests.log")
    os.remove("workers.log")
    r = t.juggle("-j", "3", "--no-workers", rc=0)
    assert len(r.ran()) == len(NAMES)
    # No worker started; each job ran `python3 w.py up IN OUT`.
    assert not os.path.exists("requests.log") and not os.path.exists("workers.log")
    for n in NAMES:
        assert open("out/%s.up" % n, "rb").read() == with_workers[n], n
        assert "converted in/%s.txt" % n in t.read(".juggle/logs/up[%s.txt].log" % n)
    r = t.juggle("-n", "-v", "-B", "--no-workers", rc=0)
    assert "python3 w.py up in/a.txt out/a.up" in r.out + r.err, r


def test_pool_depth_caps_the_workers(t):
    setup(t, NAMES, extra="pool = w", jobs_key="[pool w]\n        depth = 1")
    t.juggle("-j", "4", "-b", "threads", backend=False, rc=0)
    reqs = requests(t)
    assert len(reqs) == len(NAMES)
    assert len({p for p, _ in reqs}) == 1, reqs


@backends
@timeout(120)
def test_worker_faults_fail_one_job_and_the_worker_is_replaced(t):
    setup(t, ["a", "b", "c", "d", "e", "f"], extra="timeout = 3")
    t.write("in/b.txt", "DIE\n")
    t.write("in/c.txt", "GARBAGE\n")
    t.write("in/d.txt", "WRONGID\n")
    t.write("in/e.txt", "HANG\n")
    t.write("in/f.txt", "FAIL\n")
    r = t.juggle("-j", "1", "-k", rc=1)
    s = r.statuses()
    assert s["up[a.txt]"] == "ok", s
    for n in "bcdef":
        assert s["up[%s.txt]" % n] == "failed", s
    err = {n: r.job("up[%s.txt]" % n)["error"] for n in "bcdef"}
    assert "worker 'python3 w.py'" in err["b"] and "died mid-request" in err["b"], err
    assert "exited with status 3" in err["b"] and ".juggle/workers/" in err["b"], err
    assert "not a WorkResponse" in err["c"] and "this is not json" in err["c"], err
    assert "requestId 7" in err["d"], err
    assert "timed out" in err["e"] and ".juggle/workers/" in err["e"], err
    assert "exited with status 2" in err["f"], err
    # The worker's stderr: its own log, and its tail in the failed job's.
    log_b = t.read(".juggle/logs/up[b.txt].log")
    assert "worker stderr: about to die" in log_b, log_b
    assert "cannot convert in/f.txt" in t.read(".juggle/logs/up[f.txt].log")
    # A failed job's outputs are gone (b's worker wrote half of one).
    assert not os.path.exists("out/b.up")
    # Each fault but the non-zero exit code cost a worker: 1 + 4 started.
    assert len(t.read("workers.log").splitlines()) == 5, t.read("workers.log")
    # Every worker is gone.
    for line in t.read("workers.log").splitlines():
        pid = line.split()[0]
        assert not os.path.exists("/proc/%s" % pid) or \
            open("/proc/%s/stat" % pid).read().split(") ")[1][0] == "Z", pid


@backends
def test_retries_get_a_fresh_worker(t):
    setup(t, ["a"], extra="retries = 1")
    t.write("in/a.txt", "DIE\n")
    # The worker dies on its first request; the retry's worker finds the
    # input fixed (a fresh worker: the first died).
    t.write("w.py", t.read("w.py").replace(
        'os._exit(3)', 'open(args[1], "w").write("fixed\\n")\n            os._exit(3)'))
    r = t.juggle(rc=0)
    assert r.job("up[a.txt]")["attempts"] == 2, r.job("up[a.txt]")
    assert t.read("out/a.up") == "FIXED\n"
    assert len(t.read("workers.log").splitlines()) == 2


@backends
@timeout(60)
def test_interrupt_stops_the_workers(t):
    setup(t, ["a", "e"])
    t.write("in/e.txt", "HANG\n")
    p = t.spawn("-j", "2")
    t.wait_for_file("hanging")
    pids = [line.split()[0] for line in t.read("workers.log").splitlines()]
    p.send_signal(signal.SIGINT)
    p.communicate(timeout=30)
    assert p.returncode == 130, p.returncode
    for pid in pids:
        try:
            fd = os.pidfd_open(int(pid))
        except ProcessLookupError:
            continue
        try:
            assert select.select([fd], [], [], 10)[0], "worker %s still runs" % pid
        finally:
            os.close(fd)


def test_slurm_runs_workers_one_shot(t):
    """Slurm carries one program per job: a job with a worker runs there
    one-shot, with the outputs the persistent worker gives."""
    import slurm
    why = slurm.unavailable()
    if why:
        from harness import Skip
        raise Skip(why)
    setup(t, ["a", "b", "c"])
    t.juggle("-b", "serial", backend=False, rc=0)
    served = {n: open("out/%s.up" % n, "rb").read() for n in "abc"}
    assert len(requests(t)) == 3
    shutil.rmtree("out")
    shutil.rmtree(".juggle")
    os.remove("requests.log")
    c = slurm.Cluster()
    t.cleanups.append(c.stop)
    c.start()
    os.environ["SLURM_CONF"] = c.conf
    t.juggle("-b", "slurm", "-j", "2", backend=False, rc=0, timeout=300)
    assert not os.path.exists("requests.log")  # no persistent worker
    for n in "abc":
        assert open("out/%s.up" % n, "rb").read() == served[n], n


# Waits, up to a deadline, until no worker that workers.log names is alive
# (gone or a zombie), then writes how many there were to its argument.
WAIT_GONE = r"""
import os, sys, time

def alive(pid):
    try:
        stat = open("/proc/%s/stat" % pid).read()
    except OSError:
        return False
    return stat.rsplit(") ", 1)[1][0] != "Z"

pids = [line.split()[0] for line in open("workers.log").read().splitlines()]
end = time.monotonic() + float(sys.argv[2])
while any(alive(p) for p in pids):
    if time.monotonic() > end:
        sys.exit("workers still alive after %s s: %s" % (sys.argv[2], pids))
    time.sleep(0.02)
open(sys.argv[1], "w").write("%d gone\n" % len(pids))
"""


@backends
@timeout(120)
def test_idle_worker_stops_on_time(t):
    """A worker idle for worker_idle seconds is stopped then, while the run
    goes on with jobs of other kinds, not when a next request comes."""
    from harness import TIMEOUT_SCALE
    setup(t, ["a"], extra="worker_idle = 0.5")
    t.write("gone.py", WAIT_GONE)
    t.write("juggle.ini", t.read("juggle.ini") + """
[command wait]
input = out/a.up
output = gone.txt
command = python3 gone.py gone.txt %d
""" % (30 * TIMEOUT_SCALE))
    r = t.juggle("-j", "2", rc=0)
    assert t.read("out/a.up") == "TEXT OF A\n"
    # The waiting job saw the idle worker gone before the run's end.
    assert t.read("gone.txt") == "1 gone\n", r
    assert r.statuses() == {"up[a.txt]": "ok", "wait": "ok"}, r.statuses()
    # It ended as a worker ends: its stdin closed.
    pid = t.read("workers.log").split()[0]
    assert t.read("lives.log").splitlines() == ["start " + pid, "exit " + pid]
    # How long workers idle says how jobs run, not what they make.
    t.write("juggle.ini", t.read("juggle.ini").replace("worker_idle = 0.5", "worker_idle = 9"))
    r = t.juggle("-j", "2", rc=0)
    assert r.ran() == [], r.ran()


def test_worker_idle_in_settings_and_its_errors(t):
    setup(t, ["a"])
    t.write("gone.py", WAIT_GONE)
    t.write("juggle.ini", "[settings]\nworker_idle = 0.5\n" + t.read("juggle.ini") + """
[command wait]
input = out/a.up
output = gone.txt
command = python3 gone.py gone.txt 60
""")
    t.juggle("-j", "2", rc=0)
    assert t.read("gone.txt") == "1 gone\n"
    # Bad values: the file, the line, the job and what to write.
    for value in ("soon", "0", "-1"):
        setup(t, ["a"], extra="worker_idle = %s" % value)
        r = t.juggle("-n", backend=False, rc=2)
        line = t.read("juggle.ini").splitlines().index("worker_idle = %s" % value) + 1
        assert ("juggle.ini:%d: job 'up': worker_idle: '%s' is not a positive number of "
                "seconds" % (line, value)) in r.err, r.err
    setup(t, ["a"])
    t.write("juggle.ini", "[settings]\nworker_idle = later\n" + t.read("juggle.ini"))
    r = t.juggle("-n", backend=False, rc=2)
    assert "juggle.ini:2: job 'up': worker_idle: 'later' is not a positive" in r.err, r.err
    # On a job without a worker it would do nothing: an error, not ignored.
    t.write("juggle.ini", "[command one]\noutput = o\ncommand = touch o\nworker_idle = 5\n")
    r = t.juggle("-n", backend=False, rc=2)
    assert "juggle.ini:4: job 'one': worker_idle: the job has no worker" in r.err, r.err


def most_alive(t):
    """The most workers alive at once, from their own records of their
    start and their exit, in the order they wrote them."""
    alive, most = set(), 0
    for line in t.read("lives.log").splitlines():
        what, pid = line.split()
        if what == "start":
            alive.add(pid)
        else:
            alive.discard(pid)
        most = max(most, len(alive))
    return most, alive


# Waits, up to a deadline, until requests.log has N lines, then copies a
# file: a job that holds its lane while workers serve jobs on others.
WAIT_REQUESTS = r"""
import os, shutil, sys, time
n, limit, src, dst = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3], sys.argv[4]
end = time.monotonic() + limit
def served():
    try:
        return len(open("requests.log").read().splitlines())
    except OSError:
        return 0
while served() < n:
    if time.monotonic() > end:
        sys.exit("requests.log did not reach %d lines in %s s" % (n, limit))
    time.sleep(0.02)
shutil.copy(src, dst)
"""


@backends
@timeout(180)
def test_pool_depth_caps_live_workers_on_every_backend(t):
    """[pool w] depth = 2 at -j 4: never more than two workers alive at
    once, also where each worker process keeps its own (processes)."""
    from harness import TIMEOUT_SCALE
    first = ["a%02d" % i for i in range(4)]
    then = ["b%02d" % i for i in range(16)]
    t.write("w.py", WORKER)
    t.write("wait.py", WAIT_REQUESTS)
    for n in first + then:
        t.write("in/%s.txt" % n, "text of %s\n" % n)
    for i in range(2):
        t.write("other%d.txt" % i, "other\n")
    # Two jobs without a worker start first and hold two lanes until the
    # workers, on the other two, have served the first four jobs; the
    # other sixteen come after them and find all four lanes free. (The
    # serial backend runs one job at a time: there they do not wait.)
    wait_for = 0 if t.backend == "serial" else len(first)
    t.ini("""
        [command other]
        foreach = other*.txt
        output = {stem}.copy
        command = python3 wait.py %d %d {input} {output}

        [pool w]
        depth = 2

        [command first]
        foreach = in/a*.txt
        output = out/{stem}.up
        worker = python3 w.py
        command = up {input} {output}
        pool = w

        [command then]
        foreach = in/b*.txt
        output = out/{stem}.up
        worker = python3 w.py
        command = up {input} {output}
        pool = w
        after = other
        """ % (wait_for, 60 * TIMEOUT_SCALE))
    r = t.juggle("-j", "4", "--order", "file", rc=0)
    for n in first + then:
        assert t.read("out/%s.up" % n) == "TEXT OF %s\n" % n.upper(), n
    assert t.read("other0.copy") == "other\n"
    reqs = requests(t)
    assert len(reqs) == 20
    # Both sections' jobs went to the same workers: their command is one.
    pids = {p for p, _ in reqs}
    assert 1 <= len(pids) <= 2, reqs
    most, left = most_alive(t)
    assert most <= 2, t.read("lives.log")
    # Each stopped as it should (its stdin closed) before the run ended.
    assert not left, t.read("lives.log")
    assert len(t.read("workers.log").splitlines()) == len(pids)
    assert len(r.ran()) == 22 and all(s == "ok" for s in r.statuses().values()), r.statuses()
