"""A real HTTP test bed on 127.0.0.1 for the download tests and benchmarks.

Two servers, each started by the test and stopped by its pid (QUIT, then
TERM, then KILL of its process group), never by name, never left running:

- nginx (Debian's package with libnginx-mod-http-echo), configured from a
  file written here, serving a folder of static files plus the fault
  locations listed in NGINX_LOCATIONS below;
- a small scripted server (this file run as `testbed.py scripted DIR`) for
  what nginx cannot do on purpose: a body cut off mid-transfer, a server
  that accepts and never answers, a chunked body of any size, and a URL
  that fails a given number of times before it works.

In a test:

    from testbed import nginx, scripted
    web = nginx(t)                  # stopped by t.cleanups
    t.write(web.www + "/a.txt", "A\\n")
    url = web.url("/a.txt")
    hits = web.access_log()         # one dict per request

From the shell (bench/downloads, tests/unit): `python3 tests/lib/testbed.py
serve [--www DIR]` prints "BASE_URL WWW_DIR" on one line, serves until its
standard input closes, then stops nginx and removes its folder.
"""
import ctypes
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

NGINX = "/usr/sbin/nginx"
ECHO_MODULE = "/usr/lib/nginx/modules/ngx_http_echo_module.so"

# Every location, for the tests to find by name. Numbers in paths are
# literal: nginx's `return` takes a constant code.
NGINX_LOCATIONS = r"""
        # Static files with ETag and Last-Modified: the 304 path.
        location / { }

        # Status codes, with a body so keep-alive has something to skip.
        location = /status/400 { return 400 "bad request\n"; }
        location = /status/403 { return 403 "forbidden\n"; }
        location = /status/404 { return 404 "not found\n"; }
        location = /status/408 { return 408 "request timeout\n"; }
        location = /status/429 { add_header Retry-After 1 always; return 429 "slow down\n"; }
        location = /status/500 { return 500 "internal error\n"; }
        location = /status/502 { return 502 "bad gateway\n"; }
        location = /status/503 { return 503 "unavailable\n"; }
        location = /status/504 { return 504 "gateway timeout\n"; }
        # 503 with Retry-After: N seconds.
        location ~ ^/retry-after/(?<secs>[0-9]+)$ {
            add_header Retry-After $secs always;
            return 503 "come back in $secs s\n";
        }
        location = /empty-reply { return 444; }

        # Redirects: a chain of three ending at /hello.txt, a loop, and
        # one to file:// that must be refused.
        location = /chain/1 { return 302 /chain/2; }
        location = /chain/2 { return 301 /chain/3; }
        location = /chain/3 { return 307 /hello.txt; }
        location = /loop { return 302 /loop; }
        location = /to-file { return 302 file:///etc/passwd; }

        # A slow body (20 KiB/s), and one that stalls after 4 KiB.
        location /slow/ { alias $www/; limit_rate 20k; }
        location /stall/ { alias $www/; limit_rate_after 4k; limit_rate 1; }

        # A large body at 20 MB/s, so a test can cut it off where it likes
        # (by killing juggle, or this server's worker); the same without
        # byte ranges (Range ignored: always 200 and the whole file).
        location /rate/ { alias $www/; limit_rate 20m; }
        location /norange/ { alias $www/; limit_rate 20m; max_ranges 0; }

        # Per-request latency: 50 ms before the answer (25 ms each way),
        # then the static file. echo_exec is an internal redirect, so the
        # file keeps its ETag and Last-Modified.
        location /lat/ {
            echo_sleep 0.05;
            echo_exec /_static$uri;
        }
        location /_static/lat/ { internal; alias $www/; }

        # A held request: 2 s before the static file, so that thousands of
        # downloads are in flight at once (test_scale).
        location /hold/ {
            echo_sleep 2;
            echo_exec /_static$uri;
        }
        location /_static/hold/ { internal; alias $www/; }

        # Echo request headers back as the body.
        location = /echo/headers {
            default_type text/plain;
            echo "x-token: $http_x_token";
            echo "x-other: $http_x_other";
            echo "accept: $http_accept";
            echo "user-agent: $http_user_agent";
        }

        # Accepts, reads the request, and answers after an hour.
        location = /never { echo_sleep 3600; echo "too late"; }
"""

