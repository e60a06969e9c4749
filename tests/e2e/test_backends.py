"""The concurrency backends: real parallelism, lanes, dead workers, signals."""
import json
import os
import re
import signal

from harness import ROOT, backends, list_backends, timeout


def spans_by_lane(rep):
    lanes = {}
    for j in rep["jobs"]:
        if j["started_s"] is not None:
            lanes.setdefault(j["worker"], []).append((j["started_s"], j["finished_s"], j["name"]))
    return lanes


@backends
@timeout(180)
def test_two_jobs_run_at_once(t):
    """Each job opens a FIFO the other one's job has to open too: they can
    only both finish when they run at the same time. One at a time, the
    first blocks until its timeout kills it, so the test cannot hang."""
    os.mkfifo("ab")
    os.mkfifo("ba")
    t.ini("""
        [command a]
        timeout = ${limit}
        output = a.txt
        command = sh -c 'echo from-a > ab; cat ba > a.txt'

        [command b]
        timeout = ${limit}
        output = b.txt
        command = sh -c 'cat ab > b.txt; echo from-b > ba'
        """)
    if t.backend == "serial":
        r = t.juggle("-j", "2", "-k", "-s", "limit=1", rc=1)
        assert "timed out" in r.job("a")["error"], r.job("a")
        return
    r = t.juggle("-j", "2", "-s", "limit=60", rc=0)
    assert t.read("a.txt") == "from-b\n" and t.read("b.txt") == "from-a\n"
    a, b = r.job("a"), r.job("b")
    assert a["worker"] != b["worker"], (a, b)
    # The FIFOs prove the two ran at once, and the report says so: their
    # spans overlap. (Their average in flight over the whole run is no
    # proof: juggle's own start and end can outweigh two short jobs.)
    assert a["started_s"] < b["finished_s"] and b["started_s"] < a["finished_s"], (a, b)


@backends
def test_worker_ids_are_lanes_and_workers_are_reused(t):
    t.ini("""
        [command w]
        foreach = range:1..12
        output = ppid/{item}
        command = sh -c 'echo $PPID > "$1"' sh {output}

        [cpu c]
        foreach = range:1..4
        task = sum_squares
        n = 100000
        """)
    r = t.juggle("-j", "3", rc=0)
    rep = r.report
    lanes = spans_by_lane(rep)
    n = 1 if t.backend == "serial" else 3
    assert set(lanes) <= set(range(n)), lanes.keys()
    for lane, spans in lanes.items():
        spans.sort()
        for (s1, e1, n1), (s2, e2, n2) in zip(spans, spans[1:]):
            assert s2 >= e1 - 1e-6, "lane %d carried %s and %s at once" % (lane, n1, n2)
    parents = {t.read("ppid/%d" % i) for i in range(1, 13)}
    if t.backend == "processes":
        # commands are children of the workers, forked once each, not per job
        assert 1 <= len(parents) <= 3, parents
    else:
        assert len(parents) == 1, parents


@timeout(120)
def test_processes_worker_killed_fails_its_job_and_run_goes_on(t):
    os.mkfifo("started")
    t.ini("""
        [command victim]
        output = victim.txt
        command = sh -c 'echo partial > victim.txt; echo $PPID > worker.pid; echo $$$$ > victim.pid; echo go > started; exec sleep 300'

        [command other]
        foreach = range:1..3
        output = other/{item}
        command = sh -c 'echo $PPID > "$1"' sh {output}
        """)
    p = t.spawn("-b", "processes", "-j", "1", "-k", "--progress", "none", backend=False)
    with open("started") as f:
        f.read()
    worker = int(t.read("worker.pid"))
    victim = int(t.read("victim.pid"))
    t.cleanups.append(lambda: os.kill(victim, signal.SIGKILL))  # it outlives its worker
    os.kill(worker, signal.SIGKILL)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1, (p.returncode, out, err)
    rep = json.load(open(".juggle/last-report.json"))
    v = [j for j in rep["jobs"] if j["name"] == "victim"][0]
    assert v["status"] == "failed"
    assert v["signal"] == "SIGKILL", v
    assert v["error"] == "worker process %d was killed by SIGKILL" % worker, v
    assert not os.path.exists("victim.txt"), "a dead worker's partial output was kept"
    assert "killed by SIGKILL" in t.read(v["log"])
    for i in (1, 2, 3):
        o = [j for j in rep["jobs"] if j["name"] == "other[%d]" % i][0]
        assert o["status"] == "ok" and o["worker"] == 0, o
        # a fresh worker carried them
        assert int(t.read("other/%d" % i)) != worker
    assert "killed by SIGKILL" in out + err


@backends
@timeout(120)
def test_interrupt_stops_commands_and_cpu_tasks(t):
    t.ini("""
        [command long]
        output = long.txt
        command = sh -c 'echo partial > long.txt; echo $$$$ > long.pid; echo go > started; exec sleep 300'

        [cpu spin]
        task = sum_squares
        n = 1000000000000
        output = spin/spin.txt

        [command never]
        after = long spin
        command = touch never.txt
        """)
    os.mkfifo("started")
    p = t.spawn("-j", "2", "--progress", "none")
    with open("started") as f:
        f.read()
    if t.backend != "serial":
        # spin is under way too once its output's folder exists (a job
        # interrupted before it began is not-run); a cpu task that has
        # written nothing yet has no log
        t.wait_for_file("spin")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, out, err)
    rep = json.load(open(".juggle/last-report.json"))
    s = {j["name"]: j["status"] for j in rep["jobs"]}
    spin = "not-run" if t.backend == "serial" else "interrupted"
    assert s == {"long": "interrupted", "spin": spin, "never": "not-run"}, s
    assert rep["interrupted"] is True
    assert not os.path.exists("long.txt") and not os.path.exists("spin/spin.txt")
    assert not os.path.exists("never.txt")
    # the command juggle started is gone too (or a zombie awaiting init)
    pid = int(t.read("long.pid"))
    try:
        state = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0]
        assert state == "Z", "command %d still running" % pid
    except OSError:  # gone (ENOENT), or on its way out (ESRCH)
        pass


