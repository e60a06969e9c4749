"""Shared by the benchmarks in bench/: timing a command in a fresh folder,
medians, the table they print, and the record bench/all reads.

Every tool, juggle's backends and the peers alike, is measured the same
way: the monotonic clock, wait4 and /usr/bin/time around the whole process, each run in a fresh folder
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
import json
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BACKENDS = ["serial", "threads", "processes", "eventloop", "auto"]
SCRATCH = None


def run_timed(cmd, cwd, env=None):
    """Runs cmd in cwd with its output thrown away; returns (exit status, wall
    s, CPU s, peak RSS KiB, stderr's text).
    - Wall: the monotonic clock around the whole process, here rather than
      /usr/bin/time's, whose resolution is 10 ms (a no-op of 10,000 jobs
      takes a few of those). It includes starting /usr/bin/time (below),
      well under a millisecond, the same for every tool.
    - CPU: user + system seconds from wait4, which counts the command (a
      child /usr/bin/time has reaped) in microseconds.
    - Peak RSS: /usr/bin/time's %M. A child forked from this Python would
      report Python's own 15 MiB as its peak: Linux keeps the largest RSS a
      process had, also before it exec'd. /usr/bin/time is small.
    """
    with tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(["/usr/bin/time", "-f", "juggle-bench-rss %M"] + cmd, cwd=cwd,
                             env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read().decode(errors="replace")
    lines = text.rstrip("\n").split("\n")
    rss = int(lines[-1].split()[-1]) if lines[-1].startswith("juggle-bench-rss ") else 0
    text = "\n".join(lines[:-1])
    return p.returncode, wall, ru.ru_utime + ru.ru_stime, rss, text


def timed(cmd, cwd, env=None, ok=(0,)):
    """Runs cmd in cwd; returns (wall s, cpu s, peak RSS KiB). Exits the
    bench, with the tool's stderr, if cmd ends with a status not in ok."""
    rc, wall, cpu, rss, err = run_timed(cmd, cwd, env)
    if rc not in ok:
        sys.exit("failed (%d): %s\n%s" % (rc, " ".join(cmd), err[-3000:]))
    return wall, cpu, rss


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


def record(**fields):
    """Appends one measured figure, as a JSON line, to the file named by
    $JUGGLE_BENCH_RECORD (bench/all sets it to gather every bench's figures
    into one table); does nothing when it is unset. fields name the bench
    (defaults to the script's name) and the figures, in seconds and KiB."""
    path = os.environ.get("JUGGLE_BENCH_RECORD")
    if not path:
        return
    fields.setdefault("bench", os.path.basename(sys.argv[0]))
    with open(path, "a") as f:
        f.write(json.dumps(fields) + "\n")


def table(title, rows, base_name, extra=None):
    for r in rows:
        record(title=title, name=r["name"], wall_s=r["wall_s"], cpu_s=r["cpu_s"],
               rss_kib=r["rss_kib"])
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
