"""Downloads against a real nginx (and a small scripted server) on
127.0.0.1: every fault the download kind must survive, what the report
says about it, and that nothing partial ever carries an output's name."""
import hashlib
import json
import os
import signal
import time

from harness import ROOT, backends, leftovers, timeout, valgrind_slow
from testbed import free_port, nginx, scripted


def graph(t, text, **urls):
    """Writes juggle.ini with @NAME@ replaced by urls[NAME] (the test bed's
    ports are only known at run time, and {item} must stay as it is)."""
    for k, v in urls.items():
        text = text.replace("@%s@" % k, v)
    t.ini(text)


def hits(web, path):
    return [e for e in web.access_log() if e["path"] == path]


@backends
def test_conditional_get_304_leaves_output_and_downstream_alone(t):
    web = nginx(t)
    web.put("data.csv", "a,b\n1,2\n")
    graph(t, """
        [download data]
        url = @BASE@/data.csv
        output = data/data.csv

        [command count]
        input = data/data.csv
        output = count.txt
        command = sh -c 'wc -l < data/data.csv > count.txt; echo ran >> runs.log'
        """, BASE=web.base)
    r = t.juggle("-n", rc=0)
    assert "GET %s/data.csv -> data/data.csv" % web.base in r.out, r.out

    r = t.juggle(rc=0)
    d = r.job("data")
    assert (d["status"], d["http_status"], d["bytes"], d["attempts"]) == ("ok", 200, 8, 1), d
    assert d["error"] is None
    assert t.read("data/data.csv") == "a,b\n1,2\n"
    assert t.read("count.txt").strip() == "2"
    assert r.report["connections"] == 1

    # Second run: the job asks the server, which answers 304 with no body.
    r = t.juggle(rc=0)
    d = r.job("data")
    assert (d["status"], d["http_status"], d["bytes"]) == ("ok", 304, 0), d
    assert "refresh = conditional" in d["reason"], d
    assert r.job("count")["status"] == "skipped-up-to-date"
    assert t.read("runs.log") == "ran\n"
    last = hits(web, "/data.csv")[-1]
    assert last["status"] == 304 and last["bytes"] == 0, last
    assert last["inm"] != "-" and last["ims"] != "-", last

    # The file changes on the server: a full download, and count re-runs.
    web.put("data.csv", "a,b\n1,2\n3,4\n")
    r = t.juggle(rc=0)
    d = r.job("data")
    assert (d["http_status"], d["bytes"]) == (200, 12), d
    assert r.job("count")["status"] == "ok"
    assert t.read("count.txt").strip() == "3"

    # A hand-edited output is not "not modified": fetched in full again,
    # without validators, and nothing downstream changes.
    t.write("data/data.csv", "edited\n")
    r = t.juggle(rc=0)
    assert r.job("data")["http_status"] == 200
    assert hits(web, "/data.csv")[-1]["inm"] == "-"
    assert t.read("data/data.csv") == "a,b\n1,2\n3,4\n"
    assert r.job("count")["status"] == "skipped-up-to-date"
    assert t.read("runs.log") == "ran\nran\n"
    assert leftovers() == []


@backends
def test_headers_are_logged_on_failure_or_with_v(t):
    """A download that succeeds leaves no log file (one inode less per job
    of a nightly batch); its request and response headers go to its log
    when it fails, or with -v."""
    web = nginx(t)
    web.put("a.txt", "a\n")
    graph(t, """
        [download good]
        url = @BASE@/a.txt
        output = a.txt

        [download bad]
        url = @BASE@/status/404
        output = b.txt
        """, BASE=web.base)
    r = t.juggle("-k", rc=1)
    assert r.job("good")["status"] == "ok" and r.job("good")["log"] is None, r.job("good")
    assert not os.path.exists(".juggle/logs/good.log")
    assert t.read("a.txt") == "a\n"
    # The content hash the state log keeps is the one the download took of
    # the bytes as they came (the file is not read back): SHA-256's first
    # 16 bytes.
    rec = [ln.split("\t") for ln in t.read(".juggle/state").splitlines()
           if ln.startswith("S\tgood\t")][-1]
    want = hashlib.sha256(b"a\n").hexdigest()[:32]
    assert rec[rec.index("a.txt") + 3] == want, rec
    log = t.read(".juggle/logs/bad.log")
    assert "GET %s/status/404 -> b.txt\n" % web.base in log, log
    assert "< HTTP/1.1 404" in log and "HTTP 404" in log, log

    r = t.juggle("-B", "-k", "-v", rc=1)
    assert r.job("good")["log"] == ".juggle/logs/good.log", r.job("good")
    log = t.read(".juggle/logs/good.log")
    assert "GET %s/a.txt -> a.txt\n" % web.base in log, log
    assert "< HTTP/1.1 200" in log and "ok: 2 bytes" in log, log

    # Without -v again: the last run's log goes with the new success.
    r = t.juggle("-B", "-k", rc=1)
    assert r.job("good")["log"] is None and not os.path.exists(".juggle/logs/good.log")


