"""Graph loading: every malformed graph is a file:line error, exit 2, and
nothing runs. Values, variables, continuation lines and inih's traps."""
import os

from harness import valgrind_slow

# (graph text, the exact message expected on stderr)
BAD = [
    ("[command render]\ncomand = echo\n",
     "juggle.ini:2: job 'render': unknown key 'comand' (did you mean 'command'?)"),
    ("[command render]\nurl = http://x\n",
     "juggle.ini:2: job 'render': unknown key 'url' (it belongs to download jobs)"),
    ("[comand x]\ncommand = true\n",
     "juggle.ini:1: unknown job kind 'comand' (did you mean 'command'?)"),
    ("[settings]\nbackend = serial\n[setings]\n",
     "juggle.ini:3: unknown section '[setings]' (did you mean '[settings]'?)"),
    ("[command]\ncommand = true\n",
     "juggle.ini:1: section '[command]' needs a name: [command NAME]"),
    ("[command bad/name]\ncommand = true\n",
     "juggle.ini:1: 'bad/name' is not a valid name: use 1 to 128 of the characters "
     "A-Z a-z 0-9 . _ -"),
    ("[command a]\ncommand = true\n\n[command a]\ncommand = false\n",
     "juggle.ini:4: job 'a' is defined twice (first at line 1)"),
    ("[command a]\ncommand = true\ncommand = false\n",
     "juggle.ini:3: job 'a': key 'command' is set twice (first at line 2)"),
    ("[command a]\noutput = x\n",
     "juggle.ini:1: job 'a': missing key 'command' (the program and its arguments)"),
    ("[command a]\ncommand = true\nafter = b\n",
     "juggle.ini:3: job 'a': after: no job is called 'b'"),
    ("[command abc]\ncommand = true\n[command b]\ncommand = true\nafter = abd\n",
     "juggle.ini:5: job 'b': after: no job is called 'abd' (did you mean 'abc'?)"),
    ("[command a]\ncommand = true\nafter = b\n[command b]\ncommand = true\nafter = a\n",
     "juggle.ini:1: dependency cycle: a -> b -> a"),
    ("[command a]\ncommand = echo ${mirro}\n[vars]\nmirror = x\n",
     "juggle.ini:2: job 'a': command: undefined variable 'mirro' (did you mean 'mirror'?)"),
    ("[command a]\ncommand = echo ${nothing_like_it}\n",
     "juggle.ini:2: job 'a': command: undefined variable 'nothing_like_it' "
     "(define it in [vars] or with -s nothing_like_it=VALUE)"),
    ("[command a]\ncommand = echo ${env:JUGGLE_SURELY_UNSET}\n",
     "juggle.ini:2: job 'a': command: environment variable 'JUGGLE_SURELY_UNSET' is not set"),
    ("[command a]\ncommand = echo ${oops\n",
     "juggle.ini:2: job 'a': command: '${' without a closing '}' in 'echo ${oops'"),
    ("[command a]\ncommand = echo 'unterminated\n",
     "juggle.ini:2: job 'a': command: unterminated single quote"),
    ("[command a]\ncommand = true\noutput = ../escape.txt\n",
     "juggle.ini:3: job 'a': output '../escape.txt' leaves the graph's folder through '..'"),
    ("[command a]\ncommand = true\noutput = /tmp/abs.txt\n",
     "juggle.ini:3: job 'a': output '/tmp/abs.txt' is an absolute path; outputs must stay "
     "inside the graph's folder"),
    ("[command a]\ncommand = true\noutput = .juggle/state\n",
     "juggle.ini:3: job 'a': output '.juggle/state' is inside juggle's state folder .juggle/"),
    ("[command a]\ncommand = true\noutput = juggle.ini\n",
     "juggle.ini:3: job 'a': output 'juggle.ini' is the graph file itself"),
    ("[command a]\ncommand = true\noutput = x\n[command b]\ncommand = true\noutput = ./x\n",
     "juggle.ini:6: job 'b': output 'x' is also an output of job 'a' (line 1)"),
    ("[command a]\ncommand = true\nretries = many\n",
     "juggle.ini:3: job 'a': retries: 'many' is not a number from 0 to 1000"),
    ("[command a]\ncommand = true\ntimeout = -1\n",
     "juggle.ini:3: job 'a': timeout: '-1' is not a positive number of seconds"),
    ("[command a]\ncommand = true\nalways = maybe\n",
     "juggle.ini:3: job 'a': always: 'maybe' is not yes or no"),
    ("[command a]\ncommand = true\npool = java\n",
     "juggle.ini:3: job 'a': pool 'java' is not defined (add a [pool java] section with a depth)"),
    ("[pool java]\n[command a]\ncommand = true\n",
     "juggle.ini:1: pool 'java': missing key 'depth'"),
    ("[pool java]\ndepth = 0\n",
     "juggle.ini:2: pool 'java': depth '0' is not a number from 1 to 100000, cpus or "
     "memory_gib"),
    ("[command a]\ncommand = true\nforeach = range:5..1\n",
     "juggle.ini:3: job 'a': foreach: range 5..1 is empty (LAST < FIRST)"),
    ("[command a]\ncommand = true\nforeach = range:1-5\n",
     "juggle.ini:3: job 'a': foreach: 'range:1-5' is not of the form range:FIRST..LAST"),
    ("[command a]\ncommand = true\nforeach = lines:nope.txt\n",
     "juggle.ini:3: job 'a': foreach: cannot read 'nope.txt': No such file or directory"),
    ("[command a]\ncommand = true\nforeach = list:x y x\n",
     "juggle.ini:3: job 'a': foreach item 'x' appears twice; instance names must be unique"),
    ("[command a]\ncommand = echo {item}\n",
     "juggle.ini:2: job 'a': command: {item} cannot be used here: the job has no foreach"),
    ("[command a]\ncommand = echo {input}\n",
     "juggle.ini:2: job 'a': command: {input} cannot be used here: the job has no input and "
     "no glob foreach"),
    ("[command a]\ncommand = true\noutput = {output}.x\n",
     "juggle.ini:3: job 'a': output: {output} cannot be used here: an output cannot name itself"),
    ("[command a]\ncommand = true\ninput = x\noutput = x\n",
     "juggle.ini:3: job 'a': input 'x' is also its own output"),
    ("[cpu a]\ntask = sha265\n",
     "juggle.ini:2: job 'a': unknown task 'sha265' (did you mean 'sha256'?) "
     "(tasks: sum_squares, sha256, gzip, xmlcheck, xslt)"),
    ("[cpu a]\ntask = sum_squares\n",
     "juggle.ini:1: job 'a': task sum_squares needs the key 'n'"),
    ("[cpu a]\ntask = sum_squares\nn = lots\n",
     "juggle.ini:3: job 'a': n: 'lots' is not a whole number from 0 to 1000000000000"),
    ("[cpu a]\ntask = sha256\noutput = x\n",
     "juggle.ini:1: job 'a': task sha256 needs an input"),
    ("[settings]\njobs = 0\n",
     "juggle.ini:2: jobs: '0' is not a number of jobs (1 to 100000)"),
    ("[settings]\nbakend = serial\n",
     "juggle.ini:2: unknown setting 'bakend' (did you mean 'backend'?)"),
    ("[settings]\nca_fil = ca.pem\n",
     "juggle.ini:2: unknown setting 'ca_fil' (did you mean 'ca_file'?)"),
    ("command = true\n",
     "juggle.ini:1: 'command' comes before any section; put it under [settings], [vars] or "
     "a job"),
    ("[command a]\nthis line has no equals sign\n",
     "juggle.ini:2: expected 'key = value', a [section] or a comment, not "
     "'this line has no equals sign'"),
    ("[command a\ncommand = true\n",
     "juggle.ini:1: section header without a closing ']'"),
    ("[command a] junk\ncommand = true\n",
     "juggle.ini:1: unexpected text after ']': ' junk'"),
    ("[vars]\nbad name = 1\n",
     "juggle.ini:2: 'bad name' is not a valid variable name: use A-Z a-z 0-9 _ - ."),
    ("[vars]\na = ${b}\nb = ${a}\n[command x]\ncommand = echo ${a}\n",
     "juggle.ini:5: job 'x': command: variables refer to each other in a loop"),
    # inih's traps
    ("[command a]\ncommand = echo " + "x" * 190 + "\n",
     "juggle.ini:2: the line is 205 characters long, over the 199 that inih reads; continue "
     "the value on the next line, indented"),
    ("[command a]\ncommand = sh -c 'echo a ; echo b'\n",
     "juggle.ini:2: ' ;' starts a comment, which would cut this quoted text short; write "
     "${semicolon} for a ';' after a space"),
    ("[command a]\n  command = true\n  output = x\n",
     "juggle.ini:3: job 'a': this indented line continues 'command'; remove the indentation "
     "to make 'output' a key"),
    ("[command a]\ncommand = true\n  [command b]\n",
     "juggle.ini:3: an indented line continues the value above; start section headers at the "
     "beginning of the line"),
    ("[command a]\ncommand = true\x00\n",
     "juggle.ini:2: the line contains a NUL byte"),
]


