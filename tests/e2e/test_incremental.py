"""Make-like incremental runs (juggle(1), WHAT RUNS): what re-runs, and why."""
import json
import os
import random
import re
import signal
import subprocess
import time

from harness import backends, no_valgrind, timeout

TREE = """
[command convert]
foreach = src/**/*.txt
output = out/{relstem}.up
command = sh -c 'tr a-z A-Z < "$0" > "$1"; echo "$2" >> ran.log' {input} {output} {item}

[cpu digest]
task = sha256
input = out/**/*.up
output = digest.sha256

[command count]
input = digest.sha256
output = count.txt
command = sh -c 'wc -l < digest.sha256 > count.txt; echo count >> ran.log'
"""


def make_tree(t, n=50):
    for i in range(n):
        t.write("src/d%d/f%02d.txt" % (i % 5, i), "file number %d\n" % i)
    t.ini(TREE)


def ran(t):
    """The jobs' own record of what they did, since the last call."""
    if not os.path.exists("ran.log"):
        return []
    lines = t.read("ran.log").split()
    os.unlink("ran.log")
    return sorted(lines)


@backends
def test_change_one_file_reruns_exactly_its_instance_and_dependents(t):
    make_tree(t)
    r = t.juggle(rc=0)
    assert r.report["counts"]["ok"] == 52
    assert len(ran(t)) == 51
    assert t.read("out/d3/f13.up") == "FILE NUMBER 13\n"

    t.write("src/d3/f13.txt", "changed\n")
    r = t.juggle(rc=0)
    assert ran(t) == ["count", "d3/f13.txt"]
    assert r.ran() == ["convert[d3/f13.txt]", "count", "digest"], r.ran()
    assert r.job("convert[d3/f13.txt]")["reason"] == "input 'src/d3/f13.txt' changed"
    assert r.job("convert[d3/f18.txt]")["status"] == "skipped-up-to-date"
    assert t.read("out/d3/f13.up") == "CHANGED\n"

    r = t.juggle(rc=0)
    assert ran(t) == [] and r.ran() == []
    assert "nothing to do, 52 jobs up to date" in r.out


@backends
def test_touch_without_change_reruns_nothing(t):
    make_tree(t, 10)
    t.juggle(rc=0)
    ran(t)
    for root, _, files in os.walk("src"):
        for f in files:
            os.utime(os.path.join(root, f), (time.time() + 10, time.time() + 10))
    r = t.juggle(rc=0)
    assert r.ran() == [] and ran(t) == []


@backends
def test_identical_rewrite_does_not_ripple(t):
    """A job that rewrites the same bytes (ninja's restat) leaves its
    dependents alone."""
    t.write("in.txt", "x\n")
    t.ini("""
        [command copy]
        input = in.txt
        output = mid.txt
        command = sh -c 'cut -c1 in.txt > mid.txt'

        [command last]
        input = mid.txt
        output = last.txt
        command = sh -c 'cp mid.txt last.txt; echo last >> ran.log'
        """)
    t.juggle(rc=0)
    ran(t)
    t.write("in.txt", "xyz\n")  # changes in.txt, not the first column
    r = t.juggle(rc=0)
    assert r.job("copy")["status"] == "ok"
    assert r.job("last")["status"] == "skipped-up-to-date", r.statuses()
    assert ran(t) == []


@backends
def test_editing_a_command_reruns_that_job(t):
    make_tree(t, 5)
    t.juggle(rc=0)
    ran(t)
    t.ini(TREE.replace("wc -l < digest.sha256", "wc -l -- < digest.sha256"))
    r = t.juggle(rc=0)
    assert ran(t) == ["count"]
    assert r.job("count")["reason"] == "its definition changed"
    # Scheduling keys are not part of the definition.
    t.ini(TREE.replace("[cpu digest]", "[cpu digest]\ndescription = digest\nretries = 2")
          .replace("wc -l < digest.sha256", "wc -l -- < digest.sha256"))
    r = t.juggle(rc=0)
    assert r.ran() == []


@backends
def test_missing_or_modified_output_reruns(t):
    make_tree(t, 3)
    t.juggle(rc=0)
    ran(t)
    os.unlink("out/d1/f01.up")
    t.write("count.txt", "tampered\n")
    r = t.juggle(rc=0)
    assert r.job("convert[d1/f01.txt]")["reason"] == "output 'out/d1/f01.up' is missing"
    assert r.job("count")["reason"] == "output 'count.txt' was changed outside juggle"
    assert t.read("count.txt") == "3\n"


