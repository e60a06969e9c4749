"""Honest numbers: the critical path through dependencies and the run's lower
bound, jobs in flight and CPU use named for what they are, and `compare`
that shows only runs that finished, checks the outputs and, with -n, runs
nothing."""
import json
import os
import re
import signal
import subprocess

from harness import backends, timeout

# The report keeps 10 significant digits; two of its numbers computed from
# the same doubles agree to far better than this.
EPS = 1e-6


def close(a, b, rel=EPS):
    return abs(a - b) <= rel * max(1.0, abs(a), abs(b))


NUM = r"\d+(?:\.\d+)?"


def shown_as(text, value):
    """text is value printed with as many decimals as text has."""
    decimals = len(text.split(".")[1]) if "." in text else 0
    return abs(float(text) - value) <= 0.5 * 10 ** -decimals + 1e-9 * max(1.0, abs(value))


def durations(rep):
    return {j["name"]: j["duration_s"] for j in rep["jobs"] if j["started_s"] is not None}


def longest_chain(chains, dur):
    """The chain (a list of names) with the largest total duration, and the
    chains within a millisecond of it (either is a right answer)."""
    total = {tuple(c): sum(dur[n] for n in c) for c in chains}
    best = max(total.values())
    return best, [list(c) for c, v in total.items() if best - v <= 1e-3]


def check_bounds(r, chains, lanes):
    rep = r.report
    dur = durations(rep)
    best, allowed = longest_chain(chains, dur)
    assert rep["critical_path"] in allowed, (rep["critical_path"], dur)
    cp = rep["critical_path"]
    assert close(rep["critical_path_s"], sum(dur[n] for n in cp)), (rep, dur)
    assert close(rep["job_s"], sum(dur.values())), (rep["job_s"], dur)
    assert rep["lanes"] == lanes, rep["lanes"]
    bound = max(rep["critical_path_s"], rep["job_s"] / lanes)
    assert close(rep["lower_bound_s"], bound), (rep["lower_bound_s"], bound)
    assert close(rep["wall_over_bound"], rep["wall_s"] / rep["lower_bound_s"]), rep
    # The chain ran one job after another inside the run.
    assert rep["wall_s"] >= rep["critical_path_s"] - 1e-6, rep
    # The summary says the same. It prints the numbers rounded from the
    # full doubles, the report keeps 10 digits: compare each within the
    # printed rounding, never two rounded strings.
    m = re.search(r"^  critical path: (.*) \((%s) s\)$" % NUM, r.out, re.M)
    assert m and m.group(1) == " -> ".join(cp), r.out
    assert shown_as(m.group(2), rep["critical_path_s"]), (m.group(2), rep)
    m = re.search(r"^  lower bound (%s) s = max\(critical path (%s) s, (%s) job s / (\d+) "
                  r"lanes?\); wall (%s)x the bound$" % (NUM, NUM, NUM, NUM), r.out, re.M)
    assert m, r.out
    for text, key in zip(m.group(1, 2, 3, 5),
                         ("lower_bound_s", "critical_path_s", "job_s", "wall_over_bound")):
        assert shown_as(text, rep[key]), (text, key, rep[key])
    assert int(m.group(4)) == lanes
    return rep


@backends
def test_critical_path_of_independent_jobs_is_the_longest_job(t):
    """Independent jobs bounded by -j 1: no job waited for another, so the
    critical path is the longest single job (not the one that happened to
    end last), and the bound is the job seconds on the one lane."""
    t.ini("""
        [command long]
        command = sleep 0.4

        [command short]
        foreach = range:1..3
        command = sleep 0.05
        """)
    r = t.juggle("-j", "1", rc=0)
    names = ["long", "short[1]", "short[2]", "short[3]"]
    rep = check_bounds(r, [[n] for n in names], 1)
    assert close(rep["lower_bound_s"], rep["job_s"]), rep


@backends
def test_critical_path_follows_dependency_edges(t):
    """Two lanes, a chain a -> b -> c beside independent jobs: the critical
    path is the longest chain by the durations this run measured."""
    t.ini("""
        [command a]
        command = sleep 0.2
        [command b]
        after = a
        command = sleep 0.2
        [command c]
        after = b
        command = sleep 0.2

        [command lone]
        command = sleep 0.3

        [command many]
        foreach = range:1..4
        command = sleep 0.05
        """)
    r = t.juggle("-j", "2", rc=0)
    chains = [["a", "b", "c"], ["lone"]] + [["many[%d]" % i] for i in range(1, 5)]
    check_bounds(r, chains, 1 if t.backend == "serial" else 2)


