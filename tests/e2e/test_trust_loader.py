"""Trust in loading, checking and dry runs: -n changes nothing, a glob
foreach never feeds on declared outputs, a dry run says only what is true,
check finds what it can, and loading does bounded work."""
import os

from harness import valgrind_slow


def tree(top="."):
    """Every path under top (files, folders and links), relative."""
    out = set()
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            out.add(os.path.relpath(os.path.join(d, n), top))
    return out


def test_dry_run_clean_removes_nothing(t):
    t.ini("""
        [command a]
        output = out/x.txt
        command = sh -c 'mkdir -p out && echo x > out/x.txt'
        """)
    t.juggle("-b", "serial", "-q", rc=0, backend=False)
    before = tree()
    for args in (["-n", "clean"], ["-n", "clean", "a"]):
        r = t.juggle(*args, rc=0, backend=False)
        assert "would remove out/x.txt" in r.out.splitlines(), r
        assert tree() == before, (args, r)
    r = t.juggle("-n", "clean", rc=0, backend=False)
    assert "would remove .juggle/" in r.out.splitlines(), r
    assert t.read("out/x.txt") == "x\n"
    # Without -n, clean still cleans.
    t.juggle("clean", rc=0, backend=False)
    assert not os.path.exists("out/x.txt") and not os.path.exists(".juggle")


def test_dry_run_commands_create_no_state(t):
    t.ini("""
        [command a]
        output = x.txt
        command = touch x.txt
        """)
    for args in (["-n"], ["-n", "run"], ["-n", "list"], ["-n", "explain", "a"],
                 ["-n", "graph"], ["-n", "check"], ["-n", "clean"],
                 ["-n", "exec-job", "a"]):
        t.juggle(*args, "-b", "serial", rc=0, backend=False)
        assert tree() == {"juggle.ini"}, args


def test_inline_comment_cutting_quoted_text_is_an_error_in_every_key(t):
    cases = [
        ('[command a]\ncommand = env\nenv.MSG = "keep ;this part"\n', 3),
        ('[vars]\nmsg = "keep ;this part"\n[command a]\ncommand = echo ${msg}\n', 2),
        ('[command a]\ncommand = true\ndescription = \'a ;b\'\n', 3),
        ('[command a]\ncommand = env\nenv.MSG = "one\n  two ;three"\n', 4),
    ]
    want = ("' ;' starts a comment, which would cut this quoted text short; "
            "write ${semicolon} for a ';' after a space")
    for text, line in cases:
        t.write("juggle.ini", text)
        r = t.juggle("check", rc=2, backend=False)
        assert "juggle.ini:%d: %s" % (line, want) in r.err.splitlines(), (text, r)
    # An unquoted comment after a value stays a comment.
    t.write("juggle.ini", "[settings]\njobs = 2 ; two lanes\n[command a]\ncommand = true\n")
    t.juggle("check", rc=0, backend=False)


def test_inline_comment_in_a_shell_command_is_an_error(t):
    t.ini("""
        [command a]
        shell = yes
        output = out.txt
        command = echo one > out.txt ;echo two >> out.txt
        """)
    r = t.juggle("check", rc=2, backend=False)
    assert ("juggle.ini:5: job 'a': command: ' ;' starts a comment, which cuts this shell "
            "command short; write ${semicolon} for a ';' after a space") in r.err, r
    t.juggle("-b", "serial", rc=2, backend=False)
    assert not os.path.exists("out.txt")
    # Written as the message says, both commands run.
    t.ini("""
        [command a]
        shell = yes
        output = out.txt
        command = echo one > out.txt ${semicolon}echo two >> out.txt
        """)
    t.juggle("-b", "serial", "-q", rc=0, backend=False)
    assert t.read("out.txt") == "one\ntwo\n"


