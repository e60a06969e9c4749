"""End-to-end tests of --backend slurm against a real, private Slurm.

Each test starts its own single-node cluster (tests/lib/slurm.py: munged,
slurmctld and slurmd under a temporary folder, ~0.6 s) so tests stay
independent and can run in parallel. They need root and Debian's slurmctld,
slurmd, slurm-client and munge; without them they are skipped with the
reason.
"""
import os
import signal
import subprocess

import slurm
from harness import Skip, leftovers, timeout

# A private Slurm per test and srun's own latencies: 4 minutes of the quick
# valgrind pass for 16 tests, where juggle's part is the slurm backend alone.
VALGRIND_SLOW = "a private Slurm per test: 4 minutes under memcheck, for one backend"


def cluster(t, **kw):
    why = slurm.unavailable()
    if why:
        raise Skip(why)
    c = slurm.Cluster(**kw)
    t.cleanups.append(c.stop)
    c.start()
    os.environ["SLURM_CONF"] = c.conf  # for juggle, srun and squeue alike
    t.backend = "slurm"
    return c


def slurm_jobs(c):
    """{job name: state} of the cluster's jobs (the last one per name)."""
    rows = sorted(c.jobs(), key=lambda r: int(r[0]))
    return {name: state for _, name, state in rows}


def test_slurm_commands(t):
    c = cluster(t)
    t.write("in/a b.txt", "spaces survive\n")
    t.ini("""
        [vars]
        greeting = hello

        [command plain]
        output = out/plain.txt
        command = sh -c "echo ${greeting} from $SLURMD_NODENAME > out/plain.txt"

        [command quoted]
        input = "in/a b.txt"
        output = out/copy.txt
        command = cp {input} {output}

        [command env]
        output = out/env.txt
        env.JUGGLE_COLOUR = blue
        command = sh -c "echo $JUGGLE_COLOUR > out/env.txt"

        [command here]
        cwd = in
        output = out/here.txt
        shell = yes
        command = ls > ../out/here.txt; echo said on stdout

        [command after]
        input = out/plain.txt out/env.txt
        output = out/joined.txt
        command = sh -c "cat out/plain.txt out/env.txt > out/joined.txt"
        """)
    r = t.juggle("-j", "3", rc=0)
    assert t.read("out/plain.txt") == "hello from %s\n" % c.node
    assert t.read("out/copy.txt") == "spaces survive\n"
    assert t.read("out/env.txt") == "blue\n"
    assert t.read("out/here.txt") == "a b.txt\n"
    assert t.read("out/joined.txt") == "hello from %s\nblue\n" % c.node
    assert "said on stdout" in t.read(".juggle/logs/here.log")
    rep = r.report
    assert rep["backend"] == "slurm"
    ids = set()
    for j in rep["jobs"]:
        assert j["status"] == "ok", j
        assert isinstance(j["worker"], int) and 0 <= j["worker"] < 3, j
        assert j["node"] == c.node, j
        ids.add(j["slurm_job_id"])
    # One Slurm job per attempt, each named after its juggle job.
    assert len(ids) == 5
    assert set(slurm_jobs(c)) == {"juggle:" + n for n in
                                  ("plain", "quoted", "env", "here", "after")}
    assert set(slurm_jobs(c).values()) == {"COMPLETED"}
    # Up to date: nothing is submitted again.
    r = t.juggle(rc=0)
    assert "nothing to do" in r.out
    assert len(c.jobs()) == 5


def test_slurm_cpu_tasks_via_exec_job(t):
    c = cluster(t)
    t.write("doc.xml", "<a><b/></a>\n")
    t.ini("""
        [vars]
        count = 5

        [cpu squares]
        task = sum_squares
        n = ${count}

        [command make]
        output = data.txt
        command = sh -c "printf abc > data.txt"

        [cpu digest]
        task = sha256
        input = data.txt
        output = data.sha256

        [cpu pack]
        task = gzip
        input = doc.xml
        output = doc.xml.gz

        [cpu check]
        task = xmlcheck
        input = doc.xml
        """)
    r = t.juggle("-s", "count=10", rc=0)
    # -s reaches the node: the overridden n, not the file's.
    assert r.job("squares")["result"] == "285", r.job("squares")
    assert "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" in \
        t.read("data.sha256")
    import gzip
    with gzip.open("doc.xml.gz") as f:
        assert f.read() == b"<a><b/></a>\n"
    for name in ("squares", "digest", "pack", "check", "make"):
        j = r.job(name)
        assert j["status"] == "ok" and j["node"] == c.node and j["slurm_job_id"] > 0, j
    # exec-job cleaned up after itself; the results went back to the host.
    assert os.listdir(".juggle/results") == []
    r = t.juggle("-s", "count=10", rc=0)
    assert "nothing to do" in r.out


