"""The order ready jobs start in: longest chain of expected seconds first
(--order critical, the default), or as written (--order file)."""
from harness import backends

# Four short jobs written first, a long chain (a download, then a report)
# written last. Every job appends its name to starts.txt as it starts.
NIGHTLY = """
    [command short]
    foreach = range:1..4
    shell = yes
    command = echo short{item} >> starts.txt

    [command fetch]
    shell = yes
    command = echo fetch >> starts.txt; sleep 1

    [command report]
    after = fetch
    shell = yes
    command = echo report >> starts.txt
    """
ALL = ["fetch", "report", "short1", "short2", "short3", "short4"]


def starts(t):
    return t.read("starts.txt").split()


def first_started(r):
    """The job the scheduler started first, by the report's start times."""
    return min(r.report["jobs"], key=lambda j: j["started_s"])["name"]


def with_history(t):
    """Runs the graph once, in file order, so the state log holds each
    job's seconds: fetch's second against the short jobs' few
    milliseconds. starts.txt is then emptied."""
    t.ini(NIGHTLY)
    r = t.juggle("-j", "1", "--order", "file", rc=0)
    assert r.report["order"] == "file"
    assert starts(t) == ["short1", "short2", "short3", "short4", "fetch", "report"], starts(t)
    t.write("starts.txt", "")


@backends
def test_recorded_history_starts_the_long_chain_first(t):
    with_history(t)
    # One at a time: the chain first. (What follows is ordered by the few
    # milliseconds each took last time, which no test can know.)
    r = t.juggle("-B", "-j", "1", rc=0)
    s = starts(t)
    assert s[0] == "fetch" and sorted(s) == ALL, s
    assert r.report["order"] == "critical"
    assert "critical order" in r.out, r.out
    # Two at once: fetch starts first, short1 beside it. Their lines in
    # starts.txt may come in either order, so the report's start times
    # (the scheduler's, taken as it starts each job) say which came first.
    t.write("starts.txt", "")
    r = t.juggle("-B", "-j", "2", rc=0)
    assert sorted(starts(t)) == ALL, starts(t)
    assert first_started(r) == "fetch", r.report["jobs"]


@backends
def test_order_file_keeps_file_order(t):
    with_history(t)
    r = t.juggle("-B", "-j", "1", "--order", "file", rc=0)
    assert starts(t) == ["short1", "short2", "short3", "short4", "fetch", "report"], starts(t)
    assert "file order" in r.out, r.out
    # Two at once: short1 first, and fetch only once short jobs ended.
    t.write("starts.txt", "")
    r = t.juggle("-B", "-j", "2", "--order", "file", rc=0)
    assert first_started(r) == "short[1]", r.report["jobs"]
    assert r.job("fetch")["started_s"] > r.job("short[2]")["started_s"], r.report["jobs"]


def test_order_in_settings_and_its_errors(t):
    with_history(t)
    t.ini(NIGHTLY + """
    [settings]
    order = file
    """)
    r = t.juggle("-B", "-j", "1", "--html", "r.html", rc=0)
    assert starts(t)[0] == "short1", starts(t)
    assert r.report["order"] == "file"
    assert ">order</th><td>file<" in t.read("r.html").replace("\n", "")
    # The command line wins over the file.
    t.write("starts.txt", "")
    r = t.juggle("-B", "-j", "1", "--order", "critical", rc=0)
    assert starts(t)[0] == "fetch", starts(t)
    assert r.report["order"] == "critical"
    # A bad value: the file and line, or the option, and nothing runs.
    t.write("starts.txt", "")
    t.ini(NIGHTLY + """
    [settings]
    order = longest
    """)
    r = t.juggle("-B", rc=2)
    line = [l.strip() for l in t.read("juggle.ini").splitlines()].index("order = longest") + 1
    assert "juggle.ini:%d: order: 'longest' is not critical or file" % line in r.err, r.err
    r = t.juggle("-B", "--order", "longest", rc=2)
    assert "'longest' is not critical or file" in r.err, r.err
    assert t.read("starts.txt") == ""
