"""The graph features decided while a run goes - a foreach over another
job's output, folder outputs, trigger rules - on --backend slurm, in both
modes: slurm_mode = steps (one srun per attempt; commands run their own
argv, other kinds `juggle exec-job` on the node) and slurm_mode =
allocation (`juggle worker`s in one sbatch allocation, sent each job over
the run's connection). The private single-node Slurm of test_slurm.py;
root and Debian's Slurm packages are needed, else skipped."""
import hashlib
import os

from harness import timeout
import test_slurm
import test_slurm_alloc

VALGRIND_SLOW = "a private Slurm per test and its workers: minutes under memcheck"

MODES = ("steps", "allocation")


def modes(fn):
    """Runs the test once per slurm_mode; the mode is t.param."""
    fn.params = lambda: list(MODES)
    return fn


def start(t, workers=2):
    """The cluster, and the [settings] the graph starts with for t.param's
    mode (allocation: `workers` workers on loopback)."""
    if t.param == "allocation":
        c = test_slurm_alloc.cluster(t)
        return c, test_slurm_alloc.SETTINGS % workers
    return test_slurm.cluster(t), "\n        [settings]\n        slurm_mode = steps\n"


def nothing_left(t, c):
    """No Slurm job of the run outlives it (allocation: its workers)."""
    if t.param == "allocation":
        assert test_slurm_alloc.ours(c) == [], test_slurm_alloc.ours(c)


def sha256(text):
    return hashlib.sha256(text.encode()).hexdigest()


DYNAMIC = """
        [command make-list]
        input = source.txt
        output = list.txt
        command = cp source.txt list.txt

        [command each]
        foreach = lines:list.txt
        output = out/{item}.txt
        command = sh -c 'echo "item $0" > "$1"' {item} {output}

        [cpu digest]
        foreach = lines:list.txt
        task = sha256
        input = out/{item}.txt
        output = out/{item}.sha256

        [command sum]
        after = each digest
        output = all.txt
        command = sh -c 'cat out/*.txt > all.txt'
        """


@modes
@timeout(240)
def test_slurm_foreach_over_a_made_list(t):
    """The list is made on the cluster, then each item of both dynamic
    sections (a command, and a cpu task that runs as juggle on the node)
    is built in the same run, on the cluster; a second run with one more
    item builds only that item, the list and what follows."""
    c, settings = start(t)
    t.write("source.txt", "a\nb\n")
    t.ini(settings + DYNAMIC)
    r = t.juggle("-j", "2", rc=0)
    assert r.statuses() == {"make-list": "ok", "each[a]": "ok", "each[b]": "ok",
                            "digest[a]": "ok", "digest[b]": "ok", "sum": "ok"}, r
    assert t.read("all.txt") == "item a\nitem b\n"
    for item in "ab":
        assert sha256("item %s\n" % item) in t.read("out/%s.sha256" % item)
        for name in ("each[%s]" % item, "digest[%s]" % item):
            j = r.job(name)
            assert j["node"] == c.node and j["slurm_job_id"] > 0, j
    assert r.report["expanded"]["each"] == {"after": "make-list", "source": "list.txt",
                                            "items": 2}, r.report["expanded"]
    nothing_left(t, c)

    r = t.juggle("-j", "2", rc=0)
    assert r.ran() == [], r

    t.write("source.txt", "a\nb\nc\n")
    r = t.juggle("-j", "2", rc=0)
    assert r.ran() == ["digest[c]", "each[c]", "make-list", "sum"], r
    assert t.read("all.txt") == "item a\nitem b\nitem c\n"
    assert sha256("item c\n") in t.read("out/c.sha256")
    assert r.job("each[c]")["node"] == c.node
    nothing_left(t, c)


@modes
@timeout(240)
def test_slurm_glob_over_a_made_folder(t):
    """A glob foreach over a folder output made in the same run: its items
    are the files the job wrote there, built on the cluster in that run; a
    second run with one more file builds only that item."""
    c, settings = start(t)
    t.write("names.txt", "a\nb\n")
    t.ini(settings + """
        [command split]
        input = names.txt
        output_dir = parts
        command = sh -c 'while read n; do echo "part $n" > "$0/$n.txt"; done < names.txt' {output_dir}

        [cpu digest]
        foreach = parts/*.txt
        task = sha256
        output = sums/{stem}.sha256

        [command upper]
        foreach = parts/*.txt
        output = up/{stem}.txt
        command = sh -c 'tr a-z A-Z < "$0" > "$1"' {input} {output}
        """)
    r = t.juggle("-j", "2", rc=0)
    assert r.statuses() == {"split": "ok", "digest[a.txt]": "ok", "digest[b.txt]": "ok",
                            "upper[a.txt]": "ok", "upper[b.txt]": "ok"}, r
    for n in "ab":
        assert t.read("up/%s.txt" % n) == "PART %s\n" % n.upper()
        assert sha256("part %s\n" % n) in t.read("sums/%s.sha256" % n)
        assert r.job("upper[%s.txt]" % n)["node"] == c.node
    t.write("names.txt", "a\nb\nc\n")
    r = t.juggle("-j", "2", rc=0)
    assert r.ran() == ["digest[c.txt]", "split", "upper[c.txt]"], r
    assert t.read("up/c.txt") == "PART C\n"
    nothing_left(t, c)