def test_bad_settings_are_located_errors(t):
    cases = [
        ("backend = nosuch", "juggle.ini:3: backend: unknown backend 'nosuch' (use one of: "
         "serial, threads, processes, eventloop, auto, slurm)"),
        ("backend = threds", "juggle.ini:3: backend: unknown backend 'threds' "
         "(did you mean 'threads'?)"),
        ("progress = bogus", "juggle.ini:3: progress: 'bogus' is not auto, tty, plain or none"),
        ("archive = x.rar", "juggle.ini:3: archive 'x.rar': unknown format; name it .tar.gz "
         "(or .tgz), .tar.xz, .tar.zst, .tar or .zip"),
    ]
    for line, want in cases:
        t.write("juggle.ini", "[settings]\n# settings\n%s\n[command a]\noutput = a.txt\n"
                "command = touch a.txt\n" % line)
        for cmd in (["check"], ["run"], ["list"]):
            r = t.juggle(*cmd, rc=2, backend=False)
            assert want in r.err.splitlines(), (line, cmd, r)
        assert not os.path.exists("a.txt") and not os.path.exists(".juggle")
    # The command line overrides a bad value in the graph only where it
    # sets that value.
    t.write("juggle.ini", "[settings]\nprogress = bogus\n[command a]\ncommand = true\n")
    t.juggle("--progress", "none", "-b", "serial", rc=0, backend=False)


def test_check_finds_missing_inputs_and_blocked_outputs(t):
    t.write("data", "a file, not a folder")
    t.write("present.txt", "here")
    t.ini("""
        [command use]
        input = present.txt nothere.txt made.txt
        command = true

        [command make]
        output = made.txt
        command = touch made.txt

        [command blocked]
        output = data/out.txt
        command = true

        [command under]
        output = made.txt/inner.txt
        command = true
        """)
    r = t.juggle("check", rc=2, backend=False)
    err = r.err.splitlines()
    assert ("juggle.ini:3: job 'use': input 'nothere.txt' does not exist and no job makes it"
            in err), r
    assert ("juggle.ini:11: job 'blocked': output 'data/out.txt' cannot be made: 'data' is a "
            "file, not a folder") in err, r
    assert ("juggle.ini:15: job 'under': output 'made.txt/inner.txt' cannot be made: "
            "'made.txt' is an output of job 'make', not a folder") in err, r
    assert not any("present.txt" in l or "'made.txt' does not" in l for l in err), r
    assert "juggle: 3 errors in 'juggle.ini'" in err, r
    assert not os.path.exists(".juggle")


def test_one_file_is_one_node_however_it_is_named(t):
    t.ini("""
        [command make]
        output = data/../data/x.txt
        command = sh -c 'mkdir -p data && echo x > data/x.txt'

        [command use]
        input = ./data/x.txt
        output = y.txt
        command = cp data/x.txt y.txt

        [command twice]
        output = data/sub/../x.txt
        command = true
        """)
    r = t.juggle("check", rc=2, backend=False)
    assert ("juggle.ini:12: job 'twice': output 'data/x.txt' is also an output of job 'make' "
            "(line 2)") in r.err.splitlines(), r
    t.write("juggle.ini", t.read("juggle.ini").split("[command twice]")[0])
    r = t.juggle("-b", "serial", "-q", rc=0, backend=False)
    assert t.read("y.txt") == "x\n"
    # use waits for make: its input is make's output, named differently.
    r = t.juggle("list", rc=0, backend=False)
    assert "use\tcommand\tmake\tup to date" in r.out.splitlines(), r
    # A path never climbs less than it says.
    t.ini("""
        [command out]
        output = data/../../x.txt
        command = true
        """)
    r = t.juggle("check", rc=2, backend=False)
    assert ("juggle.ini:3: job 'out': output '../x.txt' leaves the graph's folder through "
            "'..'") in r.err.splitlines(), r


def test_nested_variables_stop_at_the_value_size_limit(t):
    # Each level is eight copies of the one below: 16 * 8^12 bytes (1 TB)
    # unless the expansion stops at the limit.
    lines = ["[vars]", "v0 = " + "x" * 16]
    for i in range(1, 13):
        lines.append("v%d = %s" % (i, ("${v%d}" % (i - 1)) * 8))
    lines += ["[command a]", "output = out.txt", "command = echo ${v12}"]
    t.write("juggle.ini", "\n".join(lines) + "\n")
    for cmd in (["check"], ["-b", "serial"]):
        r = t.juggle(*cmd, rc=2, backend=False, timeout=60)
        assert r.err.splitlines() == [
            "juggle.ini:17: job 'a': command: the value expands to over 1048576 bytes "
            "(the limit on one value)", "juggle: nothing ran"], r
    assert not os.path.exists("out.txt")
    # Under the limit, a long value is fine.
    t.write("juggle.ini", "\n".join(lines[:6] + lines[-3:-1]) +
            "\ncommand = sh -c 'printf %s ${v4} > out.txt'\n")
    t.juggle("-b", "serial", "-q", rc=0, backend=False)
    assert len(t.read("out.txt")) == 16 * 8 ** 4


