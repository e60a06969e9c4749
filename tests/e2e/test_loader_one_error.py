"""One mistake, one error: a key whose line or ${} expansion was reported
is still there for the checks that follow (no "missing key" after it, no
complaint about its empty value), and the count says 1. And -s NAME=VALUE
that no ${NAME} of the graph uses is a warning, not a silent no-op."""
import os

LONG = "x" * 300


def too_long(lineno, line):
    return ("juggle.ini:%d: the line is %d characters long, over the 199 that inih reads; "
            "continue the value on the next line, indented" % (lineno, len(line)))


# (graph text, the one error expected on stderr)
ONE_ERROR = [
    # Each kind's required key, on a line over the limit.
    ("[command a]\ncommand = echo " + LONG + "\noutput = x\n",
     too_long(2, "command = echo " + LONG)),
    ("[download d]\nurl = http://127.0.0.1/" + LONG + "\noutput = d.txt\n",
     too_long(2, "url = http://127.0.0.1/" + LONG)),
    ("[cpu c]\ntask = sum_squares\nn = 1" + "0" * 300 + "\n",
     too_long(3, "n = 1" + "0" * 300)),
    ("[pool p]\ndepth = 1" + "0" * 300 + "\n[command a]\ncommand = true\n",
     too_long(2, "depth = 1" + "0" * 300)),
    # A variable whose definition was rejected is not also "undefined".
    ("[vars]\nmirror = http://" + LONG + "\n[command a]\ncommand = echo ${mirror}\n",
     too_long(2, "mirror = http://" + LONG)),
    # The keys after a rejected section header do not land in the one above.
    ("[command a]\ncommand = true\n[command " + LONG + "]\ncommand = true\n",
     too_long(3, "[command " + LONG + "]")),
    # An inline ';' inside a quoted command.
    ("[command a]\ncommand = sh -c 'echo a ; echo b'\noutput = x\n",
     "juggle.ini:2: ' ;' starts a comment, which would cut this quoted text short; write "
     "${semicolon} for a ';' after a space"),
    ("[download d]\nurl = 'http://127.0.0.1/a ; b'\noutput = d.txt\n",
     "juggle.ini:2: ' ;' starts a comment, which would cut this quoted text short; write "
     "${semicolon} for a ';' after a space"),
    # Undefined variables and unset environment variables, in each kind's keys.
    ("[command a]\ncommand = echo ${nosuch}\noutput = x\n",
     "juggle.ini:2: job 'a': command: undefined variable 'nosuch' "
     "(define it in [vars] or with -s nosuch=VALUE)"),
    ("[command a]\ncommand = echo ${env:JUGGLE_SURELY_UNSET}\n",
     "juggle.ini:2: job 'a': command: environment variable 'JUGGLE_SURELY_UNSET' is not set"),
    ("[download d]\nurl = ${env:JUGGLE_SURELY_UNSET}/a\noutput = d.txt\n",
     "juggle.ini:2: job 'd': url: environment variable 'JUGGLE_SURELY_UNSET' is not set"),
    ("[cpu c]\ntask = sum_squares\nn = ${nosuch}\n",
     "juggle.ini:3: job 'c': n: undefined variable 'nosuch' "
     "(define it in [vars] or with -s nosuch=VALUE)"),
    # Common keys: the empty value is not parsed again.
    ("[command a]\ncommand = true\nretries = ${nosuch}\n",
     "juggle.ini:3: job 'a': retries: undefined variable 'nosuch' "
     "(define it in [vars] or with -s nosuch=VALUE)"),
    ("[command a]\nforeach = ${nosuch}\nbatch = 2\ncommand = echo {item}\n",
     "juggle.ini:2: job 'a': foreach: undefined variable 'nosuch' "
     "(define it in [vars] or with -s nosuch=VALUE)"),
    # [settings]
    ("[settings]\nkeep_going = ${nosuch}\n[command a]\ncommand = true\n",
     "juggle.ini:2: keep_going: undefined variable 'nosuch' "
     "(define it in [vars] or with -s nosuch=VALUE)"),
    ("[settings]\nnet_jobs = ${env:JUGGLE_SURELY_UNSET}\n[command a]\ncommand = true\n",
     "juggle.ini:2: net_jobs: environment variable 'JUGGLE_SURELY_UNSET' is not set"),
    ("[settings]\nprogress = ${nosuch}\n[command a]\ncommand = true\n",
     "juggle.ini:2: progress: undefined variable 'nosuch' "
     "(define it in [vars] or with -s nosuch=VALUE)"),
    ("[settings]\nreport = " + LONG + "\n[command a]\ncommand = true\n",
     too_long(2, "report = " + LONG)),
]