NGINX_CONF = r"""
load_module $echo;
daemon off;
master_process on;
worker_processes 1;
# Thousands of connections at once (test_scale's 5,000 downloads): a socket
# each, and a file for those that are served. Raising the soft limit needs
# no privilege up to the hard limit.
worker_rlimit_nofile 16384;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 12000; }
http {
    types { text/plain txt; text/html html; application/octet-stream bin; }
    default_type application/octet-stream;
    log_format testbed '$$msec $$connection $$connection_requests "$$request" $$status '
                       '$$body_bytes_sent "$$http_if_none_match" "$$http_if_modified_since" '
                       '"$$http_range" "$$http_if_range"';
    access_log $dir/logs/access.log testbed;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    sendfile on;
    tcp_nopush off;
    keepalive_timeout 120s;
    keepalive_requests 100000;
    server {
        listen 127.0.0.1:$port;
        server_name localhost;
        root $www;
$locations
    }
}
"""


def free_port():
    """A port nothing listens on right now. Another process may take it
    before we bind it, so starters retry on a bind failure."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stop_pid(proc, quit_grace=1.0, term_grace=5.0):
    """Stops a child we started: QUIT (nginx's graceful stop, which waits
    for requests in progress, such as /never's), then TERM (fast stop),
    then KILL of its whole process group (it was started in its own
    session, and is not reaped yet, so the group is still its own)."""
    if proc.poll() is not None:
        return
    for sig, grace in ((signal.SIGQUIT, quit_grace), (signal.SIGTERM, term_grace)):
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()


def _die_with_parent():
    """In the child before exec: SIGTERM when the process that started it
    dies, so a test killed by its time limit leaves no server behind."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _world_readable(path):
    """nginx workers run as nobody: folders on the way must be searchable
    and files readable by others (mkdtemp makes 0700 folders)."""
    os.chmod(path, 0o755)


class Nginx:
    """nginx on 127.0.0.1 at a free port, serving www (a folder)."""

    def __init__(self, dir, www=None):
        self.dir = os.path.abspath(dir)
        self.www = os.path.abspath(www) if www else os.path.join(self.dir, "www")
        self.proc = None
        self.port = None
        for sub in ("", "logs", "tmp", "conf"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
            _world_readable(os.path.join(self.dir, sub))
        os.makedirs(self.www, exist_ok=True)
        _world_readable(self.www)
        with open(os.path.join(self.www, "hello.txt"), "w") as f:
            f.write("hello from nginx\n")
        os.chmod(os.path.join(self.www, "hello.txt"), 0o644)

    def conf_text(self, port):
        locs = NGINX_LOCATIONS.replace("$www", self.www)
        # $$ in NGINX_CONF is an nginx variable; $name is ours.
        text = (NGINX_CONF.replace("$$", "\0").replace("$echo", ECHO_MODULE)
                .replace("$dir", self.dir).replace("$port", str(port))
                .replace("$www", self.www).replace("$locations", locs).replace("\0", "$"))
        return text

    def start(self, tries=5):
        conf = os.path.join(self.dir, "conf", "nginx.conf")
        pidfile = os.path.join(self.dir, "nginx.pid")
        errlog = os.path.join(self.dir, "logs", "error.log")
        last_err = ""
        for _ in range(tries):
            port = free_port()
            with open(conf, "w") as f:
                f.write(self.conf_text(port))
            if os.path.exists(pidfile):
                os.unlink(pidfile)
            stderr = open(os.path.join(self.dir, "logs", "stderr.log"), "w")
            proc = subprocess.Popen([NGINX, "-p", self.dir, "-c", conf, "-e", errlog],
                                    stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                                    start_new_session=True, preexec_fn=_die_with_parent)
            stderr.close()
            # nginx writes its pid file after it has bound its sockets.
            while proc.poll() is None and not os.path.exists(pidfile):
                time.sleep(0.005)
            if proc.poll() is None:
                self.proc, self.port = proc, port
                return self
            last_err = open(errlog).read()[-2000:] if os.path.exists(errlog) else ""
            if "Address already in use" not in last_err:
                break
        raise RuntimeError("nginx did not start: %s" % last_err)

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.base + path

    def put(self, name, data):
        """Writes a served file (world-readable); returns its path."""
        path = os.path.join(self.www, name)
        d = os.path.dirname(path)
        if not os.path.isdir(d):
            os.makedirs(d)
            p = d
            while p != self.www:
                _world_readable(p)
                p = os.path.dirname(p)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        os.chmod(path, 0o644)
        return path

    def access_log(self):
        """Requests served so far: dicts with time, conn, conn_requests,
        request, path, status, bytes, inm (If-None-Match), ims, range and
        if_range ("-" when not sent)."""
        out = []
        path = os.path.join(self.dir, "logs", "access.log")
        if not os.path.exists(path):
            return out
        for line in open(path):
            head, req, rest = line.split('"', 2)
            t, conn, creq = head.split()
            status, nbytes, tail = rest.split(None, 2)
            quoted = tail.split('"')
            out.append({"time": float(t), "conn": int(conn), "conn_requests": int(creq),
                        "request": req, "path": req.split()[1] if " " in req else req,
                        "status": int(status), "bytes": int(nbytes),
                        "inm": quoted[1], "ims": quoted[3],
                        "range": quoted[5] if len(quoted) > 7 else "-",
                        "if_range": quoted[7] if len(quoted) > 7 else "-"})
        return out

    def worker_pids(self):
        """The pids of the master's worker processes (its children)."""
        pid = self.proc.pid
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(x) for x in f.read().split()]

    def stop(self):
        if self.proc:
            stop_pid(self.proc)
            self.proc = None


class Scripted:
    """The scripted server (this file's `scripted` mode), as a child."""

    def __init__(self, dir):
        self.dir = os.path.abspath(dir)
        os.makedirs(self.dir, exist_ok=True)
        self.proc = subprocess.Popen([sys.executable, os.path.abspath(__file__), "scripted",
                                      self.dir], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, text=True,
                                     start_new_session=True, preexec_fn=_die_with_parent)
        line = self.proc.stdout.readline()  # the port, once it listens
        if not line.strip():
            stop_pid(self.proc)
            raise RuntimeError("the scripted server did not start")
        self.port = int(line)

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    def url(self, path):
        return self.base + path

    def hits(self):
        """Requests seen so far: (monotonic-free wall time, path) pairs."""
        path = os.path.join(self.dir, "hits.log")
        if not os.path.exists(path):
            return []
        return [(float(a), b) for a, b in (l.rstrip("\n").split(" ", 1) for l in open(path))]

    def stop(self):
        if self.proc:
            stop_pid(self.proc)
            self.proc.stdout.close()
            self.proc = None


def nginx(t, www=None):
    """Starts nginx for test t (stopped by t.cleanups); serves t.dir/tb/www
    unless told another folder."""
    n = Nginx(os.path.join(t.dir, "tb"), www)
    t.cleanups.append(n.stop)
    return n.start()


def scripted(t):
    s = Scripted(os.path.join(t.dir, "tb-scripted"))
    t.cleanups.append(s.stop)
    return s



# ---- TLS: a private CA, certificates, nginx over https, a forward proxy ----

def _openssl(dir, *args, fake=None):
    cmd = ["openssl"] + list(args)
    env = None
    if fake:
        # libfaketime: an "openssl x509" run in the past makes a
        # certificate that expired long ago (Debian 12's OpenSSL has no
        # -not_before). Preloaded directly: the faketime wrapper makes a
        # named semaphore per pid, and one left by an earlier process of
        # the same pid made it fail (sem_open: File exists).
        lib = glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
        if not lib:
            raise RuntimeError("libfaketime is missing (Debian package faketime)")
        env = dict(os.environ, LD_PRELOAD=lib[0], FAKETIME=fake)
    p = subprocess.run(cmd, cwd=dir, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError("%s failed: %s" % (" ".join(cmd), p.stderr[-2000:]))


class Pki:
    """A private CA and server certificates made by the openssl command in
    dir, all with P-256 keys (quick to make). Attributes: ca (the CA's
    certificate, PEM), and for each of good (127.0.0.1 and localhost,
    signed by the CA), other_host (signed by the CA, for other.example
    only), expired (127.0.0.1, signed by the CA, expired a year ago) and
    self_signed (127.0.0.1, its own issuer) a (certificate, key) pair."""

    EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def __init__(self, dir):
        self.dir = os.path.abspath(dir)
        os.makedirs(self.dir, exist_ok=True)
        _world_readable(self.dir)
        d = self.dir
        _openssl(d, "req", "-x509", *self.EC, "-keyout", "ca.key", "-out", "ca.pem",
                 "-days", "3650", "-subj", "/CN=juggle test CA")
        self.ca = os.path.join(d, "ca.pem")
        self.good = self._leaf("good", "IP:127.0.0.1,DNS:localhost")
        self.other_host = self._leaf("other-host", "DNS:other.example")
        self.expired = self._leaf("expired", "IP:127.0.0.1,DNS:localhost", days="30",
                                  fake="-400d")
        _openssl(d, "req", "-x509", *self.EC, "-keyout", "self-signed.key", "-out",
                 "self-signed.pem", "-days", "30", "-subj", "/CN=127.0.0.1",
                 "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
        self.self_signed = (os.path.join(d, "self-signed.pem"), os.path.join(d, "self-signed.key"))
        for f in os.listdir(d):
            os.chmod(os.path.join(d, f), 0o644)  # nginx's workers run as nobody

    def _leaf(self, name, san, days="30", fake=None):
        d = self.dir
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                    "extendedKeyUsage=serverAuth\n" % san)
        _openssl(d, "req", "-new", *self.EC, "-keyout", name + ".key", "-out", name + ".csr",
                 "-subj", "/CN=" + san.split(",")[0].split(":", 1)[1])
        _openssl(d, "x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                 "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", days,
                 "-extfile", name + ".ext", "-out", name + ".pem", fake=fake)
        return (os.path.join(d, name + ".pem"), os.path.join(d, name + ".key"))


class TlsNginx(Nginx):
    """The test bed's nginx over https on 127.0.0.1, with the same
    locations, serving cert (a (certificate, key) pair); HTTP/2 as well as
    HTTP/1.1 (ALPN) when http2, else HTTP/1.1 only."""

    def __init__(self, dir, cert, www=None, http2=True):
        super().__init__(dir, www)
        self.cert, self.http2 = cert, http2

    def conf_text(self, port):
        text = super().conf_text(port)
        listen = "listen 127.0.0.1:%d;" % port
        assert listen in text
        return text.replace(listen, "listen 127.0.0.1:%d ssl%s;\n        ssl_certificate %s;\n"
                            "        ssl_certificate_key %s;"
                            % (port, " http2" if self.http2 else "", self.cert[0], self.cert[1]))

    @property
    def base(self):
        return "https://127.0.0.1:%d" % self.port


class ProxyNginx(Nginx):
    """nginx as a plain HTTP forward proxy (http:// URLs only, no CONNECT):
    what it forwards is in its access_log(), the request's path being the
    whole URL asked for."""

    def conf_text(self, port):
        text = super().conf_text(port)
        start = text.index("        # Static files")
        end = text.index("    }\n}\n")
        return text[:start] + "        location / { proxy_pass http://$http_host; }\n" + text[end:]


def pki(t):
    """A private CA and certificates for test t (see Pki)."""
    return Pki(os.path.join(t.dir, "tb-pki"))


def tls_nginx(t, cert, www=None, http2=True, name="tb-tls"):
    """Starts nginx over https for test t with cert (a Pki pair), stopped by
    t.cleanups; serves t.dir/NAME/www unless told another folder."""
    n = TlsNginx(os.path.join(t.dir, name), cert, www, http2)
    t.cleanups.append(n.stop)
    return n.start()


def proxy_nginx(t):
    """Starts a forward proxy (ProxyNginx) for test t, stopped by t.cleanups."""
    n = ProxyNginx(os.path.join(t.dir, "tb-proxy"))
    t.cleanups.append(n.stop)
    return n.start()


# ---- the scripted server itself ----

def _serve_scripted(dir):
    import socketserver
    fails = {}
    lock = threading.Lock()
    hits = open(os.path.join(dir, "hits.log"), "a", buffering=1)
    stop = threading.Event()

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            sock = self.request
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                data += chunk
            line = data.split(b"\r\n", 1)[0].decode("latin-1")
            path = line.split()[1] if len(line.split()) > 1 else "/"
            with lock:
                hits.write("%.6f %s\n" % (time.time(), path))
            parts = path.strip("/").split("/")
            try:
                self.route(sock, parts)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def send(self, sock, status, body, headers=()):
            head = "HTTP/1.1 %s\r\nContent-Length: %d\r\nConnection: close\r\n" % (
                status, len(body))
            head += "".join("%s: %s\r\n" % h for h in headers)
            sock.sendall(head.encode() + b"\r\n" + body)

        def route(self, sock, parts):
            if parts[0] == "cut":
                # Promises 100000 bytes, sends 10000, closes.
                sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n"
                             b"Connection: close\r\n\r\n" + b"c" * 10000)
                sock.shutdown(socket.SHUT_RDWR)
            elif parts[0] == "hang":
                # Accepts and reads the request, then never answers.
                stop.wait()
            elif parts[0] == "chunked" and len(parts) == 2:
                # A body of N bytes without Content-Length.
                n = int(parts[1])
                sock.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
                             b"Connection: close\r\n\r\n")
                block = b"x" * 65536
                while n > 0:
                    k = min(n, len(block))
                    sock.sendall(b"%x\r\n" % k + block[:k] + b"\r\n")
                    n -= k
                sock.sendall(b"0\r\n\r\n")
            elif parts[0] == "flaky" and len(parts) == 4:
                # /flaky/KEY/N/SECS: 503 with Retry-After SECS for the first
                # N requests of KEY, then 200.
                key, n, secs = parts[1], int(parts[2]), parts[3]
                with lock:
                    seen = fails.get(key, 0)
                    fails[key] = seen + 1
                if seen < n:
                    self.send(sock, "503 Service Unavailable", b"busy\n",
                              [("Retry-After", secs)])
                else:
                    self.send(sock, "200 OK", ("ok %s after %d\n" % (key, seen)).encode())
            else:
                self.send(sock, "404 Not Found", b"no such script\n")

    class Server(socketserver.ThreadingTCPServer):
        daemon_threads = True
        allow_reuse_address = True

    srv = Server(("127.0.0.1", 0), Handler)

    def on_term(signum, frame):
        stop.set()
        threading.Thread(target=srv.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGQUIT, on_term)
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


def _serve_nginx(args):
    www = None
    if args[:1] == ["--www"]:
        www = args[1]
    dir = tempfile.mkdtemp(prefix="juggle-testbed-")
    _world_readable(dir)
    n = Nginx(dir, www)
    try:
        n.start()
        print(n.base, n.www, flush=True)
        sys.stdin.read()  # until our parent closes the pipe
    finally:
        n.stop()
        shutil.rmtree(dir, ignore_errors=True)


if __name__ == "__main__":
    if sys.argv[1:2] == ["scripted"]:
        _serve_scripted(sys.argv[2])
    elif sys.argv[1:2] == ["serve"]:
        signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
        _serve_nginx(sys.argv[2:])
    else:
        sys.exit("usage: testbed.py serve [--www DIR] | scripted DIR")
