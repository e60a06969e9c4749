"""The examples in examples/, run as a user would run them.

The DocBook example runs on a subset of its tree (five articles and one
invalid draft) so that CI stays short: each conversion starts a JVM. The
full tree is in bench/docbook.
"""
import os
import re
import shutil

from harness import ROOT, timeout, valgrind_slow

DOCBOOK = os.path.join(ROOT, "examples", "docbook")
JVM_TIMEOUT = 500  # seconds for one run that starts JVMs, on a loaded machine
SUBSET = ["getting-started/installing", "concepts/placeholders", "kinds/cpu/xmlcheck",
          "reference/cli/exit-codes", "howto/cron-wrapper", "drafts/plugin-api"]


def copy_docbook(t, articles=SUBSET):
    shutil.copy(os.path.join(DOCBOOK, "juggle.ini"), "juggle.ini")
    shutil.copytree(os.path.join(DOCBOOK, "tools"), "tools")
    for a in articles:
        os.makedirs(os.path.dirname("docs/" + a), exist_ok=True)
        shutil.copy(os.path.join(DOCBOOK, "docs", a + ".xml"), "docs/" + a + ".xml")


def read_html(path):
    # DocBook XSL 1.x writes ISO-8859-1 pages.
    with open(path, encoding="latin-1") as f:
        return f.read()


def index_links():
    text = open("html/index.html", encoding="utf-8").read()
    return sorted(re.findall(r'<a href="([^"]+)">', text))


@timeout(1500)
@valgrind_slow("hundreds of DocBook jobs: 3 minutes under memcheck")
def test_docbook_subset_checks_converts_indexes_incrementally(t):
    copy_docbook(t)
    r = t.juggle("-k", rc=1, timeout=JVM_TIMEOUT)
    s = r.statuses()
    # The invalid draft is caught by xmlcheck, and Java never sees it.
    assert s["validate[drafts/plugin-api.xml]"] == "failed", s
    assert "emphasys" in r.job("validate[drafts/plugin-api.xml]")["error"] + r.out + r.err
    assert s["convert[drafts/plugin-api.xml]"] == "not-run", s
    assert not os.path.exists("html/drafts/plugin-api.html")
    # The index (when = all_done) links the pages that did convert.
    assert s["index"] == "ok", s
    assert r.job("index")["failed_upstream"] == ["validate[drafts/plugin-api.xml]"]
    valid = [a for a in SUBSET if not a.startswith("drafts/")]
    for a in valid:
        assert s["convert[%s.xml]" % a] == "ok", s
    assert index_links() == sorted(a + ".html" for a in valid), index_links()
    # Real HTML, through Saxon 6.5 and the DocBook XSL stylesheets, offline.
    page = read_html("html/getting-started/installing.html")
    assert "<title>Installing juggle</title>" in page, page[:500]
    assert 'generator" content="DocBook XSL' in page
    assert '<a class="ulink" href="first-graph.html"' in page  # a link to another article
    assert "<table" in page and "make install" in page
    assert "one binary, no daemon &#8212; with" in page  # &mdash; through the catalog
    assert "Exit statuses" in read_html("html/reference/cli/exit-codes.html")

    # Fix the draft: exactly its check and conversion run, then the index.
    fixed = t.read("docs/drafts/plugin-api.xml").replace("emphasys", "emphasis")
    t.write("docs/drafts/plugin-api.xml", fixed)
    r = t.juggle("-k", rc=0, timeout=JVM_TIMEOUT)
    assert r.ran() == ["convert[drafts/plugin-api.xml]", "index",
                       "validate[drafts/plugin-api.xml]"], r.ran()
    links = index_links()
    assert links == sorted(a + ".html" for a in SUBSET), links
    assert "Draft: a plugin interface for job kinds" in t.read("html/index.html")

    # Nothing changed: nothing runs.
    r = t.juggle("-k", rc=0, timeout=JVM_TIMEOUT)
    assert r.ran() == [], r.ran()

    # One article edited: it alone is checked and converted again.
    p = "docs/concepts/placeholders.xml"
    t.write(p, t.read(p).replace("Placeholders give each", "Placeholders, edited, give each"))
    r = t.juggle("-k", rc=0, timeout=JVM_TIMEOUT)
    assert r.ran() == ["convert[concepts/placeholders.xml]", "index",
                       "validate[concepts/placeholders.xml]"], r.ran()
    assert "Placeholders, edited, give each" in read_html("html/concepts/placeholders.html")


