"""The manual pages: clean under mandoc's linter, complete (every command,
option, key, placeholder and exit status is documented), installed by
`make install`, and their examples run, so the docs cannot rot. Also the
bash completion."""
import os
import re
import subprocess
import tempfile

from harness import ROOT, default_backends, timeout, valgrind_slow

MAN1 = os.path.join(ROOT, "man", "juggle.1")
MAN5 = os.path.join(ROOT, "man", "juggle.ini.5")


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_man_pages_are_lint_clean(t):
    p = subprocess.run(["mandoc", "-Tlint", MAN1, MAN5], capture_output=True, text=True)
    problems = []
    for line in (p.stdout + p.stderr).splitlines():
        # Our two pages name each other; mandoc looks for them among the
        # system's installed pages only, where they are not (yet).
        if re.search(r"referenced manual not found: Xr (juggle 1|juggle\.ini 5)", line):
            continue
        # The machine's own page database being stale is not our page's fault.
        if "outdated mandoc.db" in line:
            continue
        # The pages name themselves in .Os on purpose: groff prints "BSD"
        # in the footer of a page without one.
        if re.search(r"STYLE: operating system explicitly specified: Os juggle", line):
            continue
        problems.append(line)
    assert not problems, "\n".join(problems)
    for page in (MAN1, MAN5):
        out = subprocess.run(["mandoc", "-Tutf8", page], capture_output=True, text=True)
        assert out.returncode == 0 and "NAME" in out.stdout


def documented_words(page):
    """The words of the mdoc macro lines (where keys are named, with Ic)."""
    words = set()
    for line in read(page).splitlines():
        if line.startswith(".") and not line.startswith(".\\\""):
            for tok in line.split()[1:]:
                words.add(tok.replace("\\&", "").rstrip(",;:"))
    return words


def c_list(path, name):
    """The strings of a NULL-terminated `static const char *const NAME[]`."""
    src = read(os.path.join(ROOT, path))
    m = re.search(r"\b%s\[\]\s*=\s*\{(.*?)\};" % re.escape(name), src, re.S)
    assert m, (path, name)
    return re.findall(r'"([^"]*)"', m.group(1))


def test_man_pages_document_everything(t):
    words5 = documented_words(MAN5)
    text1 = read(MAN1)
    help_ = t.juggle("--help", backend=False, rc=0).out
    # Every command and option of --help.
    commands = re.findall(r"^  ([a-z-]+)\s{2,}", help_.split("options:")[0], re.M)
    assert "run" in commands and "exec-job" in commands, commands
    for c in commands:
        assert ".It Cm %s" % c in text1, "command %s" % c
    for opt in re.findall(r"--([a-z-]+)", help_.split("options:")[1]):
        assert re.search(r"\.It Fl (\S+ , )?-%s(\s|$)" % re.escape(opt), text1, re.M), \
            "option --%s" % opt
    # Every key: [settings], the keys every job takes, and each kind's.
    keys = c_list("engine/load/read.c", "settings_keys") + c_list("engine/load/read.c", "common_keys")
    keys += c_list("jobs/command.c", "command_keys") + c_list("jobs/cpu.c", "cpu_keys")
    keys += c_list("jobs/cpu.c", "task_names")
    keys += c_list("jobs/download/kind.c", "download_keys")
    text5 = read(MAN5)
    for k in keys:
        assert k in words5, "key %s is not documented in juggle.ini(5)" % k
    # Placeholders, both ways: every one the code takes is documented, and
    # every one the page shows is taken.
    src = read(os.path.join(ROOT, "engine", "expand.c"))
    table = re.search(r"\bplaceholders\[\]\s*=\s*\{(.*?)\};", src, re.S)
    taken = set(re.findall(r'\{"([a-z]+)",', table.group(1)))
    assert {"item", "input", "inputs", "output", "outputs"} <= taken, taken
    for ph in taken:
        assert re.search(r"^\.(It )?Li \{%s\}" % ph, text5, re.M), \
            "placeholder {%s} is not documented" % ph
    shown = set(re.findall(r"^\.(?:It )?Li \{([a-z]+)\}", text5, re.M))
    assert shown <= taken, "documented but not taken: %s" % sorted(shown - taken)
    for b in c_list("engine/expand.c", "builtin_names") + ["env:NAME"]:
        assert "${%s}" % b in text5, b
    # Exit statuses.
    exit_section = text1[text1.index(".Sh EXIT STATUS"):text1.index(".Sh EXAMPLES")]
    for code in ("0", "1", "2", "3", "130"):
        assert ".It %s\n" % code in exit_section, code


# ---- the examples ----

ESCAPES = re.compile(r"\\(e|&|-|\(aq|\(dq)")


def unescape(line):
    return ESCAPES.sub(lambda m: {"e": "\\", "&": "", "-": "-", "(aq": "'",
                                  "(dq": '"'}[m.group(1)], line)


