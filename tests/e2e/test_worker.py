"""`juggle worker HOST:PORT` (engine/remote.h) against a stand-in for the
run, on loopback and without Slurm: what a worker of slurm_mode =
allocation does with the requests of a run in rounds. It finds the items
of a foreach over a list made after it loaded the graph, gives a trigger
job the failed jobs it is sent as JUGGLE_FAILED, and answers a job it does
not have with a failed result saying so, then takes the next request."""
import hashlib
import hmac
import json
import os
import socket

from harness import timeout

GRAPH = """
    [command make-list]
    output = list.txt
    command = sh -c 'printf "a\\nb\\n" > list.txt'

    [command each]
    foreach = lines:list.txt
    output = out/{item}.txt
    command = sh -c 'echo "item $0" > "$1"' {item} {output}

    [command report]
    when = all_done
    after = each
    output = report.txt
    command = sh -c 'printf "%s\\n" "$JUGGLE_FAILED" > report.txt'
    """


class Run:
    """The run's end of one worker's connection."""

    def __init__(self, t):
        key = os.urandom(32)
        os.makedirs(".juggle", exist_ok=True)
        fd = os.open(".juggle/run-key", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        os.write(fd, key.hex().encode() + b"\n")
        os.close(fd)
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(1)
        self.listener.settimeout(60)
        port = self.listener.getsockname()[1]
        self.worker = t.spawn("worker", "127.0.0.1:%d" % port, backend=False)
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(120)
        self.lines = self.conn.makefile("rb")
        nonce = os.urandom(32).hex()
        self.say({"hello": "juggle-worker-1", "nonce": nonce})
        proof = json.loads(self.lines.readline())["proof"]
        want = hmac.new(key, ("juggle-worker-1\n" + nonce).encode(), hashlib.sha256)
        assert proof == want.hexdigest(), proof

    def say(self, obj):
        self.conn.sendall(json.dumps(obj).encode() + b"\n")

    def run(self, job, failed=None):
        """Sends one attempt; the worker's result."""
        req = {"job": job, "attempt": 1}
        if failed is not None:
            req["failed"] = failed.encode().hex()
        self.say(req)
        line = self.lines.readline()
        assert line, "the worker closed its connection"
        return json.loads(line)

    def close(self):
        self.lines.close()
        self.conn.close()
        self.listener.close()
        self.worker.communicate(timeout=60)


@timeout(120)
def test_worker_runs_a_later_rounds_jobs(t):
    t.ini(GRAPH)
    run = Run(t)
    # The list is made after the worker loaded the graph, as in a run
    # whose next round runs the items on the same workers.
    assert run.run("make-list")["status"] == 0
    for item in "ab":
        res = run.run("each[%s]" % item)
        assert res["status"] == 0, res
        assert t.read("out/%s.txt" % item) == "item %s\n" % item
    # A job the graph does not have, even loaded again: failed, not worth
    # a retry, and the worker goes on.
    res = run.run("each[zz]")
    assert res["status"] == 1 and not res["retryable"], res
    assert "has no job 'each[zz]'" in res["error"], res
    res = run.run("report", failed="each[a]\nmake-list")
    assert res["status"] == 0, res
    assert t.read("report.txt") == "each[a]\nmake-list\n"
    # Nothing failed upstream: an empty JUGGLE_FAILED.
    assert run.run("report", failed="")["status"] == 0
    assert t.read("report.txt") == "\n"
    run.close()
    assert run.worker.returncode in (0, 130), run.worker.returncode