@backends
def test_new_input_file_reruns_globbing_job(t):
    make_tree(t, 3)
    t.juggle(rc=0)
    ran(t)
    t.write("src/d4/f99.txt", "new\n")
    r = t.juggle(rc=0)
    assert ran(t) == ["count", "d4/f99.txt"]
    assert r.job("digest")["status"] == "ok"
    assert t.read("count.txt") == "4\n"


def test_after_dependency_changes_propagate_across_runs(t):
    """A dependency that changed in a run that then failed still makes its
    dependents run next time."""
    t.write("v.txt", "1\n")
    t.ini("""
        [command gen]
        input = v.txt
        output = gen.txt
        command = cp v.txt gen.txt

        [command fails-once]
        input = gen.txt
        command = sh -c 'test -e ok || exit 1'

        [command use]
        after = fails-once
        command = sh -c 'echo use >> ran.log'
        """)
    t.write("ok", "")
    t.juggle("-b", "serial", rc=0, backend=False)
    ran(t)
    t.write("v.txt", "2\n")
    os.unlink("ok")
    t.juggle("-b", "serial", rc=1, backend=False)
    t.write("ok", "")
    r = t.juggle("-b", "serial", rc=0, backend=False)
    assert r.job("fails-once")["status"] == "ok"
    assert ran(t) == ["use"]


def test_always_and_B(t):
    t.ini("""
        [command a]
        always = yes
        command = sh -c 'echo a >> ran.log'

        [command b]
        output = b.txt
        command = sh -c 'touch b.txt; echo b >> ran.log'
        """)
    t.juggle("-b", "serial", rc=0, backend=False)
    assert ran(t) == ["a", "b"]
    r = t.juggle("-b", "serial", rc=0, backend=False)
    assert ran(t) == ["a"]
    assert r.job("a")["reason"] == "always = yes"
    t.juggle("-b", "serial", "-B", rc=0, backend=False)
    assert ran(t) == ["a", "b"]


def test_explain_list_and_dry_run_agree_with_run(t):
    make_tree(t, 4)
    t.juggle("-b", "serial", rc=0, backend=False)
    ran(t)
    t.write("src/d2/f02.txt", "edited\n")
    e = t.juggle("explain", backend=False, rc=0)
    assert "convert[d2/f02.txt]: would run: input 'src/d2/f02.txt' changed" in e.out
    assert "convert[d0/f00.txt]: up to date" in e.out
    # Whether convert's new output differs is known only when it has run.
    assert "digest: runs if 'convert[d2/f02.txt]' changes its outputs" in e.out
    lst = t.juggle("list", backend=False, rc=0)
    assert "convert[d1/f01.txt]\tcommand\t-\tup to date" in lst.out
    n = t.juggle("-n", "-b", "serial", backend=False, rc=0)
    would = re.findall(r"^would run (\S+):", n.out, re.M)
    may = re.findall(r"^may run (\S+):", n.out, re.M)
    r = t.juggle("-b", "serial", backend=False, rc=0)
    done = [j["name"] for j in r.report["jobs"] if j["status"] == "ok"]
    # Every job said to run ran; every job that ran was said to run or
    # said to depend on what the run finds.
    assert would == ["convert[d2/f02.txt]"] and may == ["digest", "count"], n.out
    assert set(would) <= set(done) <= set(would + may), (would, may, r.ran())


def test_clean_removes_outputs_and_state(t):
    make_tree(t, 3)
    t.juggle("-b", "serial", rc=0, backend=False)
    r = t.juggle("clean", backend=False, rc=0)
    assert "removed 5 outputs" in r.out
    assert not os.path.exists(".juggle") and not os.path.exists("count.txt")
    assert os.path.exists("src/d0/f00.txt")


def test_corrupt_or_foreign_state_is_set_aside(t):
    make_tree(t, 3)
    t.juggle("-b", "serial", rc=0, backend=False)
    with open(".juggle/state", "r+b") as f:
        data = bytearray(f.read())
        data[40] ^= 0x55
        f.seek(0)
        f.write(data)
    r = t.juggle("-b", "serial", rc=0, backend=False)
    assert "damaged; moved it to .juggle/state.bad, so every job runs again" in r.err
    assert r.report["counts"]["ok"] == 5
    t.write(".juggle/state", "# juggle state 999\n")
    r = t.juggle("-b", "serial", rc=0, backend=False)
    assert "written by another version of juggle" in r.err
    r = t.juggle("-b", "serial", rc=0, backend=False)
    assert r.ran() == [] and r.err == ""