@backends
def test_an_empty_body_makes_an_empty_output(t):
    """A 200 with no body still gives its output, empty (the file for the
    body is made at its first byte, so here only at the end), and a run
    after it asks with its validators."""
    web = nginx(t)
    web.put("zero.txt", "")
    graph(t, """
        [download zero]
        url = @BASE@/zero.txt
        output = out/zero.txt
        """, BASE=web.base)
    r = t.juggle(rc=0)
    z = r.job("zero")
    assert (z["status"], z["http_status"], z["bytes"]) == ("ok", 200, 0), z
    assert os.path.isfile("out/zero.txt") and t.read("out/zero.txt") == ""
    r = t.juggle(rc=0)
    assert r.job("zero")["http_status"] == 304, r.job("zero")
    assert leftovers() == [] and os.listdir(".juggle/partial") == []


@backends
def test_http_errors_are_classified_like_curl_retry(t):
    web = nginx(t)
    permanent = [400, 403, 404]
    transient = [408, 429, 500, 502, 503, 504]
    text = ""
    for code in permanent + transient:
        text += """
            [download e%d]
            url = @BASE@/status/%d
            output = out/%d.bin
            retries = %d
            retry_delay = 0

            [command after-%d]
            input = out/%d.bin
            output = after-%d.txt
            command = touch after-%d.txt
            """ % (code, code, code, 3 if code in permanent else 1, code, code, code, code)
    graph(t, text.replace("\n            ", "\n"), BASE=web.base)
    r = t.juggle("-k", rc=1)
    for code in permanent + transient:
        j = r.job("e%d" % code)
        assert j["status"] == "failed" and j["http_status"] == code, j
        assert "HTTP %d" % code in j["error"], j
        if code in permanent:
            assert j["attempts"] == 1, j
            assert "(permanent, not retried)" in j["error"], j
            assert len(hits(web, "/status/%d" % code)) == 1
        else:
            assert j["attempts"] == 2, j
            assert "transient; gave up after 2 attempts" in j["error"], j
            assert len(hits(web, "/status/%d" % code)) == 2
        assert r.job("after-%d" % code)["status"] == "not-run"
        assert not os.path.exists("out/%d.bin" % code)
        assert not os.path.exists("after-%d.txt" % code)
    assert leftovers() == []


@backends
def test_retry_after_is_honoured_until_success(t):
    sc = scripted(t)
    # Fails twice with Retry-After: 2, then answers.
    graph(t, """
        [download flaky]
        url = @SC@/flaky/k/2/2
        output = flaky.txt
        retries = 3
        retry_delay = 0.01
        """, SC=sc.base)
    r = t.juggle(rc=0)
    j = r.job("flaky")
    assert (j["status"], j["attempts"], j["http_status"]) == ("ok", 3, 200), j
    assert t.read("flaky.txt") == "ok k after 2\n"
    assert "retrying in 2.0s" in r.out + r.err, r
    times = [when for when, path in sc.hits()]
    assert len(times) == 3, times
    # The server's wish, not retry_delay (0.01 s), spaced the attempts.
    assert all(b - a >= 1.9 for a, b in zip(times, times[1:])), times


