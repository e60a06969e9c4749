"""The cpu kind's xslt task: libxslt inside juggle, byte-identical to
xsltproc --nonet with the same options, on every backend.

The references are xsltproc's own outputs, made in the test; the inputs
are the DocBook example's articles (DocBook 4.5, Debian's DocBook XSL) and
a small DocBook 5 book with an XInclude (docbook-xsl-ns).
"""
import os
import shutil
import subprocess

from harness import ROOT, backends, leftovers, timeout, valgrind_slow

DOCBOOK = os.path.join(ROOT, "examples", "docbook", "docs")
XSL = "/usr/share/xml/docbook/stylesheet/docbook-xsl/html/docbook.xsl"
XSL_NS = "/usr/share/xml/docbook/stylesheet/docbook-xsl-ns/html/docbook.xsl"


def articles(n):
    """The first n valid articles of the DocBook example, as docs/REL."""
    out = []
    for d, _, files in os.walk(DOCBOOK):
        for f in files:
            rel = os.path.relpath(os.path.join(d, f), DOCBOOK)
            if f.endswith(".xml") and not rel.startswith("drafts/"):
                out.append(rel)
    out.sort()
    for rel in out[:n]:
        os.makedirs(os.path.dirname("docs/" + rel), exist_ok=True)
        shutil.copy(os.path.join(DOCBOOK, rel), "docs/" + rel)
    return out[:n]


def xsltproc(*args):
    """xsltproc --nonet ARGS, its standard output as bytes."""
    p = subprocess.run(["xsltproc", "--nonet"] + list(args), capture_output=True)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_docbook_pages_are_byte_identical_to_xsltproc(t):
    """DocBook 4.5 articles through the DTD (from the catalogs, offline)
    and DocBook XSL with a string parameter: the same bytes as xsltproc
    --stringparam; editing a parameter re-runs every conversion."""
    arts = articles(4)
    t.ini("""
        [cpu html]
        foreach = docs/**/*.xml
        output = html/{relstem}.html
        task = xslt
        stylesheet = %s
        params.html.stylesheet = style.css
        params.generate.toc = article nop
        """ % XSL)
    r = t.juggle("-j", "2", rc=0)
    for a in arts:
        want = xsltproc("--stringparam", "html.stylesheet", "style.css",
                        "--stringparam", "generate.toc", "article nop", XSL, "docs/" + a)
        got = read("html/%s.html" % a[:-4])
        assert got == want, a
        assert b'href="style.css"' in got
    assert r.job("html[%s]" % arts[0])["status"] == "ok"
    r = t.juggle(rc=0)
    assert r.ran() == [], r.ran()
    t.ini(t.read("juggle.ini").replace("style.css", "site.css"))
    r = t.juggle("-j", "2", rc=0)
    assert len(r.ran()) == len(arts), r.ran()
    assert b'href="site.css"' in read("html/%s.html" % arts[0][:-4])


BOOK = """<?xml version="1.0" encoding="utf-8"?>
<book xmlns="http://docbook.org/ns/docbook" xmlns:xi="http://www.w3.org/2001/XInclude"
      version="5.0" xml:id="guide">
  <info><title>A small guide</title></info>
  <xi:include href="chapter.xml"/>
  <chapter xml:id="two"><title>Two</title>
    <para>See <xref linkend="one"/>, caf\u00e9 &#8212; <emphasis>done</emphasis>.</para>
  </chapter>
</book>
"""

CHAPTER = """<?xml version="1.0" encoding="utf-8"?>
<chapter xmlns="http://docbook.org/ns/docbook" version="5.0" xml:id="one">
  <title>One, included</title>
  <para>A <link xlink:href="https://example.org/" xmlns:xlink="http://www.w3.org/1999/xlink">link</link>.</para>
  <programlisting>make &amp;&amp; make install</programlisting>
</chapter>
"""


def test_docbook5_with_xinclude_is_byte_identical_to_xsltproc(t):
    """DocBook 5 with docbook-xsl-ns and `xinclude = yes`: the same bytes
    as xsltproc --xinclude; without XInclude the chapter is missing, as it
    is from xsltproc's."""
    t.write("book/guide.xml", BOOK)
    t.write("book/chapter.xml", CHAPTER)
    t.ini("""
        [cpu guide]
        input = book/guide.xml
        output = out/guide.html
        task = xslt
        stylesheet = %s
        xinclude = yes

        [cpu plain]
        input = book/guide.xml
        output = out/plain.html
        task = xslt
        stylesheet = %s
        """ % (XSL_NS, XSL_NS))
    t.juggle("-j", "2", rc=0)
    got = read("out/guide.html")
    assert got == xsltproc("--xinclude", XSL_NS, "book/guide.xml")
    assert b"One, included" in got and b"make &amp;&amp; make install" in got
    plain = read("out/plain.html")
    assert plain == xsltproc(XSL_NS, "book/guide.xml")
    assert b"One, included" not in plain


