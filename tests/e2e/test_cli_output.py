"""What a run tells a person and leaves for one: the archive of a failed
run, failures printed once, and the status line and summary on narrow and
wide terminals."""
import os
import re
import signal
import tarfile

import harness
from harness import backends, run_pty


# ---- the archive of a failed run ----

GATED = """
    [settings]
    archive = dist/nightly.tar.gz
    %s

    [command fine]
    output = fine.txt
    command = sh -c 'echo making fine.txt; echo fine > fine.txt'

    [command gated]
    input = src.txt
    output = gated.txt
    command = sh -c 'grep good src.txt > gated.txt || (echo "src.txt is bad" >&2 && exit 4)'
    """


def archive_lines(out):
    return [l for l in out.splitlines() if "archive" in l]


def test_failed_run_leaves_the_good_archive_and_writes_a_partial_one(t):
    t.ini(GATED % "")
    t.write("src.txt", "good\n")
    r = t.juggle("--progress", "none", rc=0)
    # gated says nothing when it passes, so it has no log to archive.
    assert archive_lines(r.out) == [
        "juggle: archived 6 files (0.0 MiB) in 'dist/nightly.tar.gz'"], r.out
    good = open("dist/nightly.tar.gz", "rb").read()
    t.write("src.txt", "bad\n")
    r = t.juggle("--progress", "none", rc=1)
    assert archive_lines(r.out) == [
        "juggle: the run failed; archived 6 files (0.0 MiB) in "
        "'dist/nightly.partial.tar.gz', not in 'dist/nightly.tar.gz'"], r.out
    assert open("dist/nightly.tar.gz", "rb").read() == good, "a failed run replaced the archive"
    with tarfile.open("dist/nightly.partial.tar.gz") as tf:
        names = sorted(tf.getnames())
    assert names == ["MANIFEST.sha256", "fine.txt", "logs/fine.log", "logs/gated.log",
                     "manifest.json", "reports/report.json"], names
    # Fixed: the good run's archive replaces the old one and the partial
    # one, now stale, goes.
    t.write("src.txt", "good again\n")
    r = t.juggle("--progress", "none", rc=0)
    assert archive_lines(r.out) == [
        "juggle: archived 6 files (0.0 MiB) in 'dist/nightly.tar.gz'"], r.out
    assert sorted(os.listdir("dist")) == ["nightly.tar.gz"]


def test_failed_run_writes_no_archive_when_asked(t):
    t.ini(GATED % "archive_on_failure = none")
    t.write("src.txt", "good\n")
    t.juggle("-q", rc=0)
    good = open("dist/nightly.tar.gz", "rb").read()
    t.write("src.txt", "bad\n")
    r = t.juggle("--progress", "none", rc=1)
    assert archive_lines(r.out) == [
        "juggle: the run failed; archive 'dist/nightly.tar.gz' not written "
        "(archive_on_failure = none)"], r.out
    assert sorted(os.listdir("dist")) == ["nightly.tar.gz"]
    assert open("dist/nightly.tar.gz", "rb").read() == good


def test_archive_on_failure_takes_partial_or_none(t):
    t.ini(GATED % "archive_on_failure = replace")
    t.write("src.txt", "good\n")
    r = t.juggle(rc=2)
    assert r.err.splitlines()[0] == (
        "juggle.ini:4: archive_on_failure: 'replace' is not partial or none"), r.err


# ---- failures, once ----

def test_failure_tail_is_printed_once_at_the_end(t):
    t.ini("""
        [command fine]
        command = true

        [command bad]
        command = sh -c 'echo first-line && echo "the reason it broke" >&2 && exit 3'
        """)
    r = t.juggle("-k", "--progress", "plain", rc=1)
    both = r.out + r.err
    # Once in the command as it fails, once in the log's tail at the end.
    assert both.count("the reason it broke") == 2, both
    assert both.count("| the reason it broke") == 1, both
    assert both.count("exited with status 3") == 2, both  # as it fails, and in the list
    lines = r.out.splitlines()
    at = lines.index("FAILED bad: exited with status 3")
    assert lines[at + 1] == ("  command: sh -c 'echo first-line && echo \"the reason it broke\" "
                             ">&2 && exit 3'"), lines
    assert not lines[at + 2].startswith("  "), lines
    # The list ends the output, where a cron mail reader looks.
    assert lines[-5:] == ["failed jobs:",
                          "  bad (exit code 3): exited with status 3",
                          "    | first-line",
                          "    | the reason it broke",
                          "    log: .juggle/logs/bad.log"], lines


