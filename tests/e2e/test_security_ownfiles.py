"""juggle's own files under .juggle/ are its own: a link planted there,
a .juggle that is a link or another user's folder, and an output that
reaches .juggle through a link lead nowhere; the lock keeps other users
out. The state log learns a touched file's new stat signature once its
content hash has confirmed it, so later no-op runs are stat-only again."""
import fcntl
import os
import stat
import subprocess

from harness import Skip, backends


def graph(t):
    t.ini("""
        [command a]
        output = a.txt
        command = sh -c "echo made > a.txt"
        """)


def victim(t):
    """A file outside the graph's folder that nothing may touch."""
    path = os.path.join(os.path.dirname(t.dir), os.path.basename(t.dir) + "-victim.txt")
    with open(path, "w") as f:
        f.write("precious\n")
    t.cleanups.append(lambda: os.path.exists(path) and os.unlink(path))
    return path


def outside_path(t, name):
    path = os.path.join(os.path.dirname(t.dir), os.path.basename(t.dir) + "-" + name)
    t.cleanups.append(lambda: os.path.lexists(path) and (
        subprocess.run(["rm", "-rf", path]) and None))
    return path


@backends
def test_ownfiles_log_link_is_not_followed(t):
    """A link at .juggle/logs/NAME.log: the next run neither truncates nor
    appends to its target."""
    graph(t)
    t.juggle(rc=0)
    v = victim(t)
    os.unlink(".juggle/logs/a.log")
    os.symlink(v, ".juggle/logs/a.log")
    r = t.juggle("-B", rc=1)
    assert "cannot open the log of 'a'" in r.job("a")["error"], r
    assert t.read(v) == "precious\n"
    # Once the link is gone, the job runs as before.
    os.unlink(".juggle/logs/a.log")
    t.juggle(rc=0)
    assert t.read("a.txt") == "made\n"


def test_ownfiles_lock_link_is_not_followed(t):
    graph(t)
    os.makedirs(".juggle")
    v = victim(t)
    os.symlink(v, ".juggle/lock")
    r = t.juggle(rc=3)
    assert "'.juggle/lock'" in r.err and "remove it" in r.err, r
    assert t.read(v) == "precious\n"
    assert not os.path.exists("a.txt")
    r = t.juggle("clean", rc=3)
    assert t.read(v) == "precious\n"


def test_ownfiles_dangling_state_link_creates_nothing(t):
    graph(t)
    os.makedirs(".juggle")
    target = outside_path(t, "created.txt")
    os.symlink(target, ".juggle/state")
    r = t.juggle(rc=3)
    assert "'.juggle/state'" in r.err and "remove it" in r.err, r
    assert not os.path.lexists(target)
    # A link to a real file is not read either: not the state.
    v = victim(t)
    os.unlink(".juggle/state")
    os.symlink(v, ".juggle/state")
    t.juggle(rc=3)
    assert t.read(v) == "precious\n"
    os.unlink(".juggle/state")
    t.juggle(rc=0)


def test_ownfiles_juggle_folder_must_be_a_real_folder(t):
    graph(t)
    out = outside_path(t, "elsewhere")
    os.makedirs(out)
    os.symlink(out, ".juggle")
    r = t.juggle(rc=3)
    assert "'.juggle' is a symbolic link" in r.err and "remove it" in r.err, r
    assert os.listdir(out) == [], os.listdir(out)
    assert not os.path.exists("a.txt")
    t.juggle("clean", rc=3)
    assert os.path.isdir(out)
    # A dry run reads nothing through it either.
    t.juggle("-n", rc=3)
    os.unlink(".juggle")
    t.juggle(rc=0)
    assert stat.S_ISDIR(os.lstat(".juggle").st_mode)


def test_ownfiles_subfolder_links_refused(t):
    graph(t)
    t.juggle(rc=0)
    out = outside_path(t, "logs")
    os.makedirs(out)
    for sub in ("logs", "results"):
        saved = ".juggle/%s.saved" % sub
        os.rename(".juggle/" + sub, saved)
        os.symlink(out, ".juggle/" + sub)
        r = t.juggle("-B", rc=3)
        assert "'.juggle/%s' is a symbolic link" % sub in r.err, r
        assert os.listdir(out) == []
        os.unlink(".juggle/" + sub)
        os.rename(saved, ".juggle/" + sub)
    t.juggle("-B", rc=0)


def test_ownfiles_juggle_folder_of_another_user_refused(t):
    if os.geteuid() != 0:
        raise Skip("needs root to give .juggle to another user")
    graph(t)
    os.makedirs(".juggle")
    os.chown(".juggle", 65534, 65534)
    r = t.juggle(rc=3)
    assert "'.juggle' belongs to user 65534" in r.err and "not starting" in r.err, r
    assert os.listdir(".juggle") == []
    assert not os.path.exists("a.txt")
    assert "not cleaning" in t.juggle("clean", rc=3).err
    # Reading it is harmless: explain and -n still work.
    t.juggle("explain", "a", rc=0)


