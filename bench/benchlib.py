"""Shared by bench/io, bench/cpu and bench/commands: timing a command in a
fresh folder, medians, and the table they print.

Every tool, juggle's backends and the peers alike, is measured the same
way: /usr/bin/time around the whole process, each run in a fresh folder
holding the same fixtures, the tools taking turns, so the numbers compare. The folders are removed
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


def tool(name, cmd, out_dir=False):
    """One row of a bench: a name and the command to time."""
    return {"name": name, "cmd": cmd, "out_dir": out_dir, "runs": []}


def measure_all(tools, fixtures, repeat, env=None):
    """Runs every tool repeat times, round-robin (tool 1, 2, ..., then again),
    so a load that drifts over the bench - this machine is shared - falls
    on every tool alike. Each run gets a fresh folder holding fixtures
    (file name -> text; plus an empty out/ when the tool wants one).
    Returns rows with the medians."""
    global SCRATCH
    if SCRATCH is None:
        SCRATCH = tempfile.mkdtemp(prefix="juggle-bench-")
    for rnd in range(repeat):
        for t in tools:
            d = tempfile.mkdtemp(prefix="run-", dir=SCRATCH)
            for fname, text in fixtures.items():
                with open(os.path.join(d, fname), "w") as f:
                    f.write(text)
            if t["out_dir"]:
                os.mkdir(os.path.join(d, "out"))
            t["runs"].append(timed(t["cmd"], d, env))
            t["last_dir"] = d  # for what its run left there (a report)
            print("  round %d  %-28s %8.2f s" % (rnd + 1, t["name"], t["runs"][-1][0]),
                  file=sys.stderr, flush=True)
    rows = []
    for t in tools:
        rows.append({"name": t["name"],
                     "wall_s": statistics.median(r[0] for r in t["runs"]),
                     "cpu_s": statistics.median(r[1] for r in t["runs"]),
                     "rss_kib": statistics.median(r[2] for r in t["runs"]),
                     "walls": [r[0] for r in t["runs"]]})
    return rows


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
