"""Never hang, always killable: libxml2 across worker threads, a second
^C or TERM while a job is stuck, a cpu task's timeout on every backend, and
what an interrupted run says about the jobs it never started."""
import os

from harness import backends, timeout

DOCBOOK_PUBLIC = "-//OASIS//DTD DocBook XML V4.5//EN"
CATALOG = "/etc/xml/catalog"
ARTICLE = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE article PUBLIC "-//OASIS//DTD DocBook XML V4.5//EN"
  "http://www.oasis-open.org/docbook/xml/4.5/docbookx.dtd">
<article id="a%d"><title>Article %d</title><para>Text %d.</para></article>
"""


def docbook_resolves():
    """Whether the DocBook 4.5 DTD resolves offline through the system
    catalog, as examples/docbook needs."""
    import subprocess
    p = subprocess.run(["xmlcatalog", "--noout", CATALOG, DOCBOOK_PUBLIC],
                       capture_output=True, text=True)
    return p.returncode == 0 and "No entry" not in p.stdout


@backends
@timeout(1800)
def test_dtd_checks_on_worker_threads_never_hang(t):
    """Many fresh runs of DTD checks (DocBook through the system catalog,
    as examples/docbook does), four workers each: the first entity each
    worker resolves is where libxml2 sets its catalogs up, so every run is
    a new chance for the workers to race there. Each run must end, with
    every article valid."""
    from harness import Skip
    if not docbook_resolves():
        raise Skip("the DocBook 4.5 DTD does not resolve through %s" % CATALOG)
    n = 8
    for i in range(n):
        t.write("docs/a%d.xml" % i, ARTICLE % (i, i, i))
    t.ini("""
        [cpu validate]
        foreach = docs/*.xml
        task = xmlcheck
        dtd = yes
        output = checked/{stem}.txt
    """)
    runs = 40
    for k in range(runs):
        r = t.juggle("-B", "-j", "4", "-q", rc=0, timeout=120)
        for i in range(n):
            assert t.read("checked/a%d.txt" % i) == "ok docs/a%d.xml\n" % i, (k, r)