@modes
@timeout(240)
def test_slurm_output_dir(t):
    """A job whose only output is a folder, run on the cluster: failing
    after writing half its tree, it leaves neither the tree nor its
    staging folder and its reader does not run; succeeding, the whole
    tree is in place, a cpu task reads a file inside it, and a second run
    does nothing."""
    c, settings = start(t)
    graph = settings + """
        [command unpack]
        output_dir = site
        command = sh -c 'mkdir -p "$0/pages" && echo page > "$0/pages/a.html" && test ! -e broken && echo index > "$0/index.txt"' {output_dir}

        [cpu digest]
        task = sha256
        input = site/index.txt
        output = index.sha256
        """
    t.ini(graph)
    t.write("broken", "")
    r = t.juggle("-j", "2", rc=1)
    assert r.statuses() == {"unpack": "failed", "digest": "not-run"}, r
    assert r.job("unpack")["node"] == c.node, r.job("unpack")
    assert not os.path.exists("site") and not os.path.exists("index.sha256")
    left = [n for n in os.listdir(".") if n.endswith(".juggle-tree") or
            n.endswith(".juggle-old")]
    assert left == [], left

    os.remove("broken")
    r = t.juggle("-j", "2", rc=0)
    assert r.statuses() == {"unpack": "ok", "digest": "ok"}, r
    found = sorted(os.path.relpath(os.path.join(d, f), "site")
                   for d, _, fs in os.walk("site") for f in fs)
    assert found == ["index.txt", "pages/a.html"], found
    assert t.read("site/pages/a.html") == "page\n" and t.read("site/index.txt") == "index\n"
    assert sha256("index\n") in t.read("index.sha256")
    assert [n for n in os.listdir(".") if "juggle-tree" in n or "juggle-old" in n] == []
    r = t.juggle("-j", "2", rc=0)
    assert r.ran() == [], r
    nothing_left(t, c)


WHEN = """
        [command conv]
        foreach = list:a b c
        output = out/{item}.txt
        command = sh -c 'case "$0" in b|c) exit 3;; esac; echo "$0" > "$1"' {item} {output}

        [command summary]
        when = all_done
        input = out/a.txt out/b.txt out/c.txt
        output = summary.txt
        command = sh -c 'echo "$*" > summary.txt; echo "$JUGGLE_FAILED" >> summary.txt' sh {inputs}

        [command mail]
        when = any_failed
        after = summary
        output = mail.txt
        command = sh -c 'printf "to: ops\\n%s\\n" "$JUGGLE_FAILED" > mail.txt'

        [command quiet]
        when = any_failed
        after = conv[a]
        output = quiet.txt
        command = touch quiet.txt
        """


@modes
@timeout(240)
def test_slurm_trigger_rules(t):
    """when = all_done and when = any_failed run on the cluster with the
    failed jobs upstream in JUGGLE_FAILED, one a line; a trigger job with
    nothing failed upstream is skipped; the run still exits 1."""
    c, settings = start(t)
    t.ini(settings + WHEN)
    r = t.juggle("-k", "-j", "2", rc=1)
    assert r.statuses() == {"conv[a]": "ok", "conv[b]": "failed", "conv[c]": "failed",
                            "summary": "ok", "mail": "ok",
                            "quiet": "skipped-nothing-failed"}, r
    assert t.read("summary.txt") == "out/a.txt\nconv[b]\nconv[c]\n"
    assert t.read("mail.txt") == "to: ops\nconv[b]\nconv[c]\n"
    for name in ("summary", "mail"):
        assert r.job(name)["node"] == c.node, r.job(name)
    assert r.job("summary")["failed_upstream"] == ["conv[b]", "conv[c]"]
    assert not os.path.exists("quiet.txt")
    nothing_left(t, c)


@timeout(240)
def test_slurm_alloc_worker_without_the_item_says_so(t):
    """allocation: a worker whose graph has no job the run sends (here the
    nodes' environment names another list than the host's) fails that job
    with an error saying so, and goes on with the next one."""
    c = test_slurm_alloc.cluster(t)
    t.write("source.txt", "a\nz\n")
    t.write("other.txt", "z\n")
    t.ini(test_slurm_alloc.SETTINGS % 1 + """
        slurm_args = --export=ALL,JUGGLE_LIST=other.txt

        [command make-list]
        input = source.txt
        output = list.txt
        command = cp source.txt list.txt

        [command each]
        foreach = lines:${env:JUGGLE_LIST}
        output = out/{item}.txt
        command = sh -c 'echo "item $0" > "$1"' {item} {output}
        """)
    r = t.juggle("-k", "-j", "1", "--order", "file", env={"JUGGLE_LIST": "list.txt"}, rc=1)
    assert r.statuses() == {"make-list": "ok", "each[a]": "failed", "each[z]": "ok"}, r
    err = r.job("each[a]")["error"]
    assert "has no job 'each[a]'" in err and c.node in err, err
    assert r.job("each[a]")["attempts"] == 1
    assert not os.path.exists("out/a.txt") and t.read("out/z.txt") == "item z\n"
    assert test_slurm_alloc.ours(c) == []