@timeout(1500)
@valgrind_slow("DocBook jobs batched and not: over a minute under memcheck")
def test_docbook_batched_output_is_byte_identical(t):
    arts = SUBSET[:3]
    copy_docbook(t, arts)
    t.juggle("-k", rc=0, timeout=JVM_TIMEOUT)
    per_file = {a: open("html/%s.html" % a, "rb").read() for a in arts}
    shutil.rmtree("html")
    r = t.juggle("-k", "-s", "batch=3", "-s", "convert=${saxon6_batch}",
                 "-s", "convert_worker=", rc=0, timeout=JVM_TIMEOUT)
    first, last = min(arts), max(arts)
    name = "convert[%s.xml..%s.xml]" % (first, last)
    assert r.job(name)["status"] == "ok", r.statuses()
    assert [n for n in r.ran() if n.startswith("convert")] == [name], r.ran()
    log = t.read(r.job(name)["log"])
    assert log.count("converted ") == 3, log  # one JVM converted all three
    for a in arts:
        assert open("html/%s.html" % a, "rb").read() == per_file[a], a


@timeout(1500)
@valgrind_slow("DocBook jobs three ways: over a minute under memcheck")
def test_docbook_worker_serves_many_articles_byte_identical(t):
    """The default conversion: tools/DocbookWorker.java as a persistent
    worker (at most two, [pool java]); its pages are byte for byte those
    of one Saxon run per file, and of the worker run one-shot."""
    arts = SUBSET[:5]
    copy_docbook(t, arts)
    r = t.juggle("-k", rc=0, timeout=JVM_TIMEOUT)
    workers = os.listdir(".juggle/workers")
    assert 1 <= len(workers) <= 2, workers  # five articles, at most two JVMs
    for a in arts:
        assert "converted docs/%s.xml" % a in t.read(r.job("convert[%s.xml]" % a)["log"])
    served = {a: open("html/%s.html" % a, "rb").read() for a in arts}
    for how in (["--no-workers"], ["-s", "convert_worker=", "-s", "convert=${saxon6}"]):
        shutil.rmtree("html")
        shutil.rmtree(".juggle")
        t.juggle("-k", *how, rc=0, timeout=JVM_TIMEOUT)
        assert not os.path.exists(".juggle/workers"), how
        for a in arts:
            assert open("html/%s.html" % a, "rb").read() == served[a], (how, a)


@timeout(1500)
@valgrind_slow("DocBook jobs under two processors: about a minute under memcheck")
def test_docbook_processor_switch(t):
    copy_docbook(t, ["reference/cli/exit-codes"])
    for proc in ["xsltproc", "saxonhe"]:
        r = t.juggle("-k", "-B", "-s", "convert=${%s}" % proc, "-s", "convert_worker=",
                     "convert", rc=0, timeout=JVM_TIMEOUT)
        page = read_html("html/reference/cli/exit-codes.html")
        assert "Exit statuses" in page and "<table" in page, (proc, page[:300])
        assert "cron" in page, proc


# ---- the nightly report batch, offline through file:// ----

NIGHTLY = os.path.join(ROOT, "examples", "nightly")


def copy_nightly(t):
    for f in ["juggle.ini", "inputs.txt"]:
        shutil.copy(os.path.join(NIGHTLY, f), f)
    for d in ["bin", "data"]:
        shutil.copytree(os.path.join(NIGHTLY, d), d)
    return "mirror=file://" + os.path.abspath("data")


def expected_totals():
    """Revenue per region in euros, computed here independently of awk."""
    import csv
    rates = {"EUR": 1.0}
    for m in re.finditer(r'currency="([A-Z]+)" value="([0-9.]+)"', open("data/rates.xml").read()):
        rates[m.group(1)] = float(m.group(2))
    out = {}
    for region in ["apac", "eu", "us"]:
        with open("data/sales-%s.csv" % region) as f:
            rows = list(csv.DictReader(f))
        out[region] = (len(rows), sum(int(r["quantity"]) for r in rows),
                       sum(int(r["quantity"]) * float(r["unit_price"]) / rates[r["currency"]]
                           for r in rows))
    return out


