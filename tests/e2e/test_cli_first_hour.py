"""The command line as a make, git or curl user meets it in the first hour:
options that need a value, ambiguous prefixes, options a command would
ignore, a first run in an empty folder, `juggle help`, "did you mean" for
commands and targets, and one rule for a reader that closes early."""
import os
import subprocess

from harness import valgrind_slow


def nothing_written():
    assert not os.path.exists(".juggle"), "a usage error must not touch the state"


def usage_error(t, *args):
    """Runs juggle with args, expecting a usage error (exit 2), and returns
    the error lines; every line is juggle's and printable."""
    r = t.juggle(*args, rc=2, backend=False)
    assert r.out == "", r
    lines = r.err.splitlines()
    assert lines and all(line.startswith("juggle: ") for line in lines), r
    assert all(ch.isprintable() for ch in r.err.replace("\n", "")), repr(r.err)
    return lines


def test_an_option_without_its_value_says_it_needs_one(t):
    t.ini("[command a]\ncommand = true\n")
    assert usage_error(t, "--report")[0] == \
        "juggle: option '--report' needs a value: --report FILE"
    assert usage_error(t, "-f")[0] == "juggle: option '-f' needs a value: -f FILE"
    assert usage_error(t, "list", "--progress")[0] == \
        "juggle: option '--progress' needs a value: --progress MODE"
    # A value it takes no value for is said too.
    assert usage_error(t, "--quiet=yes")[0] == "juggle: option '--quiet' takes no value"
    nothing_written()


def test_j_without_a_number_is_an_error_that_says_what_it_wants(t):
    t.ini("[command a]\ncommand = true\n")
    assert usage_error(t, "-j")[0] == \
        "juggle: option '-j' needs a number: -j N runs at most N jobs at once"
    assert usage_error(t, "-j", "run")[0] == \
        "juggle: -j: 'run' is not a number from 1 to 100000"
    nothing_written()
    # The forms a make or ninja user types work.
    for form in (["-j4"], ["-j", "4"], ["--jobs=4"], ["--jobs", "4"], ["-kBj4"]):
        r = t.juggle(*form, "-B", "-b", "threads", rc=0, backend=False)
        assert "(threads, -j 4," in r.out, (form, r)


def test_an_ambiguous_long_prefix_lists_what_it_could_be(t):
    t.ini("[command a]\ncommand = true\n")
    assert usage_error(t, "--rep")[0] == \
        "juggle: option '--rep' is ambiguous: it could be --report, --repeat"
    assert usage_error(t, "--ver")[0] == \
        "juggle: option '--ver' is ambiguous: it could be --verbose, --version"
    assert usage_error(t, "--rep=r.json")[0] == \
        "juggle: option '--rep' is ambiguous: it could be --report, --repeat"
    assert usage_error(t, "--frobnicate")[0] == "juggle: unknown option '--frobnicate'"
    assert usage_error(t, "--verbsoe")[0] == \
        "juggle: unknown option '--verbsoe' (did you mean '--verbose'?)"
    nothing_written()
    # A prefix that names one option is that option, as with getopt.
    r = t.juggle("--vers", rc=0, backend=False)
    assert r.out.startswith("juggle "), r


def test_an_option_the_command_would_ignore_is_an_error(t):
    t.ini("[command a]\noutput = a.txt\ncommand = touch a.txt\n")
    assert usage_error(t, "--repeat", "3", "run")[0] == \
        "juggle: option '--repeat' means nothing to 'run' (it is for: compare)"
    assert usage_error(t, "--backends", "serial")[0] == \
        "juggle: option '--backends' means nothing to 'run' (it is for: compare)"
    assert usage_error(t, "list", "--trace", "t.json")[0] == \
        "juggle: option '--trace' means nothing to 'list' (it is for: run)"
    assert usage_error(t, "graph", "-B")[0] == \
        "juggle: option '-B' means nothing to 'graph' (it is for: run, list, explain)"
    assert usage_error(t, "clean", "--always-make")[0] == \
        "juggle: option '--always-make' means nothing to 'clean' (it is for: run, list, explain)"
    nothing_written()
    assert not os.path.exists("a.txt") and not os.path.exists("t.json")
    # Where they mean something, they are taken.
    r = t.juggle("compare", "-n", "--backends", "serial", "--repeat", "2", rc=0,
                 backend=False)
    assert "serial: 2 runs" in r.out, r
    # The settings and -n, -q, -v are taken by every command.
    t.juggle("-j", "2", "-k", "--progress", "none", "-q", "-n", "check", rc=0)


def test_check_takes_no_targets(t):
    t.ini("[command a]\ncommand = true\n")
    assert usage_error(t, "check", "a") == [
        "juggle: 'check' takes no targets, but was given 'a'",
        "juggle: the options are in 'juggle --help'"]


def test_first_run_in_an_empty_folder_says_where_it_looked_and_how_to_go_on(t):
    lines = usage_error(t)
    assert lines[0] == ("juggle: cannot read graph file 'juggle.ini': "
                        "No such file or directory (in '%s')" % os.getcwd()), lines
    assert not any("nothing ran" in line for line in lines), lines
    text = "\n".join(lines)
    for hint in ("-f FILE", "-C DIR", "juggle.ini(5)"):
        assert hint in text, (hint, lines)
    # The one-line first graph it shows works as printed.
    first = lines[-1].split("a first one: ", 1)[1]
    subprocess.run(["sh", "-c", first], check=True)
    r = t.juggle(rc=0)
    assert t.read("hello.txt") == "hello world\n", r
    assert t.juggle("-n", rc=0).out.splitlines()[-1] == "juggle: dry run, nothing ran: 1 up to date"


