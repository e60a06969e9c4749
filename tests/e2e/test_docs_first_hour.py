"""The first hour with juggle: the bash completion offers what a user types
(targets as outputs, bare foreach names, -s values, --option=value), the
package sets `make demo` and `make test` install, and the docs' claims
(where `description` shows, how long a name may be, the man pages' visible
examples and sections)."""
import os
import re
import subprocess

from harness import ROOT

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