@backends
@timeout(900)
@valgrind_slow("120 DocBook transforms per backend: minutes under memcheck")
def test_forty_transforms_at_j4_repeated_are_identical_on_every_backend(t):
    """40 DocBook conversions at -j 4, three times over (-B): on the
    threaded backends four workers compile their stylesheets, resolve
    the DTD through the catalogs and transform at once; every page, every
    time, is xsltproc's byte for byte."""
    arts = articles(40)
    t.ini("""
        [cpu html]
        foreach = docs/**/*.xml
        output = html/{relstem}.html
        task = xslt
        stylesheet = %s
        """ % XSL)
    want = {a: xsltproc(XSL, "docs/" + a) for a in arts}
    for k in range(3):
        r = t.juggle("-B", "-j", "4", "-q", rc=0, timeout=600)
        for a in arts:
            assert read("html/%s.html" % a[:-4]) == want[a], (k, a)
        shutil.rmtree("html")


@backends
def test_failures_name_the_file_and_libxslt_message(t):
    """A missing stylesheet, a file that is not XSLT, a document that does
    not parse and a stylesheet that stops with xsl:message each fail their
    job with the file and what libxslt said; the page of a previous success
    stays as it was, and no temporary file is left."""
    t.write("doc.xml", "<doc><item>one</item></doc>\n")
    t.write("bad.xml", "<doc><item>one</doc>\n")
    t.write("plain.xml", "<notxslt/>\n")
    t.write("ok.xsl", """\
        <xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
          <xsl:output method="text"/>
          <xsl:template match="/">items: <xsl:value-of select="count(//item)"/></xsl:template>
        </xsl:stylesheet>
        """)
    t.write("stop.xsl", """\
        <xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
          <xsl:template match="/"><xsl:message terminate="yes">no items here</xsl:message></xsl:template>
        </xsl:stylesheet>
        """)
    t.write("broken.xsl", """\
        <xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
          <xsl:template match="/"><xsl:value-of select="nosuch:f()"/></xsl:template>
        </xsl:stylesheet>
        """)
    t.write("out/stop.txt", "from before\n")
    t.ini("""
        [cpu ok]
        input = doc.xml
        output = out/ok.txt
        task = xslt
        stylesheet = ok.xsl

        [cpu missing]
        input = doc.xml
        output = out/missing.txt
        task = xslt
        stylesheet = nosuch.xsl

        [cpu notxslt]
        input = doc.xml
        output = out/notxslt.txt
        task = xslt
        stylesheet = plain.xml

        [cpu unparsable]
        input = bad.xml
        output = out/unparsable.txt
        task = xslt
        stylesheet = ok.xsl

        [cpu stop]
        input = doc.xml
        output = out/stop.txt
        task = xslt
        stylesheet = stop.xsl

        [cpu broken]
        input = doc.xml
        output = out/broken.txt
        task = xslt
        stylesheet = broken.xsl
        """)
    r = t.juggle("-k", "-j", "2", rc=1)
    assert t.read("out/ok.txt") == "items: 1"
    s = r.statuses()
    assert s["ok"] == "ok", s
    e = {n: r.job(n)["error"] for n in ("missing", "notxslt", "unparsable", "stop", "broken")}
    assert "nosuch.xsl" in e["missing"] and "No such file" in e["missing"], e
    assert "plain.xml" in e["notxslt"] and "not a usable XSLT stylesheet" in e["notxslt"], e
    assert "bad.xml" in e["unparsable"] and "mismatch" in e["unparsable"], e
    assert "stop.xsl" in e["stop"] and "no items here" in e["stop"], e
    assert "no items here" in t.read(r.job("stop")["log"])
    assert "broken.xsl line 2 element value-of" in e["broken"], e
    for n in ("missing", "notxslt", "unparsable", "broken"):
        assert s[n] == "failed" and not os.path.exists("out/%s.txt" % n), (n, s)
    assert s["stop"] == "failed"
    assert t.read("out/stop.txt") == "from before\n"
    assert leftovers() == []


