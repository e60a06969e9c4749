/* report.c - see report.h. */
#define _GNU_SOURCE
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "kind.h"
#include "spawn.h"

static bool ran(const struct job *j)
{
	return j->run.wanted && j->run.started;
}

struct job **critical_path(const struct graph *g, size_t *n)
{
	/* Start from the job that finished last, then follow, at each step,
	 * the dependency whose end released it (the gate). */
	const struct job *last = NULL;
	for (size_t i = 0; i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		if (ran(j) && (!last || j->run.finished > last->run.finished))
			last = j;
	}
	VEC(struct job *) chain = {0};
	for (const struct job *j = last; j; j = j->run.gate)
		if (ran(j))
			VEC_PUSH(&chain, (struct job *)j);
	for (size_t i = 0; i < chain.n / 2; i++) {
		struct job *t = chain.v[i];
		chain.v[i] = chain.v[chain.n - 1 - i];
		chain.v[chain.n - 1 - i] = t;
	}
	*n = chain.n;
	return chain.v;
}

static double tv(struct timeval t)
{
	return (double)t.tv_sec + (double)t.tv_usec / 1e6;
}

static json_t *opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *job_json(const struct job *j)
{
	const struct job_run *r = &j->run;
	json_t *o = json_object();
	json_object_set_new(o, "name", json_string(j->name));
	json_object_set_new(o, "kind", json_string(j->sec->kind->name));
	json_object_set_new(o, "status", json_string(job_status_name(r->status)));
	if (j->sec->description)
		json_object_set_new(o, "description", json_string(j->sec->description));
	json_object_set_new(o, "attempts", json_integer(r->attempts));
	json_object_set_new(o, "queued_s", json_real(r->queued));
	json_object_set_new(o, "started_s", r->started ? json_real(r->started_at) : json_null());
	json_object_set_new(o, "finished_s",
			    r->started && r->status != JS_PENDING ? json_real(r->finished)
								  : json_null());
	json_object_set_new(o, "duration_s",
			    json_real(r->started && r->finished > r->started_at
					      ? r->finished - r->started_at
					      : 0));
	json_object_set_new(o, "worker", r->worker >= 0 ? json_integer(r->worker) : json_null());
	json_object_set_new(o, "exit_code",
			    r->exit_code >= 0 ? json_integer(r->exit_code) : json_null());
	char sig[16];
	json_object_set_new(o, "signal",
			    r->signal ? json_string(signal_name(r->signal, sig)) : json_null());
	json_object_set_new(o, "http_status",
			    r->http_status ? json_integer(r->http_status) : json_null());
	json_object_set_new(o, "bytes", json_integer(r->bytes));
	json_object_set_new(o, "cpu_s", json_real(r->cpu_s));
	json_t *outs = json_array();
	for (uint32_t i = 0; i < j->n_outputs; i++)
		json_array_append_new(outs, json_string(j->outputs[i]));
	json_object_set_new(o, "outputs", outs);
	char *log = job_log_path(j);
	json_object_set_new(o, "log", r->started ? json_string(log) : json_null());
	free(log);
	json_object_set_new(o, "reason", opt_str(r->reason));
	json_object_set_new(o, "error", opt_str(r->error));
	if (r->value)
		json_object_set_new(o, "result", json_string(r->value));
	return o;
}