def test_quiet_run_lists_its_failures_once_on_stderr(t):
    t.ini("""
        [command bad]
        command = sh -c 'echo "the reason it broke" && exit 3'
        """)
    r = t.juggle("-q", rc=1)
    assert r.out == "", r.out
    assert r.err.splitlines() == ["FAILED bad: exited with status 3",
                                  "  command: sh -c 'echo \"the reason it broke\" && exit 3'",
                                  "failed jobs:",
                                  "  bad (exit code 3): exited with status 3",
                                  "    | the reason it broke",
                                  "    log: .juggle/logs/bad.log"], r.err


def test_download_error_is_written_once_in_its_log(t):
    t.ini("""
        [download fetch]
        url = file://%s/missing.txt
        output = got.txt
        retries = 0
        """ % os.path.abspath("."))
    r = t.juggle("--progress", "none", rc=1)
    log = t.read(".juggle/logs/fetch.log").splitlines()
    error = "Couldn't open file %s/missing.txt (permanent)" % os.path.abspath(".")
    assert len(log) == 3 and log[0].startswith("GET file://"), log
    assert re.fullmatch(r"failed: 0 bytes in \d+\.\d{3} s, 0 new connections", log[1]), log
    assert log[2] == "juggle: " + error, log
    lines = r.out.splitlines()
    assert lines[-5:] == ["failed jobs:",
                          "  fetch: " + error,
                          "    | " + log[0],
                          "    | " + log[1],
                          "    log: .juggle/logs/fetch.log"], lines


def test_interrupted_job_is_listed_as_interrupted(t):
    t.ini("""
        [command long]
        command = sh -c 'echo started > started && exec sleep 300'
        """)
    os.mkfifo("started")
    p = t.spawn("--progress", "none")
    with open("started") as f:
        f.read()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, (out, err)
    assert err.splitlines() == [
        "juggle: interrupted by SIGINT; unfinished jobs are marked interrupted"], err
    lines = out.splitlines()
    assert "failed jobs:" not in lines, out
    assert lines[-3] == "interrupted jobs:", out
    assert re.fullmatch(r"  long \(killed by SIG(TERM|INT|KILL)\): interrupted", lines[-2]), out
    assert lines[-1] == "    log: .juggle/logs/long.log", out


@backends
def test_signals_are_named_the_same_everywhere(t):
    t.ini("""
        [command killed]
        command = sh -c 'echo dying && kill -KILL $$$$'
        """)
    r = t.juggle("--progress", "plain", rc=1)
    assert r.statuses() == {"killed": "failed"}
    assert "signal 9" not in r.out + r.err + t.read(".juggle/logs/killed.log"), r
    lines = r.out.splitlines()
    assert "FAILED killed: killed by SIGKILL" in lines, lines
    assert lines[-4:] == ["failed jobs:",
                          "  killed (killed by SIGKILL): killed by SIGKILL",
                          "    | dying",
                          "    log: .juggle/logs/killed.log"], lines


# ---- logs ----

@backends
def test_only_a_job_that_writes_has_a_log(t):
    # A silent command and a cpu task leave no log file; a job that
    # writes has its output there, and a failure its error.
    t.ini("""
        [command quiet]
        command = true

        [command loud]
        command = sh -c 'echo loud says hi'

        [cpu sum]
        task = sum_squares
        n = 3

        [command bad]
        command = sh -c 'echo about to fail; exit 3'
        """)
    r = t.juggle("--progress", "none", "-k", rc=1)
    assert r.statuses() == {"quiet": "ok", "loud": "ok", "sum": "ok", "bad": "failed"}, r
    assert sorted(os.listdir(".juggle/logs")) == ["bad.log", "loud.log"]
    assert t.read(".juggle/logs/loud.log") == "loud says hi\n"
    assert t.read(".juggle/logs/bad.log").startswith("about to fail\n")
    assert "    | about to fail" in r.out.splitlines(), r.out
    # The report names a log only where there is one.
    assert {j["name"]: j["log"] for j in r.report["jobs"]} == {
        "quiet": None, "loud": ".juggle/logs/loud.log", "sum": None,
        "bad": ".juggle/logs/bad.log"}, r.report
    # Silent this time: the log of the run before is not passed off as
    # this run's.
    t.ini("""
        [command quiet]
        command = sh -c 'echo quiet no more'

        [command loud]
        command = sh -c 'true loud'

        [cpu sum]
        task = sum_squares
        n = 3

        [command bad]
        command = sh -c 'exit 0'
        """)
    r = t.juggle("--progress", "none", rc=0)
    assert r.statuses() == {"quiet": "ok", "loud": "ok", "sum": "skipped-up-to-date",
                            "bad": "ok"}, r
    assert sorted(os.listdir(".juggle/logs")) == ["quiet.log"]
    assert t.read(".juggle/logs/quiet.log") == "quiet no more\n"


