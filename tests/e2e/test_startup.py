"""Start-up: libcurl and libarchive, with the forty libraries they bring,
are loaded only by a run that downloads or writes an archive (engine/lazy/).
A run's command reads the maps of its parent, juggle itself (threads
backend: commands are juggle's own children)."""
import os

MAPS = "sh -c 'cat /proc/$PPID/maps > \"$1\"' sh {output}"


def libs(t, path):
    return {os.path.basename(line.split()[-1]).split(".so")[0]
            for line in t.read(path).splitlines() if ".so" in line}


def test_a_run_without_downloads_loads_neither_libcurl_nor_libarchive(t):
    t.ini("""
        [command look]
        output = maps.txt
        command = %s
        """ % MAPS)
    t.juggle("-b", "threads", rc=0)
    loaded = libs(t, "maps.txt")
    assert "libuv" in loaded, loaded  # the maps are juggle's
    assert "libcurl" not in loaded and "libarchive" not in loaded, loaded
    # Nor any of what libcurl brings with it.
    assert not loaded & {"libnghttp2", "libssh2", "libgnutls", "libldap-2"}, loaded


def test_a_download_loads_libcurl_and_an_archive_libarchive(t):
    t.write("mirror/data.txt", "offline copy\n")
    t.ini("""
        [download data]
        url = file://%s
        output = data.txt

        [command look]
        input = data.txt
        output = maps.txt
        command = %s
        """ % (os.path.abspath("mirror/data.txt"), MAPS))
    t.juggle("-b", "threads", "--archive", "out.tar.gz", rc=0)
    assert t.read("data.txt") == "offline copy\n"
    loaded = libs(t, "maps.txt")
    assert "libcurl" in loaded, loaded
    # The archive is written after the jobs: it is there and whole.
    import tarfile
    with tarfile.open("out.tar.gz") as tar:
        names = tar.getnames()
    assert any(n.endswith("data.txt") for n in names), names