@backends
def test_failed_download_keeps_the_previous_copy(t):
    web = nginx(t)
    web.put("v.txt", "version 1\n")
    graph(t, """
        [download v]
        url = @BASE@/v.txt
        output = v.txt
        """, BASE=web.base)
    t.juggle(rc=0)
    os.unlink(os.path.join(web.www, "v.txt"))
    r = t.juggle(rc=1)
    assert r.job("v")["http_status"] == 404
    assert t.read("v.txt") == "version 1\n", "a failure removed yesterday's copy"
    assert leftovers() == []


@backends
def test_sha256_verified_and_a_mismatch_is_permanent(t):
    web = nginx(t)
    body = b"checksummed\n"
    web.put("good.txt", body)
    web.put("bad.txt", body)
    graph(t, """
        [download good]
        url = @BASE@/good.txt
        output = good.txt
        sha256 = @SUM@

        [download bad]
        url = @BASE@/bad.txt
        output = bad.txt
        sha256 = @ZERO@
        retries = 3
        retry_delay = 0

        [command after-bad]
        input = bad.txt
        command = true
        """, BASE=web.base, SUM=hashlib.sha256(body).hexdigest().upper(), ZERO="0" * 64)
    r = t.juggle("-k", rc=1)
    assert r.job("good")["status"] == "ok"
    assert t.read("good.txt") == body.decode()
    bad = r.job("bad")
    assert bad["status"] == "failed" and bad["attempts"] == 1, bad
    assert "sha256 mismatch: expected %s, got %s" % (
        "0" * 64, hashlib.sha256(body).hexdigest()) in bad["error"], bad
    assert "permanent" in bad["error"]
    assert len(hits(web, "/bad.txt")) == 1
    assert r.job("after-bad")["status"] == "not-run"
    assert not os.path.exists("bad.txt")
    assert leftovers() == []


@backends
@timeout(300)
def test_large_file_and_max_size(t):
    web = nginx(t)
    sc = scripted(t)
    big = os.urandom(1 << 20) * 50  # 50 MiB, generated here, never committed
    web.put("large.bin", big)
    graph(t, """
        [download big]
        url = @BASE@/large.bin
        output = big.bin
        sha256 = @SUM@

        [download capped]
        url = @BASE@/large.bin
        output = capped.bin
        max_size = 10M
        retries = 2
        retry_delay = 0

        [download chunked]
        url = @SC@/chunked/3000000
        output = chunked.bin
        max_size = 1M
        retries = 2
        retry_delay = 0
        """, BASE=web.base, SC=sc.base, SUM=hashlib.sha256(big).hexdigest())
    r = t.juggle("-k", rc=1)
    j = r.job("big")
    assert (j["status"], j["bytes"]) == ("ok", len(big)), j
    assert os.path.getsize("big.bin") == len(big)
    del big
    # The size is known from Content-Length: refused before any body.
    j = r.job("capped")
    assert j["status"] == "failed" and j["attempts"] == 1, j
    assert "larger than max_size (10485760 bytes)" in j["error"], j
    # Chunked, size unknown: aborted as the limit is crossed.
    j = r.job("chunked")
    assert j["status"] == "failed" and j["attempts"] == 1, j
    assert "larger than max_size (1048576 bytes)" in j["error"], j
    assert 1048576 < j["bytes"] < 3000000, j
    assert not os.path.exists("capped.bin") and not os.path.exists("chunked.bin")
    assert leftovers() == []


@backends
def test_redirects_followed_to_http_only(t):
    web = nginx(t)
    graph(t, """
        [download chain]
        url = @BASE@/chain/1
        output = chain.txt

        [download loop]
        url = @BASE@/loop
        output = loop.txt
        retries = 2
        retry_delay = 0

        [download to-file]
        url = @BASE@/to-file
        output = passwd.txt
        retries = 2
        retry_delay = 0
        """, BASE=web.base)
    r = t.juggle("-k", rc=1)
    j = r.job("chain")
    assert (j["status"], j["http_status"]) == ("ok", 200), j
    assert t.read("chain.txt") == "hello from nginx\n"
    j = r.job("loop")
    assert j["status"] == "failed" and j["attempts"] == 1, j
    assert "Maximum (10) redirects followed" in j["error"], j
    assert len(hits(web, "/loop")) == 11
    j = r.job("to-file")
    assert j["status"] == "failed" and j["attempts"] == 1, j
    assert "refused to follow a redirect to file:///etc/passwd" in j["error"], j
    assert not os.path.exists("passwd.txt") and not os.path.exists("loop.txt")
    assert leftovers() == []


