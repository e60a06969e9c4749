"""Outputs are written and removed only inside the graph's folder, and only
when the attempt made them: a failure keeps the files it never touched,
symbolic links (in the folders on the way or at the output's own name)
never carry a write or a removal outside, a folder swapped during the run
does not either, and temporary files are fresh files of juggle's own."""
import ctypes
import errno
import os
import shutil
import stat
import subprocess
import tempfile
import time

from harness import backends, leftovers


def outside_folder(t):
    """A folder outside the test's graph folder, removed afterwards."""
    d = tempfile.mkdtemp(prefix="juggle-outside-")
    t.cleanups.append(lambda: shutil.rmtree(d))
    return d


# ---- a failure removes only what the attempt made ----

@backends
def test_failed_job_keeps_output_it_never_wrote(t):
    """A command that fails without touching its output leaves the file
    as it was; one that wrote or changed its output before failing has it
    removed (a half-made file must not pass for a made one)."""
    t.write("notes.txt", "my notes\n")
    t.write("changed.txt", "old\n")
    t.ini("""
        [command untouched]
        output = notes.txt
        command = sh -c "exit 1"

        [command changed]
        output = changed.txt
        command = sh -c 'echo half >> changed.txt; exit 1'

        [command made]
        output = made.txt
        command = sh -c 'echo half > made.txt; exit 1'

        [command never]
        input = made.txt
        output = never.txt
        command = true
        """)
    t.write("never.txt", "kept too\n")
    r = t.juggle("-k", rc=1)
    assert r.statuses()["untouched"] == "failed", r
    assert t.read("notes.txt") == "my notes\n", "a failed job removed a file it never wrote"
    assert not os.path.exists("changed.txt"), "a changed output survived its failed job"
    assert not os.path.exists("made.txt"), "a half-made output survived its failed job"
    assert t.read("never.txt") == "kept too\n", "a job that never started lost its output"
    # Once more: the kept file still is not taken for the job's work.
    r = t.juggle("-k", rc=1)
    assert t.read("notes.txt") == "my notes\n"


def test_dead_worker_keeps_output_it_never_wrote(t):
    """On the processes backend, a worker that dies while carrying a job
    fails the job; an output the attempt never touched is kept."""
    t.write("notes.txt", "my notes\n")
    t.ini("""
        [command victim]
        output = notes.txt
        command = sh -c 'kill -KILL $PPID'
        """)
    r = t.juggle("-b", "processes", backend=False, rc=1)
    assert "worker process" in r.job("victim")["error"], r.job("victim")
    assert t.read("notes.txt") == "my notes\n", "a dead worker's untouched output was removed"


# ---- symbolic links in the folders on the way ----

def test_check_refuses_output_in_a_folder_linked_outside(t):
    """`out` a link to a folder elsewhere: check fails naming the file,
    line, job and path; run and clean refuse to load and leave the outside
    file alone."""
    ext = outside_folder(t)
    t.write(os.path.join(ext, "x.txt"), "outside\n")
    os.symlink(ext, "out")
    t.ini("""
        [command a]
        output = out/x.txt
        command = sh -c 'exit 1'
        """)
    r = t.juggle("check", backend=False, rc=2)
    assert ("juggle.ini:3: job 'a': output 'out/x.txt' is in a folder that leads outside "
            "the graph's folder through a symbolic link") in r.err, r
    t.juggle(rc=2)
    t.juggle("clean", backend=False, rc=2)
    assert t.read(os.path.join(ext, "x.txt")) == "outside\n"


@backends
def test_output_in_a_folder_linked_inside_is_written(t):
    """A link to a folder inside the graph's folder is followed, for
    commands and for the cpu kind."""
    os.makedirs("real/deep")
    os.symlink("real", "lnk")
    os.symlink(os.path.abspath("real/deep"), "abs")
    t.ini("""
        [command a]
        output = lnk/a.txt
        command = sh -c 'echo a > lnk/a.txt'

        [cpu b]
        task = sum_squares
        n = 3
        output = abs/b.txt
        """)
    t.juggle(rc=0)
    assert t.read("real/a.txt") == "a\n"
    assert t.read("real/deep/b.txt") == "5\n"
    assert not leftovers()