/* Everything but the jobs. */
static json_t *report_header(const struct graph *g, const struct run_summary *sum,
			     const struct report_meta *m)
{
	json_t *o = json_object();
	char host[256] = "";
	gethostname(host, sizeof(host) - 1);
	char started[32];
	iso8601_utc(started, sum->wall_start);
	struct rusage self, kids;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);

	json_object_set_new(o, "juggle", json_string(JUGGLE_VERSION));
	json_object_set_new(o, "graph", json_string(m->graph));
	json_object_set_new(o, "backend", json_string(m->backend));
	json_object_set_new(o, "jobs_limit", json_integer(m->jobs));
	json_object_set_new(o, "dry_run", json_boolean(m->dry_run));
	json_object_set_new(o, "host", json_string(host));
	json_object_set_new(o, "started", json_string(started));
	json_object_set_new(o, "wall_s", json_real(sum->wall_s));
	json_object_set_new(o, "cpu_user_s", json_real(tv(self.ru_utime) + tv(kids.ru_utime)));
	json_object_set_new(o, "cpu_sys_s", json_real(tv(self.ru_stime) + tv(kids.ru_stime)));
	json_object_set_new(o, "peak_rss_kib", json_integer(self.ru_maxrss));
	json_object_set_new(o, "peak_rss_children_kib", json_integer(kids.ru_maxrss));
	json_object_set_new(o, "connections", json_integer(sum->connections));

	double busy = 0;
	for (size_t i = 0; i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		if (ran(j) && j->run.finished > j->run.started_at)
			busy += j->run.finished - j->run.started_at;
	}
	json_object_set_new(o, "parallelism", json_real(sum->wall_s > 0 ? busy / sum->wall_s : 0));
	json_t *counts = json_object();
	for (int s = JS_OK; s < JS__COUNT; s++)
		json_object_set_new(counts, job_status_name((enum job_status)s),
				    json_integer(sum->counts[s]));
	json_object_set_new(o, "counts", counts);
	json_object_set_new(o, "interrupted", json_boolean(sum->interrupted));

	size_t n;
	struct job **path = critical_path(g, &n);
	json_t *cp = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(cp, json_string(path[i]->name));
	free(path);
	json_object_set_new(o, "critical_path", cp);
	return o;
}

json_t *report_build(const struct graph *g, const struct run_summary *sum,
		     const struct report_meta *m)
{
	json_t *o = report_header(g, sum, m);
	json_t *jobs = json_array();
	for (size_t i = 0; i < g->jobs.n; i++)
		if (g->jobs.v[i]->run.wanted)
			json_array_append_new(jobs, job_json(g->jobs.v[i]));
	json_object_set_new(o, "jobs", jobs);
	return o;
}

#define REPORT_FLAGS (JSON_INDENT(1) | JSON_REAL_PRECISION(10))

static int dump_to_buf(const char *buffer, size_t size, void *data)
{
	sb_add(data, buffer, size);
	return 0;
}

int report_write_graph(const struct graph *g, const struct run_summary *sum,
		       const struct report_meta *m, const char *path, struct strbuf *err)
{
	/* The same document as report_build(), written a job at a time: a
	 * tree of 100,000 jobs would cost more than the no-op run itself. */
	char *tmp;
	if (mkdir_parents(path) < 0)
		goto fail;
	int fd = atomic_begin(path, &tmp);
	if (fd < 0)
		goto fail;
	json_t *head = report_header(g, sum, m);
	char *text = json_dumps(head, REPORT_FLAGS);
	json_decref(head);
	/* "{\n ... \n}": drop the closing brace, append the jobs. */
	size_t len = strlen(text);
	while (len && (text[len - 1] == '}' || text[len - 1] == '\n'))
		len--;
	struct strbuf buf = {0};
	sb_add(&buf, text, len);
	free(text);
	sb_adds(&buf, ",\n \"jobs\": [");
	bool first = true;
	int rc = 0;
	for (size_t i = 0; rc == 0 && i < g->jobs.n; i++) {
		if (!g->jobs.v[i]->run.wanted)
			continue;
		json_t *j = job_json(g->jobs.v[i]);
		sb_adds(&buf, first ? "\n  " : ",\n  ");
		json_dump_callback(j, dump_to_buf, &buf, JSON_COMPACT | JSON_REAL_PRECISION(10));
		json_decref(j);
		first = false;
		if (buf.len > 1 << 16) {
			rc = write_all(fd, buf.buf, buf.len);
			sb_reset(&buf);
		}
	}
	sb_adds(&buf, "\n ]\n}\n");
	if (rc == 0)
		rc = write_all(fd, buf.buf, buf.len);
	sb_release(&buf);
	if (rc < 0) {
		int e = errno;
		atomic_abort(fd, tmp);
		errno = e;
		goto fail;
	}
	if (atomic_commit(fd, tmp, path) < 0)
		goto fail;
	return 0;
fail:
	sb_addf(err, "cannot write report '%s': %s", path, strerror(errno));
	return -1;
}