@backends
def test_file_url_for_offline_use(t):
    t.write("mirror/data.txt", "offline copy\n")
    graph(t, """
        [download data]
        url = file://@PATH@
        output = data.txt

        [command use]
        input = data.txt
        output = used.txt
        command = cp data.txt used.txt
        """, PATH=os.path.abspath("mirror/data.txt"))
    r = t.juggle(rc=0)
    j = r.job("data")
    assert (j["status"], j["bytes"], j["http_status"]) == ("ok", 13, None), j
    assert t.read("used.txt") == "offline copy\n"
    # Copied again (file:// has no validators), the same bytes: nothing
    # downstream re-runs.
    r = t.juggle(rc=0)
    assert r.job("data")["status"] == "ok"
    assert r.job("use")["status"] == "skipped-up-to-date"
    t.write("mirror/data.txt", "newer copy\n")
    r = t.juggle(rc=0)
    assert r.job("use")["status"] == "ok"
    assert t.read("used.txt") == "newer copy\n"


@backends
def test_header_keys_reach_the_server(t):
    web = nginx(t)
    graph(t, """
        [download h]
        foreach = list:alpha beta
        url = @BASE@/echo/headers
        output = h-{item}.txt
        header = X-Token: token-{item}
        header = X-Other: two words
        header = Accept: text/plain
        """, BASE=web.base)
    t.juggle(rc=0)
    for item in ("alpha", "beta"):
        text = t.read("h-%s.txt" % item)
        assert "x-token: token-%s\n" % item in text, text
        assert "x-other: two words\n" in text, text
        assert "accept: text/plain\n" in text, text
        assert "user-agent: juggle/" in text, text


def test_connection_reused_across_jobs_on_serial(t):
    web = nginx(t)
    for i in range(1, 61):
        web.put("r%d.txt" % i, "file %d\n" % i)
    graph(t, """
        [download r]
        foreach = range:1..60
        url = @BASE@/r{item}.txt
        output = out/{item}.txt
        """, BASE=web.base)
    r = t.juggle("-b", "serial", rc=0)
    assert r.report["counts"]["ok"] == 60
    assert r.report["connections"] == 1, r.report["connections"]
    log = web.access_log()
    assert len(log) == 60 and len({e["conn"] for e in log}) == 1, log[:3]
    assert t.read("out/42.txt") == "file 42\n"


def test_event_loop_keeps_one_connection_per_transfer_in_flight(t):
    """Waves of transfers that end together (each answer held 50 ms) hand
    their connections back to curl's cache at once: every one of them is
    kept for the next wave, so no more connections are ever opened than
    transfers run at once."""
    web = nginx(t)
    for i in range(1, 49):
        web.put("w%d.txt" % i, "wave file %d\n" % i)
    graph(t, """
        [download w]
        foreach = range:1..48
        url = @BASE@/lat/w{item}.txt
        output = out/{item}.txt
        """, BASE=web.base)
    for b in ("eventloop", "auto"):
        r = t.juggle("-b", b, "-B", "-j", "1", "--net-jobs", "8", rc=0)
        assert r.report["counts"]["ok"] == 48, r.report["counts"]
        assert t.read("out/17.txt") == "wave file 17\n"
        assert r.report["connections"] <= 8, (b, r.report["connections"])


