"""A private single-node Slurm cluster for juggle's tests and benchmarks.

    c = Cluster(cpus=4)       # nothing started yet
    c.start()                 # munged, slurmctld, slurmd; waits until idle
    env = c.env()             # SLURM_CONF=... for srun, sinfo, juggle
    c.stop()                  # by pid, never by name; removes the folder

Everything lives in one temporary folder under /tmp (short, because a unix
socket path is limited to 108 bytes): the munge key and socket, slurm.conf,
state, spool, logs. The daemons run in the foreground as children of this
process, their pids recorded, each with a parent-death signal so that a
test process killed by the runner's time limit takes its cluster with it.
Ports are picked free at start, so several clusters can run at once.

Needs root (slurmd runs jobs as their user and must setuid) and Debian's
slurmctld, slurmd, slurm-client and munge; Cluster.unavailable() says why
not when a test should skip.

Run as a script to keep a cluster up for manual work:
    python3 tests/lib/slurm.py      # prints the SLURM_CONF to export
"""
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOOLS = ["munged", "mungekey", "slurmctld", "slurmd", "srun", "sinfo", "scontrol", "scancel"]
SBIN = "/usr/sbin"

_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1


def _die_with_parent():
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _which(name):
    return shutil.which(name) or shutil.which(name, path=SBIN)


def unavailable():
    """Why a cluster cannot run here, or None."""
    if os.geteuid() != 0:
        return "the Slurm tests need root (slurmd starts jobs as their user)"
    missing = [t for t in TOOLS if not _which(t)]
    if missing:
        return ("missing %s; install slurmctld slurmd slurm-client munge (tools/deps)"
                % " ".join(missing))
    return None


def _free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


