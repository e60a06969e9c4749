"""End-to-end tests of slurm_mode = allocation against a real, private Slurm
(the cluster of test_slurm.py), and steps mode's slurm_submit_rate. One
sbatch allocation whose tasks run
`juggle worker`, which connects back to the run and runs the jobs it is
sent. Root and Debian's Slurm packages are needed; else skipped."""
import json
import os
import signal
import socket
import subprocess
import time

from harness import exits_within, leftovers, timeout
import test_slurm

VALGRIND_SLOW = "a private Slurm per test and its workers: minutes under memcheck"

SETTINGS = """
        [settings]
        slurm_mode = allocation
        slurm_tasks = %d
        slurm_listen = 127.0.0.1
"""


def cluster(t, **kw):
    """The private Slurm of test_slurm.py; whatever a failed test leaves
    on it is cancelled before it stops, so no worker or job outlives it."""
    c = test_slurm.cluster(t, **kw)

    def cancel_all():
        import getpass
        subprocess.run(["scancel", "-u", getpass.getuser()], env=c.env(), timeout=15)
        end = time.monotonic() + 15
        while ours(c) and time.monotonic() < end:
            time.sleep(0.1)
    t.cleanups.append(cancel_all)
    return c


def ours(c):
    """Our jobs that the controller still has pending, running or
    completing (squeue's default states)."""
    p = subprocess.run(["squeue", "-h", "-o", "%i|%j|%T"], capture_output=True, text=True,
                       env=c.env(), timeout=15)
    return [line for line in p.stdout.splitlines() if "juggle" in line]


def workers_job(c):
    ids = [i for i, name, _ in c.jobs() if name == "juggle-workers"]
    assert len(ids) == 1, c.jobs()
    return ids[0]


def worker_addr():
    """HOST:PORT of this test's workers: a `juggle worker` running in this
    folder (tests run in parallel, each with its own)."""
    here = os.path.realpath(".")
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            argv = open("/proc/%s/cmdline" % pid).read().split("\0")
            cwd = os.readlink("/proc/%s/cwd" % pid)
        except OSError:
            continue
        if "worker" in argv and cwd == here and not argv[0].endswith("srun"):
            return argv[argv.index("worker") + 1]
    raise AssertionError("no worker runs in " + here)


@timeout(180)
def test_slurm_alloc_mixed_graph(t):
    c = cluster(t)
    t.write("doc.xml", "<a><b/></a>\n")
    t.ini(SETTINGS % 2 + """
        [vars]
        count = 5

        [cpu squares]
        task = sum_squares
        n = ${count}

        [command make]
        output = data.txt
        command = sh -c "printf abc > data.txt; echo $SLURM_JOB_NAME > where.txt"

        [cpu digest]
        task = sha256
        input = data.txt
        output = data.sha256

        [cpu pack]
        task = gzip
        input = doc.xml
        output = doc.xml.gz

        [command fails]
        command = sh -c "echo to the log; exit 3"
        """)
    r = t.juggle("-j", "2", "-k", "-s", "count=10", rc=1)
    assert r.job("squares")["result"] == "285", r.job("squares")
    assert "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" in \
        t.read("data.sha256")
    import gzip
    with gzip.open("doc.xml.gz") as f:
        assert f.read() == b"<a><b/></a>\n"
    # The command ran inside the workers' allocation, not one srun of its own.
    assert t.read("where.txt").strip() == "juggle-workers"
    jid = workers_job(c)
    for name in ("squares", "digest", "pack", "make"):
        j = r.job(name)
        assert j["status"] == "ok" and j["node"] == c.node, j
        assert str(j["slurm_job_id"]) == jid, j
    j = r.job("fails")
    assert j["status"] == "failed" and "3" in j["error"], j
    assert "to the log" in t.read(".juggle/logs/fails.log")
    # One allocation for the whole run, and it is gone when the run ends.
    assert [name for _, name, _ in c.jobs()] == ["juggle-workers"], c.jobs()
    assert ours(c) == []
    assert not os.path.exists(".juggle/run-key")
    r = t.juggle("-j", "2", "-k", "-s", "count=10", rc=1)
    assert "make" not in r.ran() and "fails" in r.ran(), r


