"""Reports people look at: the HTML timeline, the Chrome trace, JUnit XML,
the terminal summary and the archive of a run."""
import base64
import gzip
import hashlib
import html.parser
import io
import json
import lzma
import os
import re
import shutil
import signal
import subprocess
import tarfile
import tempfile
import xml.etree.ElementTree as ET
import zipfile

import harness
from harness import backends, timeout, valgrind_slow
from testbed import nginx


# ---- HTML ----

class Page(html.parser.HTMLParser):
    """The elements, attributes, comments and text of a page, as a browser's
    tokenizer sees them (script and style content is raw text)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags = []        # (tag, {attr: value})
        self.comments = []
        self.text = []        # text outside script and style
        self.scripts = []     # (attrs, raw content)
        self._in = None

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag in ("script", "style"):
            self._in = (tag, dict(attrs), [])

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if self._in and tag == self._in[0]:
            if tag == "script":
                self.scripts.append((self._in[1], "".join(self._in[2])))
            self._in = None

    def handle_data(self, data):
        if self._in:
            self._in[2].append(data)
        else:
            self.text.append(data)

    def handle_comment(self, data):
        self.comments.append(data)


def parse_page(path):
    p = Page()
    with open(path, encoding="utf-8") as f:
        p.feed(f.read())
    p.close()
    return p


def xmllint_count(path, xpath):
    """The count libxml2's HTML parser finds for an XPath expression."""
    out = subprocess.run(["xmllint", "--html", "--xpath", "count(%s)" % xpath, path],
                         capture_output=True, text=True)
    return int(float(out.stdout.strip()))


def download_kind_built(t):
    t.write("probe/juggle.ini", "[download d]\nurl = http://127.0.0.1:9/x\noutput = x\n")
    return t.juggle("-C", "probe", "check", backend=False).rc == 0


def test_html_hostile_strings_stay_text(t):
    evil_file = "<img src=x onerror=alert(3)>.txt"
    t.write(os.path.join("in", evil_file), "x\n")
    graph = """
        [vars]
        evil = <script>alert("desc")</script>

        [command described]
        description = ${evil} & <img src=x onerror=alert(1)> <!-- c -->
        command = true

        [command items]
        foreach = list:<script>alert(2)</script> plain
        command = true

        [command files]
        foreach = in/*.txt
        command = cat {input}

        [command loud]
        command = sh -c 'echo "</script><script>alert(4)</script>"; echo "<!-- <b>x</b>"; exit 1'
        """
    with_download = download_kind_built(t)
    if with_download:
        graph += """
        [download fetch]
        url = http://127.0.0.1:9/<script>alert(5)</script>
        output = fetched.bin
        """
    t.ini(graph)
    r = t.juggle("-k", "--html", "out/report.html", rc=1)
    page = parse_page("out/report.html")

    # Only our two scripts: the data and the code; no element, attribute
    # or comment came from the data.
    assert len(page.scripts) == 2, [a for a, _ in page.scripts]
    assert page.scripts[0][0] == {"type": "application/json", "id": "juggle-data"}
    assert page.scripts[1][0] == {}
    tags = {tag for tag, _ in page.tags}
    assert not tags & {"img", "b", "iframe", "object"}, tags
    assert page.comments == []
    for tag, attrs in page.tags:
        assert not any(a.startswith("on") for a in attrs), (tag, attrs)
        assert "src" not in attrs and "href" not in attrs, (tag, attrs)

    # ... and the strings are all there, as text a reader sees.
    text = "".join(page.text)
    assert '<script>alert("desc")</script> & <img src=x onerror=alert(1)> <!-- c -->' in text
    assert "items[<script>alert(2)</script>]" in text
    assert "files[%s]" % evil_file in text
    assert "</script><script>alert(4)</script>" in text
    assert "<!-- <b>x</b>" in text
    if with_download:
        assert "fetch" in text

    # The embedded data is the report itself, whole.
    data = json.loads(page.scripts[0][1])
    assert data["runs"][0] == r.report

    # No network: a policy that allows nothing but our script, by its hash.
    csp = [a["content"] for tag, a in page.tags
           if tag == "meta" and a.get("http-equiv") == "Content-Security-Policy"]
    assert csp and "default-src 'none'" in csp[0], csp
    digest = base64.b64encode(hashlib.sha256(page.scripts[1][1].encode()).digest()).decode()
    assert "'sha256-%s'" % digest in csp[0]
    raw = t.read("out/report.html")
    assert "url(" not in raw and "@import" not in raw

    # libxml2's HTML parser agrees.
    assert xmllint_count("out/report.html", "//script") == 2
    assert xmllint_count("out/report.html", "//img | //b | //comment()") == 0
    assert xmllint_count("out/report.html", "//@*[starts-with(name(), 'on')]") == 0
    # The timeline: a bar per job that ran, the failure marked.
    assert xmllint_count("out/report.html", "//div[contains(@class, ' bar ') or "
                         "starts-with(@class, 'bar ')]") == len(r.report["jobs"])
    assert xmllint_count("out/report.html", "//div[starts-with(@class, 'bar ') and "
                         "contains(@class, 's-failed')]") == 1 + with_download