@timeout(300)
@valgrind_slow("the whole nightly example and its reruns: about a minute under memcheck")
def test_nightly_offline_end_to_end(t):
    import fcntl
    import gzip
    import subprocess
    mirror = copy_nightly(t)
    r = t.juggle("-s", mirror, rc=0)
    assert r.report["counts"]["ok"] == 20, r.statuses()

    # The numbers are right: totals, best seller, server errors.
    want = expected_totals()
    lines = t.read("work/totals.csv").splitlines()
    assert lines[0] == "region,orders,items,revenue_eur"
    for line in lines[1:]:
        region, orders, items, revenue = line.split(",")
        assert (int(orders), int(items)) == want[region][:2], line
        assert abs(float(revenue) - want[region][2]) < 0.01, (line, want[region])
    text = t.read("report/report.txt")
    total = sum(v[2] for v in want.values())
    assert "Revenue  %12.2f EUR from 118 orders" % total in text, text
    errors = sum(1 for l in open("data/access.log") if l.split('"')[2].split()[0].startswith("5"))
    assert "%d server errors" % errors in text, text
    assert "worst hour 20:00" in text, text
    page = t.read("report/report.html")
    assert "<h1>Nightly report for " in page and "contact-ball" in page

    # One archive for the night, with the outputs, the logs and the reports,
    # and the run's timeline.
    import glob
    import tarfile
    archives = glob.glob("nightly-*.tar.gz")
    assert len(archives) == 1 and re.match(r"nightly-\d{4}-\d\d-\d\d\.tar\.gz$", archives[0]), archives
    names = tarfile.open(archives[0]).getnames()
    for want in ["incoming/sales-eu.csv", "digests/rates.xml.sha256", "store/access.log.gz",
                 "work/totals.csv", "report/report.html", "report/report.txt"]:
        assert want in names, (want, names)
    assert any(n.startswith("logs/") for n in names), names
    assert any(n.startswith("reports/") for n in names), names
    assert "fetch[sales-eu.csv]" in t.read("report/timeline.html")

    # The digests verify with sha256sum, the store decompresses to the input.
    p = subprocess.run(["sh", "-c", "cat digests/*.sha256 | sha256sum -c"],
                       capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.count(": OK") == 5, p.stdout + p.stderr
    assert gzip.open("store/access.log.gz").read() == open("incoming/access.log", "rb").read()

    # The next night with the same data: the fetches run, nothing else does.
    r = t.juggle("-s", mirror, rc=0)
    assert all(n.startswith("fetch[") for n in r.ran()) and len(r.ran()) == 5, r.ran()

    # One feed changed: what depends on it runs, and only that.
    with open("data/sales-us.csv", "a") as f:
        f.write("US-09999,2026-11-24,diabolo,4,26.46,USD\n")
    r = t.juggle("-s", mirror, rc=0)
    ran = [n for n in r.ran() if not n.startswith("fetch[")]
    assert ran == ["digest[sales-us.csv]", "report", "store[sales-us.csv]", "top-products",
                   "totals"], ran
    assert "from 119 orders" in t.read("report/report.txt")

    # Last night's run still going: this one exits 3 and says who holds the lock.
    fd = os.open(".juggle/lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.ftruncate(fd, 0)
    os.write(fd, b"%d\n" % os.getpid())
    r = t.juggle("-q", "-s", mirror, rc=3)
    assert str(os.getpid()) in r.err, r
    os.close(fd)


@timeout(300)
def test_nightly_missing_feed_fails_what_needs_it(t):
    mirror = copy_nightly(t)
    os.remove("data/rates.xml")
    r = t.juggle("-q", "-s", mirror, rc=1)
    s = r.statuses()
    assert s["fetch[rates.xml]"] == "failed", s
    assert s["rates-check"] == "not-run" and s["totals"] == "not-run", s
    assert s["report"] == "not-run", s
    # keep_going = yes in the graph: everything else still ran.
    assert s["traffic"] == "ok" and s["top-products"] == "ok", s
    assert s["digest[access.log]"] == "ok" and s["store[sales-eu.csv]"] == "ok", s


def test_docbook_articles_match_their_sources(t):
    """docs/ is generated from src/ by tools/make-articles.py and committed."""
    import subprocess
    p = subprocess.run([os.path.join(DOCBOOK, "tools", "make-articles.py"), "--check"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "70 articles, 0 differ" in p.stdout, p.stdout
