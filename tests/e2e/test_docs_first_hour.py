"""The first hour with juggle: the bash completion offers what a user types
(targets as outputs, bare foreach names, -s values, --option=value), the
package sets `make demo` and `make test` install, and the docs' claims
(where `description` shows, how long a name may be, the man pages' visible
examples and sections)."""
import json
import os
import re
import subprocess

import harness
from harness import ROOT, no_valgrind
from test_man import MAN1, MAN5, read

DEPS = os.path.join(ROOT, "tools", "deps")


def complete(t, *words, wordbreaks=None):
    """COMPREPLY for the line `juggle WORDS...`, the last word being
    completed, as bash's programmable completion calls the function.
    Words are given as bash splits them ("--file" "=" "x")."""
    script = ('source "%s"; %s COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
              '_juggle; printf "%%s\\n" "${COMPREPLY[@]}"'
              % (os.path.join(ROOT, "tools", "juggle.bash"),
                 "" if wordbreaks is None else "COMP_WORDBREAKS=%s;" % wordbreaks))
    p = subprocess.run(["bash", "-c", script, "_", t.exe] + list(words), capture_output=True,
                       text=True, cwd=t.dir)
    assert p.returncode == 0, p.stderr
    return [w for w in p.stdout.split("\n") if w]


GRAPH = """
    [vars]
    langs = en fr

    [command setup]
    output = out/setup.txt
    command = true

    [command page]
    foreach = list:${langs}
    output = html/{item}.html
    command = true
    """


def test_completion_offers_outputs_and_bare_foreach_names(t):
    t.ini(GRAPH)
    assert complete(t, "run", "") == ["setup", "page", "page[en]", "page[fr]",
                                      "out/setup.txt", "html/en.html", "html/fr.html"]
    assert complete(t, "run", "html/") == ["html/en.html", "html/fr.html"]
    assert complete(t, "explain", "pa") == ["page", "page[en]", "page[fr]"]
    # It reads them from `juggle -v list`: each output a field after the reason.
    rows = [l.split("\t") for l in t.juggle("-v", "list", backend=False, rc=0).out.splitlines()]
    assert [(r[0], r[4:]) for r in rows] == [("setup", ["out/setup.txt"]),
                                            ("page[en]", ["html/en.html"]),
                                            ("page[fr]", ["html/fr.html"])], rows
    assert all(len(r) == 4 for r in (l.split("\t") for l in t.juggle(
        "list", backend=False, rc=0).out.splitlines()))
    # What completion offers, juggle takes as a target.
    for target in ("page", "html/fr.html"):
        r = t.juggle("-b", "serial", "-n", "run", target, rc=0, backend=False)
        assert "would run page[fr]" in r.out, r


def test_completion_targets_follow_the_set_values_on_the_line(t):
    t.ini(GRAPH)
    assert complete(t, "-s", "langs", "=", "de", "run", "page") == ["page", "page[de]"]
    assert complete(t, "--set", "=", "langs", "=", "it pt", "run", "page") == [
        "page", "page[it]", "page[pt]"]
    assert complete(t, "run", "-s", "langs", "=", "nl", "html/") == ["html/nl.html"]
    # As typed, with the shell's quoting, which juggle would not see.
    assert complete(t, "-s", "langs", "=", "'de nl'", "run", "page") == [
        "page", "page[de]", "page[nl]"]
    assert complete(t, "-s", '"langs=x y"', "run", "page") == ["page", "page[x]", "page[y]"]
    assert complete(t, "--set", "=", "langs", "=", "a\\ b", "run", "page") == [
        "page", "page[a]", "page[b]"]


def test_completion_of_option_values(t):
    t.ini(GRAPH)
    # --option=value, as bash splits it: only the value is replaced.
    assert complete(t, "--backend", "=", "th") == ["threads"]
    assert complete(t, "--progress", "=", "p") == ["plain"]
    assert complete(t, "--file", "=", "jug") == ["juggle.ini"]
    assert complete(t, "--backends", "=", "serial,pro") == ["serial,processes"]
    # With "=" not breaking words, the whole word is replaced.
    assert complete(t, "--backend=ser", wordbreaks="' '") == ["--backend=serial"]
    # After an option that takes a number or NAME=VALUE: nothing, never
    # the options or the targets.
    for words in (["-j", ""], ["--jobs", "=", ""], ["--repeat", ""], ["-s", ""],
                  ["--set", "=", ""], ["--net-jobs", "=", "4"], ["run", "-j", ""]):
        assert complete(t, *words) == [], words
    # A value already given does not count as the command.
    assert complete(t, "-j", "4", "li") == ["list"]
    assert complete(t, "--jobs", "=", "4", "li") == ["list"]
    # After "--", words are targets, not options.
    assert complete(t, "run", "--", "html/e") == ["html/en.html"]
    assert "--" in complete(t, "--")