@backends
def test_report_names_the_backend_and_its_caveat(t):
    t.ini("""
        [cpu c]
        task = sum_squares
        n = 10
        """)
    r = t.juggle(rc=0)
    rep = r.report
    assert rep["backend"] == t.backend
    if t.backend == "eventloop":
        assert "block" in rep["notes"], rep.get("notes")
    assert r.job("c")["worker"] == 0


@timeout(180)
def test_compare_runs_each_backend_in_a_clean_copy(t):
    t.write("data/in.txt", "input\n")
    t.write("out/1.txt", "stale output from an earlier run\n")
    os.makedirs(".juggle/logs")
    t.write(".juggle/state", "garbage that a copied state folder would trip on\n")
    t.ini("""
        [command make]
        foreach = range:1..3
        input = data/in.txt
        output = out/{item}.txt
        command = sh -c 'test ! -e "$1" && cp data/in.txt "$1"' sh {output}

        [cpu sq]
        task = sum_squares
        n = 1000
        """)
    r = t.juggle("compare", "--backends", "serial,threads,processes", "--repeat", "2",
                 "--report", "cmp.json", "--html", "cmp.html", backend=False, rc=0)
    lines = r.out.splitlines()
    assert lines[0].split()[:3] == ["backend", "wall", "s"], r.out
    assert [l.split()[0] for l in lines[1:]] == ["serial", "threads", "processes"], r.out
    for l in lines[1:]:
        assert l.split()[-1] == "4/0", l
    assert lines[1].split()[2] == "1.00x"
    cmp = json.load(open("cmp.json"))
    rows = cmp["runs"]
    assert [row["backend"] for row in rows] == ["serial", "threads", "processes"]
    for row in rows:
        assert len(row["repeats"]) == 2
        assert row["report"]["backend"] == row["backend"]
        walls = sorted(run["wall_s"] for run in row["repeats"])
        # Each of the three numbers kept 10 significant digits.
        assert abs(row["wall_s"] - (walls[0] + walls[1]) / 2) <= 2e-9 * max(1.0, row["wall_s"]), row
        for run in row["repeats"]:
            assert run["exit_status"] == 0
            assert run["report"]["backend"] == row["backend"]
            assert run["report"]["counts"]["ok"] == 4
            assert run["peak_rss_kib"] > 0 and run["cpu_user_s"] >= 0
    html = t.read("cmp.html")
    assert html.startswith("<!DOCTYPE html>") and "processes" in html
    # the original folder is untouched
    assert t.read("out/1.txt") == "stale output from an earlier run\n"
    assert not os.path.exists("out/2.txt")
    assert t.read(".juggle/state").startswith("garbage")


def test_compare_rejects_unknown_backend(t):
    t.ini("[command a]\ncommand = true\n")
    r = t.juggle("compare", "--backends", "serial,fibers", backend=False, rc=2)
    assert "'fibers'" in r.err


@backends
@timeout(120)
def test_downloads_take_net_lanes_on_the_event_loop(t):
    """On eventloop and auto a download takes one of --net-jobs lanes after
    the -j ones, not a -j slot; elsewhere it holds a worker like any job."""
    from testbed import nginx
    web = nginx(t)
    for i in range(8):
        t.write(web.www + "/f%d.txt" % i, "file %d\n" % i)
    t.ini("""
        [download d]
        foreach = range:0..7
        url = %s
        output = d/{item}.txt

        [command c]
        foreach = range:0..3
        output = c/{item}.txt
        command = sh -c 'echo "$1" > "$2"' sh {item} {output}
        """ % web.url("/f{item}.txt"))
    r = t.juggle("-j", "1", "--net-jobs", "3", rc=0)
    for i in range(8):
        assert t.read("d/%d.txt" % i) == "file %d\n" % i
    lanes = spans_by_lane(r.report)
    for lane, spans in lanes.items():
        spans.sort()
        for (s1, e1, n1), (s2, e2, n2) in zip(spans, spans[1:]):
            assert s2 >= e1 - 1e-6, "lane %d carried %s and %s at once" % (lane, n1, n2)
    dl = {r.job("d[%d]" % i)["worker"] for i in range(8)}
    cmd = {r.job("c[%d]" % i)["worker"] for i in range(4)}
    if t.backend in ("eventloop", "auto"):
        assert dl <= {1, 2, 3} and cmd == {0}, (dl, cmd)
    else:
        assert dl == {0} and cmd == {0}, (dl, cmd)


def test_man_page_names_every_backend_in_the_table(t):
    """juggle(1) lists the backends under -b in the table's order, and
    gives compare's default as the local ones: both read against what the
    binary prints from its one table."""
    man = open(os.path.join(ROOT, "man", "juggle.1")).read()
    b = man.split(".It Fl b , -backend Ar name\n", 1)[1].split("\n.El\n", 1)[0]
    assert re.findall(r"^\.It Cm (\S+)$", b, re.M) == list_backends()
    m = re.search(r"^\.It Fl -backends Ar list\n(?:.*\n)*?Default: (.*)\.$", man, re.M)
    assert m and m.group(1).split(", ") == list_backends("local"), m and m.group(1)
    assert t.juggle("--list-backends", backend=False, rc=0).out.split() == list_backends()
