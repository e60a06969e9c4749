"""Resources: pools with weights (pools = NAME:WEIGHT ...), depths sized
from the machine (cpus, memory_gib), and -l, which holds new starts while
the load average is above a limit.

Jobs write "start NAME" and "end NAME" to one file opened with O_APPEND
(sh's >>), so a line is written while the job runs: two jobs whose lines
overlap in the file did overlap. FIFOs, not sleeps, hold jobs open."""
import os

from harness import backends

# The load average the -l tests make juggle see, instead of the machine's.
LOAD_ENV = "JUGGLE_TEST_LOADAVG"


def marked(name, middle=""):
    """A command that marks its start and end in trace, with middle between."""
    return ("command = sh -c 'echo start %s >> trace; %s echo end %s >> trace'"
            % (name, middle, name))


def check_weights(trace, uses, depths):
    """Fails if the jobs of trace ever held more of a pool than its depth;
    returns the lines. uses: job -> {pool: weight}."""
    lines = trace.split("\n")[:-1]
    held = {p: 0 for p in depths}
    for line in lines:
        what, job = line.split(" ", 1)
        for pool, w in uses.get(job, {}).items():
            held[pool] += w if what == "start" else -w
            assert held[pool] <= depths[pool], (pool, line, lines)
    assert all(v == 0 for v in held.values()), lines
    return lines


@backends
def test_multi_pool_weights_never_exceed_the_depths(t):
    # j1 and m1 fill mem (4 + 2 of 6) and meet through a FIFO, which only
    # jobs running at once can; j2 shares java (depth 1) with j1; m2 and m3
    # (3 + 3) meet once j1 and m1 have left mem to them.
    concurrent = t.backend != "serial"
    if concurrent:
        os.mkfifo("j1m1")
        os.mkfifo("m2m3")
    meet_w = lambda f: "echo x > %s;" % f if concurrent else ""
    meet_r = lambda f: "cat %s > /dev/null;" % f if concurrent else ""
    t.ini("""
        [pool java]
        depth = 1

        [pool mem]
        depth = 6

        [command j1]
        pools = java mem:4
        %s

        [command m1]
        pools = mem:2
        %s

        [command j2]
        pool = java
        %s

        [command m2]
        pools = mem:3
        %s

        [command m3]
        pools = mem:3
        %s
        """ % (marked("j1", meet_w("j1m1")), marked("m1", meet_r("j1m1")), marked("j2"),
               marked("m2", meet_w("m2m3")), marked("m3", meet_r("m2m3"))))
    r = t.juggle("-j", "8", rc=0, timeout=60)
    assert sorted(r.statuses().values()) == ["ok"] * 5, r.statuses()
    uses = {"j1": {"java": 1, "mem": 4}, "m1": {"mem": 2}, "j2": {"java": 1},
            "m2": {"mem": 3}, "m3": {"mem": 3}}
    lines = check_weights(t.read("trace"), uses, {"java": 1, "mem": 6})
    assert len(lines) == 10, lines


@backends
def test_a_heavy_job_is_not_overtaken_by_lighter_ones(t):
    # l1 takes 1 of 2; h needs both and waits. l2 and l3 would fit beside
    # l1, but a job does not pass the waiters of a pool: h runs before them.
    t.ini("""
        [pool mem]
        depth = 2

        [command l1]
        pools = mem:1
        %s

        [command h]
        pools = mem:2
        %s

        [command l2]
        pools = mem:1
        %s

        [command l3]
        pools = mem:1
        %s
        """ % (marked("l1"), marked("h"), marked("l2"), marked("l3")))
    r = t.juggle("-j", "4", rc=0, timeout=60)
    uses = {"l1": {"mem": 1}, "h": {"mem": 2}, "l2": {"mem": 1}, "l3": {"mem": 1}}
    lines = check_weights(t.read("trace"), uses, {"mem": 2})
    starts = [line.split()[1] for line in lines if line.startswith("start ")]
    assert starts[:2] == ["l1", "h"], lines
    h, l1 = r.job("h"), r.job("l1")
    assert h["started_s"] >= l1["finished_s"], (h, l1)
    for light in ("l2", "l3"):
        assert r.job(light)["started_s"] >= h["finished_s"], r.report["jobs"]


def wait_started(t, p, path):
    """Waits for a job's marker file, failing at once if juggle ended."""
    import time
    end = time.monotonic() + 30 * float(os.environ.get("JUGGLE_TIMEOUT_SCALE", "1"))
    while not os.path.exists(path):
        if p.poll() is not None:
            raise AssertionError("juggle ended (%s) before %s: %s"
                                 % (p.returncode, path, p.stderr.read()))
        assert time.monotonic() < end, "%s did not appear" % path
        time.sleep(0.01)


def write_load(path, load):
    """Sets the load average juggle reads, in /proc/loadavg's form; by
    rename, so juggle never reads half a file."""
    with open(path + ".new", "w") as f:
        f.write("%s %s %s 1/100 1\n" % (load, load, load))
    os.rename(path + ".new", path)


@backends
def test_load_limit_holds_starts_beyond_the_first(t):
    # With the load above -l, a job starts only when none runs: the first
    # is never held, and the rest follow one at a time.
    os.mkfifo("gate")
    write_load("loadavg", "50.00")
    t.ini("""
        [command a]
        %s

        [command b]
        %s

        [command c]
        %s
        """ % (marked("a", "touch a.started; cat gate > /dev/null;"), marked("b"),
               marked("c")))
    p = t.spawn("-j", "3", "-l", "1", env={LOAD_ENV: os.path.abspath("loadavg")})
    wait_started(t, p, "a.started")
    with open("gate", "w") as g:
        g.write("go\n")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, (out, err)
    assert t.read("trace") == "".join("start %s\nend %s\n" % (j, j) for j in "abc")


