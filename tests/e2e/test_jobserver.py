"""GNU make's jobserver, both ways, with the real GNU make: juggle under
`make -jN` takes a token from make for each job beyond its first and gives
every one back; and the commands juggle runs get a jobserver of juggle's
own in MAKEFLAGS, so a make they run shares juggle's -j.

Every job and every make recipe here runs job.sh, which notes its start
and end in one log with its own clock (date +%s%N) and, in between, waits
until a third one has started (or a deadline passes). So three at once,
were they allowed, would be seen; while two at most are, the first two
wait out the deadline. No test waits on a clock to synchronise: the
deadline only bounds a wait that is meant to end unfulfilled."""
import os
import subprocess

from harness import TIMEOUT_SCALE, backends, timeout

DEADLINE_S = 3

JOB_SH = """\
#!/bin/sh
# job.sh LOG: start and end in LOG; between, waits until three have
# started there or its deadline has passed.
log=$1
echo "s $(date +%s%N) $$" >> "$log"
end=$(( $(date +%s) + {deadline} ))
while [ "$(grep -c '^s' "$log")" -lt 3 ] && [ "$(date +%s)" -lt "$end" ]; do
	sleep 0.02
done
echo "e $(date +%s%N) $$" >> "$log"
"""


def write_job(t):
    t.write("job.sh", JOB_SH.replace("{deadline}", str(int(DEADLINE_S * TIMEOUT_SCALE))),
            mode=0o755)
    return os.path.join(t.dir, "job.sh")


def most_at_once(t, log="log", expect=None):
    """The most jobs that ran at once, from their own start and end times
    (an end before a start at the same nanosecond)."""
    ev = []
    for line in t.read(log).splitlines():
        kind, ns, _pid = line.split()
        ev.append((int(ns), 0 if kind == "e" else 1))
    starts = sum(1 for _, k in ev if k == 1)
    assert starts * 2 == len(ev), "a job did not end:\n" + t.read(log)
    if expect is not None:
        assert starts == expect, "%d jobs ran, not %d:\n%s" % (starts, expect, t.read(log))
    now = most = 0
    for _, k in sorted(ev):
        now += 1 if k else -1
        most = max(most, now)
    return most


def make(t, *args, env=None):
    e = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")}
    e.update(env or {})
    return subprocess.run(["make", "--no-print-directory"] + list(args), capture_output=True,
                          text=True, env=e, cwd=t.dir, timeout=120 * TIMEOUT_SCALE)


def juggle_under_make(t, recipe_prefix="+", juggle_args="", backend=None):
    t.write("Makefile", "all:\n\t%s$(JUGGLE) -b %s run -q %s\n" % (
        recipe_prefix, backend or t.backend, juggle_args))
    return make(t, "-j2", "JUGGLE=" + t.exe)


@backends
def test_under_make_j2_juggle_runs_two_jobs_at_once(t):
    """`make -j2` runs `+juggle run` (no -j) on six jobs: juggle takes a
    token from make for its second job, so never more than two run at
    once, and all six run; make, counting its tokens at its end, finds
    every one back. (The serial backend runs one at a time anyway.)"""
    job = write_job(t)
    t.ini("""
        [command j]
        foreach = range:1..6
        command = %s log
    """ % job)
    p = juggle_under_make(t)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "INTERNAL" not in p.stderr, p.stderr  # "Exiting with N jobserver tokens"
    assert "jobserver" not in p.stderr, p.stderr
    assert most_at_once(t, expect=6) == (1 if t.backend == "serial" else 2)


@backends
def test_under_make_without_plus_juggle_warns_and_runs_one_job(t):
    """A recipe make does not know runs a make (no '+', no $(MAKE)) gets
    MAKEFLAGS naming the jobserver but not its fds: juggle says so, as
    make does, and runs one job at a time."""
    job = write_job(t)
    t.ini("""
        [command j]
        foreach = range:1..3
        command = %s log
    """ % job)
    p = juggle_under_make(t, recipe_prefix="")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "jobserver unavailable: using -j1" in p.stderr, p.stderr
    assert most_at_once(t, expect=3) == 1


