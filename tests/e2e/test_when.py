"""Trigger rules (juggle.ini(5), when): a job with when = all_done runs
once its dependencies have ended, whatever their outcome; one with when =
any_failed only when a job upstream failed, and is skipped-nothing-failed
otherwise. Inputs a failed job did not make are left out, JUGGLE_FAILED
names the failed jobs upstream, and the run's exit status still says that
something failed."""
import os

from harness import backends

# conv[b] fails while the file broken-b is there.
NIGHTLY = """
[command conv]
foreach = list:a b c
output = out/{item}.txt
command = sh -c 'test ! -e "broken-$0" || exit 3; echo "$0" > "$1"' {item} {output}

[command summary]
when = all_done
input = out/a.txt out/b.txt out/c.txt
output = summary.txt
command = sh -c 'echo "$*" > summary.txt; echo "$JUGGLE_FAILED" >> summary.txt' sh {inputs}

[command mail]
when = any_failed
after = summary
output = mail.txt
command = sh -c 'printf "to: ops\\n%s\\n" "$JUGGLE_FAILED" > mail.txt'
"""


@backends
def test_all_done_and_any_failed_with_keep_going(t):
    t.ini(NIGHTLY)
    t.write("broken-b", "")
    r = t.juggle("-k", rc=1)
    s = r.statuses()
    assert s == {"conv[a]": "ok", "conv[b]": "failed", "conv[c]": "ok",
                 "summary": "ok", "mail": "ok"}, s
    # What conv[b] did not make is simply absent from {inputs}.
    assert t.read("summary.txt") == "out/a.txt out/c.txt\nconv[b]\n"
    # mail depends on summary, which succeeded: upstream is transitive.
    assert t.read("mail.txt") == "to: ops\nconv[b]\n"
    summary = r.job("summary")
    assert summary["when"] == "all_done"
    assert summary["failed_upstream"] == ["conv[b]"]
    assert summary["reason"] == "'conv[b]' failed upstream (when = all_done)"
    assert r.job("mail")["reason"] == "'conv[b]' failed upstream (when = any_failed)"
    assert r.report["counts"]["failed"] == 1
    assert "summary" not in r.out.split("failed jobs:")[1]

    # Still broken: the failed conversion and both trigger jobs run again,
    # the good conversions are up to date.
    r = t.juggle("-k", rc=1)
    assert r.ran() == ["conv[b]", "mail", "summary"], r.ran()
    assert t.read("summary.txt") == "out/a.txt out/c.txt\nconv[b]\n"

    # Fixed: b converts, the summary sees all three and nothing failed;
    # the mail is not sent.
    os.unlink("broken-b")
    os.unlink("mail.txt")
    r = t.juggle("-k", rc=0)
    assert r.ran() == ["conv[b]", "summary"], r.ran()
    assert t.read("summary.txt") == "out/a.txt out/b.txt out/c.txt\n\n"
    mail = r.job("mail")
    assert mail["status"] == "skipped-nothing-failed"
    assert mail["reason"] == "nothing failed upstream (when = any_failed)"
    assert mail["failed_upstream"] == []
    assert mail["started_s"] is None
    assert r.report["counts"]["skipped-nothing-failed"] == 1
    assert "1 not triggered (nothing failed)" in r.out
    assert not os.path.exists("mail.txt")

    # Nothing changed: nothing runs, and the mail is still not sent.
    r = t.juggle("-k", rc=0)
    assert r.ran() == []
    assert r.job("mail")["status"] == "skipped-nothing-failed"
    assert not os.path.exists("mail.txt")


@backends
def test_without_keep_going_the_run_stops_but_trigger_jobs_run(t):
    t.ini("""
    [command first]
    output = first.txt
    command = sh -c 'echo first > first.txt; exit 4'

    [command second]
    input = first.txt
    output = second.txt
    command = cp first.txt second.txt

    [command summary]
    when = all_done
    input = second.txt
    output = summary.txt
    command = sh -c 'echo "made: $*" > summary.txt; echo "failed: $JUGGLE_FAILED" >> summary.txt' sh {inputs}

    [command publish]
    input = summary.txt
    output = published.txt
    command = cp summary.txt published.txt
    """)
    r = t.juggle(rc=1)
    s = r.statuses()
    assert s == {"first": "failed", "second": "not-run", "summary": "ok",
                 "publish": "not-run"}, s
    assert t.read("summary.txt") == "made: \nfailed: first\n"
    # An ordinary job after it is not started: the run stops after a
    # failure, and only -k keeps going.
    assert "-k" in r.job("publish")["error"]
    assert not os.path.exists("published.txt")
    assert not os.path.exists("first.txt")

    # With -k the ordinary job after the summary runs as well.
    r = t.juggle("-k", rc=1)
    assert r.statuses()["publish"] == "ok"
    assert t.read("published.txt") == "made: \nfailed: first\n"