def examples(page):
    """[(group, [(directive, arg, text)])] from the pages' examples: a group
    starts at a `.\\" example-begin NAME` comment (or is one
    `example-check FILES` block); in a group, a literal block after a
    visible `.Pa PATH :` line is a file written to PATH, and one after an
    `example-run` comment is a shell session."""
    groups = []
    pending = None
    block = None
    prev = ""
    for line in read(page).splitlines():
        if block is not None:
            if line == ".Ed":
                if pending:
                    d, arg = pending
                    if d == "check":
                        groups.append(("%s:%d" % (d, len(groups)), []))
                    groups[-1][1].append((d, arg, "".join(block)))
                pending = None
                block = None
            else:
                block.append(unescape(line) + "\n")
            continue
        if line.startswith(".Sh ") or line.startswith(".Ss "):
            assert pending is None, "%s: an example directive before %r" % (page, line)
            if groups:
                groups.append(("(none)", []))  # what follows belongs to no group
        m = re.match(r'^\.\\" example-([a-z]+)\s*(.*)$', line)
        if m:
            d, arg = m.group(1), m.group(2)
            assert d in ("begin", "needs", "run", "check"), "%s: %s" % (page, line)
            if d == "begin":
                groups.append((arg, []))
            elif d == "needs":
                groups[-1][1].append((d, arg, ""))
            else:
                pending = (d, arg)
            continue
        if line.startswith(".Bd -literal"):
            block = []
            f = re.match(r"^\.Pa (\S+) :$", prev)
            if f and pending is None and groups and groups[-1][0] != "(none)":
                pending = ("file", f.group(1))
        prev = line
    return [g for g in groups if g[0] != "(none)"]


def expected_pattern(line):
    toks = []
    for tok in line.split():
        pat = ""
        for piece in re.split(r"(\d+(?:\.\d+)?|\.\.\.)", tok):
            if piece == "...":
                pat += ".*"
            elif piece and piece[0].isdigit():
                pat += r"\d+(?:\.\d+)?"
            else:
                pat += re.escape(piece)
        toks.append(pat)
    return re.compile(r"^\s*" + r"\s+".join(toks) + r"\s*$")


class Session:
    def __init__(self, t, folder):
        self.t = t
        self.folder = folder
        os.makedirs(folder)
        self.bin = os.path.join(t.dir, "bin")
        if not os.path.exists(self.bin):
            os.makedirs(self.bin)
            # Examples type `juggle` as a user would; the default backend
            # may not be built in this tree, so fall back to serial then.
            extra = "" if "auto" in default_backends() else "-b serial"
            with open(os.path.join(self.bin, "juggle"), "w") as f:
                f.write('#!/bin/sh\nexec "%s" %s "$@"\n' % (t.exe, extra))
            os.chmod(os.path.join(self.bin, "juggle"), 0o755)
        self.env = dict(os.environ, PATH=self.bin + os.pathsep + os.environ["PATH"])
        self.env.pop("SOURCE_DATE_EPOCH", None)
        self.exports = ""

    def run(self, script, where):
        cmd = None
        expected = []
        steps = []
        for line in script.splitlines():
            if line.startswith("$ "):
                if cmd is not None:
                    steps.append((cmd, expected))
                cmd, expected = line[2:], []
            elif line.strip():
                expected.append(line)
        if cmd is not None:
            steps.append((cmd, expected))
        for cmd, expected in steps:
            m = re.search(r"#\s*exit status (\d+)\s*$", cmd)
            want = int(m.group(1)) if m else 0
            if cmd.startswith("export "):
                self.exports += cmd + "\n"
            p = subprocess.run(["sh", "-c", self.exports + cmd], cwd=self.folder, env=self.env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=120)
            assert p.returncode == want, "%s: `%s` exited %d, not %d:\n%s" % (
                where, cmd, p.returncode, want, p.stdout)
            out = p.stdout.splitlines()
            pos = 0
            for e in expected:
                pat = expected_pattern(e)
                for i in range(pos, len(out)):
                    if pat.match(out[i]):
                        pos = i + 1
                        break
                else:
                    raise AssertionError("%s: `%s` did not print, in order:\n  %s\n"
                                         "it printed:\n%s" % (where, cmd, e, p.stdout))


def kind_built(t, kind):
    d = tempfile.mkdtemp(dir=t.dir)
    extra = {"download": "url = file:///dev/null\noutput = x\n", "cpu": "task = gzip\n"}
    with open(os.path.join(d, "juggle.ini"), "w") as f:
        f.write("[%s probe]\n%s" % (kind, extra.get(kind, "")))
    p = t.juggle("-C", d, "check", backend=False)
    return "unknown" not in p.err or kind not in p.err


@timeout(300)
@valgrind_slow("every example of the manual pages, each a juggle start: 2 minutes under "
               "memcheck")