@backends
def test_connection_faults_are_transient(t):
    web = nginx(t)
    sc = scripted(t)
    graph(t, """
        [download cut]
        url = @SC@/cut
        output = cut.bin
        retries = 1
        retry_delay = 0

        [download hang]
        url = @SC@/hang
        output = hang.bin
        timeout = 1

        [download refused]
        url = http://127.0.0.1:@PORT@/x
        output = refused.bin
        retries = 1
        retry_delay = 0

        [download empty]
        url = @BASE@/empty-reply
        output = empty.bin
        """, SC=sc.base, BASE=web.base, PORT=str(free_port()))
    r = t.juggle("-k", rc=1)
    j = r.job("cut")
    assert j["status"] == "failed" and j["attempts"] == 2, j
    assert "transfer closed with 90000 bytes remaining to read" in j["error"], j
    assert "transient; gave up after 2 attempts" in j["error"], j
    assert j["bytes"] == 20000, j
    j = r.job("hang")
    assert j["status"] == "failed" and j["attempts"] == 1, j
    assert j["error"].startswith("timed out after 1 s"), j
    j = r.job("refused")
    assert j["status"] == "failed" and j["attempts"] == 2, j
    assert "connect" in j["error"].lower() and "transient" in j["error"], j
    j = r.job("empty")
    assert j["status"] == "failed" and "Empty reply from server (transient)" in j["error"], j
    for out in ("cut.bin", "hang.bin", "refused.bin", "empty.bin"):
        assert not os.path.exists(out), out
    assert leftovers() == []


@backends
def test_timeout_mid_body_leaves_no_partial_file(t):
    web = nginx(t)
    web.put("slow.bin", b"s" * (2 << 20))  # 100 s at the location's 20 KiB/s
    graph(t, """
        [download slow]
        url = @BASE@/slow/slow.bin
        output = slow.bin
        timeout = 1
        """, BASE=web.base)
    r = t.juggle(rc=1)
    j = r.job("slow")
    assert j["status"] == "failed" and j["error"].startswith("timed out after 1 s"), j
    assert 0 < j["bytes"] < 2 << 20, j
    assert not os.path.exists("slow.bin")
    assert leftovers() == []


def wait_until(cond, what, limit=30):
    """Polls the file system (never the clock alone) for what a job does."""
    end = time.monotonic() + limit
    while not cond():
        if time.monotonic() > end:
            raise AssertionError("%s did not happen in %s s" % (what, limit))
        time.sleep(0.01)


@backends
def test_interrupt_mid_transfer_leaves_no_partial_file(t):
    web = nginx(t)
    web.put("big.bin", b"b" * (256 << 10))
    os.makedirs("out")
    graph(t, """
        [download stalled]
        url = @BASE@/stall/big.bin
        output = out/big.bin

        [command after]
        after = stalled
        command = touch after.txt
        """, BASE=web.base)
    p = t.spawn("--progress", "none")
    # The first 4 KiB reach the body kept in .juggle/partial (too small
    # to be worth resuming), then the server stalls.
    def partial(d=".juggle/partial"):
        return [os.path.join(d, f) for f in os.listdir(d)] if os.path.isdir(d) else []
    wait_until(lambda: any(os.path.getsize(f) >= 4096 for f in partial()),
               "a partial body")
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, out, err)
    rep = json.load(open(".juggle/last-report.json"))
    s = {j["name"]: j["status"] for j in rep["jobs"]}
    assert s == {"stalled": "interrupted", "after": "not-run"}, s
    assert not os.path.exists("out/big.bin") and not os.path.exists("after.txt")
    assert leftovers() == [] and partial() == []


@timeout(150)
def test_stalled_server_is_abandoned_without_a_timeout(t):
    web = nginx(t)
    graph(t, """
        [download never]
        url = @BASE@/never
        output = never.txt
        """, BASE=web.base)
    r = t.juggle(rc=1)
    j = r.job("never")
    assert "Operation too slow" in j["error"] and "transient" in j["error"], j
    assert not os.path.exists("never.txt") and leftovers() == []


@backends
def test_refresh_once_and_always(t):
    web = nginx(t)
    web.put("o.txt", "once\n")
    web.put("a.txt", "always\n")
    graph(t, """
        [download once]
        url = @BASE@/o.txt
        output = o.txt
        refresh = once

        [download always]
        url = @BASE@/a.txt
        output = a.txt
        refresh = always

        [command use]
        input = a.txt
        output = used.txt
        command = cp a.txt used.txt
        """, BASE=web.base)
    r = t.juggle(rc=0)
    assert r.statuses() == {"once": "ok", "always": "ok", "use": "ok"}
    r = t.juggle(rc=0)
    assert r.job("once")["status"] == "skipped-up-to-date"
    assert len(hits(web, "/o.txt")) == 1
    a = r.job("always")
    assert (a["status"], a["http_status"], a["bytes"]) == ("ok", 200, 7), a
    assert hits(web, "/a.txt")[-1]["inm"] == "-", "refresh = always sent validators"
    assert r.job("use")["status"] == "skipped-up-to-date"  # same bytes
    os.unlink("o.txt")
    r = t.juggle(rc=0)
    assert r.job("once")["http_status"] == 200 and t.read("o.txt") == "once\n"