@backends
def test_an_input_no_job_makes_is_still_an_error(t):
    t.ini("""
    [command summary]
    when = all_done
    input = nowhere.txt
    output = summary.txt
    command = touch summary.txt
    """)
    r = t.juggle(rc=1)
    assert "input 'nowhere.txt' does not exist and no job makes it" in \
        r.job("summary")["error"]


@backends
def test_a_failing_trigger_job_fails_the_run(t):
    t.ini("""
    [command fine]
    output = fine.txt
    command = touch fine.txt

    [command summary]
    when = all_done
    input = fine.txt
    command = false
    """)
    r = t.juggle(rc=1)
    assert r.statuses() == {"fine": "ok", "summary": "failed"}
    assert r.job("summary")["failed_upstream"] == []


@backends
def test_trigger_jobs_in_a_run_of_rounds(t):
    """A graph that also has a foreach over a made list runs in rounds;
    what a trigger job was told in the first round (JUGGLE_FAILED, the
    report's failed_upstream and reason) is still what the report says
    after the later round."""
    t.write("source.txt", "x\ny\n")
    t.ini(NIGHTLY + """
[command make-list]
input = source.txt
output = list.txt
command = cp source.txt list.txt

[command each]
foreach = lines:list.txt
output = each/{item}.txt
command = sh -c 'echo "$0" > "$1"' {item} {output}
""")
    t.write("broken-b", "")
    t.write("broken-c", "")
    r = t.juggle("-k", rc=1)
    s = r.statuses()
    assert s["each[x]"] == "ok" and s["each[y]"] == "ok", s
    assert s["summary"] == "ok" and s["mail"] == "ok", s
    assert t.read("summary.txt") == "out/a.txt\nconv[b]\nconv[c]\n"
    assert r.job("summary")["failed_upstream"] == ["conv[b]", "conv[c]"], r.job("summary")
    assert r.job("mail")["failed_upstream"] == ["conv[b]", "conv[c]"], r.job("mail")
    assert r.job("mail")["reason"] == \
        "'conv[b]' and 1 more failed upstream (when = any_failed)", r.job("mail")
    assert t.read("mail.txt") == "to: ops\nconv[b]\nconv[c]\n"


def test_dry_run_and_explain_say_what_trigger_jobs_would_do(t):
    t.ini(NIGHTLY)
    t.write("broken-b", "")
    r = t.juggle("-n", rc=0)
    assert "would run summary: it has never succeeded" in r.out, r.out
    assert "may run mail: only if a job upstream fails (when = any_failed)" in r.out, r.out
    t.juggle("-k", rc=1)
    os.unlink("broken-b")
    t.juggle("-k", rc=0)
    r = t.juggle("-n", rc=0)
    assert ("would be skipped mail: nothing upstream would run, so nothing would fail "
            "(when = any_failed)") in r.out, r.out
    assert "1 would be skipped (nothing upstream would fail)" in r.out, r.out
    r = t.juggle("explain", "mail", rc=0)
    assert "would be skipped: nothing upstream would run" in r.out, r.out

    # A conversion that would fail (its input is missing and no job makes
    # it): the summary runs anyway, and so does the mail.
    t.ini(NIGHTLY.replace("foreach = list:a b c",
                          "foreach = list:a b c\ninput = in/{item}.src"))
    for i in "ac":
        t.write("in/%s.src" % i, i)
    r = t.juggle("-n", rc=0)
    assert "would fail conv[b]: input 'in/b.src' does not exist" in r.out, r.out
    assert "would run summary: 'conv[b]' would fail upstream (when = all_done)" in r.out, r.out
    assert "would run mail: 'conv[b]' would fail upstream (when = any_failed)" in r.out, r.out


def test_unknown_when_is_a_load_error(t):
    t.ini("""
    [command x]
    command = true
    when = always
    """)
    r = t.juggle(rc=2)
    assert ("juggle.ini:4: job 'x': when: 'always' is not success, all_done or any_failed"
            in r.err), r.err