@timeout(180)
def test_slurm_alloc_worker_killed_mid_job(t):
    """A worker that dies fails only the job it carried, which is retried
    on another worker; the other jobs finish."""
    c = cluster(t)
    t.ini(SETTINGS % 2 + """
        [command victim]
        output = victim.txt
        retries = 1
        command = sh -c "if [ ! -e tried ]; then touch tried; echo partial > victim.txt; echo $PPID > worker.pid; echo $$$$ > cmd.pid; while [ ! -e never ]; do sleep 0.1; done; fi; echo whole > victim.txt"

        [command other]
        output = other.txt
        command = sh -c "echo other > other.txt"

        [command after]
        after = other
        output = after.txt
        command = sh -c "echo after > after.txt"
        """)
    p = t.spawn("-j", "2", "--progress", "plain")
    t.wait_for_file("cmd.pid")
    # The shell makes cmd.pid, then writes it: both files may exist empty
    # for a moment.
    while not open("worker.pid").read().strip() or not open("cmd.pid").read().strip():
        time.sleep(0.01)
    wpid = int(open("worker.pid").read())
    cpid = int(open("cmd.pid").read())
    os.kill(wpid, signal.SIGKILL)
    try:
        os.killpg(cpid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, (p.returncode, out, err)
    assert t.read("victim.txt") == "whole\n"
    assert t.read("other.txt") == "other\n" and t.read("after.txt") == "after\n"
    rep = json.load(open(".juggle/last-report.json"))
    v = [j for j in rep["jobs"] if j["name"] == "victim"][0]
    assert v["status"] == "ok" and v["attempts"] == 2, v
    # The report counts the worker lost.
    assert rep["slurm_workers_lost"] >= 1, rep
    log = t.read(".juggle/logs/victim.log")
    assert "closed its connection" in log or "lost" in log, log
    assert ours(c) == []


@timeout(180)
def test_slurm_alloc_refuses_a_connection_without_the_key(t):
    """Anyone can connect to the run's port; only a worker that proves
    the run's key is sent work."""
    c = cluster(t)
    t.ini(SETTINGS % 1 + """
        [command first]
        output = first.txt
        command = sh -c "echo $SLURM_JOB_ID > first.txt; while [ ! -e go ]; do sleep 0.1; done"

        [command second]
        after = first
        output = second.txt
        command = touch second.txt
        """)
    p = t.spawn("-j", "1", "--progress", "plain")
    t.wait_for_file("first.txt")
    # The run's port, from the command line of one of its workers.
    addr = worker_addr()
    host, port = addr.rsplit(":", 1)
    # A client that answers with a wrong proof, and one that sends a job.
    for say in (b'{"proof":"' + b"0" * 64 + b'","host":"x","pid":1}\n',
                b'{"job":"second","attempt":1}\n'):
        s = socket.create_connection((host, int(port)), timeout=30)
        f = s.makefile("rb")
        hello = json.loads(f.readline())
        assert hello["hello"] == "juggle-worker-1" and len(hello["nonce"]) == 64
        s.sendall(say)
        assert f.read() == b""  # closed without another word
        s.close()
    assert not os.path.exists("second.txt")
    open("go", "w").close()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, (p.returncode, out, err)
    assert os.path.exists("second.txt")
    assert ours(c) == []


@timeout(180)
def test_slurm_alloc_interrupt_cancels_allocation(t):
    c = cluster(t)
    t.ini(SETTINGS % 2 + """
        [command a]
        output = a.txt
        command = sh -c "echo partial > a.txt; touch started-a; while :; do sleep 0.1; done"

        [cpu b]
        task = sum_squares
        n = 1000000000000
        output = b.txt

        [command later]
        after = a
        output = later.txt
        command = touch later.txt
        """)
    p = t.spawn("-j", "2", "--progress", "plain")
    t.wait_for_file("started-a")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, out, err)
    for f in ("a.txt", "b.txt", "later.txt"):
        assert not os.path.exists(f), f
    assert not leftovers()
    assert ours(c) == []
    rep = json.load(open(".juggle/last-report.json"))
    st = {j["name"]: j["status"] for j in rep["jobs"]}
    assert st["a"] == "interrupted" and st["later"] == "not-run", st