int report_write(json_t *report, const char *path, struct strbuf *err)
{
	char *text = json_dumps(report, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
	if (!text) {
		sb_addf(err, "cannot format the report");
		return -1;
	}
	size_t len = strlen(text);
	text = xrealloc(text, len + 2);
	text[len++] = '\n';
	text[len] = '\0';
	int rc = mkdir_parents(path);
	if (rc == 0)
		rc = write_file_atomic(path, text, len);
	if (rc < 0)
		sb_addf(err, "cannot write report '%s': %s", path, strerror(errno));
	free(text);
	return rc;
}

static int cmp_duration(const void *a, const void *b)
{
	double x = json_real_value(json_object_get(*(json_t *const *)a, "duration_s"));
	double y = json_real_value(json_object_get(*(json_t *const *)b, "duration_s"));
	return x < y ? 1 : x > y ? -1 : 0;
}

void report_print_summary(FILE *out, json_t *r)
{
	json_t *counts = json_object_get(r, "counts");
	fprintf(out, "juggle: ");
	static const char *const order[] = {"ok", "failed", "skipped-up-to-date", "not-run",
					    "interrupted"};
	static const char *const label[] = {"ok", "failed", "up to date", "not run",
					    "interrupted"};
	bool first = true;
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		json_int_t c = json_integer_value(json_object_get(counts, order[i]));
		if (!c && i != 0)
			continue;
		fprintf(out, "%s%lld %s", first ? "" : ", ", (long long)c, label[i]);
		first = false;
	}
	fprintf(out, " in %.2f s (%s, -j %lld, parallelism %.2fx, cpu %.2f s)\n",
		json_real_value(json_object_get(r, "wall_s")),
		json_string_value(json_object_get(r, "backend")),
		(long long)json_integer_value(json_object_get(r, "jobs_limit")),
		json_real_value(json_object_get(r, "parallelism")),
		json_real_value(json_object_get(r, "cpu_user_s")) +
			json_real_value(json_object_get(r, "cpu_sys_s")));

	json_t *jobs = json_object_get(r, "jobs");
	size_t n = 0;
	json_t **ran_jobs = xmalloc(sizeof(*ran_jobs) * (json_array_size(jobs) + 1));
	size_t i;
	json_t *j;
	json_array_foreach(jobs, i, j)
	{
		if (!json_is_null(json_object_get(j, "started_s")))
			ran_jobs[n++] = j;
	}
	qsort(ran_jobs, n, sizeof(*ran_jobs), cmp_duration);
	if (n) {
		fprintf(out, "  %-40s %-9s %-12s %9s %9s\n", "slowest jobs", "kind", "status",
			"seconds", "cpu s");
		for (size_t k = 0; k < n && k < 5; k++) {
			const char *name = json_string_value(json_object_get(ran_jobs[k], "name"));
			fprintf(out, "  %-40.*s %-9s %-12s %9.3f %9.3f\n", 40, name,
				json_string_value(json_object_get(ran_jobs[k], "kind")),
				json_string_value(json_object_get(ran_jobs[k], "status")),
				json_real_value(json_object_get(ran_jobs[k], "duration_s")),
				json_real_value(json_object_get(ran_jobs[k], "cpu_s")));
		}
	}
	free(ran_jobs);
	json_t *cp = json_object_get(r, "critical_path");
	if (json_array_size(cp)) {
		fprintf(out, "  critical path:");
		json_array_foreach(cp, i, j)
		{
			fprintf(out, "%s %s", i ? " ->" : "", json_string_value(j));
			if (i >= 7 && json_array_size(cp) > 9) {
				fprintf(out, " -> ... (%zu more)", json_array_size(cp) - i - 1);
				break;
			}
		}
		fputc('\n', out);
	}
}