def test_html_from_settings_and_up_to_date_run(t):
    t.ini("""
        [settings]
        html = reports/run.html

        [command a]
        output = a.txt
        command = sh -c 'echo a > a.txt'
        """)
    t.juggle(rc=0)
    page = parse_page("reports/run.html")
    assert "1 ok" in "".join(page.text)
    t.juggle(rc=0)
    page = parse_page("reports/run.html")
    assert "1 up to date" in "".join(page.text)
    assert "No job ran." in "".join(page.text)


def test_every_report_shows_an_http_failure_status(t):
    """The terminal summary, the HTML page and JUnit say how a download
    failed in the same words: its HTTP status."""
    if not download_kind_built(t):
        return
    web = nginx(t)
    t.ini("""
        [download gone]
        url = %s/gone.txt
        output = gone.txt
        """ % web.base)
    r = t.juggle("--progress", "none", "--html", "report.html", "--junit", "junit.xml", rc=1)
    assert r.job("gone")["http_status"] == 404
    assert re.search(r"^  gone \(HTTP 404\): ", r.out, re.M), r.out
    fail = [x for x in parse_page("report.html").text if "HTTP 404" in x]
    assert fail and fail[0].startswith("HTTP 404: "), fail
    case = ET.parse("junit.xml").getroot().find("testsuite").find("testcase")
    assert case.find("failure").get("type") == "HTTP 404"


# ---- trace and JUnit ----

GRAPH_MIXED = """
    [command good]
    output = good.txt
    command = sh -c 'echo good > good.txt'

    [command bad]
    command = sh -c 'printf "bell\\007 esc\\033[31m ]]> <tag> &amp;\\n"; exit 3'

    [command after-bad]
    after = bad
    command = true

    [command many]
    foreach = range:1..3
    output = many-{item}.txt
    command = sh -c 'echo "$1" > many-"$1".txt' sh {item}
    """


