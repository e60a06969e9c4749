#!/usr/bin/env python3
"""make-index.py INDEX PAGE... - writes an HTML index linking every page.

Pages are grouped by folder, each linked by its <title>. Links are
relative to INDEX, so the html/ tree can be moved or served as it is.
Every title and path is escaped.
"""
import html
import os
import re
import sys
import urllib.parse


def title_of(path):
    with open(path, encoding="latin-1") as f:  # DocBook XSL 1.x writes ISO-8859-1
        text = f.read(8192)
    m = re.search(r"<title>(.*?)</title>", text, re.S)
    raw = m.group(1).strip() if m else os.path.basename(path)
    return html.unescape(re.sub(r"<[^>]+>", "", raw))


def main():
    index, pages = sys.argv[1], sorted(p for p in sys.argv[2:] if p != sys.argv[1])
    base = os.path.dirname(index) or "."
    groups = {}
    for p in pages:
        rel = os.path.relpath(p, base)
        groups.setdefault(os.path.dirname(rel), []).append((title_of(p), rel))
    out = ['<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
           "<title>juggle manual: index</title></head><body>",
           "<h1>juggle manual</h1>",
           "<p>%d pages in %d folders.</p>" % (len(pages), len(groups))]
    for folder in sorted(groups):
        out.append("<h2>%s</h2>\n<ul>" % html.escape(folder or "(top)"))
        for title, rel in sorted(groups[folder], key=lambda x: x[1]):
            out.append('<li><a href="%s">%s</a></li>' % (html.escape(urllib.parse.quote(rel)),
                                                         html.escape(title)))
        out.append("</ul>")
    out.append("</body></html>\n")
    tmp = index + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("\n".join(out))
    os.replace(tmp, index)


if __name__ == "__main__":
    main()
