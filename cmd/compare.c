/* compare.c - `juggle compare`: the graph once per backend, each run in a
 * clean scratch copy of the graph's folder, and a table of what each cost.
 *
 * Each run is juggle itself, started as a child (`juggle -C SCRATCH -b
 * BACKEND --report ...`), rather than sched_run() in this process: the
 * child's wait4() rusage gives that run's own CPU seconds and peak RSS,
 * with its workers and commands, and nothing of the runs before it (in
 * one process, getrusage() only accumulates and ru_maxrss never comes
 * down). A child also starts from a fresh heap, fresh signal state and a
 * fresh loop, as a user's run would, and a crash in one run cannot take
 * the comparison down. The cost is one exec and one graph load per run
 * (milliseconds), the same for every backend.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "engine/backends/backend.h"
#include "engine/report/progress.h"
#include "engine/report/report.h"
#include "engine/sig.h"
#include "engine/spawn.h"
#include "engine/version.h"

/* ---- the scratch copy ---- */

struct copy {
	struct strmap skip; /* declared outputs, relative to the graph's folder */
	dev_t root_dev;     /* the scratch folder itself, if it lies inside */
	ino_t root_ino;
};

static int copy_file(const char *from, const char *to, mode_t mode)
{
	int in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		return -1;
	int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode & 07777);
	if (out < 0) {
		close(in);
		return -1;
	}
	char buf[1 << 16];
	ssize_t n;
	int rc = 0;
	while ((n = read(in, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || write_all(out, buf, (size_t)n) < 0) {
			rc = -1;
			break;
		}
	}
	close(in);
	if (close(out) < 0)
		rc = -1;
	return rc;
}

/* Copies folder rel (relative to the graph's folder, "" for itself) into
 * dest, leaving out .juggle/ and the declared outputs. */
static int copy_tree(struct copy *cp, const char *rel, const char *dest, struct strbuf *err)
{
	DIR *d = opendir(*rel ? rel : ".");
	if (!d) {
		sb_addf(err, "cannot read folder '%s': %s", *rel ? rel : ".", strerror(errno));
		return -1;
	}
	int rc = 0;
	struct dirent *e;
	while (rc == 0 && (e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if (!*rel && strcmp(e->d_name, STATE_DIR) == 0)
			continue;
		char *src = *rel ? xasprintf("%s/%s", rel, e->d_name) : xstrdup(e->d_name);
		char *dst = xasprintf("%s/%s", dest, e->d_name);
		struct stat st;
		if (strmap_get(&cp->skip, src) || lstat(src, &st) < 0) {
			/* a declared output, or gone meanwhile */
		} else if (S_ISDIR(st.st_mode)) {
			if (st.st_dev == cp->root_dev && st.st_ino == cp->root_ino) {
				/* the scratch folder itself */
			} else if (mkdir(dst, st.st_mode & 07777) < 0) {
				sb_addf(err, "cannot create '%s': %s", dst, strerror(errno));
				rc = -1;
			} else {
				rc = copy_tree(cp, src, dst, err);
			}
		} else if (S_ISREG(st.st_mode)) {
			if (copy_file(src, dst, st.st_mode) < 0) {
				sb_addf(err, "cannot copy '%s' to '%s': %s", src, dst, strerror(errno));
				rc = -1;
			}
		} else if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t n = readlink(src, target, sizeof(target) - 1);
			if (n >= 0) {
				target[n] = '\0';
				if (symlink(target, dst) < 0) {
					sb_addf(err, "cannot copy link '%s': %s", src, strerror(errno));
					rc = -1;
				}
			}
		} else if (S_ISFIFO(st.st_mode)) {
			mkfifo(dst, st.st_mode & 07777);
		}
		free(src);
		free(dst);
	}
	closedir(d);
	return rc;
}

/* ---- one run ---- */

struct run {
	int status;       /* juggle's exit status, or 128 + signal */
	double wall_s;    /* from start to exit, measured here */
	double user_s, sys_s;
	long rss_kib;     /* the largest of the run's processes */
	json_t *report;   /* the run's own report, or NULL */
};

