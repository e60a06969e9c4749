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
"""
import os
import signal
import subprocess
import sys

from testbed import _die_with_parent, stop_pid

# pyftpdlib is Debian's package, for Debian's interpreter (the one on PATH
# may be another).
PYTHON = "/usr/bin/python3"


class Ftp:
    def __init__(self, dir):
        self.dir = os.path.abspath(dir)
        self.www = os.path.join(self.dir, "www")
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
        return "ftp://127.0.0.1:%d" % self.port

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
