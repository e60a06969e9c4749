"""secret_header: a token sent with a download and shown nowhere. Every
file juggle writes (logs, state, reports, the archive) and everything it
prints is searched for the token; a rotated token re-runs nothing."""
import os
import tarfile

from harness import backends
from testbed import nginx

TOKEN = "tok-9f3c2e71b5aa4d0e"
ROTATED = "tok-rotated-0c8d1f2a"


def graph(t, text, **urls):
    for k, v in urls.items():
        text = text.replace("@%s@" % k, v)
    t.ini(text)


def files_holding(token, top=".", skip=()):
    """Every file under top (past the test bed's folder) whose bytes hold
    token, the members of archives included; skip names outputs whose
    body is the server's to choose."""
    found = []
    for root, dirs, files in os.walk(top):
        dirs[:] = [d for d in dirs if d not in ("tb",)]
        for f in files:
            path = os.path.normpath(os.path.join(root, f))
            if path in skip:
                continue
            data = open(path, "rb").read()
            if token.encode() in data:
                found.append(path)
            if path.endswith(".tar.gz"):
                with tarfile.open(path) as tar:
                    for m in tar.getmembers():
                        if not m.isfile() or os.path.basename(m.name) in skip:
                            continue
                        if token.encode() in tar.extractfile(m).read():
                            found.append(path + ":" + m.name)
    return found


GRAPH = """
    [download echo]
    url = @BASE@/echo/headers
    output = echo.txt
    secret_header = X-Token: ${env:API_TOKEN}
    header = X-Other: plain-one

    [download hello]
    url = @BASE@/hello.txt
    output = hello.txt
    secret_header = Authorization: Bearer ${env:API_TOKEN}

    [download missing]
    url = @BASE@/status/404
    output = missing.txt
    secret_header = Authorization: Bearer ${env:API_TOKEN}

    [command count]
    input = hello.txt
    output = count.txt
    command = sh -c 'wc -c < hello.txt > count.txt; echo ran >> runs.log'
    """


@backends
def test_secret_header_is_sent_and_never_shown(t):
    web = nginx(t)
    graph(t, GRAPH, BASE=web.base)
    env = {"API_TOKEN": TOKEN}
    outs = []
    r = t.juggle("-k", "-v", "--report", "r.json", "--html", "r.html", "--trace", "t.json",
                 "--junit", "j.xml", "--archive", "run.tar.gz", env=env, rc=1)
    outs.append(r.out + r.err)
    # The server got the token: /echo/headers writes back what it was sent.
    assert "x-token: %s\n" % TOKEN in t.read("echo.txt"), t.read("echo.txt")
    assert "x-other: plain-one\n" in t.read("echo.txt")
    assert r.job("hello")["status"] == "ok" and r.job("missing")["status"] == "failed"
    # The failure's story is told, with the header's name but not its value.
    log = t.read(".juggle/logs/missing.log")
    assert "> Authorization: (secret, not shown)" in log, log
    assert "HTTP 404" in r.job("missing")["error"]
    assert "> X-Other: plain-one" in t.read(".juggle/logs/echo.log")
    assert os.path.exists("run.partial.tar.gz")

    for args in (["explain"], ["list"], ["-n", "-v"], ["graph"], ["check"]):
        r = t.juggle(*args, env=env)
        outs.append(r.out + r.err)

    # A rotated token is the same definition: hello asks the server with
    # its validators (304), and nothing downstream re-runs.
    r = t.juggle("-k", "-v", "--report", "r2.json", env={"API_TOKEN": ROTATED}, rc=1)
    outs.append(r.out + r.err)
    h = r.job("hello")
    assert (h["status"], h["http_status"], h["bytes"]) == ("ok", 304, 0), h
    assert r.job("count")["status"] == "skipped-up-to-date"
    assert t.read("runs.log") == "ran\n"
    assert "x-token: %s\n" % ROTATED in t.read("echo.txt")

    for token in (TOKEN, ROTATED):
        assert [o for o in outs if token in o] == []
        assert files_holding(token, skip=("echo.txt",)) == []


@backends
def test_secret_header_errors_do_not_show_the_value(t):
    graph(t, """
        [download a]
        url = http://127.0.0.1:9/a
        output = a.txt
        secret_header = Authorization: Bearer ${env:API_TOKEN}
        """)
    # A token that would break the request line: refused, not shown.
    r = t.juggle(env={"API_TOKEN": TOKEN + "\x01x"}, rc=2)
    assert TOKEN not in r.out + r.err, r
    assert "juggle.ini:5: job 'a': secret_header: the value (not shown)" in r.err, r
    # Unset: says which variable, so the user knows what to export.
    graph(t, """
        [download a]
        url = http://127.0.0.1:9/a
        output = a.txt
        secret_header = Authorization: Bearer ${env:JUGGLE_TEST_UNSET_TOKEN}
        """)
    r = t.juggle("check", rc=2)
    assert "environment variable 'JUGGLE_TEST_UNSET_TOKEN' is not set" in r.err, r
    assert files_holding(TOKEN) == []
