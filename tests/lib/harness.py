"""Helpers for juggle's end-to-end tests.

A test is a function test_NAME(t) in tests/e2e/test_*.py; t is a Test:
it runs in a fresh temporary folder (the current folder), and t.juggle()
runs the binary under test there. Decorate with @backends to run a test
once per backend under test (JUGGLE_TEST_BACKENDS), with @timeout(s) to
give it more than the default 120 s, with @no_valgrind(why) to leave it
out of tests/run's valgrind passes, with @valgrind_slow(why) out of its
quick ones (`make test`'s). Tests assert what a user sees:
outputs, exit statuses, the report. No sleeps for synchronisation.
"""
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import traceback

ROOT = os.environ.get("JUGGLE_ROOT", os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def list_backends(*which):
    """The backends the binary under test knows, from its own table, in
    its order: every one, or with "local" only those that need no cluster
    (the ones the parameterised tests run on)."""
    # The built binary itself, even under valgrind: listing runs no job.
    build = os.environ.get("JUGGLE_BUILD")
    exe = os.path.join(build, "juggle") if build else os.environ["JUGGLE"]
    arg = "--list-backends" + "".join("=" + w for w in which)
    key = (exe, arg)
    if key not in _listed:
        p = subprocess.run([exe, arg], capture_output=True, text=True, check=True)
        _listed[key] = p.stdout.split()
    return _listed[key]


_listed = {}


def backends(fn):
    """Runs the test once per backend; the backend is t.backend."""
    def params():
        env = os.environ.get("JUGGLE_TEST_BACKENDS")
        return env.split(",") if env else default_backends()
    fn.params = params
    return fn


_built = {}


def default_backends():
    """The backends the binary under test has built."""
    exe = os.environ["JUGGLE"]
    if exe in _built:
        return _built[exe]
    have = []
    for b in list_backends("local"):
        with tempfile.TemporaryDirectory() as d:
            open(os.path.join(d, "juggle.ini"), "w").write("")
            p = subprocess.run([exe, "-C", d, "-q", "-b", b], capture_output=True, text=True)
            if p.returncode == 0:
                have.append(b)
    _built[exe] = have or ["serial"]
    return _built[exe]


# Under valgrind (tests/run --valgrind) every time limit is this many times
# longer; JUGGLE is then a script running juggle under memcheck, and
# wrap(argv) puts tests/valgrind before the build's other programs.
TIMEOUT_SCALE = float(os.environ.get("JUGGLE_TIMEOUT_SCALE", "1"))
UNDER_VALGRIND = bool(os.environ.get("JUGGLE_WRAP"))


def wrap(argv):
    w = os.environ.get("JUGGLE_WRAP")
    return ([w] if w else []) + list(argv)


def no_valgrind(why):
    """Leaves the test out of valgrind passes, saying why."""
    def deco(fn):
        fn.no_valgrind = why
        return fn
    return deco


def valgrind_slow(why):
    """Leaves the test out of quick valgrind passes (tests/run
    --valgrind-quick, as `make test` runs); `make valgrind` runs it."""
    def deco(fn):
        fn.valgrind_slow = why
        return fn
    return deco


def exits_within(pid, seconds):
    """Whether process pid has ended (a zombie counts) or ends within
    seconds: a wait on its pidfd, no polling."""
    try:
        fd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        return bool(select.select([fd], [], [], seconds)[0])
    finally:
        os.close(fd)


def leftovers(top="."):
    """juggle's temporary files (.NAME.juggle-tmp-RANDOM) anywhere under top, past
    .juggle/ and the test bed's folders: what an interrupted or failed
    write must never leave behind."""
    found = []
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in (".juggle", "tb", "tb-scripted")]
        found += [os.path.join(root, f) for f in files if ".juggle-" in f]
    return found


