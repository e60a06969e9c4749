"""ftp:// downloads against a real FTP server (pyftpdlib) on 127.0.0.1,
and ftps:// against vsftpd with implicit TLS: the file arrives whole, a
missing file fails for good, refresh = conditional asks the file's time
(MDTM) and fetches only a newer file, and an FTPS server's certificate is
verified like an https one's."""
import os

from ftpbed import ftp, ftps
from harness import backends, leftovers
from testbed import pki

T0 = 1700000000


@backends
def test_ftp_download_refreshes_by_modification_time(t):
    srv = ftp(t)
    srv.put("data.csv", "a,b\n1,2\n", mtime=T0)
    t.ini("""
        [download data]
        url = %s
        output = data/data.csv

        [command count]
        input = data/data.csv
        output = count.txt
        command = sh -c 'wc -l < data/data.csv > count.txt; echo ran >> runs.log'
        """ % srv.url("/data.csv"))
    r = t.juggle(rc=0)
    d = r.job("data")
    assert (d["status"], d["bytes"], d["attempts"]) == ("ok", 8, 1), d
    assert t.read("data/data.csv") == "a,b\n1,2\n"
    assert t.read("count.txt").strip() == "2"
    assert len(srv.commands("RETR")) == 1

    # Not modified on the server: asked (MDTM), not fetched (no RETR), and
    # nothing downstream runs again.
    r = t.juggle(rc=0)
    d = r.job("data")
    assert (d["status"], d["bytes"]) == ("ok", 0), d
    assert r.job("count")["status"] == "skipped-up-to-date"
    assert len(srv.commands("RETR")) == 1
    assert len(srv.commands("MDTM")) >= 2
    assert t.read("runs.log") == "ran\n"

    # A newer file on the server: fetched, and count re-runs.
    srv.put("data.csv", "a,b\n1,2\n3,4\n", mtime=T0 + 60)
    r = t.juggle(rc=0)
    assert r.job("data")["bytes"] == 12
    assert len(srv.commands("RETR")) == 2
    assert t.read("count.txt").strip() == "3"

    # A hand-edited output is fetched in full again, unconditionally.
    t.write("data/data.csv", "edited\n")
    r = t.juggle(rc=0)
    assert r.job("data")["bytes"] == 12
    assert len(srv.commands("RETR")) == 3
    assert t.read("data/data.csv") == "a,b\n1,2\n3,4\n"
    assert t.read("runs.log") == "ran\nran\n"
    assert leftovers() == []


@backends
def test_ftp_missing_file_fails_for_good_and_keeps_nothing(t):
    srv = ftp(t)
    t.ini("""
        [download gone]
        url = %s
        output = gone.txt
        retries = 2
        retry_delay = 0
        """ % srv.url("/no-such-file.txt"))
    r = t.juggle(rc=1)
    j = r.job("gone")
    assert j["status"] == "failed" and j["attempts"] == 1, j
    assert "(permanent, not retried)" in j["error"], j
    assert not os.path.exists("gone.txt")
    assert leftovers() == []


@backends
def test_ftps_download_is_verified_and_refreshes_by_modification_time(t):
    """ftps:// (implicit TLS) against vsftpd: a private CA trusted through
    ca_file, the file whole, a second run asks MDTM and fetches nothing; a
    server the CA did not sign fails at once, permanently."""
    p = pki(t)
    srv = ftps(t, p.good)
    srv.put("data.csv", "a,b\n1,2\n", mtime=T0)
    t.ini("""
        [download data]
        url = %s
        output = data.csv
        ca_file = %s
        """ % (srv.url("/data.csv"), p.ca))
    r = t.juggle(rc=0)
    assert (r.job("data")["status"], r.job("data")["bytes"]) == ("ok", 8), r.job("data")
    assert t.read("data.csv") == "a,b\n1,2\n"
    assert len(srv.commands("RETR")) == 1
    r = t.juggle(rc=0)
    assert (r.job("data")["status"], r.job("data")["bytes"]) == ("ok", 0), r.job("data")
    assert len(srv.commands("RETR")) == 1 and len(srv.commands("MDTM")) >= 2
    srv.put("data.csv", "a,b\n1,2\n3,4\n", mtime=T0 + 60)
    r = t.juggle(rc=0)
    assert t.read("data.csv") == "a,b\n1,2\n3,4\n"
    assert len(srv.commands("RETR")) == 2

    # Signed by itself: no ca_file trusts it.
    bad = ftps(t, p.self_signed, name="tb-ftps-self")
    bad.put("x.txt", "x\n", mtime=T0)
    t.ini("""
        [download x]
        url = %s
        output = x.txt
        ca_file = %s
        retries = 2
        retry_delay = 0
        """ % (bad.url("/x.txt"), p.ca))
    r = t.juggle(rc=1)
    j = r.job("x")
    assert j["attempts"] == 1 and "(permanent, not retried)" in j["error"], j
    assert "TLS certificate of 127.0.0.1" in j["error"], j
    assert not os.path.exists("x.txt") and bad.commands("RETR") == []
    assert leftovers() == []
