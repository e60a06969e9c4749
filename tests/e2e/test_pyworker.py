"""tools/juggle-pyworker: a Python function per job, served by persistent
workers (one python3 per worker, not per job), on every backend; and the
same jobs one-shot (--no-workers) with byte-identical outputs."""
import importlib.util
import os
import shutil

from harness import ROOT, backends

EXAMPLE = os.path.join(ROOT, "examples", "python")
PYWORKER = os.path.join(ROOT, "tools", "juggle-pyworker")
FIRST, LAST = 1000, 1011


def copy_example(dst="."):
    os.makedirs(dst, exist_ok=True)
    for f in ("juggle.ini", "work.py"):
        shutil.copy(os.path.join(EXAMPLE, f), os.path.join(dst, f))
    shutil.copytree(os.path.join(EXAMPLE, "data"), os.path.join(dst, "data"))


def run_example(t, *extra, cwd=None):
    return t.juggle("-j", "2", "-s", "pyworker=" + PYWORKER, "-s", "first=%d" % FIRST,
                    "-s", "last=%d" % LAST, *extra, rc=0, cwd=cwd)


def tree(top):
    out = {}
    for d, _, files in os.walk(top):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, top)] = fh.read()
    return out


@backends
def test_example_outputs_incremental_and_identical_one_shot(t):
    copy_example()
    r = run_example(t)
    assert len(r.ran()) == LAST - FIRST + 1 + 3, r.ran()
    for n in range(FIRST, LAST + 1):
        assert t.read("out/squares/%d.txt" % n) == "%d\n" % sum(i * i for i in range(n))
        assert "sum of squares below %d" % n in t.read(".juggle/logs/squares[%d].log" % n)
    # The file-processing function, as the module computes it in-process.
    spec = importlib.util.spec_from_file_location("work", os.path.join(EXAMPLE, "work.py"))
    work = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(work)
    for name in ("juggling", "make", "workers"):
        work.word_counts("data/%s.txt" % name, "expected.txt")
        assert t.read("out/counts/%s.txt" % name) == t.read("expected.txt"), name
    assert t.read("out/counts/make.txt").startswith("lines 3\nwords 42\n")
    # Nothing changed: nothing runs.
    r = run_example(t)
    assert r.ran() == [], r.ran()
    # One data file changes: that one job runs.
    t.write("data/make.txt", "make make make\n")
    r = run_example(t)
    assert r.ran() == ["counts[make.txt]"], r.ran()
    assert t.read("out/counts/make.txt") == "lines 1\nwords 3\nmake 3\n"
    # The same graph one-shot, one python3 per job: the same bytes.
    copy_example("oneshot")
    t.write("oneshot/data/make.txt", "make make make\n")
    r = run_example(t, "--no-workers", cwd="oneshot")
    assert len(r.ran()) == LAST - FIRST + 1 + 3, r.ran()
    assert tree("oneshot/out") == tree("out")
    assert "sum of squares below %d" % FIRST in t.read("oneshot/.juggle/logs/squares[%d].log" % FIRST)


PROBE = r'''
import os, sys
print("importing probe")  # at import: must not reach the protocol

def record(item, out):
    with open("pids.log", "a") as f:
        f.write("%d\n" % os.getpid())
    print("item", item)
    if item == "3":
        raise ValueError("item three is bad")
    if item == "5":
        sys.exit(4)
    if item == "2":
        # A subprocess writing to fd 1 must not break the protocol.
        os.system("echo a child writes to stdout")
    with open(out, "w") as f:
        f.write("done %s\n" % item)
'''

PROBE_INI = """
[command probe]
foreach = range:1..10
output = out/{item}.txt
worker = python3 %s probe:record
command = {item} {output}
""" % PYWORKER


@backends
def test_one_worker_many_jobs_and_a_raise_fails_one_job(t):
    t.write("probe.py", PROBE)
    t.ini(PROBE_INI)
    r = t.juggle("-j", "2", "-k", rc=1)
    s = r.statuses()
    bad = {"probe[3]", "probe[5]"}
    for i in range(1, 11):
        name = "probe[%d]" % i
        assert s[name] == ("failed" if name in bad else "ok"), s
        assert ("item %d\n" % i) in t.read(".juggle/logs/%s.log" % name)
        if name not in bad:
            assert t.read("out/%d.txt" % i) == "done %d\n" % i
    log = t.read(".juggle/logs/probe[3].log")
    assert "Traceback (most recent call last)" in log and "ValueError: item three is bad" in log, log
    assert "exited with status 1" in r.job("probe[3]")["error"], r.job("probe[3]")
    assert "exited with status 4" in r.job("probe[5]")["error"], r.job("probe[5]")
    assert not os.path.exists("out/3.txt") and not os.path.exists("out/5.txt")
    # Ten jobs, at most -j workers: a worker served several jobs.
    pids = t.read("pids.log").split()
    assert len(pids) == 10, pids
    assert 1 <= len(set(pids)) <= 2, pids
    # The failed jobs, and only they, run again.
    r = t.juggle("-j", "2", "-k", rc=1)
    assert r.ran() == ["probe[3]", "probe[5]"], r.ran()
    # One-shot: the same outputs, the same traceback in the job's log.
    os.makedirs("oneshot")
    shutil.copy("probe.py", "oneshot/probe.py")
    shutil.copy("juggle.ini", "oneshot/juggle.ini")
    r = t.juggle("-j", "2", "-k", "--no-workers", rc=1, cwd="oneshot")
    assert r.statuses() == s
    assert tree("oneshot/out") == tree("out")
    log = t.read("oneshot/.juggle/logs/probe[3].log")
    assert "ValueError: item three is bad" in log, log
    assert len(set(t.read("oneshot/pids.log").split())) == 10


def test_a_module_that_does_not_import_fails_each_job_saying_why(t):
    t.ini(PROBE_INI.replace("probe:record", "nosuch:record").replace("1..10", "1..3"))
    for extra in ([], ["--no-workers"]):
        r = t.juggle("-j", "2", "-k", *extra, rc=1)
        assert set(r.statuses().values()) == {"failed"}, (extra, r.statuses())
        for i in (1, 2, 3):
            log = t.read(".juggle/logs/probe[%d].log" % i)
            assert "ModuleNotFoundError: No module named 'nosuch'" in log, (extra, log)