@valgrind_slow("a juggle start per bad key: a minute under memcheck")
def test_download_keys_are_checked(t):
    cases = [
        ("[download d]\noutput = x\n",
         "juggle.ini:1: job 'd': missing key 'url' (what to download)"),
        ("[download d]\nurl = http://127.0.0.1/x\n",
         "juggle.ini:1: job 'd': missing key 'output' (where to save the download)"),
        ("[download d]\nurl = http://127.0.0.1/x\noutput = a b\n",
         "juggle.ini:3: job 'd': a download writes exactly one output, not 2"),
        ("[download d]\nurl = gopher://127.0.0.1/x\noutput = a\n",
         "juggle.ini:2: job 'd': url 'gopher://127.0.0.1/x' is not an http, https, ftp, ftps "
         "or file URL"),
        ("[download d]\nforeach = list:a\nurl = {item}://x\noutput = a\n",
         "juggle.ini:3: job 'd[a]': url 'a://x' is not an http, https, ftp, ftps or file URL"),
        ("[download d]\nurl = http://127.0.0.1/x\noutput = a\nsha256 = abc\n",
         "juggle.ini:4: job 'd': sha256: 'abc' is not 64 hexadecimal digits"),
        ("[download d]\nurl = http://127.0.0.1/x\noutput = a\nmax_size = 5X\n",
         "juggle.ini:4: job 'd': max_size: '5X' is not a size in bytes (such as 500K, 20M, 1G)"),
        ("[download d]\nurl = http://127.0.0.1/x\noutput = a\nrefresh = sometimes\n",
         "juggle.ini:4: job 'd': refresh: 'sometimes' is not conditional, always or once"),
        ("[download d]\nurl = http://127.0.0.1/x\noutput = a\nheader = no colon\n",
         "juggle.ini:4: job 'd': header: 'no colon' is not 'Name: value'"),
        ("[download d]\nurl = http://127.0.0.1/x\noutput = a\ncommand = true\n",
         "juggle.ini:4: job 'd': unknown key 'command' (it belongs to command jobs)"),
    ]
    for text, msg in cases:
        t.ini(text)
        r = t.juggle("check", rc=2)
        assert msg in r.err, (text, msg, r.err)


def test_io_bound_example_against_the_test_bed(t):
    import shutil
    # The example's own folder is what the mirror serves.
    shutil.copytree(os.path.join(ROOT, "examples", "io-bound"), "io-bound")
    shutil.copy(os.path.join(ROOT, "examples", "io-bound.ini"), "io-bound.ini")
    for root, dirs, files in os.walk("io-bound"):
        for name in dirs + files:
            os.chmod(os.path.join(root, name), 0o755 if name in dirs else 0o644)
    web = nginx(t, www="io-bound")
    lines = [l for l in open("io-bound/sites.txt") if l.strip() and not l.startswith("#")]
    assert len(lines) == 160 and len({l.split("/")[0] for l in lines}) == 2
    r = t.juggle("-f", "io-bound.ini", "-b", "serial", "-s", "mirror=" + web.base, rc=0)
    rep = r.report
    assert rep["counts"]["ok"] == 160, rep["counts"]
    assert rep["connections"] == 1
    for j in rep["jobs"]:
        assert j["http_status"] == 200 and j["bytes"] > 0, j
        site = j["name"][len("fetch["):].split("/")[0]
        assert open(j["outputs"][0]).read() == open(
            os.path.join("io-bound", site, "index.html")).read()
    r = t.juggle("-f", "io-bound.ini", "-b", "serial", "-s", "mirror=" + web.base, rc=0)
    assert {j["http_status"] for j in r.report["jobs"]} == {304}