def test_under_make_an_explicit_j_wins_over_make(t):
    """-j given to juggle under make: it runs that many, as a sub-make
    given -jN does, without make's tokens."""
    job = write_job(t)
    t.ini("""
        [command j]
        foreach = range:1..3
        command = %s log
    """ % job)
    p = juggle_under_make(t, juggle_args="-j3", backend="threads")
    assert p.returncode == 0, p.stdout + p.stderr
    assert most_at_once(t, expect=3) == 3


@backends
def test_a_make_that_juggle_runs_shares_its_j(t):
    """juggle -j2 runs a command `make` (no -j of its own): MAKEFLAGS
    hands it juggle's jobserver, so its four recipes run two at a time,
    not one after another; and all of the tokens come back."""
    job = write_job(t)
    t.write("sub/Makefile", """\
        T := 1 2 3 4
        all: $(T)
        $(T):
        \t@%s ../log
    """ % job)
    t.ini("""
        [command m]
        command = make -s --no-print-directory -C sub
    """)
    r = t.juggle("run", "-q", "-j2", rc=0)
    assert "jobserver" not in r.err, r
    assert most_at_once(t, expect=4) == 2


@backends
def test_makes_in_several_jobs_share_one_j(t):
    """juggle -j2 runs three jobs that each run a make of three recipes:
    together, never more than two recipes at once."""
    job = write_job(t)
    for d in ("a", "b", "c"):
        t.write(d + "/Makefile", """\
            T := 1 2 3
            all: $(T)
            $(T):
            \t@%s ../log
        """ % job)
    t.ini("""
        [command m]
        foreach = list:a b c
        command = make -s --no-print-directory -C {item}
    """)
    r = t.juggle("run", "-q", "-j2", rc=0)
    assert "jobserver" not in r.err, r
    assert most_at_once(t, expect=9) == 2


def test_makeflags_names_the_jobserver_and_jobserver_no_turns_it_off(t):
    t.ini("""
        [command flags]
        output = flags.txt
        command = sh -c 'echo "[$MAKEFLAGS]" > flags.txt; ls /proc/self/fd/3 /proc/self/fd/4 >> flags.txt 2>&1 || true'
    """)
    t.juggle("run", "-q", "-j3", rc=0)
    assert t.read("flags.txt").startswith("[ -j3 --jobserver-auth=3,4]\n/proc/self/fd/3\n")
    t.juggle("run", "-q", "-j3", "-B", "--no-jobserver", rc=0)
    assert t.read("flags.txt").startswith("[]\n"), t.read("flags.txt")
    assert "No such file" in t.read("flags.txt")
    t.ini("""
        [settings]
        jobserver = no

        [command flags]
        output = flags.txt
        command = sh -c 'echo "[$MAKEFLAGS]" > flags.txt'
    """)
    t.juggle("run", "-q", "-j3", rc=0)
    assert t.read("flags.txt") == "[]\n"


def test_a_token_a_command_keeps_is_reported(t):
    """A command that takes a token and never gives it back (a make
    killed in the middle): juggle counts its tokens at the end and says
    how many did not come back."""
    t.ini("""
        [command greedy]
        command = sh -c 'dd bs=1 count=1 <&3 >/dev/null 2>&1'
    """)
    r = t.juggle("run", "-q", "-j4", rc=0)
    assert "jobserver: 1 of its 3 tokens did not come back" in r.err, r


def test_jobserver_setting_must_be_yes_or_no(t):
    t.ini("""
        [settings]
        jobserver = maybe

        [command a]
        command = true
    """)
    r = t.juggle("run", rc=2)
    assert "juggle.ini:3: jobserver: 'maybe' is not yes or no" in r.err, r


