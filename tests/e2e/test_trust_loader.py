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
                 ["-n", "graph"], ["-n", "check"], ["-n", "clean"]):
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
