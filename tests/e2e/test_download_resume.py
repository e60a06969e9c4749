"""A large download cut off resumes where it stopped: a 100 MB file from
nginx on 127.0.0.1 (sent at 20 MB/s), cut at a random point by killing
juggle or nginx's worker, is finished by the next run or attempt with a
Range request guarded by If-Range; a file changed in between, or a server
without byte ranges, starts over and still ends with the right content."""
import hashlib
import json
import os
import random
import signal
import time

from harness import TIMEOUT_SCALE, backends, leftovers, timeout, valgrind_slow
from testbed import nginx

BIG = 100 * 2**20


def graph(t, url, sha=None, extra=()):
    lines = ["[download big]", "url = " + url, "output = data/big.bin"]
    lines += ["sha256 = " + sha] if sha else []
    t.ini("\n".join(lines + list(extra)) + "\n")


def serve_big(web, name, seed):
    """A 100 MB file of seeded random bytes; returns its sha256."""
    data = random.Random(seed).randbytes(BIG)
    web.put(name, data)
    return hashlib.sha256(data).hexdigest()


def partial_dir(t):
    return os.path.join(t.dir, ".juggle", "partial")


def partial_size(t):
    """The size of the body kept so far (the data file described by a
    .meta beside it), or -1."""
    d = partial_dir(t)
    if not os.path.isdir(d):
        return -1
    names = os.listdir(d)
    for n in names:
        if n + ".meta" in names:
            return os.path.getsize(os.path.join(d, n))
    return -1


def wait_partial(t, at_least, alive):
    """Polls the kept body until it holds at_least bytes; fails when
    alive() turns false first or after a minute (times the valgrind
    scale)."""
    end = time.monotonic() + 60 * TIMEOUT_SCALE
    while partial_size(t) < at_least:
        assert alive(), "the download ended before byte %d" % at_least
        assert time.monotonic() < end, "the kept body stayed at %d bytes" % partial_size(t)
        time.sleep(0.005)


def cut_point():
    seed = int.from_bytes(os.urandom(4), "big")
    return random.Random(seed).randrange(4 * 2**20, 90 * 2**20), seed


def descendants(pid):
    out = []
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            kids = [int(x) for x in f.read().split()]
    except OSError:
        return out
    for k in kids:
        out += [k] + descendants(k)
    return out