def test_slurm_failures(t):
    c = cluster(t)
    t.write("bad.xml", "<a><b></a>\n")
    t.ini("""
        [command fails]
        output = half.txt
        command = sh -c "echo half > half.txt; echo oops >&2; exit 3"

        [command downstream]
        input = half.txt
        output = never.txt
        command = touch never.txt

        [command killed]
        command = sh -c "kill -9 $$$$"

        [cpu badxml]
        task = xmlcheck
        input = bad.xml

        [command fine]
        output = fine.txt
        command = touch fine.txt
        """)
    r = t.juggle("-k", "-j", "2", rc=1)
    st = r.statuses()
    assert st == {"fails": "failed", "downstream": "not-run", "killed": "failed",
                  "badxml": "failed", "fine": "ok"}, st
    f = r.job("fails")
    assert f["exit_code"] == 3 and f["signal"] is None, f
    assert "exited with status 3" in f["error"], f
    assert not os.path.exists("half.txt")  # delete on error
    assert "oops" in t.read(".juggle/logs/fails.log")
    k = r.job("killed")
    assert k["signal"] == "SIGKILL" and k["exit_code"] is None, k
    b = r.job("badxml")
    assert "mismatch" in b["error"].lower() or "bad.xml" in b["error"], b
    assert b["slurm_job_id"] > 0 and b["node"] == c.node
    assert os.path.exists("fine.txt")
    states = slurm_jobs(c)
    assert states["juggle:fails"] == "FAILED" and states["juggle:fine"] == "COMPLETED"
    assert "juggle:downstream" not in states
    # Without -k the run stops at the first failure.
    r = t.juggle("-j", "1", "fails", "fine", rc=1)
    assert r.job("fails")["status"] == "failed"


def test_slurm_retries(t):
    cluster(t)
    t.write("bad.xml", "<a>\n")
    t.ini("""
        [command flaky]
        output = done.txt
        retries = 2
        retry_delay = 0
        command = sh -c "echo x >> tries; test $(wc -l < tries) -ge 2 && touch done.txt"

        [cpu bad-xml]
        task = xmlcheck
        input = bad.xml
        retries = 1
        retry_delay = 0

        [cpu too-slow]
        task = sum_squares
        n = 1000000000000
        timeout = 1
        retries = 1
        retry_delay = 0
        """)
    r = t.juggle("-k", rc=1)
    j = r.job("flaky")
    assert j["status"] == "ok" and j["attempts"] == 2, j
    assert t.read("tries") == "x\nx\n"
    log = t.read(".juggle/logs/flaky.log")
    assert "--- attempt 2 ---" in log, log
    # The node's kind says a malformed file is not worth retrying, as on
    # every backend; a timeout is.
    b = r.job("bad-xml")
    assert b["status"] == "failed" and b["attempts"] == 1, b
    assert "bad.xml" in b["error"], b
    s = r.job("too-slow")
    assert s["status"] == "failed" and s["attempts"] == 2, s
    assert "timed out" in s["error"], s
    # Both attempts' ends are in the log (the node writes the attempt's
    # header only if it got that far before the kill).
    assert t.read(".juggle/logs/too-slow.log").count("juggle: timed out") == 2


@timeout(180)
def test_slurm_timeout(t):
    c = cluster(t)
    t.ini("""
        [command slow]
        output = slow.txt
        timeout = 1
        command = sh -c "echo partial > slow.txt; sleep 60"

        [command stubborn]
        output = stubborn.txt
        timeout = 1
        command = sh -c "trap '' TERM INT; echo partial > stubborn.txt; while :; do sleep 1; done"

        [cpu long]
        task = sum_squares
        n = 1000000000000
        timeout = 1
        """)
    r = t.juggle("-k", "-j", "3", rc=1)
    for name in ("slow", "stubborn", "long"):
        j = r.job(name)
        assert j["status"] == "failed", j
        assert "timed out after 1 s" in j["error"], j
        assert j["slurm_job_id"] > 0, j
    assert not os.path.exists("slow.txt")
    assert not os.path.exists("stubborn.txt")
    # Slurm agrees the jobs are over: none is left running.
    for name, state in slurm_jobs(c).items():
        assert state not in ("RUNNING", "PENDING", "COMPLETING"), (name, state)
    assert not [f for f in os.listdir(".") if ".juggle-" in f]


def download_bed():
    """The download test bed (nginx and a scripted server on 127.0.0.1);
    it arrives with the download kind."""
    try:
        import testbed
    except ImportError:
        raise Skip("the download kind and its test bed (tests/lib/testbed.py) "
                   "are not in this tree yet")
    return testbed


