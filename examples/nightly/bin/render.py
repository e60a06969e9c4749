#!/usr/bin/env python3
"""render.py DATE HTML TEXT - the nightly report, as a page and as text.

Reads what the graph computed (work/totals.csv, work/top-products.csv,
work/http-by-hour.csv), the input digests (digests/*.sha256) and the
inputs' sizes (incoming/), and writes a self-contained HTML page and a
plain-text summary for the mail. Every value from the data is escaped:
the inputs come from a server.
"""
import csv
import glob
import html
import os
import sys


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def write_atomic(path, text):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def main():
    date, out_html, out_text = sys.argv[1:4]
    totals = rows("work/totals.csv")[1:]
    top = rows("work/top-products.csv")
    hours = rows("work/http-by-hour.csv")[1:]
    digests = []
    for p in sorted(glob.glob("digests/*.sha256")):
        with open(p) as f:
            for line in f:
                h, name = line.rstrip("\n").split("  ", 1)
                digests.append((name, os.path.getsize(name), h))

    revenue = sum(float(r[3]) for r in totals)
    orders = sum(int(r[1]) for r in totals)
    requests = sum(int(h[1]) for h in hours)
    errors = sum(int(h[2]) for h in hours)
    worst = max(hours, key=lambda h: (int(h[2]), -int(h[0])))

    text = ["Nightly report for %s" % date, "",
            "Revenue  %12.2f EUR from %d orders" % (revenue, orders)]
    for r in totals:
        text.append("  %-6s %12.2f EUR  %4s orders  %4s items" % (r[0], float(r[3]), r[1], r[2]))
    text += ["", "Top products by quantity"]
    text += ["  %-16s %5s" % (p, q) for p, q in top]
    text += ["", "Web: %d requests, %d server errors (%.1f%%); worst hour %s:00 with %s"
             % (requests, errors, 100.0 * errors / max(requests, 1), worst[0], worst[2]),
             "", "Inputs"]
    text += ["  %-24s %8d bytes  sha256 %s" % d for d in digests]
    write_atomic(out_text, "\n".join(text) + "\n")

    e = html.escape
    peak = max(int(h[1]) for h in hours) or 1
    bars = "".join(
        '<tr><td>%s:00</td><td><div class="bar" style="width:%dpx"></div></td>'
        '<td class="n">%s</td><td class="n%s">%s</td></tr>'
        % (e(h[0]), 300 * int(h[1]) // peak, e(h[1]), " bad" if int(h[2]) else "", e(h[2]))
        for h in hours)
    page = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Nightly report for {date}</title>
<style>
body {{ font: 14px sans-serif; margin: 2em; color: #222 }}
table {{ border-collapse: collapse; margin-bottom: 1.5em }}
td, th {{ padding: 2px 10px; border-bottom: 1px solid #ddd; text-align: left }}
.n {{ text-align: right; font-variant-numeric: tabular-nums }}
.bad {{ color: #b00; font-weight: bold }}
.bar {{ background: #4a7fb5; height: 10px }}
code {{ font-size: 12px }}
</style></head><body>
<h1>Nightly report for {date}</h1>
<p>Revenue <b>{revenue:,.2f} EUR</b> from {orders} orders.
Web: {requests} requests, <span class="{errclass}">{errors} server errors</span>.</p>
<h2>Revenue by region</h2>
<table><tr><th>Region</th><th class="n">Orders</th><th class="n">Items</th><th class="n">Revenue (EUR)</th></tr>
{totals}</table>
<h2>Top products</h2>
<table><tr><th>Product</th><th class="n">Quantity</th></tr>
{top}</table>
<h2>Web traffic by hour</h2>
<table><tr><th>Hour</th><th>Requests</th><th class="n"></th><th class="n">5xx</th></tr>
{bars}</table>
<h2>Inputs</h2>
<table><tr><th>File</th><th class="n">Bytes</th><th>SHA-256</th></tr>
{digests}</table>
</body></html>
""".format(
        date=e(date), revenue=revenue, orders=orders, requests=requests, errors=errors,
        errclass="bad" if errors else "",
        totals="".join('<tr><td>%s</td><td class="n">%s</td><td class="n">%s</td>'
                       '<td class="n">%s</td></tr>\n' % (e(r[0]), e(r[1]), e(r[2]), e(r[3]))
                       for r in totals),
        top="".join('<tr><td>%s</td><td class="n">%s</td></tr>\n' % (e(p), e(q))
                    for p, q in top),
        bars=bars,
        digests="".join('<tr><td>%s</td><td class="n">%d</td><td><code>%s</code></td></tr>\n'
                        % (e(n), s, e(h)) for n, s, h in digests))
    write_atomic(out_html, page)


if __name__ == "__main__":
    main()