def running(pid):
    """Whether pid is still a process that is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def killed_run(t, cut):
    """Starts juggle, kills it (its whole process group, by pid) once the
    kept body holds cut bytes; returns the size it then holds."""
    p = t.spawn("--progress", "none", start_new_session=True)
    wait_partial(t, cut, lambda: p.poll() is None)
    # juggle and its workers (the processes backend's, which may have a
    # process group of their own), all at once; then wait until they are
    # gone, so that nothing writes after the size is read.
    pids = descendants(p.pid)
    os.killpg(p.pid, signal.SIGKILL)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait()
    end = time.monotonic() + 30 * TIMEOUT_SCALE
    while any(running(pid) for pid in pids) and time.monotonic() < end:
        time.sleep(0.005)
    p.stdout.close()
    p.stderr.close()
    held = partial_size(t)
    assert held >= cut, (held, cut)
    assert not os.path.exists("data/big.bin"), "a partial body carries the output's name"
    return held


def sha_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@backends
@timeout(300)
def test_killed_download_resumes_on_the_next_run_with_range(t):
    web = nginx(t)
    sha = serve_big(web, "big.bin", 1)
    graph(t, web.url("/rate/big.bin"), sha)
    cut, seed = cut_point()
    held = killed_run(t, cut)

    r = t.juggle("--progress", "none", rc=0)
    j = r.job("big")
    why = "cut at %d (seed %d), held %d: %r" % (cut, seed, held, j)
    assert sha_file("data/big.bin") == sha, why
    assert (j["status"], j["http_status"], j["resumed_bytes"]) == ("ok", 206, held), why
    assert j["bytes"] == BIG - held, why
    last = web.access_log()[-1]
    assert (last["path"], last["status"], last["range"]) == (
        "/rate/big.bin", 206, "bytes=%d-" % held), (last, why)
    assert last["if_range"].startswith("\\x22"), last  # a strong ETag, its quote escaped by nginx
    assert last["bytes"] == BIG - held, last
    assert os.listdir(partial_dir(t)) == [], "the kept body outlives the download"
    assert leftovers() == []

    # Nothing left to resume: the next run asks whether it changed.
    r = t.juggle("--progress", "none", rc=0)
    assert (r.job("big")["http_status"], r.job("big")["resumed_bytes"]) == (304, 0)


@backends
@timeout(300)
@valgrind_slow("moves 100 MB through memcheck; the killed-run test keeps resume in the quick pass")
def test_connection_dropped_by_the_server_resumes_on_the_next_attempt(t):
    web = nginx(t)
    sha = serve_big(web, "big.bin", 2)
    graph(t, web.url("/rate/big.bin"), sha, ["retries = 2", "retry_delay = 0.1"])
    cut, seed = cut_point()
    p = t.spawn("--progress", "none")
    wait_partial(t, cut, lambda: p.poll() is None)
    workers = web.worker_pids()
    for pid in workers:  # the connection drops; the master starts another
        os.kill(pid, signal.SIGKILL)
    out, err = p.communicate(timeout=120 * TIMEOUT_SCALE)
    assert p.returncode == 0, (out, err)
    rep = json.load(open(".juggle/last-report.json"))
    j = [x for x in rep["jobs"] if x["name"] == "big"][0]
    why = "cut at %d (seed %d): %r" % (cut, seed, j)
    assert sha_file("data/big.bin") == sha, why
    assert (j["status"], j["attempts"], j["http_status"]) == ("ok", 2, 206), why
    # Over the two attempts, not one byte came twice.
    assert cut <= j["resumed_bytes"] < BIG and j["bytes"] == BIG, why
    ranged = [e for e in web.access_log() if e["status"] == 206]
    assert [e["range"] for e in ranged] == ["bytes=%d-" % j["resumed_bytes"]], ranged
    assert leftovers() == []


@backends
@timeout(300)
@valgrind_slow("moves 100 MB through memcheck; the killed-run test keeps resume in the quick pass")
def test_file_changed_on_the_server_between_runs_starts_over(t):
    web = nginx(t)
    serve_big(web, "big.bin", 3)
    graph(t, web.url("/rate/big.bin"))
    cut, seed = cut_point()
    held = killed_run(t, cut)

    # Another file of the same size, and a later time: another ETag.
    sha = serve_big(web, "big.bin", 4)
    later = time.time() + 100
    os.utime(os.path.join(web.www, "big.bin"), (later, later))
    graph(t, web.url("/rate/big.bin"), sha)
    r = t.juggle("--progress", "none", rc=0)
    j = r.job("big")
    why = "cut at %d (seed %d), held %d: %r" % (cut, seed, held, j)
    assert sha_file("data/big.bin") == sha, why
    assert (j["status"], j["http_status"], j["resumed_bytes"], j["bytes"]) == (
        "ok", 200, 0, BIG), why
    last = web.access_log()[-1]
    # Asked for the rest of the old file; got the whole new one.
    assert (last["status"], last["range"], last["bytes"]) == (
        200, "bytes=%d-" % held, BIG), last
    assert last["if_range"] != "-", last


@backends
@timeout(300)
@valgrind_slow("moves 100 MB through memcheck; the killed-run test keeps resume in the quick pass")
def test_server_without_byte_ranges_sends_the_whole_file_again(t):
    web = nginx(t)
    sha = serve_big(web, "big.bin", 5)
    graph(t, web.url("/norange/big.bin"), sha)
    cut, seed = cut_point()
    held = killed_run(t, cut)

    r = t.juggle("--progress", "none", rc=0)
    j = r.job("big")
    why = "cut at %d (seed %d), held %d: %r" % (cut, seed, held, j)
    assert sha_file("data/big.bin") == sha, why
    assert (j["http_status"], j["resumed_bytes"], j["bytes"]) == (200, 0, BIG), why
    last = web.access_log()[-1]
    assert (last["status"], last["range"], last["bytes"]) == (200, "bytes=%d-" % held, BIG), last


@backends
def test_kept_body_is_never_written_through_a_symbolic_link(t):
    web = nginx(t)
    web.put("small.txt", "small file\n")
    graph(t, web.url("/small.txt"))
    os.makedirs("outside")
    t.write("outside/victim", "precious\n")
    # A link at the kept body's own name, then the folder itself a link.
    key = hashlib.sha256(b"data/big.bin").hexdigest()[:32]
    os.makedirs(partial_dir(t))
    os.symlink(os.path.abspath("outside/victim"), os.path.join(partial_dir(t), key))
    r = t.juggle("--progress", "none", rc=0)
    assert t.read("data/big.bin") == "small file\n", r
    assert t.read("outside/victim") == "precious\n"
    os.unlink(os.path.join(partial_dir(t), key))
    os.rmdir(partial_dir(t))
    os.symlink(os.path.abspath("outside"), partial_dir(t))
    graph(t, web.url("/small.txt"), extra=["refresh = always"])
    r = t.juggle("--progress", "none", rc=0)
    assert t.read("data/big.bin") == "small file\n", r
    assert sorted(os.listdir("outside")) == ["victim"]
    assert t.read("outside/victim") == "precious\n"