@timeout(180)
def test_slurm_submit_rate_spaces_sruns(t):
    """steps mode: slurm_submit_rate = 2 lets a burst of six ready jobs
    reach the controller two at once and then one every half second - a
    lower bound on their spread, which no slowness can break."""
    cluster(t)
    t.ini("""
        [settings]
        slurm_submit_rate = 2
    """ + "".join("""
        [command j%d]
        output = j%d.txt
        command = sh -c "date +%%s.%%N > j%d.txt"
    """ % (i, i, i) for i in range(6)))
    before = time.time()
    t.juggle("-j", "6", rc=0)
    starts = sorted(float(t.read("j%d.txt" % i)) for i in range(6))
    # The sixth srun starts no sooner than 2 s after the bucket was full.
    assert starts[5] - before >= 2.0 - 0.01, (before, starts)
    t.ini("[settings]\nslurm_submit_rate = none\n[command a]\ncommand = true\n")
    r = t.juggle(rc=2)
    assert "slurm_submit_rate" in r.err, r


@timeout(180)
def test_slurm_alloc_cancelled_outside(t):
    """scancel of the workers' allocation from outside: the running job
    fails, the job still waiting fails naming its lost worker or the
    ended allocation, and the run ends instead of waiting for workers."""
    c = cluster(t)
    t.ini(SETTINGS % 1 + """
        [command victim]
        output = victim.txt
        command = sh -c "echo partial > victim.txt; touch started; while :; do sleep 0.1; done"

        [command waiting]
        output = waiting.txt
        command = touch waiting.txt
        """)
    p = t.spawn("-j", "2", "-k", "--progress", "plain", "--order", "file")
    t.wait_for_file("started")
    subprocess.run(["scancel", workers_job(c)], check=True, env=c.env())
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1, (p.returncode, out, err)
    rep = json.load(open(".juggle/last-report.json"))
    st = {j["name"]: j for j in rep["jobs"]}
    # Slurm's SIGTERM reached the command first, and the worker said so.
    assert st["victim"]["status"] == "failed", st
    assert st["waiting"]["status"] == "failed", st
    assert "worker" in st["waiting"]["error"] or "allocation" in st["waiting"]["error"], st
    assert not os.path.exists("victim.txt") and not os.path.exists("waiting.txt")
    assert ours(c) == []


@timeout(180)
def test_slurm_alloc_worker_stops_job_when_run_dies(t):
    """The run killed outright (no chance to cancel anything): its
    workers see the connection end, stop the job they run and exit."""
    c = cluster(t)
    t.ini(SETTINGS % 1 + """
        [command orphan]
        output = orphan.txt
        command = sh -c "echo $$$$ > cmd.pid; while :; do sleep 0.1; done"
        """)
    p = t.spawn("-j", "1", "--progress", "plain")
    t.wait_for_file("cmd.pid")
    while not open("cmd.pid").read().strip():
        time.sleep(0.01)
    cpid = int(open("cmd.pid").read())
    p.kill()
    p.wait()
    assert exits_within(cpid, 60), "the job still runs"
    # Its allocation ends with its only task; nothing of ours is left.
    end = time.monotonic() + 60
    while ours(c):
        assert time.monotonic() < end, ours(c)
        time.sleep(0.1)