class Cluster:
    def __init__(self, cpus=4, node="jnode", kill_wait=2, partition="jtest"):
        self.cpus = cpus
        self.node = node
        self.kill_wait = kill_wait
        self.partition = partition
        self.dir = None
        self.conf = None
        self.procs = {}  # name -> Popen

    # ---- start ----

    def start(self, timeout=30):
        why = unavailable()
        if why:
            raise RuntimeError(why)
        self.dir = tempfile.mkdtemp(prefix="jsl", dir="/tmp")
        os.chmod(self.dir, 0o755)
        try:
            self._start_munge(timeout)
            self._write_conf()
            self._spawn("slurmctld", [_which("slurmctld"), "-D", "-c", "-f", self.conf])
            self._wait(lambda: self._ok(["scontrol", "ping"], "UP"), timeout, "slurmctld")
            self._spawn("slurmd", [_which("slurmd"), "-D", "-c", "-N", self.node,
                                   "-f", self.conf])
            self._wait(self._idle, timeout, "slurmd (node idle)")
        except Exception:
            self.stop()
            raise
        return self

    def _path(self, name):
        return os.path.join(self.dir, name)

    def _start_munge(self, timeout):
        key = self._path("munge.key")
        subprocess.run([_which("mungekey"), "-c", "-k", key], check=True,
                       capture_output=True)
        os.chmod(key, 0o400)
        self.munge_socket = self._path("m.sock")
        self._spawn("munged", [_which("munged"), "-F", "--force",
                               "--socket=" + self.munge_socket, "--key-file=" + key,
                               "--pid-file=" + self._path("munged.pid"),
                               "--log-file=" + self._path("munged.log"),
                               "--seed-file=" + self._path("munged.seed"),
                               "--num-threads=4"])
        self._wait(lambda: os.path.exists(self.munge_socket), timeout, "munged")

    def _write_conf(self):
        ctld_port, slurmd_port = _free_ports(2)
        p = self._path
        for d in ("state", "spool"):
            os.makedirs(p(d), exist_ok=True)
        lines = [
            "ClusterName=juggletest",
            "SlurmctldHost=%s(127.0.0.1)" % socket.gethostname().split(".")[0],
            "SlurmctldPort=%d" % ctld_port,
            "SlurmdPort=%d" % slurmd_port,
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "AuthInfo=socket=%s" % self.munge_socket,
            "CredType=cred/munge",
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_Core",
            "SchedulerParameters=batch_sched_delay=0",
            "SlurmdParameters=config_overrides",
            "KillWait=%d" % self.kill_wait,
            "MinJobAge=300",
            "ReturnToService=2",
            "MailProg=/bin/true",
            "PlugStackConfig=%s" % p("plugstack.conf"),
            "StateSaveLocation=%s" % p("state"),
            "SlurmdSpoolDir=%s" % p("spool"),
            "SlurmctldPidFile=%s" % p("slurmctld.pid"),
            "SlurmdPidFile=%s" % p("slurmd.pid"),
            "SlurmctldLogFile=%s" % p("slurmctld.log"),
            "SlurmdLogFile=%s" % p("slurmd.log"),
            "NodeName=%s NodeAddr=127.0.0.1 CPUs=%d State=UNKNOWN" % (self.node, self.cpus),
            "PartitionName=%s Nodes=%s Default=YES MaxTime=INFINITE State=UP"
            % (self.partition, self.node),
        ]
        open(p("plugstack.conf"), "w").close()
        self.conf = p("slurm.conf")
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")

    def _spawn(self, name, argv):
        log = open(self._path(name + ".out"), "wb")
        self.procs[name] = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT, env=self.env(),
                                            preexec_fn=_die_with_parent)
        log.close()

    def _wait(self, ready, timeout, what):
        end = time.monotonic() + timeout
        delay = 0.01
        while not ready():
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise RuntimeError("%s exited with status %s:\n%s" % (
                        name, p.returncode, self.logs()))
            if time.monotonic() > end:
                raise RuntimeError("%s not ready after %ss:\n%s" % (what, timeout, self.logs()))
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _ok(self, argv, want):
        p = subprocess.run(argv, capture_output=True, text=True, env=self.env(), timeout=15)
        return p.returncode == 0 and want in p.stdout

    def _idle(self):
        p = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True,
                           env=self.env(), timeout=15)
        return p.returncode == 0 and p.stdout.strip() == "idle"

    # ---- use ----

    def env(self, base=None):
        e = dict(os.environ if base is None else base)
        if self.conf:
            e["SLURM_CONF"] = self.conf
        return e

    def logs(self):
        out = []
        for name in ("munged.log", "slurmctld.log", "slurmd.log", "munged.out",
                     "slurmctld.out", "slurmd.out"):
            path = self._path(name) if self.dir else None
            if path and os.path.exists(path):
                with open(path, errors="replace") as f:
                    text = f.read()[-3000:]
                out.append("--- %s\n%s" % (name, text))
        return "\n".join(out)

    def jobs(self):
        """[(job id, name, state)] of every job the controller knows."""
        p = subprocess.run(["squeue", "-h", "-t", "all", "-o", "%i|%j|%T"], capture_output=True,
                           text=True, env=self.env(), timeout=15)
        rows = []
        for line in p.stdout.splitlines():
            parts = line.split("|")
            if len(parts) == 3:
                rows.append((parts[0], parts[1], parts[2]))
        return rows

    def stop_controller(self):
        """Stops slurmctld alone (to test a controller that is down)."""
        self._stop_one("slurmctld")

    # ---- stop ----

    def _stop_one(self, name, grace=10):
        p = self.procs.pop(name, None)
        if not p or p.poll() is not None:
            return
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()

    def stop(self):
        for name in ("slurmd", "slurmctld", "munged"):
            self._stop_one(name)
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


if __name__ == "__main__":
    c = Cluster(cpus=int(sys.argv[1]) if len(sys.argv) > 1 else 4).start()
    print("export SLURM_CONF=%s   # ^C stops the cluster" % c.conf, flush=True)
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        c.stop()