@valgrind_slow("the second half loads a graph of 600,000 jobs")
def test_ranges_stop_at_the_job_limit_before_any_job_is_made(t):
    text = "".join("[command r%d]\nforeach = range:1..600000\ncommand = true\n" % i
                   for i in range(8))
    t.write("juggle.ini", text)
    r = t.juggle("check", rc=2, backend=False, timeout=60)
    assert ("juggle.ini:5: job 'r1': foreach: range 1..600000 would make the graph over "
            "1000000 jobs (the limit on one graph)") in r.err.splitlines(), r
    # One range under the limit still loads.
    t.write("juggle.ini", text.split("[command r1]")[0])
    r = t.juggle("check", rc=0, backend=False, timeout=60)
    assert "600000 jobs from 1 section, no errors" in r.out, r


def test_lines_foreach_stops_at_the_job_limit(t):
    t.write("items.txt", "".join("%d\n" % i for i in range(600000)))
    t.ini("""
        [command a]
        foreach = lines:items.txt
        command = true

        [command b]
        foreach = lines:items.txt
        command = true
        """)
    r = t.juggle("check", rc=2, backend=False, timeout=60)
    assert ("juggle.ini:7: job 'b': foreach: 600000 items would make the graph over "
            "1000000 jobs (the limit on one graph)") in r.err.splitlines(), r


def test_many_double_stars_do_polynomial_work(t):
    deep = "/".join(["deep"] + ["d"] * 40)
    t.write(deep + "/x.txt", "x")
    stars = "**/" * 20
    t.ini("""
        [command none]
        foreach = deep/%s*.nomatch
        command = true

        [command one]
        foreach = deep/%sx.txt
        output = found.txt
        command = sh -c 'echo "$1" > found.txt' sh {rel}
        """ % (stars, stars))
    # Trying every split of 40 folders among 20 '**' would not end.
    t.juggle("-b", "serial", "-q", rc=0, backend=False, timeout=60)
    assert t.read("found.txt") == "d/" * 40 + "x.txt\n"


def names(r):
    return [l.split("\t")[0] for l in r.out.splitlines()]


def test_glob_foreach_never_feeds_on_declared_outputs(t):
    t.write("a.txt", "alpha\n")
    t.write("sub/b.txt", "beta\n")
    # An output that is there before the first run is no item either.
    t.write("up/a.txt", "stale\n")
    t.ini("""
        [command up]
        foreach = **/*.txt
        output = up/{rel}
        command = sh -c 'mkdir -p "$(dirname "$1")" && tr a-z A-Z < "$2" > "$1"' sh {output} {input}

        [command later]
        output = sub/made.txt
        command = sh -c 'echo made > sub/made.txt'
        """)
    want = ["up[a.txt]", "up[sub/b.txt]", "later"]
    assert names(t.juggle("list", rc=0, backend=False)) == want
    t.juggle("-b", "serial", "-q", rc=0, backend=False)
    assert t.read("up/a.txt") == "ALPHA\n" and t.read("up/sub/b.txt") == "BETA\n"
    files = tree()
    for _ in range(2):
        r = t.juggle("-b", "serial", rc=0, backend=False)
        assert "nothing to do, 3 jobs up to date" in r.out, r
        assert names(t.juggle("list", rc=0, backend=False)) == want
        assert tree() == files


def test_glob_foreach_takes_outputs_of_jobs_above(t):
    t.write("src/one.txt", "1\n")
    t.ini("""
        [command gen]
        output = src/two.txt
        command = sh -c 'echo 2 > src/two.txt'

        [command copy]
        foreach = src/*.txt
        output = out/{name}
        command = sh -c 'mkdir -p out && cp "$1" "$2"' sh {input} {output}

        [command state]
        foreach = .juggle/*
        output = seen/{name}
        command = true
        """)
    # Before gen has run, its output is already an item (as in make).
    assert names(t.juggle("list", rc=0, backend=False)) == ["gen", "copy[one.txt]",
                                                           "copy[two.txt]"]
    t.juggle("-b", "serial", "-q", rc=0, backend=False)
    assert t.read("out/two.txt") == "2\n"
    # juggle's own files are never items, even for a glob that names them.
    assert names(t.juggle("list", rc=0, backend=False)) == ["gen", "copy[one.txt]",
                                                           "copy[two.txt]"]