def test_ownfiles_output_through_link_into_juggle_folder(t):
    """`st -> .juggle` and `output = st/state`: a load error with its
    file:line, whether .juggle exists yet or not, and the state survives."""
    t.ini("""
        [command a]
        output = a.txt
        command = sh -c "echo made > a.txt"

        [command clobber]
        output = st/state
        command = sh -c "echo clobbered > st/state"
        """)
    os.symlink(".juggle", "st")
    r = t.juggle("check", rc=2)
    assert "juggle.ini:7:" in r.err and "'st/state'" in r.err and ".juggle/" in r.err, r
    os.makedirs(".juggle/logs")
    r = t.juggle(rc=2)
    assert "juggle.ini:7:" in r.err, r
    assert not os.path.exists(".juggle/state")
    # Through a link to a folder inside .juggle, by an absolute path too.
    os.unlink("st")
    os.symlink(os.path.join(t.dir, ".juggle", "logs"), "st")
    r = t.juggle("check", rc=2)
    assert "juggle.ini:7:" in r.err, r
    # A link elsewhere inside the folder is fine.
    os.unlink("st")
    os.makedirs("real")
    os.symlink("real", "st")
    t.juggle(rc=0)
    assert t.read("real/state") == "clobbered\n"


def test_ownfiles_lock_is_private(t):
    """The lock is 0600, so no other user can open it to flock it; a lock
    left readable by an older juggle is made private too."""
    graph(t)
    t.juggle(rc=0)
    assert stat.S_IMODE(os.stat(".juggle/lock").st_mode) == 0o600
    os.chmod(".juggle/lock", 0o644)
    t.juggle("-B", rc=0)
    assert stat.S_IMODE(os.stat(".juggle/lock").st_mode) == 0o600
    if os.geteuid() == 0:
        # Another user cannot open it, so cannot take even a shared lock.
        p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                            "flock", "-n", "-s", ".juggle/lock", "true"],
                           capture_output=True, text=True)
        assert p.returncode != 0 and "Permission denied" in p.stderr, p


def test_ownfiles_lock_names_only_a_live_holder(t):
    """A holder whose pid is long gone (another tool holding the lock over
    an old pid) is not named: the pid would point at the wrong process."""
    graph(t)
    os.makedirs(".juggle")
    dead = subprocess.Popen(["true"])
    dead.wait()
    fd = os.open(".juggle/lock", os.O_RDWR | os.O_CREAT, 0o600)
    t.cleanups.append(lambda: os.close(fd))
    os.write(fd, b"%d\n" % dead.pid)
    fcntl.flock(fd, fcntl.LOCK_EX)
    r = t.juggle(rc=3)
    assert "another juggle run holds '.juggle/lock'" in r.err, r
    assert "pid" not in r.err, r
    # A live holder is named.
    os.ftruncate(fd, 0)
    os.pwrite(fd, b"%d\n" % os.getpid(), 0)
    r = t.juggle(rc=3)
    assert "(pid %d)" % os.getpid() in r.err, r


def state_files(name):
    """{path: (mtime_ns, size, hash)} of the job's last record in the state log."""
    files = None
    with open(".juggle/state") as f:
        for line in f:
            fields = line.rstrip("\n").split("\t")
            if fields[0] == "S" and fields[1] == name:
                n = int(fields[7]) + int(fields[8])
                files = {fields[9 + 4 * i]: (int(fields[10 + 4 * i]), int(fields[11 + 4 * i]),
                                             fields[12 + 4 * i]) for i in range(n)}
    return files


@backends
def test_ownfiles_touched_input_hashed_once(t):
    """After a touch that changes nothing, the run that hashes the file to
    find it unchanged records its new mtime, so the runs after it decide
    with stat() alone: a file rewritten then with other bytes of the same
    size and the same mtime is, as make would, taken as unchanged."""
    t.write("big.bin", b"x" * (1 << 20))
    t.ini("""
        [command sum]
        input = big.bin
        output = sum.txt
        command = sh -c "wc -c < big.bin > sum.txt"
        """)
    t.juggle(rc=0)
    old = state_files("sum")
    # touch, an hour ago (a mtime in the last second is learnt only once it
    # has settled: the same tick could see another write).
    st = os.stat("big.bin")
    touched = st.st_mtime_ns - 3600 * 10**9
    os.utime("big.bin", ns=(touched, touched))
    os.utime("sum.txt", ns=(touched, touched))
    r = t.juggle(rc=0)
    assert "nothing to do" in r.out, r
    now = state_files("sum")
    assert now["big.bin"] == (touched, 1 << 20, old["big.bin"][2]), (old, now)
    assert now["sum.txt"] == (touched, old["sum.txt"][1], old["sum.txt"][2]), (old, now)
    # The next run does not hash: other bytes behind the same signature
    # go unseen (today's make-like contract for stat-equal files).
    with open("big.bin", "r+b") as f:
        f.write(b"y")
    os.utime("big.bin", ns=(touched, touched))
    r = t.juggle(rc=0)
    assert "nothing to do" in r.out, r
    assert t.read("sum.txt").strip() == str(1 << 20)
    # A real change of size or mtime is still seen and hashed.
    t.write("big.bin", b"z" * 10)
    r = t.juggle(rc=0)
    assert r.ran() == ["sum"] and t.read("sum.txt").strip() == "10", r
    # A dry run and explain learn nothing and write nothing.
    t.juggle(rc=0)
    before = t.read(".juggle/state")
    os.utime("big.bin", ns=(touched, touched))
    t.juggle("-n", rc=0)
    t.juggle("explain", "sum", rc=0)
    assert t.read(".juggle/state") == before