def test_stylesheet_writes_no_file_and_reads_no_network(t):
    """exsl:document (a stylesheet writing a file of its own) is refused,
    and document() of an http URL is not fetched (--nonet): only the task's
    output is written."""
    t.write("doc.xml", "<doc/>\n")
    t.write("write.xsl", """\
        <xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
            xmlns:exsl="http://exslt.org/common" extension-element-prefixes="exsl">
          <xsl:template match="/">
            <exsl:document href="../escaped.txt" method="text">gotcha</exsl:document>
            <xsl:text>main</xsl:text>
          </xsl:template>
        </xsl:stylesheet>
        """)
    t.write("net.xsl", """\
        <xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
          <xsl:output method="text"/>
          <xsl:template match="/">[<xsl:value-of select="count(document('http://127.0.0.1:9/x.xml')/*)"/>]</xsl:template>
        </xsl:stylesheet>
        """)
    os.mkdir("g")
    os.rename("doc.xml", "g/doc.xml")
    os.rename("write.xsl", "g/write.xsl")
    os.rename("net.xsl", "g/net.xsl")
    t.ini("""
        [cpu write]
        input = doc.xml
        output = out/write.txt
        task = xslt
        stylesheet = write.xsl

        [cpu net]
        input = doc.xml
        output = out/net.txt
        task = xslt
        stylesheet = net.xsl
        """, path="g/juggle.ini")
    r = t.juggle("-k", rc=1, cwd="g")
    assert not os.path.exists("escaped.txt")
    assert r.job("write")["status"] == "failed"
    assert "write.xsl" in r.job("write")["error"], r.job("write")
    assert not os.path.exists("g/out/write.txt")
    assert t.read("g/out/net.txt") == "[0]"
    assert "network" in t.read(os.path.join("g", r.job("net")["log"])).lower()


def test_loader_checks_the_xslt_keys(t):
    """The task's keys are checked before anything runs: a stylesheet is
    required, params belong to xslt alone, xinclude is yes or no."""
    t.ini("""
        [cpu a]
        input = x.xml
        output = a.html
        task = xslt

        [cpu b]
        input = x.xml
        output = b.txt
        task = xmlcheck
        params.x = 1

        [cpu c]
        input = x.xml
        output = c.html
        task = xslt
        stylesheet = s.xsl
        xinclude = maybe

        [cpu d]
        input = x.xml
        output = d.html
        task = xslt
        stylesheet = s.xsl
        params.1bad = 1
        """)
    r = t.juggle("check", rc=2, backend=False)
    err = r.err
    assert "job 'a': task xslt needs the key 'stylesheet'" in err, err
    assert "'params.x': params are keys of task xslt only" in err, err
    assert "xinclude: 'maybe' is not yes or no" in err, err
    assert "'1bad' is not a stylesheet parameter's name" in err, err


SHEET = """\
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text"/>
  <xsl:param name="who">nobody</xsl:param>
  <xsl:template match="/">%s <xsl:value-of select="/doc"/> for <xsl:value-of select="$who"/></xsl:template>
</xsl:stylesheet>
"""


@backends
def test_stylesheets_alternate_on_one_worker_and_edits_rerun(t):
    """Two stylesheets used in turn by one worker (-j 1) each give their
    own output (a worker keeps every stylesheet it compiled); a stylesheet
    listed as an input re-runs its jobs when edited, with the new one."""
    for i in range(3):
        t.write("docs/d%d.xml" % i, "<doc>d%d</doc>\n" % i)
    t.write("a.xsl", SHEET % "A")
    t.write("b.xsl", SHEET % "B")
    t.ini("""
        [cpu a]
        foreach = docs/*.xml
        input = a.xsl
        output = a/{stem}.txt
        task = xslt
        stylesheet = a.xsl
        params.who = {stem}'s "reader"

        [cpu b]
        foreach = docs/*.xml
        input = b.xsl
        output = b/{stem}.txt
        task = xslt
        stylesheet = b.xsl
        """)
    t.juggle("-j", "1", rc=0)
    for i in range(3):
        assert t.read("a/d%d.txt" % i) == "A d%d for d%d's \"reader\"" % (i, i)
        assert t.read("b/d%d.txt" % i) == "B d%d for nobody" % i
    t.write("b.xsl", SHEET % "B2")
    r = t.juggle("-j", "1", rc=0)
    assert r.ran() == ["b[d0.xml]", "b[d1.xml]", "b[d2.xml]"], r.ran()
    assert t.read("b/d1.txt") == "B2 d1 for nobody"


LOCAL_DTD = """\
<!ELEMENT doc (p*)>
<!ELEMENT p (#PCDATA|em)*>
<!ELEMENT em (#PCDATA)>
<!ATTLIST doc version CDATA "1">
<!ATTLIST p kind (plain|note|aside) "plain" ref ID #IMPLIED tokens NMTOKENS #IMPLIED>
<!ENTITY who "the <em>reader</em>">
<!ENTITY dash "&#x2014;">
<!ENTITY broken "<em>open">
"""

DUMP = """\
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text"/>
  <xsl:template match="/">ids: <xsl:value-of select="count(id('x'))"/><xsl:apply-templates/></xsl:template>
  <xsl:template match="*">[<xsl:value-of select="name()"/><xsl:for-each select="@*"> <xsl:value-of
      select="name()"/>="<xsl:value-of select="."/>"</xsl:for-each>]<xsl:apply-templates/>[/]</xsl:template>
</xsl:stylesheet>
"""

