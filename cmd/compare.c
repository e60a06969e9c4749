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

#include "../engine/backend.h"
#include "../engine/progress.h"
#include "../engine/report.h"
#include "../engine/sig.h"
#include "../engine/spawn.h"
#include "cmd.h"

static const char *const default_backends = "serial,threads,processes,eventloop,auto";

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

struct row {
	const char *backend;
	struct run *runs;
	int n;
	double wall_s, cpu_s, rss_kib, conns;
	long ok, failed;
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
		*(k == 0 ? &row->wall_s : k == 1 ? &row->cpu_s : k == 2 ? &row->rss_kib : &row->conns) =
			m;
	}
	free(v);
	/* ok/failed of the last run: every run does the same jobs. */
	json_t *last = row->n ? row->runs[row->n - 1].report : NULL;
	row->ok = last ? count(last, "ok") : 0;
	row->failed = last ? count(last, "failed") + count(last, "interrupted") : 0;
}

static void print_table(FILE *out, struct row *rows, int n)
{
	fprintf(out, "%-10s %7s %8s %7s %9s %6s  %s\n", "backend", "wall s", "speedup", "cpu s",
		"peak RSS", "conns", "ok/failed");
	double base = n ? rows[0].wall_s : 0;
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		char rss[32];
		snprintf(rss, sizeof(rss), "%.1f MiB", r->rss_kib / 1024.0);
		fprintf(out, "%-10s %7.2f %7.2fx %7.2f %9s %6.0f  %ld/%ld\n", r->backend, r->wall_s,
			r->wall_s > 0 ? base / r->wall_s : 0, r->cpu_s, rss, r->conns, r->ok,
			r->failed);
	}
}

static json_t *table_json(const struct cli *c, struct row *rows, int n)
{
	json_t *o = json_object();
	json_object_set_new(o, "juggle", json_string(JUGGLE_VERSION));
	json_object_set_new(o, "graph", json_string(c->file));
	json_object_set_new(o, "repeat", json_integer(c->repeat));
	json_object_set_new(o, "measured",
			    json_string("each run is a child juggle process: wall_s from its "
					"start to its exit, cpu and peak RSS from its wait4() "
					"rusage (with its workers and commands); cells are "
					"medians over the repeats"));
	json_t *arr = json_array();
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		json_t *row = json_pack("{s:s,s:f,s:f,s:f,s:I,s:f,s:I,s:I}", "backend", r->backend,
					"wall_s", r->wall_s, "speedup",
					r->wall_s > 0 ? rows[0].wall_s / r->wall_s : 0.0, "cpu_s",
					r->cpu_s, "peak_rss_kib", (json_int_t)r->rss_kib,
					"connections", r->conns, "ok", (json_int_t)r->ok, "failed",
					(json_int_t)r->failed);
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
		json_t *last = r->n ? r->runs[r->n - 1].report : NULL;
		json_object_set(row, "report", last ? last : json_null());
		json_array_append_new(arr, row);
	}
	/* "runs": one row per backend, the shape report_html_compare() reads. */
	json_object_set_new(o, "runs", arr);
	return o;
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
	char *list = xstrdup(c->backends ? c->backends : default_backends);
	VEC(const char *) names = {0};
	for (char *save = NULL, *w = strtok_r(list, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
		if (!backend_by_name(w)) {
			error("--backends: '%s' is not a backend juggle has built (%s)", w,
			      default_backends);
			free(names.v);
			free(list);
			graph_release(&g);
			return EXIT_USAGE;
		}
		VEC_PUSH(&names, w);
	}
	if (!names.n) {
		error("--backends: no backend named");
		free(list);
		graph_release(&g);
		return EXIT_USAGE;
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

	int done = 0;
	bool interrupted = false, failed = false;
	for (size_t b = 0; b < names.n && !interrupted; b++) {
		struct row *row = &rows[done];
		row->backend = names.v[b];
		row->runs = xcalloc((size_t)c->repeat, sizeof(*row->runs));
		for (int k = 0; k < c->repeat && !interrupted; k++) {
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
				error("compare: %s: %s", names.v[b], sb_str(&err));
				rc = EXIT_CANNOT_START;
				interrupted = true;
			} else {
				row->n++;
				if (r->status == EXIT_INTERRUPTED || cancel_requested())
					interrupted = true;
				else if (r->status == EXIT_FAILED)
					failed = true;
				else if (r->status != EXIT_OK || !r->report) {
					char *tail = file_tail(log, 10);
					error("compare: the %s run exited with status %d%s%s", names.v[b],
					      r->status, tail && *tail ? ":\n" : "", tail ? tail : "");
					free(tail);
					rc = r->status == EXIT_USAGE ? EXIT_USAGE : EXIT_FAILED;
					interrupted = true;
				}
			}
			remove_tree(dir);
			free(dir);
			free(rep);
			free(log);
		}
		if (row->n) {
			summarise(row);
			done++;
		}
	}
	if (done) {
		print_table(stdout, rows, done);
		json_t *o = table_json(c, rows, done);
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
	}
	if (cancel_requested() || (interrupted && rc == 0)) {
		error("compare interrupted; the table shows the runs that finished");
		rc = EXIT_INTERRUPTED;
	} else if (rc == 0 && failed) {
		error("compare: jobs failed in some runs (see ok/failed)");
		rc = EXIT_FAILED;
	}
	remove_tree(root);
out:
	for (size_t i = 0; i < names.n; i++) {
		for (int k = 0; k < rows[i].n; k++)
			json_decref(rows[i].runs[k].report);
		free(rows[i].runs);
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
