"""A real FTP server on 127.0.0.1 for the download tests: Debian's
pyftpdlib (python3-pyftpdlib), run by Debian's python3 as this file's
`serve DIR` mode, serving DIR/www read-only to anonymous users at a port
the system picks, and logging every command to DIR/ftp.log. Started by the
test and stopped by its pid, like testbed.py's servers.

    from ftpbed import ftp
    srv = ftp(t)                        # stopped by t.cleanups
    srv.put("a.txt", "A\\n", mtime=1700000000)
    url = srv.url("/a.txt")
    srv.commands("RETR")                # the RETR commands served so far

ftps(t, cert) starts Debian's vsftpd instead, speaking implicit FTPS as
ftps:// URLs mean to curl (TLS from the first byte of the control
connection, and on every data connection), with cert a (certificate, key)
pair of testbed.Pki; the same put/url/commands/stop. pyftpdlib's TLS
handler is not used: with this python3-openssl its data connections fail
their handshake, with curl as with any client.
"""
import os
import signal
import socket
import subprocess
import sys
import time

from testbed import _die_with_parent, free_port, stop_pid

# pyftpdlib is Debian's package, for Debian's interpreter (the one on PATH
# may be another).
PYTHON = "/usr/bin/python3"


class Ftp:
    def __init__(self, dir):
        self.dir = os.path.abspath(dir)
        self.www = os.path.join(self.dir, "www")
        self.scheme = "ftp"
        os.makedirs(self.www, exist_ok=True)
        self.proc = subprocess.Popen([PYTHON, os.path.abspath(__file__), "serve", self.dir],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     text=True, start_new_session=True,
                                     preexec_fn=_die_with_parent)
        line = self.proc.stdout.readline()  # the port, once it listens
        if not line.strip():
            stop_pid(self.proc)
            raise RuntimeError("the FTP server did not start (is python3-pyftpdlib installed?)")
        self.port = int(line)

    @property
    def base(self):
        return "%s://127.0.0.1:%d" % (self.scheme, self.port)

    def url(self, path):
        return self.base + path

    def put(self, name, data, mtime):
        """Writes a served file with the given modification time (seconds
        since the epoch; MDTM's resolution), so a test never waits for
        the clock to move."""
        path = os.path.join(self.www, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        os.utime(path, (mtime, mtime))
        return path

    def commands(self, verb):
        """The arguments of each `verb` command the server received."""
        path = os.path.join(self.dir, "ftp.log")
        if not os.path.exists(path):
            return []
        mark = "<- %s " % verb
        return [l.split(mark, 1)[1].strip() for l in open(path) if mark in l]

    def stop(self):
        if self.proc:
            stop_pid(self.proc)
            self.proc.stdout.close()
            self.proc = None


class Vsftpd(Ftp):
    """vsftpd with implicit TLS on 127.0.0.1 at a free port, run as the
    user who starts it (run_as_launching_user), anonymous and read-only
    over DIR/www, logging every command to DIR/vsftpd.log."""

    CONF = """\
listen=YES
listen_address=127.0.0.1
listen_port=%(port)d
background=NO
run_as_launching_user=YES
anonymous_enable=YES
anon_root=%(dir)s/www
no_anon_password=YES
local_enable=NO
write_enable=NO
ssl_enable=YES
implicit_ssl=YES
allow_anon_ssl=YES
force_anon_data_ssl=YES
force_anon_logins_ssl=YES
require_ssl_reuse=NO
rsa_cert_file=%(cert)s
rsa_private_key_file=%(key)s
pasv_enable=YES
pasv_address=127.0.0.1
seccomp_sandbox=NO
secure_chroot_dir=%(dir)s/empty
xferlog_enable=YES
log_ftp_protocol=YES
vsftpd_log_file=%(dir)s/vsftpd.log
use_localtime=NO
"""

    def __init__(self, dir, cert, tries=5):
        self.dir = os.path.abspath(dir)
        self.www = os.path.join(self.dir, "www")
        self.scheme = "ftps"
        for sub in (self.www, os.path.join(self.dir, "empty")):
            os.makedirs(sub, exist_ok=True)
        self.proc = None
        for _ in range(tries):
            port = free_port()
            conf = os.path.join(self.dir, "vsftpd.conf")
            with open(conf, "w") as f:
                f.write(self.CONF % {"port": port, "dir": self.dir, "cert": cert[0],
                                     "key": cert[1]})
            proc = subprocess.Popen(["/usr/sbin/vsftpd", conf], stdin=subprocess.DEVNULL,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    text=True, start_new_session=True,
                                    preexec_fn=_die_with_parent)
            # It listens before it accepts: wait until a connection gets in.
            while proc.poll() is None and not self._accepts(port):
                time.sleep(0.005)
            if proc.poll() is None:
                self.proc, self.port = proc, port
                return
            err = proc.stderr.read()
            if "Address already in use" not in err and "could not bind" not in err:
                raise RuntimeError("vsftpd did not start: %s" % err)
        raise RuntimeError("vsftpd did not start: no free port")

    @staticmethod
    def _accepts(port):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            return False

    def commands(self, verb):
        """The arguments of each `verb` command the server received."""
        path = os.path.join(self.dir, "vsftpd.log")
        if not os.path.exists(path):
            return []
        mark = 'FTP command: Client "127.0.0.1", "%s ' % verb
        return [l.split(mark, 1)[1].rstrip().rstrip('"') for l in open(path) if mark in l]

    def stop(self):
        if self.proc:
            # vsftpd forks a process per session into its group: TERM them
            # all while the group's leader (unreaped) still holds its id.
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            stop_pid(self.proc)
            self.proc.stderr.close()
            self.proc = None


def ftps(t, cert, name="tb-ftps"):
    """Starts vsftpd speaking implicit FTPS for test t with cert (a Pki
    pair) in t.dir/NAME, stopped by t.cleanups."""
    s = Vsftpd(os.path.join(t.dir, name), cert)
    t.cleanups.append(s.stop)
    return s


def ftp(t):
    s = Ftp(os.path.join(t.dir, "tb-ftp"))
    t.cleanups.append(s.stop)
    return s


def _serve(dir):
    import logging

    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import FTPHandler
    from pyftpdlib.servers import FTPServer

    logging.basicConfig(filename=os.path.join(dir, "ftp.log"), level=logging.DEBUG)
    auth = DummyAuthorizer()
    auth.add_anonymous(os.path.join(dir, "www"))  # read-only: list and retrieve
    handler = FTPHandler
    handler.authorizer = auth
    handler.permit_foreign_addresses = False
    srv = FTPServer(("127.0.0.1", 0), handler)

    def on_term(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGQUIT, on_term)
    print(srv.socket.getsockname()[1], flush=True)
    srv.serve_forever(handle_exit=True)


if __name__ == "__main__":
    if sys.argv[1:2] != ["serve"] or len(sys.argv) != 3:
        sys.exit("usage: ftpbed.py serve DIR")
    _serve(sys.argv[2])