@timeout(180)
def test_slurm_alloc_downloads(t):
    """Downloads run on the workers too, and the second run's ETag (kept in
    the host's state) reaches the worker with the request: a 304."""
    tb = test_slurm.download_bed()
    c = cluster(t)
    web, sc = tb.nginx(t), tb.scripted(t)
    web.put("a.txt", "alpha\n")
    t.ini(SETTINGS % 2 + """
        [download a]
        url = %s/a.txt
        output = data/a.txt

        [cpu digest]
        task = sha256
        input = data/a.txt
        output = a.sha256

        [download missing]
        url = %s/status/404
        output = missing.txt

        [download flaky]
        url = %s/flaky/k/1/0
        output = flaky.txt
        retries = 2
        retry_delay = 0
        """ % (web.base, web.base, sc.base))
    r = t.juggle("-k", "-j", "2", rc=1)
    a = r.job("a")
    assert (a["status"], a["http_status"], a["bytes"]) == ("ok", 200, 6), a
    assert a["node"] == c.node, a
    assert t.read("data/a.txt") == "alpha\n"
    assert r.job("digest")["status"] == "ok"
    m = r.job("missing")
    assert (m["status"], m["http_status"]) == ("failed", 404), m
    assert not os.path.exists("missing.txt"), m
    f = r.job("flaky")
    assert (f["status"], f["attempts"]) == ("ok", 2), f
    assert leftovers() == []
    r = t.juggle("-k", "-j", "2", "a", "digest", rc=0)
    a = r.job("a")
    assert (a["status"], a["http_status"]) == ("ok", 304), a
    assert r.job("digest")["status"] == "skipped-up-to-date", r.job("digest")


def allocations(c):
    """[(id, state, tasks)] of each workers' allocation the controller
    knows, oldest first (one CPU a task: %C counts the tasks)."""
    p = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i|%j|%T|%C"], capture_output=True,
                       text=True, env=c.env(), timeout=15)
    rows = []
    for line in p.stdout.splitlines():
        parts = line.split("|")
        if len(parts) == 4 and parts[1] == "juggle-workers":
            rows.append((parts[0], parts[2], int(parts[3])))
    return sorted(rows, key=lambda r: int(r[0]))


def wait_until(what, cond, seconds=90):
    """Polls cond() until it is true, failing the test after a deadline."""
    end = time.monotonic() + seconds
    while True:
        v = cond()
        if v:
            return v
        assert time.monotonic() < end, "gave up waiting for " + what
        time.sleep(0.1)


FINAL = ("COMPLETED", "CANCELLED", "FAILED")

# A narrow chain (a, then b) and then a fan-out of five jobs, the first
# three of which (all -j 3 lets start) hold until the test says go.
CHAIN_THEN_FAN = SETTINGS % 3 + """
        [command a]
        output = a.txt
        command = sh -c "echo $SLURM_JOB_ID > a.txt"

        [command b]
        after = a
        output = b.txt
        command = sh -c "echo $SLURM_JOB_ID > b.txt"

        [command fan]
        foreach = range:0..4
        after = b
        output = fan-{item}.txt
        command = sh -c 'touch started-"$1"; while [ ! -e go ]; do sleep 0.1; done; echo $SLURM_JOB_ID > fan-"$1".txt' sh {item}
"""


