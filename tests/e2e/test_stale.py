"""Stale outputs (juggle(1) list --stale, clean --stale): what juggle wrote
for a job or a foreach item that has left the graph is listed, and removed
on request, but never a file juggle did not write, a file changed since,
an output another job now declares, or anything through a link out of
the graph's folder."""
import os
import shutil
import tempfile

from harness import backends

GRAPH = """
[command page]
foreach = articles/*.txt
output = html/{stem}.html
command = sh -c 'tr a-z A-Z < "$0" > "$1"' {input} {output}
"""


def tree(top="."):
    """Every file under top with its content, .juggle/ left out."""
    out = {}
    for d, dirs, files in os.walk(top):
        dirs[:] = [x for x in dirs if x != ".juggle"]
        for f in files:
            p = os.path.join(d, f)
            out[os.path.relpath(p, top)] = open(p, "rb").read()
    return out


def stale(t):
    return [line.split("\t") for line in t.juggle("list", "--stale", rc=0).out.splitlines()]


@backends
def test_outputs_of_a_deleted_item_are_listed_and_removed(t):
    t.write("articles/a.txt", "a\n")
    t.write("articles/b.txt", "b\n")
    t.ini(GRAPH)
    t.juggle(rc=0)
    assert stale(t) == []
    os.remove("articles/b.txt")
    assert stale(t) == [["html/b.html", "page[b.txt]"]]
    # -n says what it would remove and changes nothing.
    before = tree()
    r = t.juggle("clean", "--stale", "-n", rc=0)
    assert "would remove html/b.html (written by 'page[b.txt]', no longer in the graph)" in r.out
    assert "would remove 1 stale output (dry run" in r.out, r.out
    assert tree() == before
    r = t.juggle("clean", "--stale", rc=0)
    assert "removed 1 stale output" in r.out, r.out
    assert not os.path.exists("html/b.html")
    assert t.read("html/a.html") == "A\n"
    assert stale(t) == []
    # The gone job is forgotten: nothing left to say next time.
    assert "no stale outputs" in t.juggle("clean", "--stale", rc=0).out
    # The graph's own jobs are untouched and up to date.
    r = t.juggle(rc=0)
    assert r.statuses() == {"page[a.txt]": "skipped-up-to-date"}, r.statuses()


def test_a_file_changed_since_or_declared_again_is_not_stale(t):
    t.write("articles/a.txt", "a\n")
    t.write("articles/b.txt", "b\n")
    t.write("articles/c.txt", "c\n")
    t.ini(GRAPH)
    t.juggle(rc=0)
    os.remove("articles/b.txt")
    os.remove("articles/c.txt")
    t.write("html/b.html", "edited by hand\n")
    # c's page is now another job's output.
    t.ini(GRAPH + """
[command keep]
output = html/c.html
command = sh -c 'echo kept > html/c.html'
""")
    assert stale(t) == []
    t.juggle("clean", "--stale", rc=0)
    assert t.read("html/b.html") == "edited by hand\n"
    assert t.read("html/c.html") == "C\n"


def test_a_renamed_section_leaves_the_old_outputs_stale(t):
    t.write("articles/a.txt", "a\n")
    t.ini(GRAPH)
    t.juggle(rc=0)
    t.ini(GRAPH.replace("[command page]", "[command render]").replace("html/", "out/"))
    t.juggle(rc=0)
    assert stale(t) == [["html/a.html", "page[a.txt]"]]
    t.juggle("clean", "--stale", rc=0)
    assert not os.path.exists("html/a.html") and t.read("out/a.html") == "A\n"


def test_never_through_a_link_out_of_the_folder(t):
    t.write("articles/a.txt", "a\n")
    t.ini(GRAPH)
    t.juggle(rc=0)
    # The pages move to out/; html/ is then made a link to a folder
    # outside holding the same bytes, so html/a.html still "matches".
    t.ini(GRAPH.replace("[command page]", "[command render]").replace("html/", "out/"))
    t.juggle(rc=0)
    outside = tempfile.mkdtemp(prefix="juggle-outside-")
    t.cleanups.append(lambda: shutil.rmtree(outside))
    shutil.move("html", os.path.join(outside, "html"))
    os.symlink(os.path.join(outside, "html"), "html")
    r = t.juggle("clean", "--stale", rc=1)
    assert "cannot remove 'html/a.html'" in r.err, r.err
    assert open(os.path.join(outside, "html", "a.html")).read() == "A\n"


def test_a_glob_that_takes_a_stale_output_warns(t):
    """A glob over the pages picks up the page of a deleted article: the
    run says which file, which gone job wrote it, and how to remove it."""
    t.write("articles/a.txt", "a\n")
    t.write("articles/b.txt", "b\n")
    t.ini(GRAPH + """
[command index]
foreach = html/*.html
output = idx/{stem}.txt
command = cp {input} {output}
""")
    r = t.juggle(rc=0)
    assert "foreach glob takes" not in r.err, r.err
    os.remove("articles/b.txt")
    r = t.juggle(rc=0)
    assert ("job 'index[b.html]': its foreach glob takes 'html/b.html', which 'page[b.txt]' "
            "wrote and which is no longer in the graph; `juggle clean --stale` removes it"
            in r.err), r.err
    assert r.err.count("foreach glob takes") == 1, r.err
    t.juggle("clean", "--stale", rc=0)
    # Its index entry was made from the stale page: stale in turn.
    assert stale(t) == [["idx/b.txt", "index[b.html]"]]


@backends
def test_stale_remove_setting_cleans_up_after_a_run_that_succeeded(t):
    t.write("articles/a.txt", "a\n")
    t.write("articles/b.txt", "b\n")
    t.ini("[settings]\nstale = remove\n" + GRAPH)
    t.juggle(rc=0)
    os.remove("articles/b.txt")
    t.write("articles/c.txt", "c\n")
    r = t.juggle(rc=0)
    assert "removed 1 stale output (stale = remove)" in r.out, r.out
    assert not os.path.exists("html/b.html")
    assert t.read("html/a.html") == "A\n" and t.read("html/c.html") == "C\n"
    assert stale(t) == []
    # A run that fails removes nothing.
    os.remove("articles/c.txt")
    t.ini("[settings]\nstale = remove\n" + GRAPH + """
[command broken]
command = false
""")
    r = t.juggle(rc=1)
    assert os.path.exists("html/c.html") and stale(t) == [["html/c.html", "page[c.txt]"]]
    t.ini("[settings]\nstale = tidy\n" + GRAPH)
    r = t.juggle(rc=2)
    assert "juggle.ini:2: stale: 'tidy' is not keep or remove" in r.err, r.err


def test_stale_takes_no_targets_and_only_list_and_clean_take_it(t):
    t.write("articles/a.txt", "a\n")
    t.ini(GRAPH)
    r = t.juggle("clean", "--stale", "page", rc=2)
    assert "clean --stale takes no targets" in r.err, r.err
    r = t.juggle("run", "--stale", rc=2)
    assert "--stale" in r.err, r.err
    # Before any run: nothing to say, and no state folder made.
    assert t.juggle("list", "--stale", rc=0).out == ""
    assert "no stale outputs" in t.juggle("clean", "--stale", rc=0).out
    assert not os.path.exists(".juggle")
