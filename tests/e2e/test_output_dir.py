"""Folder outputs (juggle.ini(5), an output written DIR/): the job writes a
whole tree into a staging folder that replaces DIR only when it succeeds;
the tree is one output, signed over its files, so a second run does
nothing and a change by hand re-runs the job; jobs reading files inside it
wait for it; a failure leaves the previous tree as it was; juggle replaces
or removes only a tree it wrote, and never follows a link out of it."""
import os
import shutil
import tempfile

from harness import backends

UNPACK = """
[command report]
input = site/index.txt
output = report.txt
command = sh -c 'cat site/index.txt > report.txt; echo report >> ran.log'

[command unpack]
input = src/pages.txt
output = site/
command = sh -c 'mkdir -p "$0/pages" && while read p; do echo "page $p" > "$0/pages/$p.html"; done < src/pages.txt && cp src/pages.txt "$0/index.txt"; echo unpack >> ran.log' {output}
"""


def ran(t):
    """What the jobs logged since the last call."""
    if not os.path.exists("ran.log"):
        return []
    lines = t.read("ran.log").split()
    os.remove("ran.log")
    return sorted(lines)


def outside_folder(t):
    d = tempfile.mkdtemp(prefix="juggle-outside-")
    t.cleanups.append(lambda: shutil.rmtree(d))
    return d


def tree(top):
    """Every file under top with its contents (links by their target)."""
    found = {}
    for root, dirs, files in os.walk(top):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            p = os.path.join(root, name)
            rel = os.path.relpath(p, top)
            found[rel] = "-> " + os.readlink(p) if os.path.islink(p) else open(p).read()
    return found


def staging_left(top="."):
    return [os.path.join(r, d) for r, ds, _ in os.walk(top) for d in ds
            if d.endswith(".juggle-tree") or d.endswith(".juggle-old")]


@backends
def test_tree_is_made_then_up_to_date_then_rerun_on_a_change_by_hand(t):
    """The tree holds what the job wrote into {output}; the job reading a
    file inside it runs after it (it comes first in the file); a second
    run does nothing; a file changed, added or removed inside the tree by
    hand re-runs the job, which puts the tree back."""
    t.write("src/pages.txt", "a\nb\n")
    t.ini(UNPACK)
    r = t.juggle(rc=0)
    assert r.statuses() == {"report": "ok", "unpack": "ok"}, r
    assert tree("site") == {"index.txt": "a\nb\n", "pages/a.html": "page a\n",
                            "pages/b.html": "page b\n"}
    assert t.read("report.txt") == "a\nb\n"
    assert ran(t) == ["report", "unpack"]
    assert staging_left() == []

    r = t.juggle(rc=0)
    assert ran(t) == [], r
    assert "up to date" in r.out, r

    for change in ("edit", "add", "remove"):
        if change == "edit":
            t.write("site/pages/a.html", "vandalised\n")
        elif change == "add":
            t.write("site/pages/extra.html", "x\n")
        else:
            os.remove("site/pages/b.html")
        r = t.juggle("-v", rc=0)
        assert "unpack" in ran(t), (change, r)
        assert tree("site") == {"index.txt": "a\nb\n", "pages/a.html": "page a\n",
                                "pages/b.html": "page b\n"}, change
        assert t.juggle(rc=0).statuses()["unpack"] == "skipped-up-to-date"
        ran(t)

    # A changed input re-runs it with the new tree: old files are gone.
    t.write("src/pages.txt", "c\n")
    r = t.juggle(rc=0)
    assert ran(t) == ["report", "unpack"], r
    assert tree("site") == {"index.txt": "c\n", "pages/c.html": "page c\n"}
    assert t.read("report.txt") == "c\n"


@backends
def test_failure_leaves_the_previous_tree_intact(t):
    """A job that fails after writing half a tree: the previous tree is
    unchanged, the half tree is gone, the run exits 1 and its dependent
    does not run; fixed, it replaces the tree."""
    t.write("src/pages.txt", "a\n")
    t.ini(UNPACK)
    t.juggle(rc=0)
    ran(t)
    before = tree("site")
    t.write("src/pages.txt", "a\nb\n")
    t.ini(UNPACK.replace("echo unpack >> ran.log'", "echo unpack >> ran.log; exit 3'"))
    r = t.juggle(rc=1)
    assert r.statuses() == {"unpack": "failed", "report": "not-run"}, r
    assert "exit" in r.job("unpack")["error"], r.job("unpack")
    assert tree("site") == before, "a failed job changed the previous tree"
    assert staging_left() == [], "a failed job left its staging folder"
    t.ini(UNPACK)
    r = t.juggle(rc=0)
    assert tree("site")["pages/b.html"] == "page b\n", r
    assert staging_left() == []