# In the order one worker converts them: the DTD parsed by the first,
# reused by the next; an internal subset (its own default and entity,
# declared first, so they win) must not leak into the documents after it;
# an entity whose replacement does not parse fails every document that
# uses it, not only the first.
DTD_DOCS = [
    ("d1", '<!DOCTYPE doc SYSTEM "local.dtd">\n'
           '<doc><p ref="x" tokens="  a   b ">&who; &dash; &who;</p></doc>\n'),
    ("d2", '<!DOCTYPE doc SYSTEM "local.dtd">\n'
           '<doc><p kind="note">&who;&dash;</p><p tokens=" c  d"/></doc>\n'),
    ("d3", '<!DOCTYPE doc SYSTEM "local.dtd" [\n'
           '  <!ATTLIST p kind (plain|note|aside) "aside">\n'
           '  <!ENTITY who "someone">\n]>\n'
           '<doc><p ref="x">&who;</p></doc>\n'),
    ("d4", '<!DOCTYPE doc SYSTEM "local.dtd">\n'
           '<doc><p>&who; &dash;</p><p ref="y" tokens="e   f "/></doc>\n'),
    ("bad1", '<!DOCTYPE doc SYSTEM "local.dtd">\n<doc><p>&broken;</p></doc>\n'),
    ("d5", '<!DOCTYPE doc SYSTEM "local.dtd">\n<doc><p ref="x">&who;</p></doc>\n'),
    ("bad2", '<!DOCTYPE doc SYSTEM "local.dtd">\n<doc><p>&broken;&who;</p></doc>\n'),
    ("d6", '<doc><p>no DOCTYPE</p></doc>\n'),
    ("d7", '<!DOCTYPE doc SYSTEM "local.dtd">\n<doc><p>&dash;&who;</p></doc>\n'),
]


@backends
def test_one_worker_reusing_a_dtd_gives_xsltproc_bytes_for_every_document(t):
    """One worker converts, in turn, documents of one DTD with entities
    (text and markup), defaulted and tokenised attributes and IDs, one
    with an internal subset of its own, two using an entity that does not
    parse, and one without a DOCTYPE: every page is xsltproc's, and both
    documents with the broken entity fail, as with xsltproc. The DTD is
    then replaced within the run: the job after that sees the new one."""
    t.write("docs/local.dtd", LOCAL_DTD)
    t.write("dump.xsl", DUMP)
    sections = []
    for name, text in DTD_DOCS:
        t.write("docs/%s.xml" % name, text)
        sections.append("[cpu %s]\ninput = docs/%s.xml\noutput = out/%s.txt\ntask = xslt\n"
                        "stylesheet = dump.xsl\n" % (name, name, name))
    sections.append("[command edit]\nafter = %s\noutput = edited\nshell = yes\ncommand = sed "
                    "'s/\"1\">/\"2\">/' docs/local.dtd > docs/new.dtd && "
                    "mv docs/new.dtd docs/local.dtd && touch edited\n" % DTD_DOCS[-1][0])
    t.write("docs/late.xml", DTD_DOCS[0][1])
    sections.append("[cpu late]\ninput = docs/late.xml\noutput = out/late.txt\ntask = xslt\n"
                    "stylesheet = dump.xsl\nafter = edit\n")
    t.ini("\n".join(sections))
    want = {}
    for name, _ in DTD_DOCS:
        p = subprocess.run(["xsltproc", "--nonet", "dump.xsl", "docs/%s.xml" % name],
                           capture_output=True)
        want[name] = p.stdout if p.returncode == 0 else None
    assert want["bad1"] is None and want["bad2"] is None
    assert b'kind="aside"' in want["d3"] and b"someone" in want["d3"]
    assert b'tokens="a b"' in want["d1"] and b"[em][/]" not in want["d1"]
    r = t.juggle("-k", "-j", "1", "--order", "file", rc=1)
    s = r.statuses()
    for name, _ in DTD_DOCS:
        if want[name] is None:
            assert s[name] == "failed", (name, s)
            assert "docs/%s.xml" % name in r.job(name)["error"], r.job(name)
            assert "Entity 'broken' failed to parse" in t.read(r.job(name)["log"]), name
            assert not os.path.exists("out/%s.txt" % name)
        else:
            assert s[name] == "ok", (name, s)
            assert read("out/%s.txt" % name) == want[name], name
    assert s["late"] == "ok", s
    late = read("out/late.txt")
    assert b'version="2"' in late, late
    assert late == xsltproc("dump.xsl", "docs/late.xml")