def test_one_mistake_is_one_error(t):
    failures = []
    for text, want in ONE_ERROR:
        t.write("juggle.ini", text)
        for cmd in (["check"], ["run"]):
            r = t.juggle(*cmd, "-b", "serial", backend=False)
            got = r.err.splitlines()
            if r.rc != 2 or got != [want, "juggle: nothing ran"]:
                failures.append("%r\n  want: %s\n  got (rc %d): %s" % (text[:60], want, r.rc,
                                                                       r.err))
            if os.path.exists(".juggle"):
                failures.append("%r: .juggle was created: something ran" % text[:60])
    assert not failures, "\n".join(failures)


def test_a_failed_key_hides_no_other_mistake(t):
    # The kind's own check is left out after its key failed, but the
    # section's other keys are still checked, each once.
    t.ini("""
        [command a]
        command = sh -c 'echo a ; echo b'
        timeout = soon

        [command b]
        output = b.txt
        """)
    r = t.juggle("check", "-b", "serial", backend=False, rc=2)
    assert r.err.splitlines() == [
        "juggle.ini:3: ' ;' starts a comment, which would cut this quoted text short; write "
        "${semicolon} for a ';' after a space",
        "juggle.ini:4: job 'a': timeout: 'soon' is not a positive number of seconds",
        "juggle.ini:6: job 'b': missing key 'command' (the program and its arguments)",
        "juggle: 3 errors in 'juggle.ini'; nothing ran",
    ], r.err



GRAPH_WITH_VARS = """
    [vars]
    mirror = http://default.example

    [settings]
    report = ${report_name}.json

    [command a]
    output = a.txt
    command = sh -c 'echo "$0" > a.txt' ${mirror}

    [command b]
    output = b.txt
    command = sh -c 'echo "$0" > b.txt' ${only_in_b}
    """


def test_unused_set_variable_is_a_warning_with_did_you_mean(t):
    t.ini(GRAPH_WITH_VARS)
    r = t.juggle("-b", "serial", "-s", "mirrror=http://local", "-s", "report_name=r",
                 "-s", "only_in_b=x", "run", "a", backend=False, rc=0)
    warning = ("juggle: warning: -s 'mirrror': no ${mirrror} in 'juggle.ini' uses it, so it "
               "has no effect (did you mean 'mirror'?)")
    # Only the typo: only_in_b (used by b, not selected) and report_name
    # (used in [settings]) are used.
    assert [l for l in r.err.splitlines() if "warning" in l] == [warning], r.err
    # The run went on, with the graph's own mirror.
    assert t.read("a.txt") == "http://default.example\n"
    r = t.juggle("-s", "mirrror=x", "-s", "nothing_like_it=1", "-s", "only_in_b=x",
                 "-s", "report_name=r", "check", rc=0)
    assert warning in r.err.splitlines(), r.err
    assert ("juggle: warning: -s 'nothing_like_it': no ${nothing_like_it} in 'juggle.ini' "
            "uses it, so it has no effect") in r.err.splitlines(), r.err


def test_used_set_variables_are_not_warned_about(t):
    t.ini(GRAPH_WITH_VARS)
    # mirror is used by a; only_in_b only by b, which is not selected;
    # report_name only in [settings].
    r = t.juggle("-b", "serial", "-s", "mirror=http://local", "-s", "only_in_b=x",
                 "-s", "report_name=r", "run", "a", backend=False, rc=0)
    assert "warning" not in r.err, r.err
    assert t.read("a.txt") == "http://local\n"
    assert os.path.exists("r.json")
    assert not os.path.exists("b.txt")
    # A Slurm step's exec-job gets the run's -s again: the run warned.
    r = t.juggle("-s", "mirrror=x", "-s", "only_in_b=x", "-s", "report_name=r",
                 "exec-job", "a", backend=False, rc=0)
    assert "warning" not in r.err, r.err
    # Declared in [vars] but used nowhere: overriding it is not a typo.
    t.ini("[vars]\nspare = 1\n[command a]\ncommand = true\n")
    r = t.juggle("-s", "spare=2", "check", rc=0)
    assert "warning" not in r.err, r.err


def test_a_typo_in_set_explains_the_undefined_variable(t):
    t.ini("""
        [command a]
        command = echo ${mirror}
        """)
    r = t.juggle("-s", "mirrror=x", "check", rc=2)
    assert r.err.splitlines() == [
        "juggle: warning: -s 'mirrror': no ${mirrror} in 'juggle.ini' uses it, so it has no "
        "effect (did you mean 'mirror'?)",
        "juggle.ini:3: job 'a': command: undefined variable 'mirror' (did you mean "
        "'mirrror'?)",
        "juggle: nothing ran",
    ], r.err