@backends
def test_a_folder_juggle_did_not_write_is_left_alone(t):
    """A folder the user made stands where the tree goes: the job fails
    naming it and what to do, the folder keeps its files; clean leaves it
    too. Moved away, the job runs."""
    t.write("src/pages.txt", "a\n")
    t.write("site/mine.txt", "my own file\n")
    t.ini(UNPACK)
    r = t.juggle(rc=1)
    err = r.job("unpack")["error"]
    assert "site" in err and "juggle did not write" in err and "move it away" in err, err
    assert tree("site") == {"mine.txt": "my own file\n"}
    assert staging_left() == []
    r = t.juggle("clean", rc=0)
    assert "left the folder 'site' alone" in r.err, r
    assert tree("site") == {"mine.txt": "my own file\n"}
    os.rename("site", "mine")
    t.juggle(rc=0)
    assert "index.txt" in tree("site")
    # The tree juggle wrote is removed by clean, and only it.
    r = t.juggle("clean", rc=0)
    assert not os.path.exists("site"), r
    assert tree("mine") == {"mine.txt": "my own file\n"}


@backends
def test_links_in_the_tree_never_carry_a_write_or_removal_outside(t):
    """The job leaves a link to a folder outside in its tree: replacing
    the tree, signing it and cleaning it remove the link, never what it
    points to; a staging folder the job turns into a link to outside fails
    the job and only the link goes."""
    out = outside_folder(t)
    with open(os.path.join(out, "precious.txt"), "w") as f:
        f.write("keep me\n")
    t.ini("""
        [command unpack]
        output = site/
        command = sh -c 'mkdir -p "$0" && ln -s "$1" "$0/escape" && echo x > "$0/f.txt"' {output} %s
        """ % out)
    t.juggle(rc=0)
    assert os.readlink("site/escape") == out
    assert t.juggle(rc=0).statuses()["unpack"] == "skipped-up-to-date"
    t.juggle("-B", rc=0)  # the old tree, link and all, is removed
    assert os.listdir(out) == ["precious.txt"]
    t.juggle("clean", rc=0)
    assert not os.path.exists("site")
    assert os.listdir(out) == ["precious.txt"]

    t.ini("""
        [command unpack]
        output = site/
        command = sh -c 'rmdir "$0" && ln -s "$1" "$0"' {output} %s
        """ % out)
    r = t.juggle(rc=1)
    assert "not a folder" in r.job("unpack")["error"], r.job("unpack")
    assert not os.path.exists("site") and not os.path.islink("site")
    assert staging_left() == [] and os.listdir(".") .count(".site.juggle-tree") == 0
    assert os.listdir(out) == ["precious.txt"]


@backends
def test_dry_run_changes_nothing(t):
    """-n before the first run and after a change by hand says what would
    run and leaves every file as it was."""
    t.write("src/pages.txt", "a\n")
    t.ini(UNPACK)
    r = t.juggle("-n", rc=0)
    assert "unpack" in r.out, r
    assert not os.path.exists("site") and staging_left() == []
    t.juggle(rc=0)
    ran(t)
    t.write("site/pages/a.html", "changed\n")
    snap = tree("site")
    r = t.juggle("-n", rc=0)
    assert "unpack" in r.out and "changed outside juggle" in r.out, r
    assert tree("site") == snap and staging_left() == [] and ran(t) == []


@backends
def test_glob_foreach_over_the_tree_in_a_later_section(t):
    """A glob foreach over files inside the tree expands once the tree's
    job has made it, in the same run, on a fresh folder too; each instance
    waits for the tree's job."""
    t.write("src/pages.txt", "a\nb\n")
    t.ini(UNPACK + """
[command upper]
foreach = site/pages/*.html
output = up/{stem}.txt
command = sh -c 'tr a-z A-Z < "$0" > "$1"' {input} {output}
""")
    r = t.juggle(rc=0)
    assert r.statuses()["unpack"] == "ok" and r.statuses()["upper[a.html]"] == "ok", r
    assert t.read("up/b.txt") == "PAGE B\n"
    r = t.juggle(rc=0)
    assert set(r.statuses().values()) == {"skipped-up-to-date"}, r
    # Edited by hand: the tree's job puts it back; the page is what it
    # was when upper read it, so upper has nothing to do.
    t.write("site/pages/a.html", "junk\n")
    r = t.juggle(rc=0)
    assert r.statuses()["unpack"] == "ok", r
    assert r.statuses()["upper[a.html]"] == "skipped-up-to-date", r
    assert t.read("site/pages/a.html") == "page a\n" and t.read("up/a.txt") == "PAGE A\n"