static int run_once(const struct cli *c, const char *exe, const char *base, const char *dir,
		    const char *backend, const char *report_path, const char *log_path,
		    struct run *r, struct strbuf *err)
{
	struct strvec argv = {0};
#define ARG(s) VEC_PUSH(&argv, xstrdup(s))
	ARG(exe);
	ARG("-C");
	ARG(dir);
	ARG("-f");
	ARG(base);
	ARG("-b");
	ARG(backend);
	ARG("-q");
	ARG("--progress");
	ARG("none");
	ARG("--report");
	ARG(report_path);
	char num[32];
	if (c->set.jobs > 0) {
		snprintf(num, sizeof(num), "%d", c->set.jobs);
		ARG("-j");
		ARG(num);
	}
	if (c->set.net_jobs > 0) {
		snprintf(num, sizeof(num), "%d", c->set.net_jobs);
		ARG("--net-jobs");
		ARG(num);
	}
	if (c->set.keep_going > 0)
		ARG("-k");
	if (c->set.order) {
		ARG("--order");
		ARG(c->set.order);
	}
	if (c->set.load > 0) {
		snprintf(num, sizeof(num), "%.17g", c->set.load);
		ARG("-l");
		ARG(num);
	}
	for (size_t i = 0; c->vars.v && c->vars.v[i]; i++) {
		ARG("-s");
		ARG(c->vars.v[i]);
	}
	ARG("run");
	ARG("--");
	for (int i = 0; i < c->nargs; i++)
		ARG(c->args[i]);
	VEC_PUSH(&argv, NULL);
#undef ARG
	int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
	struct spawn_opts so = {.argv = argv.v, .out_fd = log};
	memset(r, 0, sizeof(*r));
	double t0 = mono_now();
	pid_t pid = spawn_start(&so, err);
	if (log >= 0)
		close(log);
	strvec_release(&argv);
	if (pid < 0)
		return -1;
	struct spawn_status st;
	/* A signal here reaches the run too (TERM to its group): it stops,
	 * writes its report and exits 130. */
	if (spawn_wait(pid, 0, &st) < 0) {
		sb_addf(err, "cannot wait for the run: %s", strerror(errno));
		return -1;
	}
	r->wall_s = mono_now() - t0;
	r->status = WIFEXITED(st.status) ? WEXITSTATUS(st.status) : 128 + WTERMSIG(st.status);
	r->user_s = (double)st.ru.ru_utime.tv_sec + (double)st.ru.ru_utime.tv_usec / 1e6;
	r->sys_s = (double)st.ru.ru_stime.tv_sec + (double)st.ru.ru_stime.tv_usec / 1e6;
	r->rss_kib = st.ru.ru_maxrss;
	json_error_t je;
	r->report = json_load_file(report_path, 0, &je);
	return 0;
}

/* ---- the outputs of a run ---- */

/* What a run left at each declared output, as text that is equal exactly
 * when the bytes are: "sha256:HEX" (128 bits), "link:TARGET", "missing"
 * or "not a file". One entry per path of outs, in order. */
static char **outputs_digest(const char *dir, const struct strvec *outs)
{
	char **d = xcalloc(outs->n + 1, sizeof(*d));
	for (size_t i = 0; i < outs->n; i++) {
		char *path = xasprintf("%s/%s", dir, outs->v[i]);
		struct stat st;
		unsigned char h[16];
		char target[PATH_MAX];
		ssize_t n;
		if (lstat(path, &st) < 0) {
			d[i] = xstrdup("missing");
		} else if (S_ISLNK(st.st_mode) &&
			   (n = readlink(path, target, sizeof(target) - 1)) >= 0) {
			target[n] = '\0';
			d[i] = xasprintf("link:%s", target);
		} else if (S_ISREG(st.st_mode) && hash_file(path, h) == 0) {
			char hex[33];
			for (int k = 0; k < 16; k++)
				snprintf(hex + 2 * k, 3, "%02x", h[k]);
			d[i] = xasprintf("sha256:%s", hex);
		} else {
			d[i] = xstrdup("not a file");
		}
		free(path);
	}
	return d;
}

