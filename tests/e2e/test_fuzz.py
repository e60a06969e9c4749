"""The fuzzers' findings stay fixed: every saved crash input
(fuzz/crashes/TARGET/) and the seeds (fuzz/seeds/TARGET/) go
through the fuzz targets without libFuzzer (build/fuzz-replay-TARGET, built
by every `make`, so under ASan+UBSan in build-asan), and the graph and
state-log crashes also through juggle itself."""
import glob
import os
import subprocess
import zlib

from harness import ROOT, wrap

TARGETS = ["load", "words", "state", "result", "download"]


def inputs(kind, target):
    return sorted(glob.glob(os.path.join(ROOT, "fuzz", kind, target, "*")))


def replay(t, target, files):
    exe = os.path.join(os.environ["JUGGLE_BUILD"], "fuzz-replay-" + target)
    assert os.path.exists(exe), "%s is missing: make builds it" % exe
    # In batches: a command line has its limits.
    for i in range(0, len(files), 500):
        batch = files[i:i + 500]
        p = subprocess.run(wrap([exe] + batch), capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, "%s failed on one of %s ...\n%s%s" % (
            target, batch[:3], p.stdout, p.stderr[-4000:])
        assert "replayed %d input" % len(batch) in p.stdout


def test_fuzz_crashes_replay(t):
    for target in TARGETS:
        replay(t, target, inputs("crashes", target))


def test_fuzz_seeds_replay(t):
    for target in TARGETS:
        replay(t, target, inputs("seeds", target))


def no_crash(r, what):
    assert r.rc in (0, 1, 2), "%s: juggle exited %s\n%r" % (what, r.rc, r)
    assert "Sanitizer" not in r.err and "runtime error" not in r.err, "%s\n%r" % (what, r)


def test_fuzz_load_crashes_through_juggle(t):
    """A graph that once crashed the loader is a clean exit 0 or 2 now."""
    for path in inputs("crashes", "load"):
        data = open(path, "rb").read()
        t.write("juggle.ini", data.split(b"\0")[0])
        for cmd in (["check"], ["-n"], ["list"]):
            no_crash(t.juggle(*cmd, backend=False), "%s on %s" % (cmd, path))


def state_log(data):
    """The log fuzz_state writes for an input (see fuzz/fuzz_state.c)."""
    mode = data[0] if data else 0
    out = b"# juggle state 1\n" if mode & 1 else b""
    if mode & 2:
        lines = data[1:].split(b"\n")
        for line in lines[:-1]:
            out += line + b"\t%08x\n" % zlib.crc32(line)
        out += lines[-1]
    else:
        out += data
    return out


def test_fuzz_state_crashes_through_juggle(t):
    """A state log that once crashed the reader is read, repaired or set
    aside by juggle, whose jobs then run: the log is only a cache."""
    names = []
    for path in inputs("crashes", "state"):
        log = state_log(open(path, "rb").read())
        for line in log.split(b"\n"):
            f = line.split(b"\t")
            if len(f) > 1 and f[0] == b"S" and f[1] and all(
                    chr(c).isalnum() or chr(c) in "._-" for c in f[1]) and len(f[1]) <= 128:
                names.append(f[1].decode())
        os.makedirs(".juggle", exist_ok=True)
        t.write(".juggle/state", log)
        t.write("in.txt", "x\n")
        t.ini("".join("[command %s]\ninput = in.txt\ncommand = true\n\n" % n
                      for n in sorted(set(names)) or ["j"]))
        r = t.juggle("list", backend=False)
        no_crash(r, "list with the state of %s" % path)
        r = t.juggle(backend=False)
        no_crash(r, "a run with the state of %s" % path)
        assert r.rc == 0, r
