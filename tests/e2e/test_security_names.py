"""Hostile file names, URLs and strings stay inert: a file name never runs as
shell code, never becomes an option, never adds a request header, never
picks a download's scheme, and never drives the terminal."""
import os
import re
import subprocess
import tarfile

import harness
from harness import TIMEOUT_SCALE, backends
from testbed import nginx


def run_bytes(t, *args):
    """Runs juggle and returns (rc, stdout + stderr) as bytes, undecoded: what
    reaches a terminal, invalid UTF-8 included."""
    env = dict(os.environ, NO_COLOR="1")
    p = subprocess.run([t.exe, "-b", t.backend] + list(args), capture_output=True, env=env,
                       timeout=120 * TIMEOUT_SCALE, cwd=t.dir)
    return p.returncode, p.stdout + p.stderr


# ---- a file name is never shell code ----

@backends
def test_quoted_placeholder_in_a_shell_command_is_refused(t):
    evil = "a$(touch PWNED).txt"
    t.write("in/" + evil, "x\n")
    for i, (command, safe) in enumerate([
            ('echo "processing {name}" > out.txt', 'echo "processing "{name} > out.txt'),
            ("echo 'processing {name}' > out.txt", "echo 'processing '{name} > out.txt")]):
        t.ini("""
            [command show]
            foreach = in/*.txt
            shell = yes
            command = %s
            """ % command)
        r = t.juggle(rc=2)
        assert not os.path.exists("PWNED"), "a quoted placeholder ran a file name (%d)" % i
        assert "juggle.ini:5: job 'show': command: {name} is inside" in r.err, r.err
        # The error shows the safe form, and the safe form works.
        assert "(juggle quotes each value as one word): %s\n" % safe in r.err, r.err
        t.ini("""
            [command show]
            foreach = in/*.txt
            shell = yes
            output = out.txt
            command = %s
            """ % safe)
        t.juggle("-B", rc=0)
        assert t.read("out.txt") == "processing %s\n" % evil, t.read("out.txt")
        assert not os.path.exists("PWNED"), "the safe form ran a file name"


@backends
def test_placeholder_in_an_sh_c_script_is_refused(t):
    evil = "c;touch${IFS}PWNED;.txt"
    t.write("in/" + evil, "four")
    t.ini("""
        [command count]
        foreach = in/*.txt
        output = n/{name}
        command = sh -c 'wc -c < {input} > {output}'
        """)
    r = t.juggle(rc=2)
    assert not os.path.exists("PWNED"), "a placeholder in an sh -c script ran a file name"
    assert ("juggle.ini:5: job 'count': command: {input} is inside the script of 'sh -c'"
            in r.err), r.err
    assert "sh -c 'wc -c < \"$1\" > \"$2\"' sh {input} {output}" in r.err, r.err
    # The same with shell = yes, where the script is a quoted shell word.
    t.ini("""
        [command count]
        foreach = in/*.txt
        output = n/{name}
        shell = yes
        command = sh -c "wc -c < {input}" > {output}
        """)
    r = t.juggle(rc=2)
    assert "{input} is inside the script of 'sh -c'" in r.err, r.err
    assert not os.path.exists("PWNED")
    # The documented way: values as arguments, read as "$1".
    t.ini("""
        [command count]
        foreach = in/*.txt
        output = n/{name}
        command = sh -c 'wc -c < "$1" > "$2"' sh {input} {output}
        """)
    t.juggle(rc=0)
    assert t.read("n/" + evil).strip() == "4"
    assert not os.path.exists("PWNED")


@backends
def test_placeholder_in_a_command_another_program_hands_to_a_shell_is_refused(t):
    """flock -c, su -c, ssh HOST CMD, watch: programs that pass words of
    their command line to a shell run a file name as code, as sh -c does."""
    evil = "c;touch${IFS}PWNED;.txt"
    t.write("in/" + evil, "four")
    t.ini("""
        [command count]
        foreach = in/*.txt
        output = n/{name}
        command = flock .count.lock -c 'wc -c < {input} > {output}'
        """)
    r = t.juggle(rc=2)
    assert not os.path.exists("PWNED"), "flock -c ran a file name"
    assert ("juggle.ini:5: job 'count': command: {input} is in a command that 'flock' "
            "hands to a shell" in r.err), r.err
    assert "write flock FILE PROGRAM ARGS (without -c)" in r.err, r.err
    # The same program as a command of its own, without -c: no shell.
    t.ini("""
        [command count]
        foreach = in/*.txt
        output = n/{name}
        shell = yes
        command = flock .count.lock wc -c {input} > {output}
        """)
    t.juggle(rc=0)
    assert t.read("n/" + evil).split()[0] == "4"
    assert not os.path.exists("PWNED")
    for command, program in (("ssh build@host wc -c {input}", "ssh"),
                             ("env LC_ALL=C su nobody -c 'cat {input}'", "su"),
                             ("watch -n 1 cat {input}", "watch")):
        t.ini("[command c]\nforeach = in/*.txt\noutput = o/{name}\ncommand = %s\n" % command)
        r = t.juggle("check", rc=2)
        assert "is in a command that '%s' hands to a shell" % program in r.err, (command, r.err)