@valgrind_slow("53 graphs, one juggle start each: 7 minutes of CPU under memcheck")
def test_every_bad_graph_is_a_located_error(t):
    failures = []
    for text, want in BAD:
        t.write("juggle.ini", text.encode())
        for cmd in (["check"], ["run"]):
            r = t.juggle(*cmd, "-b", "serial", backend=False)
            if r.rc != 2 or want not in r.err.splitlines():
                failures.append("%r\n  want: %s\n  got (rc %d): %s" % (text, want, r.rc, r.err))
            if os.path.exists(".juggle"):
                failures.append("%r: .juggle was created: something ran" % text)
    assert not failures, "\n".join(failures)


def test_many_errors_reported_at_once(t):
    t.ini("""
        [command a]
        comand = x
        [command b]
        command = true
        retries = x
        """)
    r = t.juggle("check", rc=2)
    assert "juggle.ini:3: job 'a': unknown key 'comand'" in r.err
    assert "juggle.ini:6: job 'b': retries: 'x' is not a number" in r.err
    assert "2 errors in 'juggle.ini'; nothing ran" in r.err


def test_error_names_the_file_as_given(t):
    t.write("sub/g.ini", "[command a]\ncomand = x\n")
    r = t.juggle("-f", "sub/g.ini", "check", rc=2)
    assert "sub/g.ini:2: job 'a': unknown key 'comand'" in r.err


