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
    p = subprocess.run(["xmlcatalog", "--noout", CATALOG, DOCBOOK_PUBLIC],
                       capture_output=True, text=True)
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
    state recorded - on every backend alike. The next run does them."""
    import json
    import signal
    t.ini("""
        [cpu spin]
        task = sum_squares
        n = 1000000000000
        output = spin.txt

        [command c1]
        command = touch c1.txt
        [command c2]
        command = touch c2.txt
        [command c3]
        command = touch c3.txt
        """)
    p = t.spawn("-j", "2", "--progress", "none")
    wait_for(t, lambda: os.path.exists(".juggle/logs/spin.log"), "spin starting")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, out, err)
    rep = json.load(open(".juggle/last-report.json"))
    jobs = {j["name"]: j for j in rep["jobs"]}
    assert jobs["spin"]["status"] == "interrupted", jobs["spin"]
    for name in ("c1", "c2", "c3"):
        j = jobs[name]
        if os.path.exists(name + ".txt"):
            assert j["status"] == "ok", j  # ran before the signal
            continue
        assert j["status"] == "not-run", (j, out, err)
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