@backends
def test_trace_has_every_job(t):
    t.ini(GRAPH_MIXED)
    r = t.juggle("-k", "-j", "3", "--trace", "trace.json", rc=1)
    doc = json.load(open("trace.json"))
    events = doc["traceEvents"]
    spans = {e["name"]: e for e in events if e["ph"] == "X"}
    names = {e["name"]: e for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    not_run = {j["name"] for j in doc["juggle_jobs_not_run"]}
    report = r.report
    assert set(spans) | not_run == {j["name"] for j in report["jobs"]}
    assert not set(spans) & not_run
    tids = set()
    for j in report["jobs"]:
        if j["started_s"] is None:
            continue
        e = spans[j["name"]]
        assert e["pid"] == 1 and e["cat"] == j["kind"]
        assert e["tid"] == j["worker"] + 1
        # The trace rounds to whole microseconds; the report keeps 10
        # significant digits, so its seconds are off by up to 5e-10 of
        # their value. Two roundings of one time can land a microsecond
        # apart (8631.5 us): compare within the sum of both.
        slack = 1e-3 * max(1.0, j["finished_s"])
        assert abs(e["ts"] - j["started_s"] * 1e6) <= 0.5 + slack, (e, j)
        assert abs(e["dur"] - (j["finished_s"] - j["started_s"]) * 1e6) <= 1 + slack, (e, j)
        assert e["args"]["status"] == j["status"]
        tids.add(e["tid"])
    assert spans["bad"]["args"]["exit_code"] == 3
    assert "esc" in spans["bad"]["args"]["log_tail"]
    thread_tids = {e["tid"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert thread_tids == tids, (thread_tids, tids)
    assert any(e["ph"] == "M" and e["name"] == "process_name" for e in events)
    assert names  # every lane is named
    assert "after-bad" in not_run


@backends
def test_junit_has_every_job(t):
    t.ini(GRAPH_MIXED)
    r = t.juggle("-k", "--junit", "junit.xml", rc=1)
    root = ET.parse("junit.xml").getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {j["name"] for j in r.report["jobs"]}
    assert suite.get("tests") == str(len(cases)) and suite.get("failures") == "1"
    for j in r.report["jobs"]:
        assert cases[j["name"]].get("classname") == j["kind"]
    bad = cases["bad"].find("failure")
    assert bad is not None and bad.get("type") == "exit code 3"
    # The log's tail, with the characters XML cannot hold replaced.
    assert "]]> <tag> &amp;" in bad.text and "esc" in bad.text
    assert "\x1b" not in bad.text and "\x07" not in bad.text
    skipped = cases["after-bad"].find("skipped")
    assert skipped is not None and skipped.get("message").startswith("not run")
    assert cases["good"].find("failure") is None and cases["good"].find("skipped") is None

    # Next time the good jobs are up to date: skipped, with that reason.
    t.juggle("-k", "--junit", "junit.xml", rc=1)
    suite = ET.parse("junit.xml").getroot().find("testsuite")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert cases["good"].find("skipped").get("message") == "up to date"
    assert cases["many[2]"].find("skipped").get("message") == "up to date"
    assert suite.get("skipped") == "5"  # 4 up to date + after-bad


# ---- terminal summary ----

def test_summary_lists_failures_last(t):
    t.ini("""
        [command fine]
        command = true

        [command exits]
        command = sh -c 'echo first; echo "the reason it broke"; exit 3'

        [command killed]
        command = sh -c 'echo dying; kill -KILL $$$$'
        """)
    r = t.juggle("-k", "--progress", "none", rc=1)
    out = r.out
    table = out.index("slowest jobs")
    path = out.index("critical path:")
    failed = out.index("failed jobs:")
    assert table < path < failed, out
    tail = out[failed:]
    assert re.search(r"^  exits \(exit code 3\): ", tail, re.M), tail
    assert "    | the reason it broke" in tail
    assert re.search(r"^  killed \(killed by SIGKILL\): ", tail, re.M), tail
    assert "    | dying" in tail
    assert "log: .juggle/logs/exits.log" in tail
    # The first line counts everything.
    assert "juggle: 1 ok, 2 failed in " in out


def test_summary_names_cannot_drive_the_terminal(t):
    t.write("in/evil\x1b]0;pwned\x07.txt", "x")
    t.ini("""
        [command show]
        foreach = in/*.txt
        command = sh -c 'printf "\\033[2J cleared"; exit 1'
        """)
    r = t.juggle("--progress", "plain", rc=1)
    assert "\x1b" not in r.out and "\x07" not in r.out, repr(r.out)
    assert "show[evil\\x1b]0;pwned\\x07.txt]" in r.out


# ---- the status line, under a pseudo-terminal ----

def run_pty(t, *args, env=None, cols=60):
    """Runs juggle on a pseudo-terminal of `cols` columns; returns (rc, output)."""
    rc, out = harness.run_pty(t, *args, env=env, cols=cols)
    return rc, out.decode("utf-8", "replace")


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

LONG = "a-job-whose-name-is-much-too-long-for-a-terminal-of-sixty-columns"


def test_status_line_on_a_terminal(t):
    t.ini("""
        [command %s]
        command = true

        [command chatty]
        after = %s
        command = sh -c 'echo this goes to the log, never to the terminal'

        [command flaky]
        after = chatty
        retries = 1
        retry_delay = 0
        command = sh -c 'test -e marker || { touch marker; exit 1; }'
        """ % (LONG, LONG))
    rc, out = run_pty(t)
    assert rc == 0, out
    # Rewritten in place: carriage returns and erase-to-end-of-line.
    assert "\r\x1b[K" in out
    # No status line is wider than the terminal.
    for seg in re.split(r"[\r\n]", ANSI.sub("", out)):
        if seg.startswith("["):
            assert len(seg) <= 59, repr(seg)
    # ninja's format, with the long name shortened in its middle.
    lines = [ANSI.sub("", s) for s in out.split("\r")]
    # A name too long for the line even alone keeps every column of it:
    # the decorations give way first.
    running = [s for s in lines if re.fullmatch(r"\[0/3\] a-job-whose.*\.\.\..*-columns"
                                                r"(\x1b\[K)?", s)]
    assert running, lines
    assert "this goes to the log" not in out
    # A message printed above the line, whole, on a cleared line.
    assert "\r\x1b[Kflaky: attempt 1 failed" in out
    assert not any("left" in s for s in lines)  # no estimate the first time
    summary = out[out.index("juggle: 3 ok"):]
    assert "\r" not in summary.replace("\r\n", "\n")

    # The second run knows how long each job took: it shows what is left.
    os.unlink("marker")
    rc, out = run_pty(t, "-B", cols=200)
    assert rc == 0, out
    assert re.search(r"\d+:\d\d elapsed, ~\d+:\d\d left", out), out


def test_colour_and_no_color(t):
    t.ini("""
        [command broken]
        command = false
        """)
    rc, out = run_pty(t)
    assert rc == 1 and "\x1b[1;31mFAILED" in out, repr(out)
    rc, out = run_pty(t, env={"NO_COLOR": "1"})
    assert rc == 1 and "FAILED broken" in out
    assert not re.search(r"\x1b\[[0-9;]*m", out), repr(out)


def test_plain_and_none_progress(t):
    t.ini("""
        [command a]
        command = true
        [command b]
        after = a
        command = true
        """)
    rc, out = run_pty(t, "--progress", "plain")
    assert rc == 0 and "\r" not in out.replace("\r\n", "\n"), repr(out)
    assert re.search(r"^\[1/2\] ok +a  ", ANSI.sub("", out).replace("\r\n", "\n"), re.M), out
    # Not on a terminal: one plain line per job, without being asked.
    r = t.juggle("-B", rc=0)
    assert "\r" not in r.out and "[2/2] ok" in r.out
    r = t.juggle("-B", "--progress", "none", rc=0)
    assert "[1/2]" not in r.out and "juggle: 2 ok" in r.out
    t.juggle("--progress", "fancy", rc=2)


# ---- archives ----

def tar_bytes(path):
    data = open(path, "rb").read()
    if path.endswith((".tar.gz", ".tgz")):
        assert data[4:8] == b"\0\0\0\0", "gzip header carries a time stamp"
        return gzip.decompress(data)
    if path.endswith(".tar.xz"):
        return lzma.decompress(data)
    if path.endswith(".tar.zst"):
        return subprocess.run(["zstd", "-dc", path], capture_output=True, check=True).stdout
    return data


def members(path):
    """[(name, metadata, raw bytes of the entry)] in archive order."""
    out = []
    if path.endswith(".zip"):
        raw = open(path, "rb").read()
        with zipfile.ZipFile(path) as z:
            for i in z.infolist():
                start = i.header_offset
                nlen = int.from_bytes(raw[start + 26:start + 28], "little")
                elen = int.from_bytes(raw[start + 28:start + 30], "little")
                end = start + 30 + nlen + elen + i.compress_size
                meta = (i.date_time, i.external_attr, i.create_system, i.extra, i.CRC,
                        i.compress_type, i.flag_bits, i.file_size)
                out.append((i.filename, meta, raw[start:end], z.read(i)))
        return out
    raw = tar_bytes(path)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        for m in tf.getmembers():
            end = m.offset_data + (m.size + 511) // 512 * 512
            meta = (m.mode, m.uid, m.gid, m.uname, m.gname, m.mtime, m.type, m.size,
                    m.pax_headers)
            out.append((m.name, meta, raw[m.offset:end], tf.extractfile(m).read()))
    return out


def check_names(entries):
    names = [e[0] for e in entries]
    for n in names:
        assert not n.startswith("/") and ".." not in n.split("/"), n
    assert names == sorted(names, key=lambda s: s.encode()), names
    return names


ARCHIVE_GRAPH = """
    [vars]
    d = %s

    [command make]
    foreach = list:a b c
    output = out/{item}.txt
    command = sh -c 'echo "$1" > "$2"' sh {item} {output}

    [command tool]
    output = bin/tool.sh
    command = sh -c 'printf "#!/bin/sh\\necho hi\\n" > bin/tool.sh; chmod 700 bin/tool.sh'

    [command odd-names]
    output = "out/caf\u00e9 \u2615.txt" deep/${d}${d}/f.txt
    command = sh -c 'echo x > "out/caf\u00e9 \u2615.txt"; echo y > deep/${d}${d}/f.txt'

    [command broken]
    output = out/broken.txt
    command = sh -c 'echo half > out/broken.txt; exit 1'
    """ % ("d" * 100)
LONG_DIR = "deep/%s/f.txt" % ("d" * 200)

FORMATS = [".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.zst", ".zip"]


@timeout(300)
@valgrind_slow("every archive format packed twice: 3 minutes under memcheck, mostly in "
               "libarchive's compressors")
def test_archives_reproducible_in_every_format(t):
    env = {"SOURCE_DATE_EPOCH": "1700000000"}
    for d in ("one", "two"):
        t.ini(ARCHIVE_GRAPH, path=os.path.join(d, "juggle.ini"))
    outside = lambda e: not e[0].startswith(("logs/", "reports/"))
    for ext in FORMATS:
        name = "nightly" + ext
        r1 = t.juggle("-C", "one", "-k", "-B", "--archive", name, env=env, rc=1)
        assert "archived" in r1.out, r1
        # The other folder, other file times, an up-to-date second pass.
        t.juggle("-C", "two", "-k", "-B", env=env, rc=1)
        for root, _, files in os.walk("two/out"):
            for f in files:
                os.utime(os.path.join(root, f), (1234567, 1234567))
        t.juggle("-C", "two", "-k", "--archive", name, env=env, rc=1)
        # 'broken' fails, so each run's archive is the partial one.
        written = "nightly.partial" + ext
        assert not os.path.exists(os.path.join("one", name))
        a = members(os.path.join("one", written))
        b = members(os.path.join("two", written))
        names = check_names(a)
        assert check_names(b) == names
        assert "out/a.txt" in names and "bin/tool.sh" in names
        assert "out/caf\u00e9 \u2615.txt" in names and LONG_DIR in names
        assert "out/broken.txt" not in names, "a failed job's output was archived"
        assert "logs/broken.log" in names and "reports/report.json" in names
        assert "MANIFEST.sha256" in names and "manifest.json" in names
        ea = [e for e in a if outside(e)]
        eb = [e for e in b if outside(e)]
        assert [e[0] for e in ea] == [e[0] for e in eb]
        for x, y in zip(ea, eb):
            assert x[1] == y[1], (ext, x[0], x[1], y[1])
            assert x[2] == y[2], (ext, x[0], "bytes differ")
        by_name = {e[0]: e for e in a}
        if ext != ".zip":
            meta = by_name["bin/tool.sh"][1]
            assert meta[:5] == (0o755, 0, 0, "", ""), meta
            assert by_name["out/a.txt"][1][0] == 0o644
            assert all(e[1][5] == 1700000000 for e in a)
        else:
            assert (by_name["bin/tool.sh"][1][1] >> 16) & 0o777 == 0o755
        # The manifest names every output with its digest.
        sums = by_name["MANIFEST.sha256"][3].decode()
        for n, e in by_name.items():
            if outside(e) and n not in ("MANIFEST.sha256", "manifest.json"):
                assert "%s  %s\n" % (hashlib.sha256(e[3]).hexdigest(), n) in sums, n
        manifest = json.loads(by_name["manifest.json"][3])
        assert {f["path"]: f["job"] for f in manifest["files"]}["out/b.txt"] == "make[b]"
        assert all(f["size"] == len(by_name[f["path"]][3]) for f in manifest["files"])


def test_archive_verifies_with_sha256sum(t):
    t.ini(ARCHIVE_GRAPH)
    t.juggle("-k", "--archive", "a.tar", rc=1)
    os.mkdir("x")
    with tarfile.open("a.partial.tar") as tf:
        tf.extractall("x")
    p = subprocess.run(["sha256sum", "-c", "MANIFEST.sha256"], cwd="x", capture_output=True,
                       text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.count(": OK") == 6, p.stdout


def test_archive_from_settings_holds_up_to_date_outputs_and_reports(t):
    t.ini("""
        [settings]
        archive = dist/nightly-${date}.tar.gz
        html = run.html
        junit = junit.xml
        trace = trace.json

        [command a]
        output = a.txt
        command = sh -c 'echo making a.txt; echo a > a.txt'
        """)
    t.juggle(rc=0)
    t.juggle(rc=0)  # everything up to date: the archive still holds it all
    [name] = os.listdir("dist")
    assert re.match(r"nightly-\d{4}-\d\d-\d\d\.tar\.gz$", name)
    names = check_names(members(os.path.join("dist", name)))
    assert names == ["MANIFEST.sha256", "a.txt", "logs/a.log", "manifest.json",
                     "reports/junit.xml", "reports/report.html", "reports/report.json",
                     "reports/trace.json"], names
    assert not [f for f in os.listdir("dist") if f.startswith(".")], "temporary left"


def test_archive_leaves_out_links_and_itself(t):
    outside = tempfile.mkdtemp(prefix="juggle-outside-")
    t.cleanups.append(lambda: shutil.rmtree(outside))
    with open(os.path.join(outside, "secret.txt"), "w") as f:
        f.write("SECRET\n")
    # A job that leaves its output as a link leading outside fails, so the
    # links are made by later jobs, behind the declared outputs' backs.
    t.ini("""
        [command link]
        output = out/passwd
        command = touch out/passwd

        [command dirlink]
        output = d/secret.txt
        command = touch d/secret.txt

        [command swap]
        after = link dirlink
        command = sh -c 'ln -sf /etc/passwd out/passwd && rm -r d && ln -s %s d'

        [command self]
        output = nightly.tar
        command = sh -c 'echo not an archive > nightly.tar'

        [command fine]
        output = fine.txt
        command = sh -c 'echo fine > fine.txt'
        """ % outside)
    r = t.juggle("--archive", "nightly.tar", rc=0)
    entries = members("nightly.tar")
    names = check_names(entries)
    assert "fine.txt" in names
    for n in ("out/passwd", "d/secret.txt", "nightly.tar"):
        assert n not in names, names
    for e in entries:
        assert b"SECRET" not in e[3] and b"root:" not in e[3], e[0]
    assert "'out/passwd' left out" in r.err and "'d/secret.txt' left out" in r.err
    assert "'nightly.tar' left out: it is the archive itself" in r.err


def test_archive_and_report_errors_come_before_any_job(t):
    t.ini("""
        [command marker]
        command = touch ran
        """)
    t.write("afile", "x")
    os.mkdir("adir.tar")
    r = t.juggle("--archive", "out.rar", rc=2)
    assert "unknown format" in r.err and ".tar.zst" in r.err, r.err
    t.juggle("--archive", "afile/out.tar", rc=3)
    r = t.juggle("--archive", "adir.tar", rc=3)
    assert "it is a folder" in r.err
    t.juggle("--html", "afile/r.html", rc=3)
    t.juggle("--junit", "afile/j.xml", rc=3)
    t.juggle("--trace", "afile/t.json", rc=3)
    t.juggle("--report", "afile/r.json", rc=3)
    r = t.juggle("--archive", "a.tar", env={"SOURCE_DATE_EPOCH": "yesterday"}, rc=2)
    assert "SOURCE_DATE_EPOCH" in r.err
    t.ini("""
        [settings]
        archive = nightly.7z
        [command marker]
        command = touch ran
        """)
    r = t.juggle(rc=2)
    assert "nightly.7z" in r.err
    assert not os.path.exists("ran"), "a job ran before the error"
    assert not [f for f in os.listdir(".") if ".juggle-" in f], os.listdir(".")


def test_dry_run_writes_no_reports(t):
    t.ini("""
        [command a]
        command = true
        """)
    t.juggle("-n", "--html", "r.html", "--trace", "t.json", "--junit", "j.xml",
             "--archive", "a.zip", rc=0)
    for f in ("r.html", "t.json", "j.xml", "a.zip"):
        assert not os.path.exists(f), f


def test_interrupted_run_writes_reports_but_no_archive(t):
    t.ini("""
        [command long]
        command = sh -c 'echo started > started; exec sleep 300'
        """)
    os.mkfifo("started")
    p = t.spawn("--progress", "none", "--html", "r.html", "--junit", "j.xml",
                "--archive", "a.tar")
    with open("started") as f:
        f.read()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=30)
    assert p.returncode == 130, (out, err)
    assert os.path.exists("r.html") and os.path.exists("j.xml")
    assert not os.path.exists("a.tar")
    assert re.search(r"interrupted; archive '[^']*/a\.tar' not written", err), err
    suite = ET.parse("j.xml").getroot().find("testsuite")
    assert suite.find("testcase").find("error").get("type") in ("interrupted", "killed by SIGTERM")