def test_slurm_downloads(t):
    tb = download_bed()
    c = cluster(t)
    web, sc = tb.nginx(t), tb.scripted(t)
    web.put("a.txt", "alpha\n")
    t.ini("""
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
    r = t.juggle("-k", "-j", "3", rc=1)
    a = r.job("a")
    assert (a["status"], a["http_status"], a["bytes"]) == ("ok", 200, 6), a
    assert a["node"] == c.node and a["slurm_job_id"] > 0, a
    assert t.read("data/a.txt") == "alpha\n"
    assert r.job("digest")["status"] == "ok"
    m = r.job("missing")
    assert (m["status"], m["http_status"]) == ("failed", 404), m
    assert "404" in m["error"] and not os.path.exists("missing.txt"), m
    f = r.job("flaky")
    assert (f["status"], f["attempts"]) == ("ok", 2), f
    assert t.read("flaky.txt") == "ok k after 1\n"
    assert leftovers() == []
    # Second run: the node asks with the ETag the host's state keeps; the
    # server says 304, so nothing downstream runs again.
    r = t.juggle("-k", "a", "digest", rc=0)
    a = r.job("a")
    assert (a["status"], a["http_status"]) == ("ok", 304), a
    assert r.job("digest")["status"] == "skipped-up-to-date", r.job("digest")


@timeout(180)
def test_slurm_download_interrupted_leaves_nothing(t):
    tb = download_bed()
    c = cluster(t)
    web = tb.nginx(t)
    web.put("big.bin", b"b" * (256 << 10))
    os.makedirs("out")
    t.ini("""
        [download stalled]
        url = %s/stall/big.bin
        output = out/big.bin
        """ % web.base)
    p = t.spawn("--progress", "none")
    import time
    end = time.monotonic() + 60

    # The first 4 KiB reach the body the node keeps in .juggle/partial (too
    # small to be worth resuming), then the server stalls.
    def partial(d=".juggle/partial"):
        return [os.path.join(d, f) for f in os.listdir(d)] if os.path.isdir(d) else []
    while not any(os.path.getsize(f) >= 4096 for f in partial()):
        assert time.monotonic() < end and p.poll() is None, c.jobs()
        time.sleep(0.01)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, out, err)
    assert not os.path.exists("out/big.bin") and leftovers() == [] and partial() == []
    assert slurm_jobs(c)["juggle:stalled"] == "CANCELLED", c.jobs()


def _interrupt(t, sig, stubborn):
    """Interrupts a run with three steps in flight; with stubborn, one of
    them ignores SIGTERM and SIGINT, so only Slurm's KILL ends it."""
    c = cluster(t)
    t.ini(("""
        [command a]
        output = a.txt
        command = sh -c "echo partial > a.txt; touch started-a; sleep 60"

        [command b]
        output = b.txt
        command = sh -c "%s echo partial > b.txt; touch started-b; while :; do sleep 1; done"

        [cpu c]
        task = sum_squares
        n = 1000000000000
        output = c.txt

        [command later]
        after = a
        output = later.txt
        command = touch later.txt
        """) % ("trap '' TERM INT;" if stubborn else ""))
    p = t.spawn("-j", "3", "--progress", "plain")
    t.wait_for_file("started-a")
    t.wait_for_file("started-b")
    # The cpu task runs once Slurm says so.
    import time
    end = time.monotonic() + 30
    while slurm_jobs(c).get("juggle:c") != "RUNNING":
        assert time.monotonic() < end, c.jobs()
        time.sleep(0.05)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, out, err)
    assert "interrupted" in err
    for f in ("a.txt", "b.txt", "c.txt", "later.txt"):
        assert not os.path.exists(f), f
    assert not [f for f in os.listdir(".") if ".juggle-" in f]
    states = slurm_jobs(c)
    for name in ("juggle:a", "juggle:b", "juggle:c"):
        assert states[name] == "CANCELLED", states
    assert "juggle:later" not in states
    import json
    rep = json.load(open(".juggle/last-report.json"))
    st = {j["name"]: j["status"] for j in rep["jobs"]}
    assert st == {"a": "interrupted", "b": "interrupted", "c": "interrupted",
                  "later": "not-run"}, st
    # The next run does the work.
    t.ini("""
        [command a]
        output = a.txt
        command = touch a.txt
        """)
    t.juggle(rc=0)


@timeout(180)
def test_slurm_sigint_cancels_steps(t):
    _interrupt(t, signal.SIGINT, stubborn=True)


@timeout(180)
def test_slurm_sigterm_cancels_steps(t):
    _interrupt(t, signal.SIGTERM, stubborn=False)