def test_clean_says_what_it_removed(t):
    t.ini("""
        [command a]
        output = a.txt
        command = sh -c 'echo a > a.txt'
        """)
    t.juggle("-q", rc=0)
    r = t.juggle("clean", rc=0)
    assert r.out == "juggle: removed 1 output and .juggle/\n", r.out
    r = t.juggle("clean", rc=0)
    assert r.out == "juggle: nothing to remove\n", r.out
    t.juggle("-q", rc=0)
    os.unlink("a.txt")
    r = t.juggle("clean", rc=0)
    assert r.out == "juggle: removed .juggle/ (no outputs were there)\n", r.out
    t.juggle("-q", rc=0)
    r = t.juggle("clean", "a", rc=0)
    assert r.out == "juggle: removed 1 output\n", r.out


# ---- narrow and wide terminals ----

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
NAME = "render-the-report-01"  # 20 columns


def screen_lines(out):
    """What a terminal shows: each line and each rewrite of the status
    line, without colours and erasures."""
    return [ANSI.sub("", s) for s in re.split(r"\r\n|\r|\n", out.decode())]


def status_lines(lines):
    return [s for s in lines if re.match(r"\[\d+/\d+\]", s)]


def width_graph(t):
    t.ini("""
        [command %s]
        output = report.txt
        command = sh -c 'echo done > report.txt'
        """ % NAME)


def test_narrow_terminal_keeps_the_job_name(t):
    width_graph(t)
    rc, out = run_pty(t, cols=40)
    assert rc == 0, out
    lines = screen_lines(out)
    # The running count and the words went; the name is whole.
    assert status_lines(lines), lines
    running = [s for s in status_lines(lines) if s.startswith("[0/1]")]
    assert running and all(re.fullmatch(r"\[0/1\] %s \d+:\d\d" % NAME, s) for s in running), lines
    summary = lines[lines.index(next(s for s in lines if s.startswith("juggle: 1 ok"))):]
    summary = [s for s in summary if s]
    assert all(len(s) <= 40 for s in summary), summary
    assert re.fullmatch(r"juggle: 1 ok in \d+\.\d\d s \([a-z]+, -j \d+,", summary[0]), summary
    # The table keeps the name, its status and its time; cpu and kind went.
    at = summary.index("  slowest jobs    status         seconds")
    assert re.fullmatch(r"  render-the-r\.\.\. ok {11} +\d+\.\d{3}", summary[at + 1]), summary
    assert len(summary[at + 1]) == 40, summary


LONG = "render-the-quarterly-report-for-every-region-at-once"  # 52 columns


def test_wide_terminal_keeps_the_whole_line(t):
    width_graph(t)
    t.write("juggle.ini", t.read("juggle.ini") + "\n[command %s]\ncommand = true\n" % LONG)
    rc, out = run_pty(t, "-j", "1", cols=200)
    assert rc == 0, out
    lines = screen_lines(out)
    shown = status_lines(lines)
    patterns = [r"\[0/2\] 1 running  %s  \d+:\d\d elapsed" % NAME,
                r"\[1/2\] 1 running  %s  \d+:\d\d elapsed" % LONG,
                r"\[[12]/2\] 0 running  \d+:\d\d elapsed"]
    assert all(any(re.fullmatch(p, s) for p in patterns) for s in shown), shown
    assert all(any(re.fullmatch(p, s) for s in shown) for p in patterns), shown
    summary = [s for s in lines[lines.index(next(s for s in lines
                                                   if s.startswith("juggle: 2 ok"))):] if s]
    assert re.fullmatch(r"juggle: 2 ok in \d+\.\d\d s \([a-z]+, -j \d+, critical order, "
                        r"\d+\.\d\d jobs in flight on average, cpu \d+\.\d\d s = "
                        r"\d+% of \d+ cores\)",
                        summary[0]), summary
    # The name column is as wide as the longest name: nothing is cut.
    assert summary[1] == "  %-52s %-9s %-12s %9s %9s" % ("slowest jobs", "kind", "status",
                                                         "seconds", "cpu s"), summary
    rows = sorted(summary[2:4])
    assert re.fullmatch(r"  %-52s command   ok {11} +\d+\.\d{3} +\d+\.\d{3}" % LONG,
                        rows[0]), summary
    assert re.fullmatch(r"  %-52s command   ok {11} +\d+\.\d{3} +\d+\.\d{3}" % NAME,
                        rows[1]), summary
    assert re.fullmatch(r"  critical path: (%s|%s) \(\d+\.\d\d s\)" % (NAME, LONG),
                        summary[4]), summary
    assert re.fullmatch(r"  lower bound .*; wall \d+\.\d\dx the bound", summary[5]), summary
    assert len(summary) == 6, summary
