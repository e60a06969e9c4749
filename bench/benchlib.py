"""Shared by bench/io, bench/cpu and bench/commands: timing a command in a
fresh folder, medians, and the table they print.

Every tool, juggle's backends and the peers alike, is measured the same
way: /usr/bin/time around the whole process, each run in a fresh folder
holding the same fixtures, so the numbers compare. The folders are removed
only at the end: ext4 makes creating files slow for a minute after many
were deleted nearby ("recently deleted" inodes), which would tax whichever
tool ran after a cleanup.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = ["serial", "threads", "processes", "eventloop", "auto"]
SCRATCH = None


def timed(cmd, cwd, env=None, ok=(0,)):
    """Runs cmd in cwd; returns (wall s, cpu s, peak RSS KiB)."""
    p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M"] + cmd, cwd=cwd,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                       env=env)
    if p.returncode not in ok:
        sys.exit("failed (%d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr[-3000:]))
    wall, user, sys_, rss = p.stderr.strip().splitlines()[-1].split()
    return float(wall), float(user) + float(sys_), int(rss)


def measure(name, fixtures, cmd, repeat, env=None, out_dir=False):
    """Runs cmd repeat times, each in a fresh folder holding fixtures (file
    name -> text; plus an empty out/ when out_dir); returns the medians."""
    global SCRATCH
    if SCRATCH is None:
        SCRATCH = tempfile.mkdtemp(prefix="juggle-bench-")
    runs = []
    for _ in range(repeat):
        d = tempfile.mkdtemp(prefix="run-", dir=SCRATCH)
        for fname, text in fixtures.items():
            with open(os.path.join(d, fname), "w") as f:
                f.write(text)
        if out_dir:
            os.mkdir(os.path.join(d, "out"))
        runs.append(timed(cmd, d, env))
    wall = statistics.median(r[0] for r in runs)
    cpu = statistics.median(r[1] for r in runs)
    rss = statistics.median(r[2] for r in runs)
    print("  %-28s %8.2f s" % (name, wall), file=sys.stderr, flush=True)
    return {"name": name, "wall_s": wall, "cpu_s": cpu, "rss_kib": rss,
            "walls": [r[0] for r in runs]}


def cleanup():
    if SCRATCH:
        shutil.rmtree(SCRATCH, ignore_errors=True)


def table(title, rows, base_name, extra=None):
    base = [r for r in rows if r["name"] == base_name]
    base = base[0]["wall_s"] if base else None
    print(title)
    print("%-28s %8s %9s %8s %10s" % ("tool", "wall s", "vs " + base_name.split()[0]
                                     if base else "", "cpu s", "peak RSS"))
    for r in rows:
        ratio = "%8.2fx" % (r["wall_s"] / base) if base else ""
        print("%-28s %8.2f %9s %8.2f %6.1f MiB" % (r["name"], r["wall_s"], ratio, r["cpu_s"],
                                                  r["rss_kib"] / 1024))
    if extra:
        print(extra)


def load_note():
    with open("/proc/loadavg") as f:
        la = f.read().split()[:3]
    return "load average at the end: %s (%d CPUs)" % (" ".join(la), os.cpu_count())