@backends
def test_two_concurrent_runs_exit_3(t):
    t.ini("""
        [command hold]
        always = yes
        command = sh -c 'echo started > started; read x < release'
        """)
    os.mkfifo("started")
    os.mkfifo("release")
    p = t.spawn("--progress", "none")
    with open("started") as f:
        f.read()
    r = t.juggle(rc=3)
    assert "another juggle run (pid %d)" % p.pid in r.err, r.err
    with open("release", "w") as f:
        f.write("go\n")
    assert p.wait(timeout=30) == 0


def _sigkill_leftovers(t):
    """After juggle was SIGKILLed its commands are orphans: end them, as a
    reboot would, so the follow-up run does not race them."""
    me = os.path.realpath(t.dir)
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.path.realpath("/proc/%s/cwd" % pid) == me and int(pid) != os.getpid():
                os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def _state_ok_names():
    names = set()
    if not os.path.exists(".juggle/state"):
        return names
    for line in open(".juggle/state", "rb").read().decode(errors="replace").splitlines():
        parts = line.split("\t")
        if parts[0] == "S":
            names.add(parts[1])
        elif parts[0] == "F" and parts[1] in names:
            names.discard(parts[1])
    return names


MIXED = """
[command write]
foreach = range:0..149
output = w/{item}.txt
command = sh -c 'printf "part one of %s\\n" "$1" > "$2"; i=0; while [ $i -lt 300 ]; do i=$((i+1)); done; printf "part two\\n" >> "$2"' sh {item} {output}

[cpu sum]
foreach = range:1..30
task = sum_squares
n = {item}00000
output = s/{item}.txt

[cpu digest]
foreach = range:0..14
task = sha256
input = w/{item}.txt w/1{item}.txt
output = d/{item}.sha256

[command gz]
foreach = range:0..3
input = d/{item}.sha256
output = z/{item}.gz
command = sh -c 'gzip -n -c "$1" > "$2"' sh {input} {output}
"""


@backends
@timeout(600)
@no_valgrind("a stress test: 20 kill-and-rerun rounds of a 200-job graph with 30 cpu "
             "tasks take over 10 minutes a backend under memcheck; the interrupt paths "
             "it stresses run under valgrind in test_interrupt_* and test_slurm_sig*")
def test_kill_loop_never_leaves_partial_outputs(t):
    """Twenty kills at random moments (SIGINT, SIGTERM, SIGKILL) of a
    200-job run, each followed by a normal run."""
    t.ini(MIXED)
    seed = int(os.environ.get("JUGGLE_TEST_SEED", random.randrange(1 << 30)))
    rnd = random.Random(seed)
    print("seed", seed)
    sigs = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]
    for trial in range(20):
        subprocess.run(["rm", "-rf", "w", "s", "d", "z", ".juggle"])
        sig = sigs[trial % 3]
        p = t.spawn("-j", "3", "--progress", "none")
        time.sleep(rnd.uniform(0.0, 0.8))  # a random moment, not synchronisation
        p.send_signal(sig)
        out, err = p.communicate(timeout=120)
        if sig == signal.SIGKILL:
            _sigkill_leftovers(t)
        elif p.returncode == -sig:
            # killed before it installed its handlers: nothing had started
            assert not os.path.exists(".juggle/state"), (trial, sig)
        elif p.returncode != 0:  # it may have finished before the signal
            assert p.returncode == 130, (trial, sig, p.returncode, err)
            rep = json.load(open(".juggle/last-report.json"))
            assert rep["interrupted"]
            # No partial output after an orderly stop.
            for f in os.listdir("w") if os.path.exists("w") else []:
                assert t.read("w/" + f).endswith("part two\n"), (trial, f)
        done_before = _state_ok_names()
        r = t.juggle("-j", "3", rc=0)
        # What the state recorded as done is not done again.
        redone = [j["name"] for j in r.report["jobs"]
                  if j["status"] != "skipped-up-to-date" and j["name"] in done_before]
        assert not redone, (trial, sig, redone[:5])
        for i in range(150):
            assert t.read("w/%d.txt" % i) == "part one of %d\npart two\n" % i, (trial, i)
        for i in range(1, 31):
            n = i * 100000
            assert t.read("s/%d.txt" % i) == "%d\n" % ((n - 1) * n * (2 * n - 1) // 6)
        assert len(os.listdir("z")) == 4
        leftovers = [f for d in ["w", "s", "d", "z"] for f in os.listdir(d)
                     if ".juggle-" in f]
        assert not leftovers, leftovers
