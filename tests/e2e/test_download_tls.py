"""Downloads over TLS from a real nginx on 127.0.0.1, with a private CA and
certificates each test makes with the openssl command: verification on by
default, ca_file trusting a private CA, certificate problems failing at
once in words a user can act on, HTTP/2 streams sharing one connection, and
the proxy variables honoured as curl honours them."""
import os
import shutil
import time

from harness import TIMEOUT_SCALE, backends, leftovers, valgrind_slow
from testbed import free_port, nginx, pki, proxy_nginx, tls_nginx

# No proxy from the environment the tests run in: each test says its own.
NO_PROXY_ENV = {"http_proxy": "", "https_proxy": "", "HTTPS_PROXY": "", "all_proxy": "",
                "ALL_PROXY": "", "no_proxy": "", "NO_PROXY": ""}


def graph(t, text, **urls):
    for k, v in urls.items():
        text = text.replace("@%s@" % k, v)
    t.ini(text)


def logged(web, n):
    """The server's access log once it holds n requests: nginx writes a
    line as it ends a request, which may come just after the client has
    its answer. Gives up after 10 s (times the valgrind scale) and returns
    what there is."""
    end = time.monotonic() + 10 * TIMEOUT_SCALE
    log = web.access_log()
    while len(log) < n and time.monotonic() < end:
        time.sleep(0.01)
        log = web.access_log()
    return log


def ca_into_graph(t, p, name="certs/ca.pem"):
    os.makedirs(os.path.dirname(os.path.join(t.dir, name)), exist_ok=True)
    shutil.copy(p.ca, os.path.join(t.dir, name))
    return name


@backends
@valgrind_slow("TLS handshakes of 20 transfers under memcheck")
def test_https_with_a_private_ca_shares_one_http2_connection(t):
    p = pki(t)
    web = tls_nginx(t, p.good)
    for i in range(1, 21):
        web.put("f%d.txt" % i, "file %d\n" % i * 100)
    ca_into_graph(t, p)
    # /lat/ holds every answer 50 ms, so the 20 transfers overlap: on
    # HTTP/1.1 they would need a connection each.
    graph(t, """
        [settings]
        ca_file = certs/ca.pem

        [download f]
        foreach = range:1..20
        url = @BASE@/lat/f{item}.txt
        output = out/{item}.txt
        """, BASE=web.base)
    # The blocking backends open a connection per worker: fewer workers
    # keep their handshakes short under valgrind.
    j = "20" if t.param in ("eventloop", "auto") else "4"
    r = t.juggle("--net-jobs", j, "-j", j, rc=0, env=NO_PROXY_ENV)
    assert r.report["counts"]["ok"] == 20, r.report["counts"]
    assert t.read("out/7.txt") == "file 7\n" * 100
    log = logged(web, 20)
    assert len(log) == 20 and all(e["request"].endswith(" HTTP/2.0") for e in log), log[:2]
    # The report's connection count is the server's.
    assert r.report["connections"] == len({e["conn"] for e in log}), (r.report, log)
    if t.param in ("eventloop", "auto"):
        # One curl multi handle: every transfer is a stream of one connection.
        assert r.report["connections"] == 1, r.report["connections"]
    assert leftovers() == []


@backends
def test_https_to_an_http1_only_server_works_in_parallel(t):
    p = pki(t)
    web = tls_nginx(t, p.good, http2=False)
    for i in range(1, 7):
        web.put("g%d.txt" % i, "g %d\n" % i)
    graph(t, """
        [download g]
        foreach = range:1..6
        url = @BASE@/lat/g{item}.txt
        output = out/{item}.txt
        ca_file = ca.pem
        """, BASE=web.base)
    ca_into_graph(t, p, "ca.pem")
    r = t.juggle("--net-jobs", "6", "-j", "6", rc=0, env=NO_PROXY_ENV)
    assert r.report["counts"]["ok"] == 6
    assert t.read("out/6.txt") == "g 6\n"
    log = logged(web, 6)
    assert len(log) == 6 and all(e["request"].endswith(" HTTP/1.1") for e in log), log[:2]
    assert r.report["connections"] == len({e["conn"] for e in log})