@backends
def test_a_retry_delay_holds_no_lane(t):
    """A job waiting out its retry_delay holds no lane: its span (what its
    dependents waited for) includes the wait, its job seconds do not."""
    t.ini("""
        [command flaky]
        retries = 1
        retry_delay = 0.5
        command = sh -c 'test -e tried && exit 0; touch tried; exit 1'
        [command after]
        after = flaky
        command = true
        """)
    r = t.juggle(rc=0)
    rep = r.report
    flaky, after = r.job("flaky"), r.job("after")
    assert flaky["attempts"] == 2, flaky
    # juggle waited at least the delay between the attempts, so the two
    # attempts ran for at most the span less the delay.
    assert rep["job_s"] <= flaky["duration_s"] + after["duration_s"] - 0.5 + 1e-6, rep
    assert rep["critical_path"] == ["flaky", "after"], rep["critical_path"]
    assert close(rep["critical_path_s"], flaky["duration_s"] + after["duration_s"]), rep
    assert close(rep["jobs_in_flight_avg"], rep["job_s"] / rep["wall_s"]), rep


@backends
def test_jobs_in_flight_and_cpu_use_are_named_for_what_they_are(t):
    """The average jobs in flight is the job seconds over the wall time (not
    a speed-up), and CPU use is CPU seconds over wall times the cores juggle
    may run on."""
    t.ini("""
        [command wait]
        foreach = range:1..4
        command = sleep 0.1

        [cpu sq]
        task = sum_squares
        n = 100000
        """)
    r = t.juggle("-j", "4", "--html", "r.html", rc=0)
    rep = r.report
    assert "parallelism" not in rep and "parallelism" not in r.out.split("slowest jobs")[0], r.out
    cores = len(os.sched_getaffinity(0))
    assert rep["cores"] == cores
    cpu = rep["cpu_user_s"] + rep["cpu_sys_s"]
    assert close(rep["cpu_use"], cpu / (rep["wall_s"] * cores)), rep
    assert close(rep["jobs_in_flight_avg"], rep["job_s"] / rep["wall_s"]), rep
    m = re.search(r"^juggle: .* \(%s, -j 4, critical order, (%s) jobs in flight on average, "
                  r"cpu (%s) s = (%s)%% of (\d+) cores\)$" % (t.backend, NUM, NUM, NUM),
                  r.out, re.M)
    assert m, r.out
    assert shown_as(m.group(1), rep["jobs_in_flight_avg"]), (m.group(1), rep)
    assert shown_as(m.group(2), cpu), (m.group(2), cpu)
    assert shown_as(m.group(3), 100 * rep["cpu_use"]), (m.group(3), rep)
    assert int(m.group(4)) == cores
    page = t.read("r.html")
    assert ">parallelism<" not in page
    assert ">jobs in flight (average)<" in page
    m = re.search(r"(%s)%% of (\d+) cores \(cpu s / \(wall x cores\)\)" % NUM, page)
    assert m and shown_as(m.group(1), 100 * rep["cpu_use"]) and int(m.group(2)) == cores
    m = re.search(r"(%s) s \((%s) job s / (\d+) lanes\)" % (NUM, NUM), page)
    assert m and shown_as(m.group(1), rep["lower_bound_s"]), page
    assert shown_as(m.group(2), rep["job_s"]) and int(m.group(3)) == rep["lanes"]
    m = re.search(r"dependencies, (%s) s: the wall time with unlimited workers" % NUM, page)
    assert m and shown_as(m.group(1), rep["critical_path_s"])