def test_dry_run_says_what_would_happen_and_nothing_more(t):
    t.ini("""
        [command a]
        output = a.txt
        command = sh -c 'echo a > a.txt'

        [command b]
        input = a.txt missing.txt
        output = b.txt
        command = cp a.txt b.txt

        [command c]
        input = b.txt
        output = c.txt
        command = cp b.txt c.txt

        [command d]
        input = a.txt
        output = d.txt
        command = cp a.txt d.txt
        """)
    r = t.juggle("-n", "-b", "serial", rc=0, backend=False)
    assert r.out.splitlines() == [
        "would run a: it has never succeeded",
        "    sh -c 'echo a > a.txt'",
        "would fail b: input 'missing.txt' does not exist and no job makes it",
        "would not run c: 'b' would fail",
        "would run d: it has never succeeded",
        "    cp a.txt d.txt",
        "juggle: dry run, nothing ran: 2 would run, 1 would fail, "
        "1 would not run (a dependency would fail)"], r
    assert tree() == {"juggle.ini"}
    # The run does what the dry run said.
    r = t.juggle("-b", "serial", "-k", rc=1, backend=False)
    assert r.statuses() == {"a": "ok", "b": "failed", "c": "not-run", "d": "ok"}, r
    # a re-runs, but whether its output changes is known only then.
    os.remove("a.txt")
    r = t.juggle("-n", "-b", "serial", rc=0, backend=False)
    out = r.out.splitlines()
    assert "would run a: output 'a.txt' is missing" in out, r
    assert "may run d: runs if 'a' changes its outputs" in out, r
    assert not any(" ok" in l or "slowest" in l or "critical path" in l for l in out), r
    r = t.juggle("explain", "d", rc=0, backend=False)
    assert r.out.splitlines() == ["a: would run: output 'a.txt' is missing",
                                  "d: runs if 'a' changes its outputs"], r
    # It writes the same a.txt, so d does not run.
    r = t.juggle("-b", "serial", "-k", "a", "d", rc=0, backend=False)
    assert r.statuses() == {"a": "ok", "d": "skipped-up-to-date"}, r


def test_dry_run_of_an_up_to_date_nightly_lists_only_the_refresh_checks(t):
    import shutil
    here = os.path.dirname(os.path.abspath(__file__))
    shutil.copytree(os.path.join(here, "..", "..", "examples", "nightly"), "nightly",
                    ignore=shutil.ignore_patterns(".juggle", "incoming", "digests", "store",
                                                  "work", "report", "*.tar.gz"))
    mirror = "mirror=file://%s/nightly/data" % t.dir
    t.juggle("-C", "nightly", "-s", mirror, "-b", "serial", "-q", rc=0, backend=False)
    r = t.juggle("-C", "nightly", "-s", mirror, "-n", rc=0, backend=False)
    verdicts = {}
    for line in r.out.splitlines():
        if not line.startswith(" ") and not line.startswith("juggle:"):
            verb, rest = line.split(" ", 2)[:2], line.split(" ", 2)[2]
            verdicts[rest.split(":")[0]] = (" ".join(verb), rest.split(": ", 1)[1])
    fetches = {n: v for n, v in verdicts.items() if n.startswith("fetch[")}
    assert len(fetches) == 5, r
    assert all(v == ("may run", "refresh = conditional asks the server whether it changed")
               for v in fetches.values()), r
    others = {n: v for n, v in verdicts.items() if n not in fetches}
    assert len(others) == 15, r
    assert all(v[0] == "may run" and v[1].startswith("runs if '") for v in others.values()), r
    assert not any(v[0] == "would run" for v in verdicts.values()), r
    assert r.out.splitlines()[-1] == ("juggle: dry run, nothing ran: 5 may run (the run decides), "
                                      "15 may run if a dependency changes its outputs"), r
    # And the run does the five checks and nothing else.
    r = t.juggle("-C", "nightly", "-s", mirror, "-b", "serial", rc=0, backend=False,
                 cwd=t.dir)
    with open("nightly/.juggle/last-report.json") as f:
        import json
        jobs = json.load(f)["jobs"]
    ran = sorted(j["name"] for j in jobs if j["status"] == "ok")
    assert ran == sorted(fetches), ran