@backends
def test_no_folder_made_outside(t):
    """A link to a folder outside appears after the graph was loaded: the
    job fails before it starts, and no folder is made outside."""
    ext = outside_folder(t)
    t.ini("""
        [command link]
        output = marker
        command = sh -c 'ln -s %s lnk && touch marker'

        [command b]
        input = marker
        output = lnk/sub/x.txt
        command = sh -c 'echo x > lnk/sub/x.txt'

        [cpu c]
        task = sum_squares
        n = 3
        input = marker
        output = lnk/cpu/x.txt
        """ % ext)
    r = t.juggle("-k", rc=1)
    assert os.listdir(ext) == [], os.listdir(ext)
    assert r.statuses()["b"] == "failed" and r.statuses()["c"] == "failed", r
    assert "leads outside the graph's folder" in r.job("b")["error"], r.job("b")


# ---- a symbolic link at the output's own name ----

@backends
def test_link_at_output_name_is_not_followed(t):
    """out/page.html links to a file outside: the link is removed before
    the job starts, so cp, the cpu kind and a download each write a file
    of their own and the outside file keeps its bytes."""
    ext = outside_folder(t)
    for n in ("page", "gz", "dl"):
        t.write(os.path.join(ext, n), "SECRET\n")
    t.write("page.src", "<p>hello</p>\n")
    os.mkdir("out")
    os.symlink(os.path.join(ext, "page"), "out/page.html")
    os.symlink(os.path.join(ext, "gz"), "out/page.gz")
    os.symlink(os.path.join(ext, "dl"), "out/dl.txt")
    t.ini("""
        [command page]
        input = page.src
        output = out/page.html
        command = cp {input} {output}

        [cpu gz]
        task = gzip
        input = page.src
        output = out/page.gz

        [download dl]
        url = file://%s/page.src
        output = out/dl.txt
        """ % os.getcwd())
    t.juggle(rc=0)
    for n in ("page", "gz", "dl"):
        assert t.read(os.path.join(ext, n)) == "SECRET\n", "wrote through a link to " + n
    for o in ("out/page.html", "out/page.gz", "out/dl.txt"):
        assert stat.S_ISREG(os.lstat(o).st_mode), o
    assert t.read("out/page.html") == "<p>hello</p>\n"
    assert t.read("out/dl.txt") == "<p>hello</p>\n"


@backends
def test_output_left_as_link_outside_fails(t):
    """A job that leaves its output as a link leading outside fails, the
    link is not followed (nothing outside is read as the output or
    removed), and the link itself goes; a link leading inside is fine."""
    ext = outside_folder(t)
    t.write(os.path.join(ext, "target"), "outside\n")
    t.write("inside.txt", "inside\n")
    t.ini("""
        [command out]
        output = link.txt
        command = ln -s %s/target link.txt

        [command in]
        output = ok.txt
        command = ln -s inside.txt ok.txt
        """ % ext)
    r = t.juggle("-k", rc=1)
    assert r.statuses() == {"out": "failed", "in": "ok"}, r
    assert ("its output 'link.txt' leads outside the graph's folder through a symbolic link"
            in r.job("out")["error"]), r.job("out")
    assert not os.path.lexists("link.txt")
    assert t.read(os.path.join(ext, "target")) == "outside\n"
    assert t.read("ok.txt") == "inside\n"


# ---- a folder swapped for a link during the run ----

def exchange(a, b):
    """Swaps names a and b in one step (renameat2 RENAME_EXCHANGE)."""
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    if libc.renameat2(AT_FDCWD, a.encode(), AT_FDCWD, b.encode(), RENAME_EXCHANGE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e), a)