@backends
def test_load_limit_setting_is_looked_at_again_while_jobs_run(t):
    # load in [settings] is -l. b is held while a runs and the load is
    # high; once it drops, b starts though a still runs: juggle looks at
    # the load again without waiting for a job to end.
    os.mkfifo("gate")
    write_load("loadavg", "50.00")
    t.ini("""
        [settings]
        load = 2.5

        [command a]
        %s

        [command b]
        command = sh -c 'echo start b >> trace; echo end b >> trace; touch b.ended'
        """ % marked("a", "touch a.started; cat gate > /dev/null;"))
    p = t.spawn("-j", "2", env={LOAD_ENV: os.path.abspath("loadavg")})
    wait_started(t, p, "a.started")
    with open("trace", "a") as f:
        f.write("load lowered\n")
    write_load("loadavg", "0.10")
    if t.backend != "serial":
        # b's end is in the trace before a is let go, so the order
        # below is juggle's, not a race between two shells.
        wait_started(t, p, "b.ended")
    with open("gate", "w") as g:
        g.write("go\n")
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, (out, err)
    lines = t.read("trace").split("\n")[:-1]
    assert lines[:2] == ["start a", "load lowered"], lines
    if t.backend != "serial":
        assert lines[2:] == ["start b", "end b", "end a"], lines


def test_depth_from_the_machine(t):
    cpus = len(os.sched_getaffinity(0))
    with open("/proc/meminfo") as f:
        kib = int(next(line for line in f if line.startswith("MemTotal:")).split()[1])
    gib = max(1, kib // (1 << 20))
    t.ini("""
        [pool c]
        depth = cpus

        [pool m]
        depth = memory_gib

        [command fits]
        pools = c:%d m:%d
        command = true
        """ % (cpus, gib))
    t.juggle("check", rc=0)
    t.ini("""
        [pool c]
        depth = cpus

        [pool m]
        depth = memory_gib

        [command big]
        pools = c:%d
        command = true

        [command huge]
        pools = m:%d
        command = true
        """ % (cpus + 1, gib + 1))
    r = t.juggle("check", rc=2)
    assert ("juggle.ini:9: job 'big': pools: weight %d in pool 'c' is above its depth %d "
            "(line 2), so the job could never start; lower the weight or raise the depth"
            % (cpus + 1, cpus)) in r.err, r.err
    assert ("juggle.ini:13: job 'huge': pools: weight %d in pool 'm' is above its depth %d "
            "(line 5)" % (gib + 1, gib)) in r.err, r.err


BAD = [
    ("[pool mem]\ndepth = 4\n[command a]\ncommand = true\npools = mem:5\n",
     "juggle.ini:5: job 'a': pools: weight 5 in pool 'mem' is above its depth 4 (line 1), "
     "so the job could never start; lower the weight or raise the depth"),
    ("[pool mem]\ndepth = 4\n[command a]\ncommand = true\npools = mem:1 java\n",
     "juggle.ini:5: job 'a': pool 'java' is not defined (add a [pool java] section with a "
     "depth)"),
    ("[pool mem]\ndepth = 4\n[command a]\ncommand = true\npools = mem:0\n",
     "juggle.ini:5: job 'a': pools: weight '0' of pool 'mem' is not a whole number from 1 "
     "to 100000"),
    ("[pool mem]\ndepth = 4\n[command a]\ncommand = true\npools = mem:lots\n",
     "juggle.ini:5: job 'a': pools: weight 'lots' of pool 'mem' is not a whole number from "
     "1 to 100000"),
    ("[pool mem]\ndepth = 4\n[command a]\ncommand = true\npool = mem\npools = mem:2\n",
     "juggle.ini:6: job 'a': pools: pool 'mem' is named twice (give it once, with the sum "
     "of the weights)"),
    ("[pool mem]\ndepth = 4\n[command a]\ncommand = true\npools = mem mem:2\n",
     "juggle.ini:5: job 'a': pools: pool 'mem' is named twice (give it once, with the sum "
     "of the weights)"),
    ("[pool a]\ndepth = 1\n[pool b]\ndepth = 1\n[command x]\ncommand = true\npool = a b\n",
     "juggle.ini:7: job 'x': pool names one pool; for several, write pools = a b"),
    ("[pool mem]\ndepth = 4\n[command a]\ncommand = true\npools =\n",
     "juggle.ini:5: job 'a': pools is empty: name a [pool NAME]"),
    ("[pool mem]\ndepth = half\n",
     "juggle.ini:2: pool 'mem': depth 'half' is not a number from 1 to 100000, cpus or "
     "memory_gib"),
    ("[pool a]\ndepth = 1\n[pool b]\ndepth = 2\ndepth = 3\n",
     "juggle.ini:5: key 'depth' is set twice (first at line 4)"),
    ("[settings]\nload = high\n",
     "juggle.ini:2: load: 'high' is not a load average (a number from 0 to 100000; 0: no "
     "limit)"),
]


def test_bad_resources_are_located_errors(t):
    for text, msg in BAD:
        t.ini(text)
        r = t.juggle("check", rc=2)
        assert msg in r.err.split("\n"), (text, msg, r.err)
    r = t.juggle("-l", "-1", "check", rc=2)
    assert "-l: '-1' is not a load average (a number from 0 to 100000; 0: no limit)" in r.err


def test_two_pools_with_a_depth_each_load(t):
    # Every [pool]'s keys are kept in one list; each pool's depth is its own.
    t.ini("""
        [pool a]
        depth = 1

        [pool b]
        depth = 2

        [command x]
        pools = a b:2
        command = true
        """)
    t.juggle("check", rc=0)