@backends
def test_cores_are_those_juggle_may_run_on(t):
    """Under taskset or a cpuset juggle counts the CPUs it may run on, as
    nproc does, not every CPU online: the report's cores, the CPU use and
    the default -j (those CPUs plus 2) all follow them."""
    t.ini("""
        [command a]
        command = true
        """)
    everything = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(everything)})
    try:
        r = t.juggle(rc=0, env={"MAKEFLAGS": ""})
    finally:
        os.sched_setaffinity(0, everything)
    assert r.report["cores"] == 1, r.report
    assert re.search(r"^juggle: .* \(%s, -j 3, .* of 1 cores\)$" % t.backend, r.out, re.M), r.out


def test_cpu_seconds_are_those_of_the_run_not_of_loading_the_graph(t):
    """The report's CPU seconds cover the run that the wall time covers: a
    big graph's loading, before the run, is in neither. CPU spent within
    a wall interval cannot exceed the wall time times the cores."""
    with open("juggle.ini", "w") as f:
        f.write("[command one]\ncommand = true\n\n")
        f.write("[command many]\nforeach = range:1..30000\noutput = out/{item}\n"
                "command = touch out/{item}\n")
    r = t.juggle("-j", "1", "one", rc=0)
    rep = r.report
    cpu = rep["cpu_user_s"] + rep["cpu_sys_s"]
    # 10 ms for the getrusage and clock reads around the run's edges.
    assert cpu <= rep["wall_s"] * rep["cores"] + 0.01, rep
    assert rep["cpu_use"] <= 1.0 + 0.01 / (rep["wall_s"] * rep["cores"]), rep


# ---- compare ----

SLURM_TOOLS = {"srun", "squeue", "scancel", "scontrol", "sbatch", "salloc"}


def path_without_slurm(t):
    """A PATH with every program of this one but Slurm's client tools: a
    machine where the slurm backend cannot run."""
    bin_ = os.path.join(t.dir, "bin-no-slurm")
    os.makedirs(bin_)
    for d in os.environ["PATH"].split(":"):
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            dst = os.path.join(bin_, name)
            if name in SLURM_TOOLS or os.path.lexists(dst):
                continue
            os.symlink(os.path.join(d, name), dst)
    return bin_


def test_compare_lists_a_backend_that_cannot_run_as_failed(t):
    t.ini("""
        [command make]
        output = out.txt
        command = sh -c 'echo same > out.txt'
        """)
    env = {"PATH": path_without_slurm(t)}
    r = t.juggle("compare", "--backends", "serial,slurm,threads", "--report", "c.json",
                 "--html", "c.html", backend=False, env=env, rc=1)
    rows = {l.split()[0]: l for l in r.out.splitlines()[1:]}
    assert list(rows) == ["serial", "slurm", "threads"], r.out
    assert re.match(r"^slurm +failed: backend slurm: 'srun' not found in PATH", rows["slurm"]), \
        r.out
    assert not re.search(r"\d+\.\d\d", rows["slurm"]), rows["slurm"]  # no time
    for b in ("serial", "threads"):
        assert rows[b].split()[-1] == "1/0" and "identical" in rows[b], rows[b]
    assert "some backends could not run" in r.err, r.err
    cmp = json.load(open("c.json"))
    by = {row["backend"]: row for row in cmp["runs"]}
    assert by["slurm"]["status"] == "failed"
    assert "'srun' not found in PATH" in by["slurm"]["reason"]
    for key in ("wall_s", "cpu_s", "speedup", "ok", "failed"):
        assert key not in by["slurm"], by["slurm"]
    assert by["serial"]["status"] == by["threads"]["status"] == "finished"
    assert by["threads"]["report"]["backend"] == "threads"
    page = t.read("c.html")
    assert "<b>failed</b>: backend slurm: &#39;srun&#39; not found" in page or \
        "<b>failed</b>: backend slurm: 'srun' not found" in page, page


@timeout(120)
def test_compare_interrupted_run_is_not_shown_as_finished(t):
    fifo = os.path.join(t.dir, "never-written")
    os.mkfifo(fifo)
    mark = os.path.join(t.dir, "started")
    t.ini("""
        [command hold]
        command = sh -c 'touch %s; cat %s'
        """ % (mark, fifo))
    os.makedirs("tmp")
    p = t.spawn("compare", "--backends", "serial,threads", "--report", "c.json",
                backend=False, env={"TMPDIR": os.path.join(t.dir, "tmp")},
                start_new_session=True)
    t.wait_for_file(mark)
    os.killpg(p.pid, signal.SIGINT)  # ^C at a terminal
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, (p.returncode, out, err)
    rows = {l.split()[0]: l for l in out.splitlines()[1:]}
    assert re.match(r"^serial +interrupted$", rows["serial"]), out
    assert re.match(r"^threads +not run$", rows["threads"]), out
    cmp = json.load(open("c.json"))
    by = {row["backend"]: row for row in cmp["runs"]}
    assert by["serial"]["status"] == "interrupted" and "wall_s" not in by["serial"], by
    assert by["threads"]["status"] == "not-run" and "wall_s" not in by["threads"], by
    assert os.listdir("tmp") == []