static void digest_free(char **d, size_t n)
{
	for (size_t i = 0; d && i < n; i++)
		free(d[i]);
	free(d);
}

/* ---- the table ---- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	if (n == 0)
		return 0;
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* How a backend's runs went. Only a backend whose every run finished
 * (its jobs ok or failed) gets numbers. */
enum row_status { ROW_NOT_RUN, ROW_FINISHED, ROW_FAILED, ROW_INTERRUPTED };

static const char *const row_status_name[] = {"not-run", "finished", "failed", "interrupted"};

struct row {
	const char *backend;
	enum row_status status;
	char *reason;       /* why the backend could not run (ROW_FAILED) */
	struct run *runs;
	int n;              /* runs that finished */
	double wall_s, cpu_s, rss_kib;
	long conns, ok, failed;
	int outputs;        /* 1 same as the reference run, 0 not, -1 not compared */
	char *differ;       /* the first output that differs from the reference */
};

static long count(json_t *report, const char *status)
{
	return (long)json_integer_value(json_object_get(json_object_get(report, "counts"), status));
}

static void summarise(struct row *row)
{
	double *v = xcalloc((size_t)row->n + 1, sizeof(*v));
	for (int k = 0; k < 4; k++) {
		for (int i = 0; i < row->n; i++) {
			const struct run *r = &row->runs[i];
			v[i] = k == 0   ? r->wall_s
			       : k == 1 ? r->user_s + r->sys_s
			       : k == 2 ? (double)r->rss_kib
					: (double)json_integer_value(
						  json_object_get(r->report, "connections"));
		}
		double m = median(v, row->n);
		if (k == 0)
			row->wall_s = m;
		else if (k == 1)
			row->cpu_s = m;
		else if (k == 2)
			row->rss_kib = m;
		else /* a count: the median of two counts is rounded up */
			row->conns = (long)(m + 0.5);
	}
	free(v);
	/* ok/failed of the last run: every run does the same jobs. */
	json_t *last = row->n ? row->runs[row->n - 1].report : NULL;
	row->ok = last ? count(last, "ok") : 0;
	row->failed = last ? count(last, "failed") + count(last, "interrupted") : 0;
}

/* The wall time the speedups are relative to: the first finished row's. */
static double base_wall(const struct row *rows, int n)
{
	for (int i = 0; i < n; i++)
		if (rows[i].status == ROW_FINISHED)
			return rows[i].wall_s;
	return 0;
}

static void print_table(FILE *out, struct row *rows, int n)
{
	fprintf(out, "%-10s %7s %8s %7s %9s %6s %-9s  %s\n", "backend", "wall s", "speedup",
		"cpu s", "peak RSS", "conns", "outputs", "ok/failed");
	double base = base_wall(rows, n);
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		if (r->status != ROW_FINISHED) {
			fprintf(out, "%-10s %s%s%s\n", r->backend,
				r->status == ROW_FAILED        ? "failed"
				: r->status == ROW_INTERRUPTED ? "interrupted"
							       : "not run",
				r->reason ? ": " : "", r->reason ? r->reason : "");
			continue;
		}
		char rss[32];
		snprintf(rss, sizeof(rss), "%.1f MiB", r->rss_kib / 1024.0);
		fprintf(out, "%-10s %7.2f %7.2fx %7.2f %9s %6ld %-9s  %ld/%ld\n", r->backend,
			r->wall_s, r->wall_s > 0 ? base / r->wall_s : 0, r->cpu_s, rss, r->conns,
			r->outputs > 0 ? "identical" : r->outputs == 0 ? "DIFFER" : "-", r->ok,
			r->failed);
	}
}