@timeout(180)
def test_slurm_cancelled_outside_is_not_ok(t):
    """srun exits 0 when the job is cancelled while its task ignores
    SIGTERM (KillWait): juggle must still see a failure."""
    c = cluster(t, kill_wait=2)
    t.ini("""
        [command victim]
        output = victim.txt
        command = sh -c "trap '' TERM; echo partial > victim.txt; touch started; sleep 60 & wait; exit 0"
        """)
    p = t.spawn("--progress", "plain")
    t.wait_for_file("started")
    ids = [i for i, name, _ in c.jobs() if name == "juggle:victim"]
    subprocess.run(["scancel"] + ids, check=True, env=c.env())
    out, err = p.communicate(timeout=120)
    assert p.returncode == 1, (p.returncode, out, err)
    import json
    j = json.load(open(".juggle/last-report.json"))["jobs"][0]
    assert j["status"] == "failed", j
    assert "cancelled" in j["error"] and str(j["slurm_job_id"]) == ids[0], j
    assert not os.path.exists("victim.txt")


def test_slurm_refused_by_controller(t):
    cluster(t)
    t.ini("""
        [settings]
        slurm_partition = nosuchpartition

        [command x]
        command = true
        """)
    r = t.juggle(rc=1)
    j = r.job("x")
    assert j["status"] == "failed", j
    assert "invalid partition" in j["error"].lower(), j
    assert "slurm_job_id" not in j


def test_slurm_settings_reach_srun(t):
    c = cluster(t)
    t.ini("""
        [settings]
        slurm_partition = %s
        slurm_args = --cpus-per-task=2 "--export=ALL,JUGGLE_VIA=slurm args"

        [command where]
        output = where.txt
        command = sh -c "echo $SLURM_JOB_PARTITION $SLURM_CPUS_PER_TASK $JUGGLE_VIA > where.txt"

        [command timed]
        output = timed.txt
        timeout = 90
        command = sh -c "squeue -h -j $SLURM_JOB_ID -o %%l > timed.txt"
        """ % c.partition)
    t.juggle(rc=0)
    assert t.read("where.txt") == "%s 2 slurm args\n" % c.partition
    # timeout = 90 s is asked of Slurm as 2 minutes.
    assert t.read("timed.txt").strip() == "2:00", t.read("timed.txt")


def test_slurm_jobs_and_pools_cap_steps(t):
    cluster(t, cpus=8)
    t.ini("""
        [pool one]
        depth = 1

        [command many]
        foreach = range:1..6
        output = m/{item}
        command = sh -c 'touch m/"$1"' sh {item}

        [command solo]
        foreach = range:1..3
        pool = one
        output = s/{item}
        command = sh -c 'touch s/"$1"' sh {item}
        """)
    r = t.juggle("-j", "2", rc=0)
    assert len(os.listdir("m")) == 6 and len(os.listdir("s")) == 3
    spans = [(j["started_s"], j["finished_s"], j) for j in r.report["jobs"]]
    assert len(spans) == 9
    def most_at_once(spans):
        return max(sum(1 for s1, e1 in spans if s1 <= s0 < e1) for s0, _ in spans)
    assert most_at_once([(s0, e0) for s0, e0, _ in spans]) == 2, spans
    for _, _, j in spans:
        assert j["worker"] in (0, 1), j
    solo = [(s0, e0) for s0, e0, j in spans if j["name"].startswith("solo")]
    assert most_at_once(solo) == 1, solo


def test_slurm_controller_down(t):
    c = cluster(t)
    c.stop_controller()
    t.ini("""
        [command x]
        output = x.txt
        command = touch x.txt
        """)
    r = t.juggle(rc=3, timeout=60)
    assert "cannot reach slurmctld" in r.err, r
    assert not os.path.exists("x.txt")


@timeout(120)
def test_slurm_controller_hung(t):
    """A controller that accepts nothing (stopped) is found at start, in
    bounded time, instead of srun retrying per job."""
    c = cluster(t)
    pid = c.procs["slurmctld"].pid
    os.kill(pid, signal.SIGSTOP)
    t.cleanups.append(lambda: os.kill(pid, signal.SIGCONT))
    t.ini("""
        [command x]
        command = true
        """)
    r = t.juggle(rc=3, timeout=60)
    assert "cannot reach slurmctld" in r.err, r


def test_slurm_graph_in_subfolder(t):
    """-C and -f with a folder: exec-job finds the same graph on the node."""
    cluster(t)
    t.write("proj/juggle.ini", """
        [cpu sq]
        task = sum_squares
        n = 3
        output = r.txt
        """)
    import json
    t.juggle("-C", "proj", rc=0)
    assert t.read("proj/r.txt").strip() == "5", t.read("proj/r.txt")
    t.juggle("-f", "proj/juggle.ini", "-B", rc=0)
    rep = json.load(open("proj/.juggle/last-report.json"))
    assert rep["jobs"][0]["result"] == "5", rep