def test_placeholders_where_the_shell_parses_again_are_refused(t):
    t.write("in/x.txt", "x")
    cases = [
        ("echo `basename {input}`", "{input} is inside `...`"),
        ("echo $$(({item} + 1))", "{item} is inside $((...))"),
        ("eval echo {name}", "{name} is an argument of eval"),
        ("echo \\{name} > {output}", "{name} directly after '\\'"),
        ("bash -o pipefail -ec 'cat {input}'", "{input} is inside the script of 'bash -c'"),
    ]
    for command, why in cases:
        t.ini("[command c]\nforeach = in/*.txt\noutput = o/{name}\nshell = yes\n"
              "command = %s\n" % command)
        r = t.juggle("check", rc=2)
        assert why in r.err, (command, r.err)
    # Unquoted, or inside $(...) (a new quoting level), they are one word.
    t.ini("""
        [command c]
        foreach = in/*.txt
        output = o/{name}
        shell = yes
        command = echo "$(cat {input})" {name} > {output}
        """)
    t.juggle(rc=0)
    assert t.read("o/x.txt") == "x x.txt\n"


# ---- a file name is never an option ----

@backends
def test_file_name_starting_with_a_dash_is_not_an_option(t):
    t.write("evil.txt", "touch PWNED\n")
    # Past tar's first checkpoint (every 10 records of 10 KiB).
    t.write("big.txt", b"\0" * 300000)
    t.write("--checkpoint-action=exec=sh evil.txt", "x\n")
    t.ini("""
        [command tar]
        input = *.txt
        output = out.tar
        command = tar -cf {output} {inputs}

        [command shtar]
        input = *.txt
        output = sh.tar
        shell = yes
        command = tar -cf {output} {inputs}

        [command one]
        foreach = *.txt
        output = copy/{name}
        command = cp {input} {output}
        """)
    r = t.juggle(rc=0)
    assert not os.path.exists("PWNED"), "a file name became tar's option"
    for tar in ("out.tar", "sh.tar"):
        names = tarfile.open(tar).getnames()
        assert "./--checkpoint-action=exec=sh evil.txt" in names, names
    assert t.read("copy/--checkpoint-action=exec=sh evil.txt") == "x\n"
    assert r.job("one[--checkpoint-action=exec=sh evil.txt]")["status"] == "ok"


# ---- a file name never adds a header ----

@backends
def test_header_with_a_line_break_from_a_file_name_sends_nothing(t):
    web = nginx(t)
    t.write("in/a.txt\r\nX-Token: injected", "x")
    t.ini("""
        [download h]
        foreach = in/*
        url = %s
        output = h/{stem}.txt
        header = X-Other: {name}
        """ % web.url("/echo/headers"))
    r = t.juggle(rc=2)
    assert "juggle.ini:6: job 'h[a.txt\\r\\nX-Token: injected]': header:" in r.err, r.err
    assert "is not 'Name: value' on one line" in r.err, r.err
    assert web.access_log() == [], "a request went out"
    assert not os.path.exists("h")
    # A plain name goes through as before.
    os.rename("in/a.txt\r\nX-Token: injected", "in/plain.txt")
    t.juggle(rc=0)
    text = t.read("h/plain.txt")
    assert "x-other: plain.txt\n" in text and "x-token: \n" in text, text


# ---- data never picks the scheme ----

