"""A foreach over another job's output: its items are read once that job
has ended in the run (or is up to date), not when the graph loads."""
import os
import re
import shutil

from harness import ROOT, backends

GRAPH = """
    [command make-list]
    input = source.txt
    output = list.txt
    command = cp source.txt list.txt

    [command each]
    foreach = lines:list.txt
    output = out/{item}.txt
    shell = yes
    command = echo item {item} > out/{item}.txt

    [command sum]
    after = each
    output = all.txt
    shell = yes
    command = cat out/*.txt > all.txt
    """


def setup(t, items="a\nb\nc\n"):
    t.write("source.txt", items)
    t.ini(GRAPH)


@backends
def test_foreach_over_a_made_list_expands_after_its_maker(t):
    setup(t)
    # A fresh folder: list.txt does not exist when the graph loads.
    r = t.juggle(rc=0)
    assert "cannot read" not in r.err, r
    assert r.statuses() == {"make-list": "ok", "each[a]": "ok", "each[b]": "ok",
                            "each[c]": "ok", "sum": "ok"}, r.statuses()
    assert t.read("all.txt") == "item a\nitem b\nitem c\n"
    rep = r.report
    assert rep["expanded"] == {"each": {"after": "make-list", "source": "list.txt",
                                        "items": 3}}, rep["expanded"]
    assert rep["counts"]["ok"] == 5, rep["counts"]
    # Each item ran after the list was made.
    made = r.job("make-list")["finished_s"]
    for item in "abc":
        assert r.job("each[%s]" % item)["started_s"] >= made

    # Nothing changed: nothing runs.
    r = t.juggle(rc=0)
    assert r.ran() == [], r.ran()
    assert "nothing to do, 5 jobs up to date" in r.out, r

    # A new item: the list, that item and what comes after, not the others.
    t.write("source.txt", "a\nb\nc\nd\n")
    r = t.juggle(rc=0)
    assert r.ran() == ["each[d]", "make-list", "sum"], r.ran()
    assert t.read("all.txt") == "item a\nitem b\nitem c\nitem d\n"
    assert r.report["expanded"]["each"]["items"] == 4

    # clean knows the items of a list on disk.
    t.juggle("clean", rc=0)
    assert not os.path.exists("out/d.txt") and not os.path.exists("list.txt")


@backends
def test_a_failed_maker_leaves_its_section_not_run(t):
    t.write("source.txt", "a\n")
    t.write("other.txt", "x\ny\n")
    t.ini("""
        [settings]
        keep_going = yes

        [command make-list]
        command = false
        output = list.txt

        [command each]
        foreach = lines:list.txt
        output = out-{item}.txt
        command = touch out-{item}.txt

        [command make-other]
        input = other.txt
        output = other-list.txt
        command = cp other.txt other-list.txt

        [command other]
        foreach = lines:other-list.txt
        output = other-{item}.txt
        command = touch other-{item}.txt
        """)
    r = t.juggle(rc=1)
    assert "cannot read" not in r.err, r
    s = r.statuses()
    assert s["make-list"] == "failed" and s["each"] == "not-run", s
    assert s["make-other"] == "ok" and s["other[x]"] == "ok" and s["other[y]"] == "ok", s
    assert r.report["expanded"]["each"]["items"] is None
    assert r.report["expanded"]["other"]["items"] == 2
    assert not os.path.exists("out-a.txt")


def test_dry_run_list_explain_and_graph_say_it_expands_after_its_maker(t):
    setup(t)
    # Even with a list on disk: it is what the maker will write that counts.
    t.write("list.txt", "old\n")
    r = t.juggle("-n", rc=0)
    assert "each expands after make-list (foreach over 'list.txt')" in r.out, r
    assert "each[old]" not in r.out, r
    assert "1 expand after a job" in r.out, r
    r = t.juggle("list", rc=0)
    line = [l for l in r.out.splitlines() if l.startswith("each\t")]
    assert line == ["each\tcommand\tmake-list\texpands after make-list (foreach over "
                    "'list.txt')"], r.out
    r = t.juggle("explain", rc=0)
    assert "each: expands after make-list (foreach over 'list.txt')" in r.out, r
    r = t.juggle("graph", rc=0)
    assert 'label="each (expands after make-list)"' in r.out, r
    assert '"make-list" -> "each"' in r.out and '"each" -> "sum"' in r.out, r
    assert not os.path.exists(".juggle/last-report.json")


def test_a_cycle_through_a_dynamic_section_is_an_error_with_its_chain(t):
    t.ini("""
        [command make-list]
        after = each
        output = list.txt
        command = touch list.txt

        [command each]
        foreach = lines:list.txt
        output = out-{item}.txt
        command = touch out-{item}.txt
        """)
    r = t.juggle(rc=2)
    assert re.search(r"juggle\.ini:\d+: dependency cycle: "
                     r"(each -> make-list -> each|make-list -> each -> make-list)", r.err), r
    assert not os.path.exists("list.txt")