def run_pty(t, *args, env=None, cols=80):
    """Runs juggle (on t's backend, in t's folder) on a pseudo-terminal of
    `cols` columns, so it behaves as on a user's terminal (the status line
    is on; COLUMNS and NO_COLOR are unset, TERM=xterm, then env applied).
    Returns (exit status, everything it wrote, as bytes)."""
    import fcntl
    import pty
    import struct
    import termios
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, cols, 0, 0))
    e = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS")}
    e["TERM"] = "xterm"
    e.update(env or {})
    p = subprocess.Popen([t.exe, "-b", t.backend] + list(args), stdin=slave, stdout=slave,
                         stderr=slave, env=e, cwd=t.dir, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the other side is closed
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return p.wait(timeout=60 * TIMEOUT_SCALE), b"".join(chunks)


class Skip(Exception):
    """Raise to skip a test that cannot run here (exit status 77)."""


def timeout(seconds):
    def deco(fn):
        fn.timeout = seconds
        return fn
    return deco


class Result:
    def __init__(self, p, cwd):
        self.rc = p.returncode
        self.out = p.stdout
        self.err = p.stderr
        self.cwd = cwd

    @property
    def report(self):
        with open(os.path.join(self.cwd, ".juggle", "last-report.json")) as f:
            return json.load(f)

    def job(self, name):
        for j in self.report["jobs"]:
            if j["name"] == name:
                return j
        raise AssertionError("no job %r in the report: %s" % (
            name, [j["name"] for j in self.report["jobs"]]))

    def statuses(self):
        return {j["name"]: j["status"] for j in self.report["jobs"]}

    def ran(self):
        """Names of the jobs that ran (ok or failed), in report order."""
        return sorted(j["name"] for j in self.report["jobs"]
                      if j["status"] in ("ok", "failed"))

    def __repr__(self):
        return "rc=%s\n--- stdout\n%s--- stderr\n%s" % (self.rc, self.out, self.err)


class Test:
    def __init__(self, param):
        self.param = param
        self.backend = param if param is not None and param in list_backends() else "serial"
        self.dir = os.getcwd()
        self.exe = os.environ["JUGGLE"]
        self.cleanups = []

    def write(self, path, text, mode=None):
        if os.path.dirname(path):
            os.makedirs(os.path.dirname(path), exist_ok=True)
        data = text if isinstance(text, bytes) else textwrap.dedent(text).encode()
        with open(path, "wb") as f:
            f.write(data)
        if mode is not None:
            os.chmod(path, mode)
        return path

    def read(self, path):
        with open(path, "rb") as f:
            return f.read().decode()

    def ini(self, text, path="juggle.ini"):
        return self.write(path, text)

    def juggle(self, *args, rc=None, backend=True, env=None, timeout=120, cwd=None):
        cmd = [self.exe]
        if backend and not any(a in ("-b", "--backend") or a.startswith("--backend=")
                               for a in args):
            cmd += ["-b", self.backend]
        cmd += list(args)
        e = dict(os.environ, NO_COLOR="1")
        if env:
            e.update(env)
        p = subprocess.run(cmd, capture_output=True, text=True, env=e,
                           timeout=timeout * TIMEOUT_SCALE, cwd=cwd or self.dir)
        r = Result(p, cwd or self.dir)
        if rc is not None and r.rc != rc:
            raise AssertionError("juggle %s: exit status %s, expected %s\n%r" % (
                " ".join(args), r.rc, rc, r))
        return r

    def spawn(self, *args, backend=True, env=None, **kw):
        """Starts juggle without waiting (for signal tests)."""
        cmd = [self.exe]
        if backend:
            cmd += ["-b", self.backend]
        cmd += list(args)
        e = dict(os.environ, NO_COLOR="1")
        if env:
            e.update(env)
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env=e, cwd=self.dir, **kw)
        self.cleanups.append(lambda: p.poll() is None and p.kill())
        return p

    def wait_for_file(self, path, timeout=30):
        """Waits until path exists, watching with inotify through inotifywait
        if present, else polling the file system (not the clock)."""
        import time
        end = time.monotonic() + timeout * TIMEOUT_SCALE
        while not os.path.exists(path):
            if time.monotonic() > end:
                raise AssertionError("%s did not appear in %ss" % (path, timeout))
            time.sleep(0.01)


def main(mod, name, param):
    tmp = tempfile.mkdtemp(prefix="juggle-test-")
    os.chmod(tmp, 0o755)
    os.chdir(tmp)
    m = __import__(mod)
    t = Test(param)
    ok = False
    skipped = None
    try:
        getattr(m, name)(t)
        ok = True
    except Skip as e:
        ok, skipped = True, str(e)
        print("skipped: %s" % e)
    except Exception:
        traceback.print_exc()
    finally:
        for c in reversed(t.cleanups):
            try:
                c()
            except Exception:
                traceback.print_exc()
        os.chdir("/")
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print("test folder kept: %s" % tmp)
    sys.exit(77 if skipped else 0 if ok else 1)
