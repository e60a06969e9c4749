"""Start-up: libcurl, libarchive and libxml2/libxslt, with the forty
libraries they bring, are loaded only by a run that needs them: a download,
an archive, an XML task or a JUnit report (engine/lazy/).
A run's command reads the maps of its parent, juggle itself (threads
backend: commands are juggle's own children)."""
import os

MAPS = "sh -c 'cat /proc/$PPID/maps > \"$1\"' sh {output}"


def libs(t, path):
    return {os.path.basename(line.split()[-1]).split(".so")[0]
            for line in t.read(path).splitlines() if ".so" in line}


def test_a_run_without_downloads_archives_or_xml_loads_none_of_those_libraries(t):
    t.ini("""
        [command look]
        output = maps.txt
        command = %s
        """ % MAPS)
    t.juggle("-b", "threads", rc=0)
    loaded = libs(t, "maps.txt")
    assert "libuv" in loaded, loaded  # the maps are juggle's
    assert not loaded & {"libcurl", "libarchive", "libxml2", "libxslt", "libexslt"}, loaded
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


def test_an_xml_task_loads_libxml2(t):
    t.write("doc.xml", "<doc/>\n")
    t.ini("""
        [cpu check]
        task = xmlcheck
        input = doc.xml
        output = checked.txt

        [command look]
        input = checked.txt
        output = maps.txt
        command = %s
        """ % MAPS)
    t.juggle("-b", "threads", "--junit", "junit.xml", rc=0)
    assert "libxml2" in libs(t, "maps.txt")
    assert '<testcase' in t.read("junit.xml")