static json_t *table_json(const struct cli *c, struct row *rows, int n, int identical)
{
	json_t *o = json_object();
	json_object_set_new(o, "juggle", json_string(JUGGLE_VERSION));
	json_object_set_new(o, "graph", json_string(c->file));
	json_object_set_new(o, "repeat", json_integer(c->repeat));
	json_object_set_new(o, "measured",
			    json_string("each run is a child juggle process: wall_s from its "
					"start to its exit, cpu and peak RSS from its wait4() "
					"rusage (with its workers and commands); cells are "
					"medians over the repeats; only a backend whose every "
					"run finished has numbers"));
	json_object_set_new(o, "outputs_identical",
			    identical < 0 ? json_null() : json_boolean(identical));
	double base = base_wall(rows, n);
	json_t *arr = json_array();
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		json_t *row = json_pack("{s:s,s:s}", "backend", r->backend, "status",
					row_status_name[r->status]);
		json_object_set_new(row, "reason", r->reason ? json_text(r->reason) : json_null());
		if (r->status == ROW_FINISHED) {
			json_object_set_new(row, "wall_s", json_real(r->wall_s));
			json_object_set_new(row, "speedup",
					    json_real(r->wall_s > 0 ? base / r->wall_s : 0.0));
			json_object_set_new(row, "cpu_s", json_real(r->cpu_s));
			json_object_set_new(row, "peak_rss_kib", json_integer((json_int_t)r->rss_kib));
			json_object_set_new(row, "connections", json_integer(r->conns));
			json_object_set_new(row, "ok", json_integer(r->ok));
			json_object_set_new(row, "failed", json_integer(r->failed));
		}
		json_object_set_new(row, "outputs",
				    r->outputs > 0    ? json_string("identical")
				    : r->outputs == 0 ? json_string("differ")
						      : json_null());
		if (r->differ)
			json_object_set_new(row, "outputs_differ_at", json_text(r->differ));
		json_t *repeats = json_array();
		for (int k = 0; k < r->n; k++) {
			const struct run *x = &r->runs[k];
			json_t *run = json_pack("{s:i,s:f,s:f,s:f,s:I}", "exit_status", x->status,
						"wall_s", x->wall_s, "cpu_user_s", x->user_s,
						"cpu_sys_s", x->sys_s, "peak_rss_kib",
						(json_int_t)x->rss_kib);
			json_object_set(run, "report", x->report ? x->report : json_null());
			json_array_append_new(repeats, run);
		}
		json_object_set_new(row, "repeats", repeats);
		/* The last run's report, whose timeline the HTML chart draws. */
		json_t *last = r->status == ROW_FINISHED && r->n ? r->runs[r->n - 1].report : NULL;
		json_object_set(row, "report", last ? last : json_null());
		json_array_append_new(arr, row);
	}
	/* "runs": one row per backend, the shape report_html_compare() reads. */
	json_object_set_new(o, "runs", arr);
	return o;
}

/* The line of a run's log that says why it could not run: its last line
 * that is not blank, without the "juggle: " prefix, safe to print. */
static char *run_failure_reason(const char *log, int status)
{
	char *tail = file_tail(log, 20);
	char *line = NULL;
	if (tail) {
		char *end = tail + strlen(tail);
		while (end > tail && (end[-1] == '\n' || end[-1] == ' '))
			*--end = '\0';
		char *from = strrchr(tail, '\n');
		from = from ? from + 1 : tail;
		if (strncmp(from, "juggle: ", 8) == 0)
			from += 8;
		if (*from)
			line = term_clean(from, strlen(from));
	}
	free(tail);
	if (!line)
		line = xasprintf("the run exited with status %d and wrote no report", status);
	return line;
}

/* `juggle -n compare`: what compare would do, doing none of it. */
static int compare_dry(const struct cli *c, const struct graph *g, char **names, size_t n)
{
	size_t jobs = 0;
	for (size_t i = 0; i < g->jobs.n; i++)
		jobs += g->jobs.v[i]->run.wanted;
	printf("would run %zu job%s in each run below, each run in a fresh scratch copy of "
	       "the graph's folder (without .juggle/ and the declared outputs), and compare "
	       "the outputs of every run:\n",
	       jobs, jobs == 1 ? "" : "s");
	for (size_t b = 0; b < n; b++)
		printf("  %s: %d run%s\n", names[b], c->repeat, c->repeat == 1 ? "" : "s");
	if (c->set.report)
		printf("would write the table to '%s'\n", c->set.report);
	if (c->set.html)
		printf("would write the chart to '%s'\n", c->set.html);
	return EXIT_OK;
}