def test_a_near_miss_graph_file_name_is_suggested(t):
    for name in ("Juggle.ini", "jugle.ini", "juggle.INI"):
        t.write(name, "[command a]\ncommand = true\n")
        lines = usage_error(t, "list")
        assert lines[0].endswith("; did you mean '-f %s'?" % name), lines
        os.remove(name)
        t.juggle("-f", name, rc=2, backend=False)
    # A file far from the name is not offered.
    t.write("build.ini", "[command a]\ncommand = true\n")
    assert "did you mean" not in usage_error(t)[0]


def test_help_and_help_command_need_no_graph(t):
    r = t.juggle("help", rc=0, backend=False)
    assert r.out == t.juggle("--help", rc=0, backend=False).out
    assert r.out.startswith("usage: juggle [OPTIONS] [COMMAND] [TARGET...]\n"), r
    assert "\n  help " in r.out, r
    run = t.juggle("help", "run", rc=0, backend=False).out
    assert run.startswith("usage: juggle [OPTIONS] run [TARGET...]\n"), run
    assert "--report FILE" in run and "--archive FILE" in run and "--repeat" not in run, run
    compare = t.juggle("help", "compare", rc=0, backend=False).out
    assert "--repeat N" in compare and "--archive" not in compare, compare
    assert t.juggle("check", "--help", rc=0, backend=False).out.startswith(
        "usage: juggle [OPTIONS] check\n")
    lines = usage_error(t, "help", "lsit")
    assert lines == ["juggle: no command is called 'lsit' (did you mean 'list'?); "
                     "the commands are in 'juggle help'"], lines


def test_a_mistyped_command_or_target_gets_did_you_mean(t):
    t.ini("""
        [command hello]
        output = hello.txt
        command = touch hello.txt
        """)
    assert usage_error(t, "lsit")[0] == \
        "juggle: no command, job or output is called 'lsit' (did you mean the command 'list'?)"
    assert usage_error(t, "chekc")[0] == \
        "juggle: no command, job or output is called 'chekc' (did you mean the command 'check'?)"
    # A job's name near the word wins over a command's.
    assert usage_error(t, "helo")[0] == \
        "juggle: no job or output is called 'helo' (did you mean 'hello'?)"
    assert usage_error(t, "list", "helo")[0] == \
        "juggle: no job or output is called 'helo' (did you mean 'hello'?)"
    assert not os.path.exists("hello.txt")
    nothing_written()
    # Without a graph, the command is still suggested.
    os.remove("juggle.ini")
    assert "juggle: hint: 'lsit' is not a command; did you mean 'list'?" in usage_error(t, "lsit")


def many_jobs(t, n=2000):
    """A graph whose list, graph, explain and -n each print far more than a
    pipe holds, so a reader that stops early is seen by juggle."""
    t.ini("".join("[command job%04d_with_a_name_long_enough]\ncommand = true\n\n" % i
                  for i in range(n)))


def first_line_then_close(t, *args):
    """Runs juggle into a reader that takes one line and exits (head -1);
    returns juggle's exit status (negative: the signal) and its stderr."""
    p = subprocess.Popen([t.exe, "-b", t.backend] + list(args), stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=dict(os.environ, NO_COLOR="1"))
    head = subprocess.run(["head", "-1"], stdin=p.stdout, capture_output=True, timeout=300)
    p.stdout.close()
    err = p.stderr.read().decode()
    p.wait(timeout=300)
    assert head.stdout.count(b"\n") == 1, (args, head, p.wait(timeout=300), err)
    return p.returncode, err


@valgrind_slow("loads a graph of thousands of jobs five times: minutes under memcheck")
def test_every_command_ends_quietly_with_its_status_when_its_reader_goes_away(t):
    # A run already did (test_faults.test_juggle_stdout_closed_early);
    # the commands that only print now do the same.
    many_jobs(t)
    for args in (["list"], ["-n"], ["graph"], ["explain"], ["help"]):
        rc, err = first_line_then_close(t, *args)
        assert (rc, err) == (0, ""), (args, rc, err)


def test_output_that_cannot_be_written_is_an_error(t):
    """`juggle list >/dev/full`: the list was lost, so juggle says so and
    exits 1 rather than 0, as cat does; a run's own status is kept."""
    t.ini("""
        [command a]
        command = true
        """)
    for args, want in ((["list"], 1), (["--version"], 1), ([], 1)):
        with open("/dev/full", "w") as full:
            p = subprocess.run([t.exe, "-b", t.backend] + args, stdout=full, stderr=subprocess.PIPE,
                               text=True, env=dict(os.environ, NO_COLOR="1"), timeout=120)
        assert p.returncode == want, (args, p.returncode, p.stderr)
        assert p.stderr.endswith("juggle: cannot write to standard output: "
                                 "No space left on device\n"), (args, p.stderr)
    # The run itself happened and was recorded: nothing is left to do.
    r = t.juggle("-n", rc=0)
    assert "would run" not in r.out, r.out