@backends
def test_folder_swapped_for_link_mid_run(t):
    """The cpu kind waits on its input (a FIFO) after juggle prepared the
    output's folder; the folder is then swapped for a link to a folder
    outside. The write must not land outside, and the job fails."""
    ext = outside_folder(t)
    os.mkdir("d")
    t.write("in", "")
    t.ini("""
        [cpu gz]
        task = gzip
        input = in
        output = d/x.gz
        """)
    t.juggle(rc=0)
    # The input becomes a FIFO that looks unchanged to the state log (same
    # size and mtime), so juggle does not read it before the job; the
    # missing output makes the job run again.
    st = os.stat("in")
    os.unlink("in")
    os.mkfifo("in")
    os.utime("in", ns=(st.st_atime_ns, st.st_mtime_ns))
    os.unlink("d/x.gz")
    p = t.spawn("--progress", "none")
    # The job opens its input after the output's folder was prepared: a
    # writer can open the FIFO once it has a reader. Held open, the job
    # waits in read() while the folder is swapped.
    end = time.monotonic() + 60
    while True:
        try:
            fd = os.open("in", os.O_WRONLY | os.O_NONBLOCK)
            break
        except OSError as e:
            if e.errno != errno.ENXIO or time.monotonic() > end or p.poll() is not None:
                raise
            time.sleep(0.01)
    # One atomic exchange: the job may be making or opening "d" right now
    # (its open of the FIFO returned when we opened it), and a rename then
    # a symlink would leave a moment with no "d" for it to make afresh.
    os.symlink(ext, "d.link")
    exchange("d.link", "d")
    os.rename("d.link", "d.old")
    os.close(fd)
    out, err = p.communicate(timeout=60)
    assert os.listdir(ext) == [], ("written outside", os.listdir(ext), out, err)
    assert p.returncode == 1, (p.returncode, out, err)
    assert "leads outside the graph's folder" in out + err, (out, err)


# ---- temporary files are fresh files of juggle's own ----

@backends
def test_planted_fifo_at_temporary_name_does_not_hang(t):
    """A FIFO at the old fixed temporary names of an output and of a
    report: juggle neither opens it nor waits, and leaves it alone."""
    os.mkfifo(".sq.txt.juggle-tmp")
    os.mkfifo(".r.json.juggle-tmp")
    t.ini("""
        [cpu sq]
        task = sum_squares
        n = 3
        output = sq.txt
        """)
    t.juggle("--report", "r.json", rc=0, timeout=60)
    assert t.read("sq.txt") == "5\n"
    assert '"sq"' in t.read("r.json")
    assert stat.S_ISFIFO(os.lstat(".sq.txt.juggle-tmp").st_mode)


@backends
def test_precreated_temporary_file_does_not_become_the_output(t):
    """Someone else's file at a temporary name (kept open through a hard
    link) never becomes the output or the report: each is a new file."""
    t.write(".sq.txt.juggle-tmp", "theirs\n")
    os.link(".sq.txt.juggle-tmp", "theirs-out")
    t.write(".r.json.juggle-tmp", "theirs\n")
    os.link(".r.json.juggle-tmp", "theirs-report")
    t.ini("""
        [cpu sq]
        task = sum_squares
        n = 3
        output = sq.txt
        """)
    t.juggle("--report", "r.json", rc=0)
    assert os.stat("sq.txt").st_ino != os.stat("theirs-out").st_ino
    assert os.stat("r.json").st_ino != os.stat("theirs-report").st_ino
    assert t.read("theirs-out") == "theirs\n" and t.read("theirs-report") == "theirs\n"
    assert t.read("sq.txt") == "5\n"


def test_temporary_names_are_unpredictable_and_recognisable(t):
    """A killed write leaves a temporary file juggle's leftovers() finds;
    two runs do not pick the same name, and the next complete run removes
    what the killed ones left (but not a FIFO named like one)."""
    names = []
    t.ini("""
        [download dl]
        url = file://%s/in.fifo
        output = x.txt
        """ % os.getcwd())
    for _ in range(2):
        os.mkfifo("in.fifo")
        p = t.spawn("--progress", "none")
        # Opens once the download opened the FIFO, its temporary file made.
        fd = os.open("in.fifo", os.O_WRONLY)
        os.write(fd, b"data\n")
        found = []
        end = time.monotonic() + 60
        while not found and time.monotonic() < end:
            found = leftovers()
            time.sleep(0.01)
        # The run before left one; this run removed it before starting.
        assert len(found) == 1, found
        names.append(os.path.basename(found[0]))
        p.kill()
        p.communicate(timeout=60)
        os.close(fd)
        os.unlink("in.fifo")
    assert names[0] != names[1], names
    for n in names:
        assert n.startswith(".x.txt.juggle-tmp-"), n
    os.mkfifo(".x.txt.juggle-tmp-0123456789abcdef")
    t.write("in.fifo", "data\n")
    t.juggle(rc=0)
    assert t.read("x.txt") == "data\n"
    assert leftovers() == ["./.x.txt.juggle-tmp-0123456789abcdef"], leftovers()