int cmd_compare(struct cli *c)
{
	struct graph g;
	int rc = cli_load_selected(c, &g);
	if (rc) {
		graph_release(&g);
		return rc;
	}
	/* The backends to compare. */
	/* Default: every backend that runs on this machine alone. */
	struct strbuf local = {0};
	backend_names_join(&local, ",", true);
	char *list = xstrdup(c->backends ? c->backends : sb_str(&local));
	VEC(const char *) names = {0};
	for (char *save = NULL, *w = strtok_r(list, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
		if (!backend_by_name(w)) {
			error("--backends: '%s' is not a backend juggle has built (%s)", w,
			      sb_str(&local));
			sb_release(&local);
			free(names.v);
			free(list);
			graph_release(&g);
			return EXIT_USAGE;
		}
		VEC_PUSH(&names, w);
	}
	sb_release(&local);
	if (!names.n) {
		error("--backends: no backend named");
		free(list);
		graph_release(&g);
		return EXIT_USAGE;
	}
	if (c->dry_run) {
		rc = compare_dry(c, &g, (char **)names.v, names.n);
		free(names.v);
		free(list);
		graph_release(&g);
		return rc;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	const char *base = strrchr(c->file, '/') ? strrchr(c->file, '/') + 1 : c->file;
	const char *tmpdir = getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *root = xasprintf("%s/juggle-compare-XXXXXX", tmpdir);
	struct row *rows = xcalloc(names.n, sizeof(*rows));
	struct strbuf err = {0};
	struct copy cp = {0};
	struct stat rst;
	if (n <= 0 || !mkdtemp(root) || stat(root, &rst) < 0) {
		error("cannot create a scratch folder in '%s': %s", tmpdir, strerror(errno));
		rc = EXIT_CANNOT_START;
		goto out;
	}
	cp.root_dev = rst.st_dev;
	cp.root_ino = rst.st_ino;
	for (size_t i = 0; i < g.jobs.n; i++)
		for (uint32_t k = 0; k < g.jobs.v[i]->n_outputs; k++)
			strmap_put(&cp.skip, g.jobs.v[i]->outputs[k], g.jobs.v[i]);
	sig_install();

	/* The declared outputs of the selected jobs, compared across runs. */
	struct strvec outs = {0};
	for (size_t i = 0; i < g.jobs.n; i++)
		if (g.jobs.v[i]->run.wanted)
			for (uint32_t k = 0; k < g.jobs.v[i]->n_outputs; k++)
				VEC_PUSH(&outs, xstrdup(g.jobs.v[i]->outputs[k]));
	char **ref = NULL;          /* the first finished run's outputs */
	const char *ref_name = NULL;
	int identical = -1;         /* -1 nothing compared yet */
	bool interrupted = false, failed = false, unusable = false, usage = false;
	for (size_t b = 0; b < names.n; b++) {
		struct row *row = &rows[b];
		row->backend = names.v[b];
		row->outputs = -1;
		row->runs = xcalloc((size_t)c->repeat, sizeof(*row->runs));
		for (int k = 0; k < c->repeat && !interrupted && row->status == ROW_NOT_RUN; k++) {
			char *dir = xasprintf("%s/%s-%d", root, names.v[b], k + 1);
			char *rep = xasprintf("%s/%s-%d.json", root, names.v[b], k + 1);
			char *log = xasprintf("%s/%s-%d.log", root, names.v[b], k + 1);
			sb_reset(&err);
			if (!c->quiet)
				fprintf(stderr, "juggle: compare: %s, run %d of %d\n", names.v[b], k + 1,
					c->repeat);
			struct run *r = &row->runs[row->n];
			int step = mkdir(dir, 0777) < 0 ? -1 : 0;
			if (step < 0)
				sb_addf(&err, "cannot create '%s': %s", dir, strerror(errno));
			if (step == 0)
				step = copy_tree(&cp, "", dir, &err);
			if (step == 0)
				step = run_once(c, exe, base, dir, names.v[b], rep, log, r, &err);
			if (step < 0) {
				/* The comparison itself cannot go on (no scratch copy,
				 * no child): every later run would fail the same way. */
				error("compare: %s: %s", names.v[b], sb_str(&err));
				rc = EXIT_CANNOT_START;
				interrupted = true;
			} else if (r->status == EXIT_INTERRUPTED || cancel_requested()) {
				/* Stopped part-way: its numbers are not a run's. */
				json_decref(r->report);
				r->report = NULL;
				row->status = ROW_INTERRUPTED;
				interrupted = true;
			} else if ((r->status != EXIT_OK && r->status != EXIT_FAILED) || !r->report) {
				/* The backend could not run the graph (no cluster, a
				 * missing program): a failure with its reason, and the
				 * other backends still run. */
				json_decref(r->report);
				r->report = NULL;
				row->status = ROW_FAILED;
				row->reason = run_failure_reason(log, r->status);
				error("compare: the %s run exited with status %d: %s", names.v[b],
				      r->status, row->reason);
				unusable = true;
				usage |= r->status == EXIT_USAGE;
			} else {
				row->n++;
				failed |= r->status == EXIT_FAILED;
				char **d = outputs_digest(dir, &outs);
				if (!ref) {
					ref = d;
					ref_name = names.v[b];
					row->outputs = 1;
					identical = 1;
				} else {
					size_t at = outs.n;
					for (size_t i = 0; i < outs.n && at == outs.n; i++)
						if (strcmp(ref[i], d[i]) != 0)
							at = i;
					if (at < outs.n) {
						if (!row->differ) {
							row->differ = xstrdup(outs.v[at]);
							error("compare: output '%s' of the %s run (%s) "
							      "differs from the %s run's (%s)",
							      outs.v[at], names.v[b], d[at], ref_name,
							      ref[at]);
						}
						row->outputs = 0;
						identical = 0;
					} else if (row->outputs < 0) {
						row->outputs = 1;
					}
					digest_free(d, outs.n);
				}
			}
			remove_tree(dir);
			free(dir);
			free(rep);
			free(log);
		}
		if (row->status == ROW_NOT_RUN && row->n == c->repeat)
			row->status = ROW_FINISHED;
		if (row->n)
			summarise(row);
	}
	digest_free(ref, outs.n);
	strvec_release(&outs);
	/* Every backend gets a row: finished, failed with its reason,
	 * interrupted, or not run because the comparison stopped first. */
	print_table(stdout, rows, (int)names.n);
	json_t *o = table_json(c, rows, (int)names.n, identical);
	sb_reset(&err);
	if (c->set.report && report_write(o, c->set.report, &err) < 0) {
		error("%s", sb_str(&err));
		rc = rc ? rc : EXIT_FAILED;
	}
	sb_reset(&err);
	if (c->set.html && report_html_compare(o, c->set.html, &err) < 0) {
		error("%s", sb_str(&err));
		rc = rc ? rc : EXIT_FAILED;
	}
	json_decref(o);
	if (rc) {
		/* set above */
	} else if (cancel_requested() || interrupted) {
		error("compare interrupted; only the backends whose every run finished have "
		      "numbers");
		rc = EXIT_INTERRUPTED;
	} else if (usage) {
		rc = EXIT_USAGE;
	} else if (unusable) {
		error("compare: some backends could not run (see the table)");
		rc = EXIT_FAILED;
	} else if (identical == 0) {
		error("compare: the backends' outputs are not byte-identical");
		rc = EXIT_FAILED;
	} else if (failed) {
		error("compare: jobs failed in some runs (see ok/failed)");
		rc = EXIT_FAILED;
	}
	remove_tree(root);
out:
	for (size_t i = 0; i < names.n; i++) {
		for (int k = 0; k < rows[i].n; k++)
			json_decref(rows[i].runs[k].report);
		free(rows[i].runs);
		free(rows[i].reason);
		free(rows[i].differ);
	}
	free(rows);
	strmap_release(&cp.skip);
	free(root);
	free(names.v);
	free(list);
	sb_release(&err);
	graph_release(&g);
	return rc;
}