def test_missing_graph_file(t):
    r = t.juggle("check", rc=2)
    assert "cannot read graph file 'juggle.ini': No such file or directory" in r.err


def test_values_variables_and_continuations(t):
    t.ini("""
        [settings]
        jobs = 3

        [vars]
        greeting = hello
        who = ${greeting} world
        flags = -a -b

        [command v]
        output = out.txt
        command = sh -c 'printf "%s|" "$@" > out.txt' sh
            ${who} "${who}" $$HOME $HOME ${flags}
            ${jobs} ${semicolon} "a ${semicolon} b"
        """)
    t.juggle("-b", "serial", rc=0, backend=False, env={"HOME": "/home/x"})
    assert t.read("out.txt") == \
        "hello|world|hello world|$HOME|$HOME|-a|-b|3|;|a ; b|", t.read("out.txt")
    t.juggle("-b", "serial", "-s", "who=bye", "-B", rc=0, backend=False)
    assert t.read("out.txt").startswith("bye|bye|")


def test_inline_comments_and_env_vars(t):
    t.ini("""
        [command c]
        output = c.txt ; a comment
        command = sh -c 'echo "$0" > c.txt' ${env:JUGGLE_TEST_VALUE}  ; another
        """)
    t.juggle("-b", "serial", rc=0, backend=False, env={"JUGGLE_TEST_VALUE": "from-env"})
    assert t.read("c.txt") == "from-env\n"


def test_date_builtin_and_override(t):
    t.ini("""
        [command d]
        output = d-${date}.txt
        command = touch {output}
        """)
    t.juggle("-b", "serial", "-s", "date=2026-01-02", rc=0, backend=False)
    assert os.path.exists("d-2026-01-02.txt")


def test_input_globs_see_declared_outputs(t):
    t.write("src/one.txt", "1")
    t.ini("""
        [command gen]
        output = src/two.txt
        command = sh -c 'echo 2 > src/two.txt'

        [cpu digest]
        task = sha256
        input = src/*.txt
        output = digest.txt
        """)
    r = t.juggle("-b", "serial", rc=0, backend=False)
    lines = t.read("digest.txt").splitlines()
    assert [l.split("  ")[1] for l in lines] == ["src/one.txt", "src/two.txt"]
    assert r.job("digest")["started_s"] >= r.job("gen")["finished_s"] - 1e-6


def test_targets_select_jobs_and_dependencies(t):
    t.ini("""
        [command a]
        output = a.txt
        command = touch a.txt
        [command b]
        input = a.txt
        output = b.txt
        command = touch b.txt
        [command c]
        command = touch c.txt
        output = c.txt
        """)
    r = t.juggle("-b", "serial", "b.txt", rc=0, backend=False)
    assert sorted(r.statuses()) == ["a", "b"]
    assert not os.path.exists("c.txt")
    r = t.juggle("-b", "serial", "run", "c", rc=0, backend=False)
    assert list(r.statuses()) == ["c"]
