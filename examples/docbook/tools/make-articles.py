#!/usr/bin/env python3
"""Writes the DocBook 4.5 articles of docs/ from the sources in src/.

The articles are the juggle user manual, written in a small plain-text
markup so that 60-odd files stay easy to edit; this script turns each one
into a DocBook article with real structure (sections, lists, tables,
programlistings, admonitions, links between articles). The generated XML
is committed: the example's graph reads docs/, not src/.

    tools/make-articles.py            rewrite docs/ from src/
    tools/make-articles.py --check    exit 1 if docs/ differs from src/

Markup, one block per paragraph (blank lines between blocks):
    @@ folder/name | Title       starts an article (docs/folder/name.xml)
    == Title                     a section; === a section inside it
    - item / 1. item             itemized / ordered list (indent to continue)
    term :: definition           variable list
    .Caption then | a | b |      a table; its first row is the header
    ``` ... ```                  a programlisting (```screen: a screen)
    NOTE: / TIP: / WARNING:      an admonition
    [[folder/name|text]]         a link to another article's HTML page
    !! <xml>                     raw XML, copied as it is
Paragraph text is DocBook inline markup (<command>, <filename>, &mdash;).
The first paragraph of an article is its abstract.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE article PUBLIC "-//OASIS//DTD DocBook XML V4.5//EN"
  "http://www.oasis-open.org/docbook/xml/4.5/docbookx.dtd">
"""