@backends
def test_a_chain_of_two_dynamic_sections_expands_round_after_round(t):
    t.write("source.txt", "p\nq\n")
    t.ini("""
        [command make-list]
        input = source.txt
        output = list.txt
        command = cp source.txt list.txt

        [command each]
        foreach = lines:list.txt
        output = sub-{item}.txt
        shell = yes
        command = printf '%s1\\n%s2\\n' {item} {item} > sub-{item}.txt

        [command inner]
        foreach = lines:sub-p.txt
        output = inner-{item}.txt
        command = touch inner-{item}.txt
        """)
    r = t.juggle(rc=0)
    s = r.statuses()
    assert s == {"make-list": "ok", "each[p]": "ok", "each[q]": "ok", "inner[p1]": "ok",
                 "inner[p2]": "ok"}, s
    assert r.report["expanded"]["inner"] == {"after": "each[p]", "source": "sub-p.txt",
                                             "items": 2}
    r = t.juggle(rc=0)
    assert r.ran() == [], r.ran()


def warnings(r):
    return [l for l in r.err.splitlines() if "warning" in l]


def test_empty_and_duplicate_foreach_sources_are_warnings_with_their_line(t):
    t.write("empty.txt", "# nothing yet\n\n")
    t.write("twice.txt", "a\nb\na\n")
    t.ini("""
        [command none]
        foreach = nothing/*.xml
        command = true {item}

        [command blank]
        foreach = lines:empty.txt
        command = true {item}

        [command dup]
        foreach = lines:twice.txt
        output = dup-{item}.txt
        command = touch dup-{item}.txt
        """)
    r = t.juggle(rc=0)
    assert warnings(r) == [
        "juggle: warning: juggle.ini:3: job 'none': foreach glob 'nothing/*.xml' yields no "
        "item, so the section makes no job",
        "juggle: warning: juggle.ini:7: job 'blank': foreach file 'empty.txt' yields no item, "
        "so the section makes no job",
        "juggle: warning: juggle.ini:11: job 'dup': foreach item 'a' appears twice in "
        "'twice.txt'; it makes one job",
    ], r.err
    assert sorted(r.statuses()) == ["dup[a]", "dup[b]"], r.statuses()


def test_an_item_not_listed_yet_is_a_target(t):
    setup(t)
    r = t.juggle("each[b]", rc=0)
    assert r.statuses() == {"make-list": "ok", "each[b]": "ok"}, r.statuses()
    assert t.read("out/b.txt") == "item b\n"
    assert not os.path.exists("out/a.txt")
    # Once the list is read, an item it does not hold is an error.
    r = t.juggle("each[zz]", rc=2)
    assert "no job or output is called 'each[zz]'" in r.err, r


def test_a_target_that_matches_nothing_is_an_error(t):
    setup(t)
    r = t.juggle("no-such-job", rc=2)
    assert "no-such-job" in r.err, r
    assert not os.path.exists("list.txt")


DYNAMIC = os.path.join(ROOT, "examples", "dynamic")


@backends
def test_example_fetches_an_index_then_every_page_it_lists(t):
    shutil.copy(os.path.join(DYNAMIC, "juggle.ini"), "juggle.ini")
    shutil.copytree(os.path.join(DYNAMIC, "data"), "data")
    mirror = "mirror=file://" + os.path.abspath("data")
    r = t.juggle("-n", "-s", mirror, rc=0)
    assert "page expands after links (foreach over 'links.txt')" in r.out, r
    r = t.juggle("-s", mirror, rc=0)
    assert r.ran() == ["index", "links", "page[pages/alpha.txt]", "page[pages/beta.txt]",
                       "page[pages/gamma.txt]", "summary"], r.ran()
    for name in ["alpha", "beta", "gamma"]:
        assert t.read("fetched/pages/%s.txt" % name) == t.read("data/pages/%s.txt" % name)
    assert t.read("summary.txt").split() == ["3", "fetched/pages/alpha.txt", "1",
                                             "fetched/pages/beta.txt", "2",
                                             "fetched/pages/gamma.txt", "6", "total"]
    assert r.report["expanded"]["page"]["items"] == 3

    # The index lists one more page: that page is fetched, and the summary
    # made again.
    index = t.read("data/index.html").replace(
        '<li><a href="pages/gamma.txt">gamma</a></li>',
        '<li><a href="pages/gamma.txt">gamma</a></li>\n'
        '<li><a href="pages/delta.txt">delta</a></li>')
    t.write("data/index.html", index)
    r = t.juggle("-s", mirror, rc=0)
    assert r.job("page[pages/delta.txt]")["status"] == "ok"
    assert r.job("summary")["status"] == "ok"
    assert t.read("fetched/pages/delta.txt") == t.read("data/pages/delta.txt")
    assert r.report["expanded"]["page"]["items"] == 4