@timeout(180)
def test_slurm_alloc_grows_with_the_ready_queue(t):
    """The first allocation is as wide as what is ready (one job); the
    fan-out that follows gets a second one for the shortfall, and the two
    never ask for more than slurm_tasks workers; the end of the run
    cancels both."""
    c = cluster(t)
    t.ini(CHAIN_THEN_FAN)
    p = t.spawn("-j", "3", "--progress", "plain", "--order", "file")
    wait_until("two allocations", lambda: len(allocations(c)) == 2)
    wait_until("three jobs of the fan-out started",
               lambda: all(os.path.exists("started-%d" % i) for i in range(3)))
    open("go", "w").close()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, (p.returncode, out, err)
    al = allocations(c)
    assert [tasks for _, _, tasks in al] == [1, 2], al
    assert all(state in FINAL for _, state, _ in al), al
    first, second = al[0][0], al[1][0]
    assert t.read("a.txt").strip() == first and t.read("b.txt").strip() == first
    ran_in = {t.read("fan-%d.txt" % i).strip() for i in range(5)}
    assert ran_in <= {first, second} and second in ran_in, ran_in
    rep = json.load(open(".juggle/last-report.json"))
    assert rep["slurm_allocations"] == 2, rep
    assert rep["slurm_first_allocation_tasks"] == 1, rep
    assert 2 <= rep["slurm_workers_peak"] <= 3, rep
    assert rep["slurm_workers_lost"] == 0, rep
    assert "2 Slurm allocations" in out, out
    assert ours(c) == []


@timeout(180)
def test_slurm_alloc_releases_an_idle_allocation(t):
    """With slurm_idle = 1, the allocation that ran `b` and then had
    nothing to do is gone while `hold` still runs on the other one: the
    run itself waits for the test to see it ended."""
    c = cluster(t)
    t.ini(SETTINGS % 2 + """
        slurm_idle = 1

        [command a]
        output = a.txt
        command = sh -c "echo $SLURM_JOB_ID > a.txt"

        [command hold]
        after = a
        output = hold.txt
        command = sh -c "while [ ! -e release ]; do sleep 0.1; done; echo $SLURM_JOB_ID > hold.txt"

        [command b]
        after = a
        output = b.txt
        command = sh -c "echo $SLURM_JOB_ID > b.txt"
        """)
    p = t.spawn("-j", "2", "--progress", "plain", "--order", "file")
    t.wait_for_file("b.txt")
    b_in = wait_until("b's allocation", lambda: open("b.txt").read().strip())
    state = wait_until("b's allocation to end",
                       lambda: dict((i, s) for i, s, _ in allocations(c)).get(b_in) in FINAL)
    assert state
    # hold still runs, in the other allocation.
    assert p.poll() is None and not os.path.exists("hold.txt")
    open("release", "w").close()
    out, err = p.communicate(timeout=120)
    assert p.returncode == 0, (p.returncode, out, err)
    hold_in = t.read("hold.txt").strip()
    assert hold_in != b_in and [i for i, _, _ in allocations(c)] == sorted(
        [hold_in, b_in], key=int), allocations(c)
    rep = json.load(open(".juggle/last-report.json"))
    assert (rep["slurm_allocations"], rep["slurm_first_allocation_tasks"],
            rep["slurm_workers_peak"]) == (2, 1, 2), rep
    assert ours(c) == []


@timeout(180)
def test_slurm_alloc_interrupt_cancels_every_allocation(t):
    """An interrupt while two allocations carry jobs cancels both."""
    c = cluster(t)
    t.ini(CHAIN_THEN_FAN)
    p = t.spawn("-j", "3", "--progress", "plain", "--order", "file")
    wait_until("three jobs of the fan-out started",
               lambda: all(os.path.exists("started-%d" % i) for i in range(3)))
    assert len(allocations(c)) == 2, allocations(c)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, out, err)
    assert ours(c) == []
    assert all(state in FINAL for _, state, _ in allocations(c)), allocations(c)
    assert not any(os.path.exists("fan-%d.txt" % i) for i in range(5))
    assert not leftovers()
    rep = json.load(open(".juggle/last-report.json"))
    assert rep["slurm_allocations"] == 2, rep


def test_slurm_alloc_idle_must_be_seconds(t):
    t.ini("[settings]\nslurm_idle = soon\n[command a]\ncommand = true\n")
    r = t.juggle(rc=2)
    assert "juggle.ini:2" in r.err and "slurm_idle: 'soon'" in r.err, r