def test_only_kinds_that_run_a_program_take_folder_outputs(t):
    """A cpu task writes files: a folder output there is a load error
    naming the line and job."""
    t.write("a.txt", "a\n")
    t.ini("""
        [cpu sum]
        task = sha256
        input = a.txt
        output = sums/
        """)
    r = t.juggle("check", rc=2)
    assert "juggle.ini:5" in r.err and "sum" in r.err and "folder output" in r.err, r


@backends
def test_a_job_reading_the_whole_tree_follows_it(t):
    """input = site/ : the job waits for the tree, is up to date while the
    tree is, and runs again when the tree changes."""
    t.write("src/pages.txt", "a\n")
    t.ini(UNPACK + """
[command pack]
input = site/
output = listing.txt
command = sh -c 'ls -R site > listing.txt; echo pack >> ran.log'
""")
    r = t.juggle(rc=0)
    assert r.statuses()["pack"] == "ok", r
    assert "a.html" in t.read("listing.txt")
    ran(t)
    assert t.juggle(rc=0).statuses()["pack"] == "skipped-up-to-date"
    t.write("src/pages.txt", "a\nb\n")
    r = t.juggle(rc=0)
    assert ran(t) == ["pack", "report", "unpack"], r
    assert "b.html" in t.read("listing.txt")


def test_nothing_else_may_write_inside_a_folder_output(t):
    """Another job's output inside the tree (which the tree's next commit
    would wipe) is a load error naming both jobs."""
    t.ini("""
        [command unpack]
        output = site/
        command = true

        [command extra]
        output = site/extra.txt
        command = true
        """)
    r = t.juggle("check", rc=2)
    assert "juggle.ini:7" in r.err and "'site/extra.txt' is inside the folder output 'site/'" \
        in r.err and "job 'unpack'" in r.err, r


@backends
def test_a_staging_folder_left_by_a_killed_run_is_swept(t):
    """A run killed while the job wrote its tree leaves the staging
    folder; the next run removes it, even with the job up to date."""
    t.write("src/pages.txt", "a\n")
    t.ini(UNPACK)
    t.juggle(rc=0)
    t.write(".site.juggle-tree/pages/half.html", "half\n")
    r = t.juggle(rc=0)
    assert r.statuses()["unpack"] == "skipped-up-to-date", r
    assert staging_left() == [] and "pages/half.html" not in tree("site")


@backends
def test_output_dir_key_and_placeholder(t):
    """output_dir = DIR is a folder output beside the other outputs, one
    per foreach item, written through {output_dir}; {output_dir} in a job
    without one is a load error."""
    t.ini("""
        [command unpack]
        foreach = list:a b
        output_dir = trees/{item}
        output = log-{item}.txt
        command = sh -c 'echo "$0" > "$1"; mkdir "$2/d"; echo "$0" > "$2/d/x"' {item} {output} {output_dir}
        """)
    r = t.juggle(rc=0)
    assert r.statuses() == {"unpack[a]": "ok", "unpack[b]": "ok"}, r
    assert tree("trees") == {"a/d/x": "a\n", "b/d/x": "b\n"}
    assert t.read("log-b.txt") == "b\n"
    assert t.juggle(rc=0).statuses()["unpack[a]"] == "skipped-up-to-date"
    os.remove("trees/b/d/x")
    r = t.juggle(rc=0)
    assert r.statuses() == {"unpack[a]": "skipped-up-to-date", "unpack[b]": "ok"}, r
    assert tree("trees")["b/d/x"] == "b\n"
    t.ini("""
        [command plain]
        output = x.txt
        command = touch {output_dir}
        """)
    r = t.juggle("check", rc=2)
    assert "juggle.ini:4" in r.err and "{output_dir} cannot be used here" in r.err, r


@backends
def test_output_dir_as_the_only_output(t):
    """A section whose one output is output_dir loads (check, -n) and
    runs: the tree is in place, a second run does nothing, and a failure
    leaves neither a tree nor a staging folder."""
    t.ini("""
        [command unpack]
        output_dir = site
        command = sh -c 'mkdir -p "$0/d" && echo made > "$0/d/x"' {output_dir}
        """)
    r = t.juggle("check", rc=0)
    assert "1 job" in r.out, r
    r = t.juggle("-n", rc=0)
    assert "would run unpack" in r.out and not os.path.exists("site"), r
    r = t.juggle(rc=0)
    assert r.statuses() == {"unpack": "ok"}, r
    assert tree("site") == {"d/x": "made\n"}
    assert t.juggle(rc=0).statuses() == {"unpack": "skipped-up-to-date"}
    shutil.rmtree("site")
    t.ini("""
        [command unpack]
        output_dir = site
        command = sh -c 'mkdir -p "$0/d" && echo half > "$0/d/x"; exit 4' {output_dir}
        """)
    r = t.juggle(rc=1)
    assert r.statuses() == {"unpack": "failed"}, r
    assert not os.path.exists("site") and staging_left() == []