@backends
def test_certificate_problems_fail_at_once_in_plain_words(t):
    p = pki(t)
    servers = {
        "selfsigned": tls_nginx(t, p.self_signed, name="tb-self"),
        "otherhost": tls_nginx(t, p.other_host, name="tb-other"),
        "expired": tls_nginx(t, p.expired, name="tb-expired"),
        "privateca": tls_nginx(t, p.good, name="tb-good"),
    }
    ca_into_graph(t, p)
    text = ""
    for name, web in servers.items():
        text += """
        [download %s]
        url = %s/hello.txt
        output = %s.txt
        retries = 3
        retry_delay = 0
        %s
        """ % (name, web.base, name, "ca_file = certs/ca.pem" if name != "privateca" else "")
    t.ini(text)
    r = t.juggle("-k", rc=1, env=NO_PROXY_ENV)
    for name in servers:
        j = r.job(name)
        # Permanent: one attempt although retries = 3.
        assert (j["status"], j["attempts"]) == ("failed", 1), j
        assert "(permanent, not retried)" in j["error"], j
        assert "TLS certificate of 127.0.0.1" in j["error"], j
        assert not os.path.exists(os.path.join(t.dir, name + ".txt"))
    assert "self-signed" in r.job("selfsigned")["error"]
    assert "set ca_file = PATH" in r.job("selfsigned")["error"]
    assert "for another host name" in r.job("otherhost")["error"]
    assert "has expired" in r.job("expired")["error"]
    # A CA the machine does not know, and no ca_file: say how to trust it.
    e = r.job("privateca")["error"]
    assert "signed by an unknown CA" in e and "set ca_file = PATH" in e, e
    # The handshake failed: not one request reached a server.
    for web in servers.values():
        assert web.access_log() == []
    assert leftovers() == []


def test_ca_file_problems_are_load_errors_with_file_and_line(t):
    t.write("not-a-cert.pem", "hello\n")
    t.ini("""
[settings]
ca_file = missing/ca.pem

[download a]
url = https://127.0.0.1:1/a
output = a.txt

[download b]
url = https://127.0.0.1:1/b
output = b.txt
ca_file = not-a-cert.pem
""")
    r = t.juggle("check", rc=2)
    assert ("juggle.ini:3: job 'a': cannot read ca_file 'missing/ca.pem': No such file or "
            "directory") in r.err, r.err
    assert "juggle.ini:12: job 'b': ca_file 'not-a-cert.pem' holds no PEM certificate" \
        in r.err, r.err
    # Only where [settings] applies: b has its own ca_file.
    assert "job 'b': cannot read ca_file 'missing" not in r.err, r.err
    # The other kinds do not take it.
    t.ini("""
[command c]
output = c.txt
command = touch c.txt
ca_file = x.pem
""")
    r = t.juggle("check", rc=2)
    assert "juggle.ini:5:" in r.err and "ca_file" in r.err, r.err


def test_ca_file_is_not_part_of_what_a_download_is(t):
    """Moving the CA, or from the job to [settings], re-downloads nothing:
    the next run still asks with the validators of the copy it has."""
    p = pki(t)
    web = tls_nginx(t, p.good)
    web.put("data.csv", "a,b\n")
    ca_into_graph(t, p, "one/ca.pem")
    ca_into_graph(t, p, "two/ca.pem")
    graph(t, """
        [download data]
        url = @BASE@/data.csv
        output = data.csv
        ca_file = one/ca.pem
        """, BASE=web.base)
    r = t.juggle("-b", "serial", rc=0, env=NO_PROXY_ENV)
    assert r.job("data")["http_status"] == 200
    graph(t, """
        [settings]
        ca_file = two/ca.pem

        [download data]
        url = @BASE@/data.csv
        output = data.csv
        """, BASE=web.base)
    r = t.juggle("-b", "serial", rc=0, env=NO_PROXY_ENV)
    assert r.job("data")["http_status"] == 304, r.job("data")
    assert logged(web, 2)[-1]["inm"] != "-"


@backends
def test_http_proxy_and_no_proxy_are_honoured(t):
    web = nginx(t)
    proxy = proxy_nginx(t)
    graph(t, """
        [download h]
        url = @BASE@/hello.txt
        output = h.txt
        refresh = always
        """, BASE=web.base)
    env = dict(NO_PROXY_ENV, http_proxy=proxy.base)
    r = t.juggle(rc=0, env=env)
    assert t.read("h.txt") == "hello from nginx\n"
    via = logged(proxy, 1)
    assert [e["path"] for e in via] == [web.url("/hello.txt")], via
    assert len(logged(web, 1)) == 1
    # no_proxy names the host: straight to the server.
    r = t.juggle(rc=0, env=dict(env, no_proxy="127.0.0.1"))
    assert r.job("h")["status"] == "ok"
    assert len(logged(web, 2)) == 2 and len(proxy.access_log()) == 1


@backends
def test_https_proxy_is_honoured_and_no_proxy_bypasses_it(t):
    p = pki(t)
    web = tls_nginx(t, p.good)
    ca_into_graph(t, p)
    closed = free_port()
    graph(t, """
        [download s]
        url = @BASE@/hello.txt
        output = s.txt
        ca_file = certs/ca.pem
        """, BASE=web.base)
    env = dict(NO_PROXY_ENV, https_proxy="http://127.0.0.1:%d" % closed)
    # The proxy (nothing listens there) is where the download goes.
    r = t.juggle(rc=1, env=env)
    e = r.job("s")["error"]
    assert "127.0.0.1 port %d" % closed in e, e
    assert web.access_log() == []
    # no_proxy, as curl reads it: the host, or a list holding it.
    r = t.juggle(rc=0, env=dict(env, no_proxy="localhost,127.0.0.1"))
    assert t.read("s.txt") == "hello from nginx\n"
    assert len(logged(web, 1)) == 1
