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
