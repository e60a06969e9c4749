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
    command = sh -c 'echo fine > fine.txt'

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
    assert archive_lines(r.out) == [
        "juggle: archived 7 files (0.0 MiB) in 'dist/nightly.tar.gz'"], r.out
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
        "juggle: archived 7 files (0.0 MiB) in 'dist/nightly.tar.gz'"], r.out
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