def test_compare_checks_that_outputs_are_byte_identical(t):
    t.ini("""
        [command same]
        output = same.txt
        command = sh -c 'echo same > same.txt'
        """)
    r = t.juggle("compare", "--backends", "serial,threads", "--repeat", "2",
                 "--report", "c.json", backend=False, rc=0)
    assert r.out.splitlines()[0].split()[-2] == "outputs", r.out
    for l in r.out.splitlines()[1:]:
        assert l.split()[-2] == "identical", r.out
    assert json.load(open("c.json"))["outputs_identical"] is True

    # The folder a run works in differs by backend: so does this output.
    t.ini("""
        [command same]
        output = same.txt
        command = sh -c 'echo same > same.txt'

        [command where]
        output = where.txt
        command = sh -c 'pwd > where.txt'
        """)
    r = t.juggle("compare", "--backends", "serial,threads", "--report", "c.json",
                 "--html", "c.html", backend=False, rc=1)
    rows = {l.split()[0]: l.split() for l in r.out.splitlines()[1:]}
    assert rows["serial"][-2] == "identical" and rows["threads"][-2] == "DIFFER", r.out
    assert rows["threads"][-1] == "2/0", r.out  # the jobs themselves were fine
    assert "output 'where.txt' of the threads run" in r.err, r.err
    assert "not byte-identical" in r.err, r.err
    cmp = json.load(open("c.json"))
    assert cmp["outputs_identical"] is False
    by = {row["backend"]: row for row in cmp["runs"]}
    assert by["threads"]["outputs"] == "differ"
    assert by["threads"]["outputs_differ_at"] == "where.txt"
    assert "Outputs differ between runs" in t.read("c.html")


@timeout(120)
def test_compare_html_shows_the_real_connections(t):
    from testbed import nginx
    web = nginx(t)
    t.write(web.www + "/a.txt", "A\n")
    t.ini("""
        [download a]
        url = %s
        output = a.txt
        """ % web.url("/a.txt"))
    t.juggle("compare", "--backends", "serial,eventloop", "--report", "c.json",
             "--html", "c.html", backend=False, rc=0)
    cmp = json.load(open("c.json"))
    for row in cmp["runs"]:
        assert row["connections"] == 1 and isinstance(row["connections"], int), row
        assert row["connections"] == row["report"]["connections"]
    page = t.read("c.html")
    cells = re.findall(r'<td class="n" data-v="(\d+)">(\d+)</td><td>identical</td>', page)
    assert cells == [("1", "1"), ("1", "1")], cells


def test_dry_run_compare_runs_nothing(t):
    mark = os.path.join(t.dir, "ran")
    t.ini("""
        [command a]
        output = a.txt
        command = sh -c 'touch %s; echo a > a.txt'

        [command b]
        after = a
        command = sh -c 'touch %s'
        """ % (mark, mark))
    os.makedirs("tmp")
    before = sorted(os.listdir("."))
    r = t.juggle("-n", "compare", "--backends", "serial,threads", "--repeat", "2",
                 "--report", "c.json", "--html", "c.html", backend=False,
                 env={"TMPDIR": os.path.join(t.dir, "tmp")}, rc=0)
    assert not os.path.exists(mark)
    assert sorted(os.listdir(".")) == before, os.listdir(".")
    assert os.listdir("tmp") == []
    assert "would run 2 jobs" in r.out, r.out
    assert "  serial: 2 runs\n" in r.out and "  threads: 2 runs\n" in r.out, r.out
    assert "would write the table to" in r.out and "would write the chart to" in r.out
    assert "wall s" not in r.out  # no table of runs that never happened
