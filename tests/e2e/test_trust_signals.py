"""Never hang, always killable: libxml2 across worker threads, a second
^C or TERM while a job is stuck, a cpu task's timeout on every backend, and
what an interrupted run says about the jobs it never started."""
import os

from harness import Skip, backends, no_valgrind, timeout

DOCBOOK_PUBLIC = "-//OASIS//DTD DocBook XML V4.5//EN"
CATALOG = "/etc/xml/catalog"
ARTICLE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE article PUBLIC "-//OASIS//DTD DocBook XML V4.5//EN"
  "http://www.oasis-open.org/docbook/xml/4.5/docbookx.dtd">
<article id="a%d"><title>Article %d</title><para>Text %d.</para></article>
"""


def docbook_resolves():
    """Whether the DocBook 4.5 DTD resolves offline through the system
    catalog, as examples/docbook needs."""
    import subprocess
    try:
        p = subprocess.run(["xmlcatalog", "--noout", CATALOG, DOCBOOK_PUBLIC],
                           capture_output=True, text=True)
    except FileNotFoundError:
        return False
    return p.returncode == 0 and "No entry" not in p.stdout


@backends
@timeout(1800)
@no_valgrind("a race between threads: memcheck runs one thread at a time, and 30 runs "
             "of DocBook DTD checks under it take an hour")
def test_dtd_checks_on_worker_threads_never_hang(t):
    """Thirty fresh runs of DTD checks (DocBook through the system catalog,
    as examples/docbook does) on four workers. libxml2 sets its catalogs up
    on the first entity a parser resolves; done in the workers, two of them
    racing there could leave its catalog lock held by no one, and every
    later check waited forever (or resolved nothing and called valid
    articles invalid). Each run must end, with every article valid.

    Four quick warm-up tasks first start every worker, so that the checks
    all begin at once; a large environment (libxml2's set-up reads it with
    getenv, a linear scan) widens the moment the workers can collide in,
    so that 30 runs see the race with high probability where it exists."""
    if not docbook_resolves():
        raise Skip("the DocBook 4.5 DTD does not resolve through %s" % CATALOG)
    n = 4
    for i in range(n):
        t.write("docs/a%d.xml" % i, ARTICLE % (i, i, i))
    t.ini("""
        [cpu warm]
        foreach = range:1..4
        task = sum_squares
        n = 3000000

        [cpu validate]
        foreach = docs/*.xml
        after = warm
        task = xmlcheck
        dtd = yes
        output = checked/{stem}.txt
    """)
    env = {"JUGGLE_TEST_PAD_%05d" % i: "x" * 100 for i in range(15000)}
    for k in range(30):
        r = t.juggle("-B", "-j", "4", "-q", env=env, timeout=60)
        assert r.rc == 0, (k, r)
        for i in range(n):
            assert t.read("checked/a%d.txt" % i) == "ok docs/a%d.xml\n" % i, (k, r)


def wait_for(t, cond, what, limit=60):
    """Polls cond() until true, failing after limit seconds (scaled)."""
    import time
    from harness import TIMEOUT_SCALE
    end = time.monotonic() + limit * TIMEOUT_SCALE
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("%s did not happen in %ss" % (what, limit))
        time.sleep(0.01)


@backends
def test_interrupt_counts_jobs_never_started_as_not_run(t):
    """^C while a cpu task computes (on eventloop it runs inside the loop,
    with ready jobs queued behind it): the task is interrupted, and every
    job that had not started is not-run - no log named in the report, no
    state recorded - on every backend alike; one that had started is
    interrupted, with its log. The next run does them."""
    import json
    import signal
    t.ini("""
        [cpu spin]
        task = sum_squares
        n = 1000000000000
        output = spin/spin.txt

        [command c1]
        command = touch c1.txt
        [command c2]
        command = touch c2.txt
        [command c3]
        command = touch c3.txt
        """)
    p = t.spawn("-j", "2", "--progress", "none")
    # under way once its output's folder is made (it writes no log
    # before it ends)
    wait_for(t, lambda: os.path.exists("spin"), "spin starting")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, out, err)
    rep = json.load(open(".juggle/last-report.json"))
    jobs = {j["name"]: j for j in rep["jobs"]}
    assert jobs["spin"]["status"] == "interrupted", jobs["spin"]
    for name in ("c1", "c2", "c3"):
        j = jobs[name]
        # Ran before the signal: ok, with no log (touch says nothing).
        # Started (its command killed): interrupted, with its log. Never
        # started: not-run, with none.
        assert j["status"] in ("ok", "interrupted", "not-run"), j
        if j["status"] == "interrupted":
            assert j["log"] and os.path.exists(j["log"]), (j, out, err)
        else:
            assert j["log"] is None, j
    for j in rep["jobs"]:
        if j["log"] is not None:
            assert os.path.exists(j["log"]), j
    # The never-started jobs left nothing in the state: the next run (spin
    # made quick) does each of them.
    t.ini(t.read("juggle.ini").replace("1000000000000", "1000"))
    t.juggle("-j", "2", "--progress", "none", rc=0)
    for name in ("c1", "c2", "c3"):
        assert os.path.exists(name + ".txt"), name


@backends
@no_valgrind("thirty programs started and stopped, each worker process checked for "
             "leaks as it exits: minutes under memcheck, and the race is the "
             "scheduler's, which the other builds cover")
def test_signal_while_jobs_are_starting_still_stops_the_run(t):
    """The first job's program sends ^C to juggle the moment it runs, while
    juggle is still starting the thirty jobs beside it. A backend that
    looked for the signal only before it started them, and then waited
    for the second signal alone, waited 300 s for the sleeps: the run must
    stop at once, exit 130, every job interrupted or not run."""
    import json
    import signal
    t.ini("""
        [command first]
        command = sh -c 'while [ ! -s juggle.pid ]; do sleep 0.01; done; kill -INT $(cat juggle.pid); exec sleep 300'

        [command beside]
        foreach = range:1..30
        command = sleep 300
        """)
    p = t.spawn("-j", "31", "--progress", "none")
    with open("juggle.pid.tmp", "w") as f:
        f.write("%d\n" % p.pid)
    os.rename("juggle.pid.tmp", "juggle.pid")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, out, err)
    assert signal.SIGINT == 2 and "interrupted" in err, err
    rep = json.load(open(".juggle/last-report.json"))
    assert rep["interrupted"], rep
    assert {j["status"] for j in rep["jobs"]} <= {"interrupted", "not-run"}, rep["jobs"]


STUCK_DOC = """<?xml version="1.0"?>
<!DOCTYPE doc SYSTEM "stuck.dtd">
<doc/>
"""


def stuck_xmlcheck(t):
    """A cpu task that blocks inside libxml2 where no check can reach it:
    its document's DTD is a FIFO nobody writes, so opening it never
    returns."""
    t.write("doc.xml", STUCK_DOC)
    os.mkfifo("stuck.dtd")


@backends
def test_stuck_cpu_task_times_out_on_every_backend(t):
    """A cpu task with `timeout = 1` that cannot be interrupted (blocked in
    libxml2) is reported timed out, the other jobs run, and juggle exits 1
    without waiting for it."""
    stuck_xmlcheck(t)
    t.ini("""
        [cpu stuck]
        task = xmlcheck
        input = doc.xml
        dtd = yes
        output = verdict.txt
        timeout = 1

        [command other]
        command = touch other.txt
        """)
    r = t.juggle("-k", "--progress", "none", rc=1, timeout=60)
    j = r.job("stuck")
    assert j["status"] == "failed", j
    assert "timed out after 1 s" in j["error"], j
    assert r.job("other")["status"] == "ok"
    assert os.path.exists("other.txt")
    assert not os.path.exists("verdict.txt")


def term_pending(pid):
    """Whether a SIGTERM sent to process pid waits to be delivered."""
    import signal
    for line in open("/proc/%d/status" % pid):
        if line.startswith("ShdPnd:"):
            return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    return False


def _two_terms_end_it(t, ini, started):
    """Runs the graph, waits for started() (a FIFO read, a file polled),
    sends SIGTERM twice, and checks juggle ends with 130 having recorded
    the job that finished before: the next run skips it."""
    import json
    import signal
    t.ini(ini)
    p = t.spawn("-k", "-j", "2", "--progress", "none")
    started(p)
    p.send_signal(signal.SIGTERM)
    # Two signals pending at once are one: send the second only once
    # juggle has taken the first.
    wait_for(t, lambda: not term_pending(p.pid), "the first SIGTERM being taken")
    p.send_signal(signal.SIGTERM)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, out, err)
    rep = json.load(open(".juggle/last-report.json"))
    s = {j["name"]: j["status"] for j in rep["jobs"]}
    assert s["first"] == "ok", s
    assert s["stuck"] == "interrupted", s
    assert rep["interrupted"] is True
    return s


@backends
def test_second_term_ends_juggle_past_a_command_ignoring_term(t):
    """A command that ignores TERM: the first SIGTERM asks it to stop, the
    second ends juggle at once (130), with the job that had finished
    recorded in the state and the report; the next run skips it."""
    os.mkfifo("go")

    def started(p):
        with open("go") as f:  # the command has set its trap
            f.read()

    _two_terms_end_it(t, """
        [command first]
        output = first.txt
        command = sh -c 'echo one >> runs.txt; echo done > first.txt'

        [command stuck]
        after = first
        command = sh -c 'trap "" TERM; echo ready > go; while :; do sleep 1; done'
        """, started)
    # the next run does not redo what finished
    t.ini(t.read("juggle.ini").replace("while :; do sleep 1; done", "true").replace(
        "echo ready > go; ", ""))
    r = t.juggle("-k", "--progress", "none", rc=0, timeout=60)
    assert r.job("first")["status"] == "skipped-up-to-date", r.job("first")
    assert t.read("runs.txt") == "one\n"


@backends
def test_second_term_ends_juggle_past_a_stuck_cpu_task(t):
    """A cpu task blocked inside libxml2 ignores every request to stop: the
    second SIGTERM still ends juggle (130) with what finished recorded."""
    stuck_xmlcheck(t)

    def started(p):
        # its attempt has begun once its output's folder exists
        wait_for(t, lambda: os.path.exists("verdict"), "the task starting")

    _two_terms_end_it(t, """
        [command first]
        output = first.txt
        command = sh -c 'echo one >> runs.txt; echo done > first.txt'

        [cpu stuck]
        after = first
        task = xmlcheck
        input = doc.xml
        dtd = yes
        output = verdict/stuck.txt
        """, started)
    os.unlink("stuck.dtd")
    t.write("stuck.dtd", "<!ELEMENT doc EMPTY>\n")
    r = t.juggle("-k", "--progress", "none", rc=0, timeout=60)
    assert r.job("first")["status"] == "skipped-up-to-date", r.job("first")
    assert r.job("stuck")["status"] == "ok", r.job("stuck")
    assert t.read("runs.txt") == "one\n"