def test_man_examples_run(t):
    ran = 0
    for page in (MAN1, MAN5):
        for n, (group, steps) in enumerate(examples(page)):
            where = "%s example %r" % (os.path.basename(page), group)
            if any(d == "needs" and not kind_built(t, arg) for d, arg, _ in steps):
                print("skipped (kind not built): %s" % where)
                continue
            s = Session(t, os.path.join(t.dir, "%s-%d" % (os.path.basename(page), n)))
            for d, arg, text in steps:
                if d == "file":
                    t.write(os.path.join(s.folder, arg), text)
                elif d == "run":
                    s.run(text, where)
                elif d == "check":
                    t.write(os.path.join(s.folder, "juggle.ini"), text)
                    # The files a checked graph reads (check says when an
                    # input is missing).
                    for f in arg.split():
                        t.write(os.path.join(s.folder, f), "")
                    p = t.juggle("-C", s.folder, "check", backend=False)
                    assert p.rc == 0, "%s: %r" % (where, p)
                elif d != "needs":
                    raise AssertionError("%s: unknown directive %s" % (where, d))
                ran += 1
    assert ran >= 15, ran


# ---- installation and completion ----

def test_make_install_installs_pages_and_completion(t):
    build = os.environ["JUGGLE_BUILD"]
    dest = os.path.join(t.dir, "root")
    # -o: take the built binary as it is; never rebuild from a test.
    p = subprocess.run(["make", "-C", ROOT, "--no-print-directory", "install",
                        "BUILD=" + build, "-o", os.path.join(build, "juggle"),
                        "DESTDIR=" + dest, "PREFIX=/usr/local"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    for f in ("bin/juggle", "share/man/man1/juggle.1", "share/man/man5/juggle.ini.5",
              "share/bash-completion/completions/juggle"):
        assert os.path.isfile(os.path.join(dest, "usr/local", f)), f


def complete(t, *words, cwd=None):
    script = ('source "%s"; COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); '
              '_juggle; printf "%%s\\n" "${COMPREPLY[@]}"'
              % os.path.join(ROOT, "tools", "juggle.bash"))
    p = subprocess.run(["bash", "-c", script, "_", t.exe] + list(words), capture_output=True,
                       text=True, cwd=cwd or t.dir)
    assert p.returncode == 0, p.stderr
    return [w for w in p.stdout.split("\n") if w]


def test_bash_completion(t):
    t.ini("""
        [command alpha]
        command = true

        [command items]
        foreach = list:'a b' '$(touch pwned)' c
        command = true
        """)
    assert complete(t, "") == ["run", "compare", "list", "graph", "explain", "check", "clean",
                               "exec-job", "help", "alpha", "items", "items[a b]",
                               "items[$(touch pwned)]", "items[c]"]
    assert complete(t, "run", "it") == ["items", "items[a b]", "items[$(touch pwned)]",
                                        "items[c]"]
    assert not os.path.exists("pwned"), "a job name was run as a command"
    assert complete(t, "--back") == ["--backend", "--backends"]
    assert complete(t, "-b", "") == ["serial", "threads", "processes", "eventloop", "auto",
                                     "slurm"]
    assert complete(t, "--backends", "serial,th") == ["serial,threads"]
    assert complete(t, "--progress", "p") == ["plain"]
    assert complete(t, "--order", "") == ["critical", "file"]
    assert complete(t, "check", "") == []
    # The graph named with -f (and -C) is the one listed.
    t.write("sub/other.ini", "[command zeta]\ncommand = true\n")
    assert complete(t, "-C", "sub", "-f", "other.ini", "explain", "") == ["zeta"]


def test_documented_keys_and_options_are_accepted(t):
    """The other way round: every key juggle.ini(5) lists is taken by some
    section, and every option juggle(1) lists is accepted."""
    keys = sorted(set(re.findall(r"^\.It Ic ([A-Za-z0-9_]+)\b(?!\.)", read(MAN5), re.M)))
    assert "description" in keys and "depth" in keys, keys
    unknown = set(keys)
    for section in ("settings", "command k", "cpu k", "download k", "pool k"):
        # "nosuchkey": the sentinel that shows how this section says unknown.
        t.ini("[%s]\n%s\n" % (section, "\n".join("%s = 1" % k for k in keys + ["nosuchkey"])))
        err = t.juggle("check", backend=False).err
        said = set(re.findall(r"unknown (?:key|setting) '([^']*)'", err))
        assert "nosuchkey" in said, "[%s]: no unknown key found in\n%s" % (section, err)
        unknown &= said
    assert not unknown, "documented but taken by no section: %s" % sorted(unknown)
    values = {"file": "x", "dir": ".", "name": "serial", "n": "1", "mode": "plain",
              "order": "file", "list": "serial", "load": "2"}
    opts = re.findall(r"^\.It Fl (?:\S+ , )?-([a-z-]+)(?: Ar (\w+))?", read(MAN1), re.M)
    assert len(opts) >= 20, opts
    for opt, arg in opts:
        if opt == "list-backends":
            words = ["--list-backends"]
        elif opt == "set":
            words = ["--set", "a=b", "-h"]
        else:
            words = ["--" + opt] + ([values[arg]] if arg else []) + ["-h"]
        r = t.juggle(*words, backend=False)
        assert r.rc == 0 and "unknown option" not in r.err, (words, r)
    # and "--", which ends them
    t.ini("[command a]\ncommand = true\n")
    assert "1 job" in t.juggle("--", "check", backend=False, rc=0).out