@backends
def test_url_from_data_keeps_to_http(t):
    web = nginx(t)
    web.put("a.txt", "served\n")
    secret = t.write("secret.txt", "the secret\n")
    t.write("urls.txt", "%s\nfile://%s\n" % (web.url("/a.txt"), os.path.abspath(secret)))
    t.ini("""
        [download get]
        foreach = lines:urls.txt
        url = {item}
        output = got/{item}
        """)
    r = t.juggle(rc=2)
    where = "file://" + os.path.abspath(secret)
    assert ("juggle.ini:4: job 'get[%s]': url '%s' is file, but the graph's url '{item}' "
            "names no scheme" % (where, where)) in r.err, r.err
    assert web.access_log() == []
    found = [os.path.join(d, f) for d, _, fs in os.walk(".") for f in fs
             if open(os.path.join(d, f), "rb").read() == b"the secret\n"]
    assert found == ["./secret.txt"], found
    # http from data is fine; file:// written in the graph is too.
    t.write("urls.txt", "%s\n" % web.url("/a.txt"))
    t.write("local/b.txt", "local\n")
    t.ini("""
        [download get]
        foreach = lines:urls.txt
        url = {item}
        output = got/a.txt

        [download local]
        foreach = list:b.txt
        url = file://%s/local/{item}
        output = got/{item}
        """ % os.path.abspath("."))
    t.juggle(rc=0)
    assert t.read("got/a.txt") == "served\n"
    assert t.read("got/b.txt") == "local\n"


# ---- nothing from a file name drives the terminal ----

NAMES = [
    b"esc\x1b]0;pwned\x07.txt",     # OSC: retitles the window
    b"csi\x1b[2J.txt",              # clears the screen
    b"c1utf8 \xc2\x9b31m \xc2\x9d0;x\xc2\x9c.txt",  # U+009B CSI, U+009D OSC
    b"c1raw \x9b31m \x9d.txt",      # the same as raw bytes (invalid UTF-8)
    b"forge\n[2] ok          fake.txt",
    b"bidi \xe2\x80\xaetxt.exe",    # U+202E right-to-left override
    b"del\x7f.txt",
]


def assert_inert(out, what):
    """out (bytes) holds nothing a terminal obeys: valid UTF-8 without C0
    (but newline and tab), DEL, C1 or bidi controls, and no forged line."""
    text = out.decode("utf-8")  # raises on invalid UTF-8
    bad = [c for c in text if (ord(c) < 0x20 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f
           or c == "\u202e"]
    assert not bad, (what, bad, text)
    assert not re.search(r"^\[2\] ok", text, re.M), (what, text)


def test_file_names_never_reach_the_terminal_raw(t):
    os.makedirs("in")
    for n in NAMES:
        with open(b"in/" + n, "wb") as f:
            f.write(b"x\n")
    t.ini("""
        [command show]
        foreach = in/*
        output = out/{name}
        command = cp {input} {output}

        [command fail]
        foreach = in/*
        command = sh -c 'printf "%s \\033]0;log\\007 \\302\\233 \\233\\n" "$1"; exit 1' sh {name}
        """)
    for args in (["list"], ["explain"], ["-n"], ["graph"], ["-k", "--progress", "plain"],
                 ["-v", "-k", "--progress", "plain", "-B"]):
        rc, out = run_bytes(t, *args)
        assert rc in (0, 1), (args, rc, out)
        assert_inert(out, args)
    # The escapes are visible, not dropped.
    rc, out = run_bytes(t, "list")
    assert b"show[esc\\x1b]0;pwned\\x07.txt]" in out, out
    assert b"show[c1utf8 \\u{9b}31m \\u{9d}0;x\\u{9c}.txt]" in out, out
    assert b"show[c1raw \\x9b31m \\x9d.txt]" in out, out
    assert b"show[forge\\n[2] ok          fake.txt]" in out, out
    # An error quoting a name (check, load errors).
    t.ini("""
        [download d]
        foreach = in/*
        url = http://127.0.0.1:1/{name}
        output = d/{name}
        header = X: {name}
        """)
    rc, out = run_bytes(t, "check")
    assert rc == 2 and b"header:" in out, out
    assert_inert(out, "check")


def run_pty(t, *args):
    """Runs juggle on a pseudo-terminal (so the status line is on), without
    colour; returns (rc, output bytes)."""
    return harness.run_pty(t, *args, env={"NO_COLOR": "1"}, cols=200)


def test_status_line_shows_hostile_names_escaped(t):
    os.makedirs("in")
    for n in NAMES:
        with open(b"in/" + n, "wb") as f:
            f.write(b"x\n")
    t.ini("""
        [command show]
        foreach = in/*
        retries = 1
        retry_delay = 0
        command = sh -c 'printf "\\033]0;log\\007\\n"; exit 1'
        """)
    rc, out = run_pty(t, "-k")
    assert rc == 1, out
    assert b"show[esc\\x1b]0;pwned\\x07.txt]" in out, out
    # juggle's own sequence (erase to the end of the line, which no name
    # here holds) is the only one; \r rewrites the status line.
    assert_inert(out.replace(b"\x1b[K", b"").replace(b"\r", b"\n"), "tty")