# ---- the package sets ----

def deps_list(which):
    p = subprocess.run(["sh", DEPS, "--list", which], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return p.stdout.split()


def test_deps_demo_set_has_no_test_tools(t):
    build, demo, test = deps_list("build"), deps_list("demo"), deps_list("test")
    assert "libuv1-dev" in build and "libcurl4-openssl-dev" in build
    # The demo runs the nightly example: juggle's build and python3.
    assert set(build) < set(demo) and "python3" in demo
    for tool in ("slurmctld", "slurmd", "nginx", "valgrind", "clang", "default-jdk-headless",
                 "default-jre-headless", "libcmocka-dev"):
        assert tool not in demo, tool
        assert tool in test, tool
    assert set(demo) < set(test)
    p = subprocess.run(["sh", DEPS, "--list", "everything"], capture_output=True, text=True)
    assert p.returncode == 2 and "'everything'" in p.stderr, p


def test_make_demo_and_test_install_their_sets(t):
    p = subprocess.run(["make", "-C", ROOT, "-n", "--no-print-directory", "demo", "test"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert "tools/deps demo" in lines, p.stdout
    assert "tools/deps test" in lines, p.stdout
    # CI runs the README's test command, which installs the test set.
    assert "make test" in open(os.path.join(ROOT, ".ci", "run")).read()


# ---- what the docs say ----


def rendered(page):
    out = subprocess.run(["mandoc", "-Tascii", page], capture_output=True, text=True).stdout
    return re.sub(".\b", "", out)  # bold and underline, as col -b


def test_description_is_shown_where_the_page_says(t):
    text = " ".join(rendered(MAN5).split())
    assert ("while the job runs, the status line on a terminal shows it instead of the "
            "job's name (except for a foreach instance, whose name says which item it "
            "is), and the JSON, HTML and trace reports show it beside the name") in text
    t.ini("""
        [command setup]
        description = prepare the folder
        command = true

        [command page]
        description = render one page
        foreach = list:en fr
        after = setup
        command = true
        """)
    rc, out = harness.run_pty(t, "--html", "r.html", "--trace", "t.json")
    out = out.decode("utf-8", "replace")
    assert rc == 0, out
    assert re.search(r"\[0/3\] 1 running  prepare the folder", out), out
    assert re.search(r"\] 1 running  page\[en\]", out), out
    assert "1 running  render one page" not in out, out
    report = json.loads(t.read(".juggle/last-report.json"))
    desc = {j["name"]: j.get("description") for j in report["jobs"]}
    assert desc == {"setup": "prepare the folder", "page[en]": "render one page",
                    "page[fr]": "render one page"}, desc
    assert t.read("r.html").count("render one page") >= 2
    assert "render one page" in t.read("t.json")


def test_name_limit_is_the_documented_one(t):
    text = read(MAN5)
    assert "49 characters" not in text
    assert "A job or pool name is at most 128 characters" in text
    assert "is 1 to 128 characters among" in text
    for kind in ("command", "pool"):
        body = "command = true" if kind == "command" else "depth = 1"
        t.ini("[%s %s]\n%s\n" % (kind, "n" * 128, body))
        t.juggle("check", backend=False, rc=0)
        t.ini("[%s %s]\n%s\n" % (kind, "n" * 129, body))
        r = t.juggle("check", backend=False, rc=2)
        assert "is not a valid name: use 1 to 128 of the characters" in r.err, r
    # A variable name only has to fit in its line.
    t.ini("[vars]\n%s = x\n[command a]\ncommand = echo ${%s}\n" % ("v" * 150, "v" * 150))
    t.juggle("check", backend=False, rc=0)


def test_man_pages_show_their_examples_and_sections(t):
    for page in (MAN1, MAN5):
        text = read(page)
        # File names and expected errors are text a reader sees.
        assert "example-file" not in text.replace("example-file PATH", "")
        assert "example-error" not in text
        assert ".Os juggle\n" in text
        out = rendered(page)
        assert "BSD" not in out.splitlines()[0] and "BSD" not in out.splitlines()[-1]
    out5 = rendered(MAN5)
    for sh in ("FILES", "EXAMPLES"):
        assert re.search(r"^%s$" % sh, out5, re.M), sh
    assert "juggle.ini:3: job 'render': unknown key 'comand'" in out5
    assert re.search(r"^\s+data/mon\.csv:$|Given data/mon\.csv:", out5, re.M)
    out1 = " ".join(rendered(MAN1).split())
    assert "SECURITY A graph is code, like a Makefile" in out1
    # groff, which man(1) uses on Debian, heads the page without "BSD" too.
    for page in (MAN1, MAN5):
        p = subprocess.run(["groff", "-mandoc", "-Tascii", page], capture_output=True,
                           text=True)
        if p.returncode == 0:
            lines = [l for l in re.sub(".\b", "", p.stdout).splitlines() if l.strip()]
            assert "BSD" not in lines[0] and "BSD" not in lines[-1], (lines[0], lines[-1])


def test_double_dash_ends_the_options(t):
    text = " ".join(rendered(MAN1).split())
    assert ("-- Ends the options: every later word is the command or a target, even one "
            "that starts with '-'") in text.replace("\u2018", "'").replace("\u2019", "'").replace(
                "`", "'"), "juggle(1) does not document --"
    t.ini("""
        [command dash]
        output = -x.txt
        command = touch ./-x.txt
        """)
    r = t.juggle("-b", "serial", "-q", "run", "--", "-x.txt", backend=False, rc=0)
    assert os.path.exists("-x.txt"), r
    r = t.juggle("-b", "serial", "run", "-x.txt", backend=False, rc=2)
    assert "'-x'" in r.err, r


def test_report_and_archive_folders_are_created(t):
    text = " ".join(rendered(MAN1).split())
    assert "The folders on their paths that do not exist yet are created" in text
    t.ini("""
        [command a]
        output = a.txt
        command = touch a.txt
        """)
    t.juggle("-b", "serial", "-q", "--report", "r/json/x.json", "--html", "r/html/x.html",
             "--trace", "r/trace/x.json", "--junit", "r/junit/x.xml",
             "--archive", "r/archive/x.tar.gz", backend=False, rc=0)
    for f in ("json/x.json", "html/x.html", "trace/x.json", "junit/x.xml",
              "archive/x.tar.gz"):
        assert os.path.isfile(os.path.join("r", f)), f


@no_valgrind("valgrind keeps its own files under TMPDIR, so a TMPDIR that is not a folder stops valgrind before juggle")
def test_compare_makes_its_scratch_folder_in_tmpdir(t):
    text = " ".join(rendered(MAN1).split())
    assert "TMPDIR where compare makes its scratch folder, juggle-compare-XXXXXX" in text
    assert "scratch copy of the graph's folder (under TMPDIR, or /tmp; removed afterwards)" \
        in text
    t.ini("""
        [command a]
        output = a.txt
        command = touch a.txt
        """)
    scratch = os.path.join(t.dir, "scratch")
    os.mkdir(scratch)
    # A TMPDIR that is not a folder: compare says so, and where.
    bad = os.path.join(t.dir, "no-such-folder")
    r = t.juggle("compare", "--backends", "serial", env={"TMPDIR": bad}, backend=False, rc=3)
    assert "cannot create a scratch folder in '%s'" % bad in r.err, r
    r = t.juggle("compare", "--backends", "serial", env={"TMPDIR": scratch}, backend=False,
                 rc=0)
    # Removed afterwards.
    assert os.listdir(scratch) == [], os.listdir(scratch)


def test_readme_first_steps(t):
    text = read(os.path.join(ROOT, "README.md"))
    tour = text.index("## A short tour")
    install = text.find("make install PREFIX=")
    assert 0 <= install < tour, "PATH (make install PREFIX=...) comes after the tour"
    assert "tools/deps --list demo" in text[:tour]
    assert re.search(r"make test.*takes .*minutes", text[:tour], re.S)
    graph = [l for l in text.splitlines() if "juggle graph | dot" in l]
    assert graph and all("graphviz" in l for l in graph), graph
    # What the README's install line does: juggle, its pages and completion
    # under PREFIX.
    build = os.environ["JUGGLE_BUILD"]
    prefix = os.path.join(t.dir, "home", ".local")
    p = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "install",
                        "BUILD=" + build, "-o", os.path.join(build, "juggle"),
                        "PREFIX=" + prefix], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    for f in ("bin/juggle", "share/man/man1/juggle.1", "share/man/man5/juggle.ini.5",
              "share/bash-completion/completions/juggle"):
        assert os.path.isfile(os.path.join(prefix, f)), f
    r = subprocess.run(["juggle", "--version"], capture_output=True, text=True,
                       env=dict(os.environ, PATH=os.path.join(prefix, "bin") + ":/usr/bin:/bin"))
    assert r.returncode == 0 and r.stdout.startswith("juggle "), r