def esc(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slug(s):
    s = re.sub(r"<[^>]+>|&[a-z]+;", "", s.lower())
    return re.sub(r"[^a-z0-9]+", "-", s).strip("-")


class Article:
    def __init__(self, path, title):
        self.path, self.title = path, title
        self.blocks = []


def parse(text, fname):
    arts = []
    cur = None
    lines = text.split("\n")
    i = 0
    block = []

    def flush():
        if block and cur is not None:
            cur.blocks.append(list(block))
        block.clear()

    while i < len(lines):
        line = lines[i]
        if line.startswith("@@"):
            flush()
            path, title = [x.strip() for x in line[2:].split("|", 1)]
            cur = Article(path, title)
            arts.append(cur)
        elif line.startswith("```"):
            flush()
            kind = line[3:].strip() or "programlisting"
            body = []
            i += 1
            while not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            cur.blocks.append([("```", kind, "\n".join(body))])
        elif not line.strip():
            flush()
        elif line.startswith("#") and not block:
            pass  # a comment in the source
        else:
            block.append(line)
        i += 1
    flush()
    return arts


def links(s, art):
    def rep(m):
        target, text = m.group(1), m.group(2)
        here = os.path.dirname(art.path)
        url = os.path.relpath(target + ".html", here or ".")
        return '<ulink url="%s">%s</ulink>' % (url, text)
    return re.sub(r"\[\[([^|\]]+)\|([^\]]+)\]\]", rep, s)


def items(block, marker):
    out = []
    for line in block:
        m = re.match(marker, line)
        if m:
            out.append(line[m.end():])
        else:
            out[-1] += " " + line.strip()
    return out


def render_block(block, art, ind):
    sp = " " * ind
    first = block[0]
    if isinstance(first, tuple):
        _, kind, body = first
        return "%s<%s>%s</%s>\n" % (sp, kind, esc(body), kind)
    text = [links(l, art) for l in block]
    if first.startswith("!!"):
        return "".join(sp + l[2:].strip() + "\n" for l in text)
    if re.match(r"- ", first):
        its = items(text, r"- ")
        return "%s<itemizedlist>\n%s%s</itemizedlist>\n" % (
            sp, "".join("%s  <listitem><para>%s</para></listitem>\n" % (sp, x) for x in its), sp)
    if re.match(r"\d+\. ", first):
        its = items(text, r"\d+\. ")
        return "%s<orderedlist>\n%s%s</orderedlist>\n" % (
            sp, "".join("%s  <listitem><para>%s</para></listitem>\n" % (sp, x) for x in its), sp)
    if " :: " in first:
        entries = items(text, r"(?=\S.* :: )")
        out = sp + "<variablelist>\n"
        for e in entries:
            term, definition = e.split(" :: ", 1)
            out += "%s  <varlistentry><term>%s</term>\n%s    <listitem><para>%s</para></listitem></varlistentry>\n" % (
                sp, term, sp, definition)
        return out + sp + "</variablelist>\n"
    if first.startswith(".") and len(text) > 1 and text[1].startswith("|"):
        rows = [[c.strip() for c in r.strip().strip("|").split("|")] for r in text[1:]]
        cols = len(rows[0])
        out = '%s<table frame="all"><title>%s</title>\n%s  <tgroup cols="%d">\n' % (
            sp, first[1:], sp, cols)
        out += "%s    <thead><row>%s</row></thead>\n" % (
            sp, "".join("<entry>%s</entry>" % c for c in rows[0]))
        out += "%s    <tbody>\n" % sp
        for r in rows[1:]:
            out += "%s      <row>%s</row>\n" % (sp, "".join("<entry>%s</entry>" % c for c in r))
        return out + "%s    </tbody>\n%s  </tgroup>\n%s</table>\n" % (sp, sp, sp)
    m = re.match(r"(NOTE|TIP|WARNING|IMPORTANT|CAUTION): ", first)
    if m:
        tag = m.group(1).lower()
        body = " ".join(text)[m.end():]
        return "%s<%s><para>%s</para></%s>\n" % (sp, tag, body, tag)
    return "%s<para>%s</para>\n" % (sp, " ".join(text))


def render(art):
    aid = slug(art.path.replace("/", "-"))
    out = [HEADER, '<article id="%s" lang="en">\n' % aid]
    out.append("  <articleinfo>\n    <title>%s</title>\n" % art.title)
    blocks = list(art.blocks)
    if blocks and not isinstance(blocks[0][0], tuple) and not blocks[0][0].startswith(("=", "!!")):
        out.append("    <abstract>\n  %s    </abstract>\n" % render_block(blocks.pop(0), art, 2))
    out.append("    <releaseinfo>juggle 0.1</releaseinfo>\n  </articleinfo>\n")
    depth = 0
    for b in blocks:
        head = b[0] if not isinstance(b[0], tuple) else ""
        m = re.match(r"(==+) (.*)", head)
        if m:
            level = len(m.group(1)) - 1
            while depth >= level:
                depth -= 1
                out.append("  " * (depth + 1) + "</section>\n")
            title = m.group(2)
            out.append('%s<section id="%s-%s">\n%s  <title>%s</title>\n' % (
                "  " * level, aid, slug(title), "  " * level, title))
            depth = level
            if len(b) > 1:
                out.append(render_block(b[1:], art, 2 * depth + 2))
            continue
        out.append(render_block(b, art, 2 * depth + 2))
    while depth > 0:
        depth -= 1
        out.append("  " * (depth + 1) + "</section>\n")
    out.append("</article>\n")
    return "".join(out)


def main():
    check = "--check" in sys.argv[1:]
    arts = []
    srcdir = os.path.join(ROOT, "src")
    for fn in sorted(os.listdir(srcdir)):
        if fn.endswith(".txt"):
            arts += parse(open(os.path.join(srcdir, fn), encoding="utf-8").read(), fn)
    differ = 0
    for a in arts:
        path = os.path.join(ROOT, "docs", a.path + ".xml")
        xml = render(a)
        old = open(path, encoding="utf-8").read() if os.path.exists(path) else None
        if old == xml:
            continue
        differ += 1
        if check:
            print("differs: docs/%s.xml" % a.path)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w", encoding="utf-8") as f:
            f.write(xml)
    print("%d articles, %d %s" % (len(arts), differ, "differ" if check else "written"))
    sys.exit(1 if check and differ else 0)


if __name__ == "__main__":
    main()