@backends
def test_under_make_tokens_come_back_after_crashes_and_timeouts(t):
    """Jobs that crash (SIGKILL) and jobs killed by their timeout, under
    `make -j2` with -k: every token juggle took goes back to make, which
    counts them when it ends (it says "INTERNAL: Exiting with N jobserver
    tokens" when one is missing)."""
    t.ini("""
        [command crash]
        foreach = range:1..3
        command = sh -c 'kill -9 $$$$'

        [command stuck]
        foreach = range:1..3
        timeout = 1
        command = sleep 600
    """)
    p = juggle_under_make(t, juggle_args="-k")
    assert p.returncode == 2, p.stdout + p.stderr  # juggle failed
    out = p.stdout + p.stderr
    assert out.count("killed by SIGKILL\n") >= 3 and out.count("timed out after 1 s") >= 3, out
    assert "INTERNAL" not in p.stderr, p.stderr
    assert "did not come back" not in p.stderr, p.stderr


@backends
def test_under_make_an_interrupted_run_gives_its_tokens_back(t):
    """SIGTERM to juggle while it runs two jobs under `make -j2`, the
    second on make's token: it stops them, and make finds every token
    back."""
    import signal
    import time
    from test_trust_signals import wait_for
    t.ini("""
        [command j]
        foreach = range:1..4
        command = sh -c 'echo "s $(date +%s%N) $$$$" >> log; exec sleep 600'
    """)
    # The shell's pid is juggle's: it execs it.
    t.write("Makefile", "all:\n\t+echo $$$$ > juggle.pid; exec $(JUGGLE) -b %s run -q\n"
            % t.backend)
    e = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")}
    m = subprocess.Popen(["make", "--no-print-directory", "-j2", "JUGGLE=" + t.exe],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=e,
                         cwd=t.dir)
    t.cleanups.append(lambda: m.poll() is None and m.kill())
    want = 1 if t.backend == "serial" else 2
    wait_for(t, lambda: os.path.exists("log") and t.read("log").count("\n") >= want,
             "%d jobs starting" % want)
    os.kill(int(t.read("juggle.pid")), signal.SIGTERM)
    out, err = m.communicate(timeout=60 * TIMEOUT_SCALE)
    assert "Error 130" in err, out + err
    assert "INTERNAL" not in err, err
    assert t.read("log").count("\n") == want, t.read("log")


def run_with_jobserver(t, makeflags_auth, rfd, wfd, fds=()):
    """juggle (no -j) with MAKEFLAGS naming a jobserver the test holds,
    of one token (make -j2), on four jobs."""
    job = write_job(t)
    t.ini("""
        [command j]
        foreach = range:1..4
        command = %s log
    """ % job)
    os.write(wfd, b"+")
    e = {k: v for k, v in os.environ.items() if k not in ("MAKEFLAGS", "MFLAGS")}
    e["MAKEFLAGS"] = " -j2 " + makeflags_auth
    p = subprocess.run([t.exe, "-b", "threads", "run", "-q"], capture_output=True, text=True,
                       env=e, cwd=t.dir, pass_fds=fds, timeout=120 * TIMEOUT_SCALE)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stderr == "", p.stderr
    assert most_at_once(t, expect=4) == 2
    os.set_blocking(rfd, False)
    assert os.read(rfd, 16) == b"+"  # its one token, back


def test_make_4_4_fifo_jobserver(t):
    """make 4.4's form, --jobserver-auth=fifo:PATH (not GNU make here: a
    FIFO the test holds, as make would)."""
    os.mkfifo("js.fifo")
    fd = os.open("js.fifo", os.O_RDWR)
    try:
        run_with_jobserver(t, "--jobserver-auth=fifo:" + os.path.abspath("js.fifo"), fd, fd)
    finally:
        os.close(fd)


def test_old_make_jobserver_fds(t):
    """make 4.1's form, --jobserver-fds=R,W, with the pipe's fds inherited."""
    r, w = os.pipe()
    try:
        run_with_jobserver(t, "--jobserver-fds=%d,%d" % (r, w), r, w, fds=(r, w))
    finally:
        os.close(r)
        os.close(w)
