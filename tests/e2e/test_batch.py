"""batch = N: many foreach items handed to one command invocation."""
import os

from harness import backends

CONV = """\
import sys
a = sys.argv[1:]
i = a.index("--")
ins, outs = a[:i], a[i + 1:]
with open("calls.log", "a") as f:
    f.write(" ".join(ins) + "\\n")
for s, d in zip(ins, outs):
    if "BAD" in open(s).read():
        sys.exit("cannot convert " + s)
    with open(d, "w") as f:
        f.write(open(s).read().upper())
"""


def setup(t, batch=2):
    t.write("conv.py", CONV)
    for name in ["a", "b", "c", "sub/d", "sub/e"]:
        t.write("in/%s.txt" % name, "text of %s\n" % name)
    t.ini("""
        [command check]
        foreach = in/**/*.txt
        output = ok/{relstem}.ok
        command = cp {input} {output}

        [command up]
        foreach = in/**/*.txt
        batch = %d
        output = out/{relstem}.up
        after = check[{item}]
        command = python3 conv.py {inputs} -- {outputs}

        [command last]
        input = out/sub/e.up
        output = last.txt
        command = cp out/sub/e.up last.txt
        """ % batch)


def calls(t):
    if not os.path.exists("calls.log"):
        return []
    return t.read("calls.log").splitlines()


@backends
def test_batch_one_invocation_per_group_and_incremental(t):
    setup(t)
    r = t.juggle(rc=0)
    # One invocation per group (in any order: groups may run at once).
    assert sorted(calls(t)) == ["in/a.txt in/b.txt", "in/c.txt in/sub/d.txt",
                                "in/sub/e.txt"], calls(t)
    s = r.statuses()
    assert s["up[a.txt..b.txt]"] == "ok" and s["up[c.txt..sub/d.txt]"] == "ok", s
    assert s["up[sub/e.txt]"] == "ok" and s["last"] == "ok", s
    for name in ["a", "b", "c", "sub/d", "sub/e"]:
        assert t.read("out/%s.up" % name) == "TEXT OF %s\n" % name.upper()
    assert r.job("up[a.txt..b.txt]")["outputs"] == ["out/a.up", "out/b.up"]

    # Nothing changed: nothing runs.
    r = t.juggle(rc=0)
    assert r.ran() == [], r.ran()
    assert len(calls(t)) == 3

    # One item changed: its check, then its whole batch, and nothing else.
    t.write("in/c.txt", "new text of c\n")
    r = t.juggle(rc=0)
    assert r.ran() == ["check[c.txt]", "up[c.txt..sub/d.txt]"], r.ran()
    assert calls(t)[3:] == ["in/c.txt in/sub/d.txt"]
    assert t.read("out/c.up") == "NEW TEXT OF C\n"

    # An item's own name is a target: it runs the batch that holds it.
    os.remove("out/sub/d.up")
    r = t.juggle("up[sub/d.txt]", rc=0)
    assert r.ran() == ["up[c.txt..sub/d.txt]"], r.ran()


@backends
def test_batch_failure_fails_the_whole_batch(t):
    setup(t)
    t.write("in/sub/d.txt", "BAD\n")
    r = t.juggle("-k", rc=1)
    s = r.statuses()
    assert s["up[c.txt..sub/d.txt]"] == "failed", s
    assert s["up[a.txt..b.txt]"] == "ok" and s["up[sub/e.txt]"] == "ok", s
    assert "cannot convert in/sub/d.txt" in r.out + r.err
    # The batch's declared outputs are removed, the good item's too.
    assert not os.path.exists("out/c.up") and not os.path.exists("out/sub/d.up")
    # Fixed: only that batch runs again.
    t.write("in/sub/d.txt", "fixed\n")
    r = t.juggle(rc=0)
    assert r.ran() == ["check[sub/d.txt]", "up[c.txt..sub/d.txt]"], r.ran()
    assert t.read("out/sub/d.up") == "FIXED\n"


def test_batch_size_one_is_the_plain_graph(t):
    setup(t, batch=1)
    r = t.juggle(rc=0)
    assert "up[c.txt]" in r.statuses() and "up[sub/d.txt]" in r.statuses()
    assert sorted(calls(t)) == ["in/a.txt", "in/b.txt", "in/c.txt", "in/sub/d.txt",
                                "in/sub/e.txt"]
    # Regrouping changes the jobs, so they run again, in the new groups (and
    # what reads their outputs, since the new batch has no outputs on record).
    setup(t, batch=5)
    r = t.juggle(rc=0)
    assert r.ran() == ["last", "up[a.txt..sub/e.txt]"], r.ran()
    assert calls(t)[5:] == ["in/a.txt in/b.txt in/c.txt in/sub/d.txt in/sub/e.txt"]


def test_batch_dry_run_shows_each_batch_command(t):
    setup(t, batch=3)
    r = t.juggle("-n", "-v", rc=0)
    assert "python3 conv.py in/a.txt in/b.txt in/c.txt -- out/a.up out/b.up out/c.up" in r.out, r
    r = t.juggle("explain", "up[b.txt]", rc=0)
    assert "up[a.txt..c.txt]" in r.out, r
