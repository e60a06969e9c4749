/* report.c - see report.h. */
#define _GNU_SOURCE
#include "engine/report/json.h"
#include "engine/report/report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/kind.h"
#include "engine/report/progress.h"
#include "engine/spawn.h"
#include "engine/version.h"

json_t *json_text(const char *s)
{
	json_t *v = json_string(s);
	if (v)
		return v;
	struct strbuf sb = {0};
	size_t n = strlen(s);
	for (size_t i = 0; i < n;) {
		unsigned cp;
		size_t k = utf8_decode((const unsigned char *)s + i, n - i, &cp);
		if (k) {
			sb_add(&sb, s + i, k);
			i += k;
		} else {
			sb_adds(&sb, "\xef\xbf\xbd"); /* U+FFFD */
			i++;
		}
	}
	v = json_string(sb_str(&sb));
	sb_release(&sb);
	return v ? v : json_string("");
}

static bool ran(const struct job *j)
{
	return j->run.wanted && j->run.started;
}

static double ran_duration(const struct job *j)
{
	const struct job_run *r = &j->run;
	return r->started && r->finished > r->started_at ? r->finished - r->started_at : 0;
}

struct job **critical_path(const struct graph *g, size_t *n, double *seconds)
{
	/* The longest chain through dependency edges, weighing each job by
	 * its duration (0 for one that did not run): in an order where
	 * dependencies come first, a job's chain is its own duration plus
	 * the longest chain among its dependencies. This is the wall time
	 * unlimited workers would need; which job happened to finish last
	 * says nothing when -j, not a dependency, made the others wait. */
	size_t nord;
	struct job **ord = graph_order(g, &nord);
	double *len = xcalloc(g->jobs.n + 1, sizeof(*len));
	struct job **via = xcalloc(g->jobs.n + 1, sizeof(*via));
	const struct job *end = NULL;
	for (size_t i = 0; i < nord; i++) {
		const struct job *j = ord[i];
		double best = 0;
		for (uint32_t k = 0; k < j->n_deps; k++) {
			const struct job *d = j->deps[k];
			if (d->run.wanted && (!via[j->index] || len[d->index] > best)) {
				best = len[d->index];
				via[j->index] = (struct job *)d;
			}
		}
		len[j->index] = best + ran_duration(j);
		if (ran(j) && (!end || len[j->index] > len[end->index]))
			end = j;
	}
	VEC(struct job *) chain = {0};
	for (const struct job *j = end; j; j = via[j->index])
		if (ran(j))
			VEC_PUSH(&chain, (struct job *)j);
	for (size_t i = 0; i < chain.n / 2; i++) {
		struct job *t = chain.v[i];
		chain.v[i] = chain.v[chain.n - 1 - i];
		chain.v[chain.n - 1 - i] = t;
	}
	*seconds = end ? len[end->index] : 0;
	free(len);
	free(via);
	free(ord);
	*n = chain.n;
	return chain.v;
}

static json_t *opt_str(const char *s)
{
	return s ? json_text(s) : json_null();
}

static json_t *job_json(const struct job *j)
{
	const struct job_run *r = &j->run;
	json_t *o = json_object();
	json_object_set_new(o, "name", json_text(j->name));
	json_object_set_new(o, "kind", json_string(j->sec->kind->name));
	json_object_set_new(o, "status", json_string(job_status_name(r->status)));
	if (j->sec->description)
		json_object_set_new(o, "description", json_text(j->sec->description));
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
	/* Every kind's facts, null where this job has none, then the
	 * backend's (the Slurm job), where it has them. */
	for (const struct job_kind *const *k = job_kinds; *k; k++)
		for (const struct kind_fact *f = (*k)->facts; f && f->name; f++) {
			json_t *v = json_object_get(r->facts, f->name);
			json_object_set_new(o, f->name, v ? json_copy(v) : json_null());
		}
	const char *fact;
	json_t *v;
	json_object_foreach(r->facts, fact, v)
		if (!json_object_get(o, fact))
			json_object_set(o, fact, v);
	json_object_set_new(o, "bytes", json_integer(r->bytes));
	json_object_set_new(o, "cpu_s", json_real(r->cpu_s));
	json_t *outs = json_array();
	for (uint32_t i = 0; i < j->n_outputs; i++)
		json_array_append_new(outs, json_text(j->outputs[i]));
	json_object_set_new(o, "outputs", outs);
	/* A job that wrote nothing has no log. */
	char *log = job_log_path(j);
	json_object_set_new(o, "log", r->started && r->logged ? json_text(log) : json_null());
	/* The end of a failure's log travels with the report, so the HTML,
	 * JUnit and the terminal summary show the same lines. */
	if (r->started && r->logged && (r->status == JS_FAILED || r->status == JS_INTERRUPTED)) {
		char *tail = file_tail(log, REPORT_LOG_TAIL_LINES);
		if (tail)
			json_object_set_new(o, "log_tail", json_text(tail));
		free(tail);
	}
	free(log);
	json_object_set_new(o, "reason", opt_str(r->reason));
	json_object_set_new(o, "error", opt_str(r->error));
	if (j->sec->when != WHEN_SUCCESS) {
		json_object_set_new(
		    o, "when",
		    json_string(j->sec->when == WHEN_ALL_DONE ? "all_done" : "any_failed"));
		/* The jobs named in its JUGGLE_FAILED. */
		json_t *failed = json_array();
		for (const char *c = r->failed_upstream; c && *c;) {
			size_t n = strcspn(c, "\n");
			char *name = xstrndup(c, n);
			json_array_append_new(failed, json_text(name));
			free(name);
			c += n + (c[n] == '\n');
		}
		json_object_set_new(o, "failed_upstream", failed);
	}
	if (r->value)
		json_object_set_new(o, "result", json_text(r->value));
	return o;
}

/* The keys job_json() writes after the facts: a fact of one of these
 * names would be overwritten in its place, which job_text() leaves to
 * jansson. */
static const char *const late_keys[] = {"bytes",  "cpu_s", "outputs", "log",
					"log_tail", "reason", "error",   "when",
					"failed_upstream", "result"};

static bool named(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return true;
	return false;
}

static void put_real(struct strbuf *sb, const char *key, double v)
{
	size_t at = sb->len;
	jw_key(sb, key, false);
	if (!jw_real(sb, v)) /* jansson leaves out what it cannot hold */
		sb->len = at, sb->buf[at] = '\0';
}

static void put_str(struct strbuf *sb, const char *key, const char *s)
{
	jw_key(sb, key, false);
	if (s)
		jw_string(sb, s);
	else
		sb_adds(sb, "null");
}

static void put_int(struct strbuf *sb, const char *key, bool has, long long v)
{
	jw_key(sb, key, false);
	if (has)
		jw_int(sb, v);
	else
		sb_adds(sb, "null");
}

/* job_json(j) as compact JSON text appended to sb, written without the
 * tree: the report of a big graph is mostly this. */
static void job_text(struct strbuf *sb, const struct job *j)
{
	const struct job_run *r = &j->run;
	/* The names already written, to place the backend's facts as
	 * job_json() does. */
	const char *seen[64] = {"name", "kind", "status", "description", "attempts", "queued_s",
				"started_s", "finished_s", "duration_s", "worker", "exit_code",
				"signal"};
	size_t nseen = 12;
	for (const struct job_kind *const *k = job_kinds; *k; k++)
		for (const struct kind_fact *f = (*k)->facts; f && f->name; f++)
			if (nseen < ARRAY_SIZE(seen) && !named(seen, nseen, f->name))
				seen[nseen++] = f->name;
	const char *fact;
	json_t *v;
	/* A trigger job's when and failed_upstream, and anything unusual,
	 * are written by job_json(): such jobs are few. */
	bool odd = nseen == ARRAY_SIZE(seen) || j->sec->when != WHEN_SUCCESS;
	json_object_foreach(r->facts, fact, v)
		odd = odd || named(late_keys, ARRAY_SIZE(late_keys), fact);
	if (odd) {
		json_t *o = job_json(j);
		jw_value(sb, o);
		json_decref(o);
		return;
	}
	sb_addc(sb, '{');
	jw_key(sb, "name", true);
	jw_string(sb, j->name);
	put_str(sb, "kind", j->sec->kind->name);
	put_str(sb, "status", job_status_name(r->status));
	if (j->sec->description)
		put_str(sb, "description", j->sec->description);
	put_int(sb, "attempts", true, r->attempts);
	put_real(sb, "queued_s", r->queued);
	if (r->started)
		put_real(sb, "started_s", r->started_at);
	else
		put_str(sb, "started_s", NULL);
	if (r->started && r->status != JS_PENDING)
		put_real(sb, "finished_s", r->finished);
	else
		put_str(sb, "finished_s", NULL);
	put_real(sb, "duration_s", ran_duration(j));
	put_int(sb, "worker", r->worker >= 0, r->worker);
	put_int(sb, "exit_code", r->exit_code >= 0, r->exit_code);
	char sig[16];
	put_str(sb, "signal", r->signal ? signal_name(r->signal, sig) : NULL);
	for (size_t i = 12; i < nseen; i++) {
		jw_key(sb, seen[i], false);
		json_t *fv = json_object_get(r->facts, seen[i]);
		if (fv)
			jw_value(sb, fv);
		else
			sb_adds(sb, "null");
	}
	json_object_foreach(r->facts, fact, v)
	{
		if (named(seen, nseen, fact) &&
		    (j->sec->description || strcmp(fact, "description")))
			continue;
		jw_key(sb, fact, false);
		jw_value(sb, v);
	}
	put_int(sb, "bytes", true, r->bytes);
	put_real(sb, "cpu_s", r->cpu_s);
	jw_key(sb, "outputs", false);
	sb_addc(sb, '[');
	for (uint32_t i = 0; i < j->n_outputs; i++) {
		if (i)
			sb_addc(sb, ',');
		jw_string(sb, j->outputs[i]);
	}
	sb_addc(sb, ']');
	char *log = r->started && r->logged ? job_log_path(j) : NULL;
	put_str(sb, "log", log);
	if (log && (r->status == JS_FAILED || r->status == JS_INTERRUPTED)) {
		char *tail = file_tail(log, REPORT_LOG_TAIL_LINES);
		if (tail)
			put_str(sb, "log_tail", tail);
		free(tail);
	}
	free(log);
	put_str(sb, "reason", r->reason);
	put_str(sb, "error", r->error);
	if (r->value)
		put_str(sb, "result", r->value);
	sb_addc(sb, '}');
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
	json_object_set_new(o, "graph", json_text(m->graph));
	json_object_set_new(o, "backend", json_string(m->backend));
	json_object_set_new(o, "jobs_limit", json_integer(m->jobs));
	json_object_set_new(o, "order", json_string(m->order ? m->order : "file"));
	/* -n writes no report; the key stays for the readers of older ones. */
	json_object_set_new(o, "dry_run", json_false());
	if (m->notes)
		json_object_set_new(o, "notes", json_string(m->notes));
	json_object_set_new(o, "host", json_text(host));
	json_object_set_new(o, "started", json_string(started));
	json_object_set_new(o, "wall_s", json_real(sum->wall_s));
	/* The CPU the run used: juggle's and its jobs', from the start of
	 * the run (not of the process: loading a big graph is not the run). */
	double cpu_user, cpu_sys;
	process_cpu_s(&cpu_user, &cpu_sys);
	cpu_user -= sum->cpu_user0;
	cpu_sys -= sum->cpu_sys0;
	json_object_set_new(o, "cpu_user_s", json_real(cpu_user));
	json_object_set_new(o, "cpu_sys_s", json_real(cpu_sys));
	json_object_set_new(o, "peak_rss_kib", json_integer(self.ru_maxrss));
	json_object_set_new(o, "peak_rss_children_kib", json_integer(kids.ru_maxrss));
	/* Every kind's counts, totalled over the jobs that ran. */
	for (const struct job_kind *const *k = job_kinds; *k; k++)
		for (const char *const *c = (*k)->counts; c && *c; c++) {
			json_int_t total = 0;
			for (size_t i = 0; i < g->jobs.n; i++)
				total += json_integer_value(json_object_get(g->jobs.v[i]->run.counts, *c));
			json_object_set_new(o, *c, json_integer(total));
		}

	/* What bounds the wall time from below: the dependency chain, and
	 * the job seconds (the time attempts held a lane; a retry delay holds
	 * none) spread over every lane. The lanes are the slots -j gives
	 * (no more than the backend's max_lanes), plus any beyond -j that a
	 * job ran on (downloads under --net-jobs on the event loop). */
	double busy = 0;
	int lanes = m->jobs > 0 ? m->jobs : 1;
	if (m->max_lanes > 0 && lanes > m->max_lanes)
		lanes = m->max_lanes;
	for (size_t i = 0; i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		if (!ran(j))
			continue;
		busy += j->run.busy_s;
		if (j->run.worker >= lanes)
			lanes = j->run.worker + 1;
	}
	size_t n;
	double cp_s;
	struct job **path = critical_path(g, &n, &cp_s);
	double bound = cp_s > busy / lanes ? cp_s : busy / lanes;
	long cores = cpus_usable();
	double cpu = cpu_user + cpu_sys;
	json_object_set_new(o, "cores", json_integer(cores));
	json_object_set_new(o, "cpu_use",
			    json_real(sum->wall_s > 0 ? cpu / (sum->wall_s * (double)cores) : 0));
	json_object_set_new(o, "jobs_in_flight_avg",
			    json_real(sum->wall_s > 0 ? busy / sum->wall_s : 0));
	json_object_set_new(o, "job_s", json_real(busy));
	json_object_set_new(o, "lanes", json_integer(lanes));
	json_object_set_new(o, "critical_path_s", json_real(cp_s));
	json_object_set_new(o, "lower_bound_s", json_real(bound));
	/* Nothing ran: no ratio to a bound of zeros. */
	json_object_set_new(o, "wall_over_bound",
			    bound > 0 ? json_real(sum->wall_s / bound) : json_null());
	json_t *counts = json_object();
	for (int s = JS_OK; s < JS__COUNT; s++)
		json_object_set_new(counts, job_status_name((enum job_status)s),
				    json_integer(sum->counts[s]));
	json_object_set_new(o, "counts", counts);
	json_object_set_new(o, "interrupted", json_boolean(sum->interrupted));
	/* Allocation mode: how the workers' allocations grew and shrank. */
	if (sum->allocs.used) {
		json_object_set_new(o, "slurm_allocations", json_integer(sum->allocs.allocations));
		json_object_set_new(o, "slurm_first_allocation_tasks",
				    json_integer(sum->allocs.first_tasks));
		json_object_set_new(o, "slurm_workers_peak", json_integer(sum->allocs.workers_peak));
		json_object_set_new(o, "slurm_workers_lost", json_integer(sum->allocs.workers_lost));
	}
	/* Each foreach over another job's output: how many items it got
	 * (null while it was never expanded: its producer did not end well). */
	json_t *expanded = json_object();
	for (size_t i = 0; i < g->sections.n; i++) {
		const struct section *sec = g->sections.v[i];
		if (!sec->dyn_source)
			continue;
		const struct job *maker = strmap_get(&g->producer, sec->dyn_source);
		json_int_t items = 0;
		for (size_t k = 0; k < sec->n_jobs; k++) {
			const struct job *j = g->jobs.v[sec->first_job + k];
			items += j->members ? j->n_members : 1;
		}
		json_t *e = json_object();
		json_object_set_new(e, "after", maker ? json_text(maker->name) : json_null());
		json_object_set_new(e, "source", json_text(sec->dyn_source));
		json_object_set_new(e, "items", sec->deferred ? json_null() : json_integer(items));
		json_object_set_new(expanded, sec->name, e);
	}
	json_object_set_new(o, "expanded", expanded);

	json_t *cp = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(cp, json_text(path[i]->name));
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

json_t *report_build_summary(const struct graph *g, const struct run_summary *sum,
			     const struct report_meta *m)
{
	/* What report_print_summary() reads: the five slowest jobs that ran,
	 * the failed and interrupted ones, and the ends of the critical path.
	 * The whole tree of 100,000 jobs took 380 MiB and seconds to build. */
	enum { SLOWEST = 5 };
	const struct job *slow[SLOWEST];
	size_t nslow = 0;
	for (size_t i = 0; i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		if (!j->run.wanted || !j->run.started)
			continue;
		double d = ran_duration(j);
		size_t k = nslow < SLOWEST ? nslow++ : SLOWEST;
		if (k == SLOWEST && ran_duration(slow[SLOWEST - 1]) >= d)
			continue;
		if (k == SLOWEST)
			k--;
		for (; k > 0 && ran_duration(slow[k - 1]) < d; k--)
			slow[k] = slow[k - 1];
		slow[k] = j;
	}
	size_t ncp;
	double cp_s;
	struct job **path = critical_path(g, &ncp, &cp_s);
	json_t *o = report_header(g, sum, m);
	json_t *jobs = json_array();
	for (size_t i = 0; i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		if (!j->run.wanted)
			continue;
		bool keep = j->run.status == JS_FAILED || j->run.status == JS_INTERRUPTED ||
			    (ncp && (j == path[0] || j == path[ncp - 1]));
		for (size_t k = 0; !keep && k < nslow; k++)
			keep = slow[k] == j;
		if (keep)
			json_array_append_new(jobs, job_json(j));
	}
	free(path);
	json_object_set_new(o, "jobs", jobs);
	return o;
}

#define REPORT_FLAGS (JSON_INDENT(1) | JSON_REAL_PRECISION(10))

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
		sb_adds(&buf, first ? "\n  " : ",\n  ");
		job_text(&buf, g->jobs.v[i]);
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

char *report_render_json(json_t *report, size_t *len)
{
	char *text = json_dumps(report, JSON_INDENT(1) | JSON_REAL_PRECISION(10));
	if (!text) /* only on allocation failure */
		text = xstrdup("{}");
	size_t n = strlen(text);
	text = xrealloc(text, n + 2);
	text[n++] = '\n';
	text[n] = '\0';
	*len = n;
	return text;
}

int report_save(const char *what, const char *path, const char *text, size_t len,
		struct strbuf *err)
{
	int rc = mkdir_parents(path);
	if (rc == 0)
		rc = write_file_atomic(path, text, len);
	if (rc < 0)
		sb_addf(err, "cannot write %s '%s': %s", what, path, strerror(errno));
	return rc;
}

int report_probe(const char *what, const char *path, struct strbuf *err)
{
	struct stat st;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		sb_addf(err, "cannot write %s '%s': it is a folder", what, path);
		return -1;
	}
	char *tmp = NULL;
	int fd = -1;
	if (mkdir_parents(path) < 0 || (fd = atomic_begin(path, &tmp)) < 0) {
		sb_addf(err, "cannot write %s '%s': %s", what, path, strerror(errno));
		return -1;
	}
	atomic_abort(fd, tmp);
	return 0;
}

int report_write(json_t *report, const char *path, struct strbuf *err)
{
	size_t len;
	char *text = report_render_json(report, &len);
	int rc = report_save("report", path, text, len, err);
	free(text);
	return rc;
}

static int cmp_duration(const void *a, const void *b)
{
	double x = json_real_value(json_object_get(*(json_t *const *)a, "duration_s"));
	double y = json_real_value(json_object_get(*(json_t *const *)b, "duration_s"));
	return x < y ? 1 : x > y ? -1 : 0;
}

/* Display columns of UTF-8 text, counting each character as one. */
static size_t columns_of(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* Appends s cleaned of control characters, cut to width display columns
 * (counting a UTF-8 sequence as one, "..." ending what was cut), padded
 * when pad. */
static void add_cell(struct strbuf *sb, const char *s, int width, bool pad)
{
	char *c = term_clean(s, strlen(s));
	size_t n = strlen(c);
	int cols = (int)columns_of(c, n);
	if (cols > width) {
		int seen = 0;
		size_t cut = n;
		for (size_t i = 0; i < n; i++) {
			if (((unsigned char)c[i] & 0xc0) != 0x80 && ++seen > width - 3) {
				cut = i;
				break;
			}
		}
		sb_add(sb, c, cut);
		sb_adds(sb, "...");
		cols = width;
	} else {
		sb_adds(sb, c);
	}
	for (; pad && cols < width; cols++)
		sb_addc(sb, ' ');
	free(c);
}

static void put_cell(FILE *out, const char *s, int width, bool pad)
{
	struct strbuf sb = {0};
	add_cell(&sb, s, width, pad);
	fputs(sb_str(&sb), out);
	sb_release(&sb);
}

/* Prints the line text (already clean) and a newline; when width > 0 and
 * the line is wider, it breaks at spaces into lines of at most width
 * columns, each after the first indented by indent spaces. A word wider
 * than the room stays whole on its own line. */
static void put_wrapped(FILE *out, const char *text, int width, int indent)
{
	size_t lead = 0;
	const char *p = text;
	while (width > 0 && (int)(lead + columns_of(p, strlen(p))) > width) {
		/* The last space at which the line still fits. */
		const char *brk = NULL;
		size_t c = lead;
		for (const char *q = p; *q && (int)c <= width; q++) {
			if (*q == ' ' && q > p)
				brk = q;
			c += ((unsigned char)*q & 0xc0) != 0x80;
		}
		if (!brk) /* one long word: up to the next space */
			brk = strchr(p + 1, ' ');
		if (!brk)
			break;
		fprintf(out, "%*s%.*s\n", (int)lead, "", (int)(brk - p), p);
		p = brk;
		while (*p == ' ')
			p++;
		lead = (size_t)indent;
	}
	fprintf(out, "%*s%s\n", (int)lead, "", p);
}

bool report_job_failed(json_t *j)
{
	const char *st = jstr(j, "status");
	return strcmp(st, "failed") == 0 || strcmp(st, "interrupted") == 0;
}

char *report_how_failed(json_t *j)
{
	json_t *code = json_object_get(j, "exit_code");
	json_t *sig = json_object_get(j, "signal");
	if (json_is_string(sig))
		return xasprintf("killed by %s", json_string_value(sig));
	if (json_is_integer(code) && json_integer_value(code) != 0)
		return xasprintf("exit code %lld", (long long)json_integer_value(code));
	/* A fact its kind says explains a failure ("HTTP 404"). */
	const struct job_kind *kind = kind_by_name(jstr(j, "kind"));
	for (const struct kind_fact *f = kind ? kind->facts : NULL; f && f->name; f++) {
		json_t *v = json_object_get(j, f->name);
		if (f->label && json_is_integer(v) && json_integer_value(v) >= f->fails_from)
			return xasprintf("%s %lld", f->label, (long long)json_integer_value(v));
	}
	return NULL;
}

void report_failures_init(struct report_failures *fl, json_t *r)
{
	*fl = (struct report_failures){0};
	size_t i;
	json_t *j;
	json_array_foreach(json_object_get(r, "jobs"), i, j)
	{
		if (!report_job_failed(j))
			continue;
		const char *st = jstr(j, "status");
		struct report_failure f = {
		    .job = j,
		    .name = jstr(j, "name"),
		    .status = st,
		    .interrupted = strcmp(st, "interrupted") == 0,
		    .how = report_how_failed(j),
		    .what = json_is_string(json_object_get(j, "error")) ? jstr(j, "error") : st,
		    .log = json_string_value(json_object_get(j, "log")),
		    .log_tail = jstr(j, "log_tail"),
		};
		VEC_PUSH(fl, f);
	}
}

void report_failures_release(struct report_failures *fl)
{
	for (size_t k = 0; k < fl->n; k++)
		free(fl->v[k].how);
	free(fl->v);
	*fl = (struct report_failures){0};
}

/* One failed or interrupted job: how and why, the last lines of its log,
 * the log's path. */
static void print_failure(FILE *out, const struct report_failure *f, int width)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "  ");
	add_cell(&sb, f->name, 60, false);
	if (f->how)
		sb_addf(&sb, " (%s)", f->how);
	sb_adds(&sb, ": ");
	add_cell(&sb, f->what, 200, false);
	put_wrapped(out, sb_str(&sb), width, 4);
	const char *tail = f->log_tail;
	/* The last few lines; the whole tail is in the report and the log,
	 * whose path ends the entry. Log lines are shown as they are, not
	 * wrapped: the terminal folds them. */
	const char *from = tail + strlen(tail);
	int lines = 0;
	if (from > tail && from[-1] == '\n')
		from--;
	while (from > tail && !(from[-1] == '\n' && ++lines == REPORT_SHOWN_TAIL_LINES))
		from--;
	/* The line the attempt ended the log with ("juggle: ERROR") is
	 * the error the entry's first line already gives. */
	char *said = xasprintf("juggle: %s", f->what);
	while (*from) {
		const char *nl = strchr(from, '\n');
		size_t len = nl ? (size_t)(nl - from) : strlen(from);
		if (!(len == strlen(said) && memcmp(from, said, len) == 0)) {
			char *line = term_clean_lines(from, len);
			fprintf(out, "    | %s\n", line);
			free(line);
		}
		from += len + (nl ? 1 : 0);
	}
	free(said);
	if (f->log) {
		sb_reset(&sb);
		sb_adds(&sb, "    log: ");
		add_cell(&sb, f->log, 200, false);
		put_wrapped(out, sb_str(&sb), width, 6);
	}
	sb_release(&sb);
}

void report_print_failures(FILE *out, json_t *r, int width)
{
	struct report_failures fl;
	report_failures_init(&fl, r);
	/* Failures first, then the jobs a signal stopped, which did not fail
	 * on their own. */
	for (int interrupted = 0; interrupted <= 1; interrupted++) {
		bool head = false;
		for (size_t k = 0; k < fl.n; k++) {
			if (fl.v[k].interrupted != (bool)interrupted)
				continue;
			if (!head)
				fputs(interrupted ? "interrupted jobs:\n" : "failed jobs:\n", out);
			head = true;
			print_failure(out, &fl.v[k], width);
		}
	}
	report_failures_release(&fl);
}

/* The columns of the table of slowest jobs after the name, in the order
 * they are dropped when the terminal is too narrow for them all. */
enum { COL_CPU = 1, COL_KIND = 2, COL_STATUS = 4 };

void report_print_summary(FILE *out, json_t *r, int width)
{
	json_t *counts = json_object_get(r, "counts");
	struct strbuf sb = {0};
	sb_adds(&sb, "juggle: ");
	static const char *const order[] = {"ok",      "failed",      "skipped-up-to-date",
					    "not-run", "interrupted", "skipped-nothing-failed"};
	static const char *const label[] = {"ok",          "failed",
					    "up to date",  "not run",
					    "interrupted", "not triggered (nothing failed)"};
	bool first = true;
	for (size_t i = 0; i < ARRAY_SIZE(order); i++) {
		json_int_t c = json_integer_value(json_object_get(counts, order[i]));
		if (!c && i != 0)
			continue;
		sb_addf(&sb, "%s%lld %s", first ? "" : ", ", (long long)c, label[i]);
		first = false;
	}
	double wall = jnum(r, "wall_s");
	sb_addf(&sb, " in %.2f s (%s, -j %lld, %s order, %.2f jobs in flight on average, cpu %.2f s = "
		     "%.0f%% of %lld cores)",
		wall, jstr(r, "backend"),
		(long long)json_integer_value(json_object_get(r, "jobs_limit")), jstr(r, "order"),
		jnum(r, "jobs_in_flight_avg"),
		jnum(r, "cpu_user_s") + jnum(r, "cpu_sys_s"),
		100 * jnum(r, "cpu_use"),
		(long long)json_integer_value(json_object_get(r, "cores")));
	json_t *allocs = json_object_get(r, "slurm_allocations");
	if (allocs) {
		json_int_t n = json_integer_value(allocs);
		json_int_t peak = json_integer_value(json_object_get(r, "slurm_workers_peak"));
		sb_addf(&sb, "; %lld Slurm allocation%s, at most %lld worker%s at once",
			(long long)n, n == 1 ? "" : "s", (long long)peak, peak == 1 ? "" : "s");
		json_int_t lost = json_integer_value(json_object_get(r, "slurm_workers_lost"));
		if (lost)
			sb_addf(&sb, ", %lld lost", (long long)lost);
	}
	put_wrapped(out, sb_str(&sb), width, 4);

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
		/* The name keeps at least MIN_NAME columns: on a narrow
		 * terminal the cpu, kind and status columns go first. */
		enum { NAME = 40, MIN_NAME = 12 };
		int cols = COL_CPU | COL_KIND | COL_STATUS, name_w = NAME;
		if (width > 0) {
			static const int drop[] = {COL_CPU, COL_KIND, COL_STATUS};
			for (size_t d = 0;; d++) {
				int fixed = 10 + (cols & COL_CPU ? 10 : 0) + (cols & COL_KIND ? 10 : 0) +
					    (cols & COL_STATUS ? 13 : 0);
				name_w = width - 2 - fixed;
				if (name_w >= MIN_NAME || d == ARRAY_SIZE(drop))
					break;
				cols &= ~drop[d];
			}
			/* A wide terminal shows long names whole, up to 80
			 * columns, instead of cutting them at 40. */
			int longest = NAME;
			for (size_t k = 0; k < n && k < 5; k++) {
				char *c = term_clean(jstr(ran_jobs[k], "name"),
						     strlen(jstr(ran_jobs[k], "name")));
				int w = (int)columns_of(c, strlen(c));
				longest = w > longest ? w : longest;
				free(c);
			}
			longest = longest > 2 * NAME ? 2 * NAME : longest;
			name_w = name_w > longest ? longest : name_w < MIN_NAME ? MIN_NAME : name_w;
		}
		fprintf(out, "  %-*s", name_w, "slowest jobs");
		if (cols & COL_KIND)
			fprintf(out, " %-9s", "kind");
		if (cols & COL_STATUS)
			fprintf(out, " %-12s", "status");
		fprintf(out, " %9s", "seconds");
		if (cols & COL_CPU)
			fprintf(out, " %9s", "cpu s");
		fputc('\n', out);
		for (size_t k = 0; k < n && k < 5; k++) {
			fputs("  ", out);
			put_cell(out, jstr(ran_jobs[k], "name"), name_w, true);
			if (cols & COL_KIND)
				fprintf(out, " %-9s", jstr(ran_jobs[k], "kind"));
			if (cols & COL_STATUS)
				fprintf(out, " %-12s", jstr(ran_jobs[k], "status"));
			fprintf(out, " %9.3f",
				json_real_value(json_object_get(ran_jobs[k], "duration_s")));
			if (cols & COL_CPU)
				fprintf(out, " %9.3f",
					json_real_value(json_object_get(ran_jobs[k], "cpu_s")));
			fputc('\n', out);
		}
	}
	json_t *cp = json_object_get(r, "critical_path");
	if (json_array_size(cp)) {
		sb_reset(&sb);
		sb_adds(&sb, "  critical path:");
		json_array_foreach(cp, i, j)
		{
			sb_adds(&sb, i ? " -> " : " ");
			add_cell(&sb, json_string_value(j), 60, false);
			if (i >= 7 && json_array_size(cp) > 9) {
				sb_addf(&sb, " -> ... (%zu more)", json_array_size(cp) - i - 1);
				break;
			}
		}
		sb_addf(&sb, " (%.2f s)", jnum(r, "critical_path_s"));
		put_wrapped(out, sb_str(&sb), width, 4);
	}
	json_t *ratio = json_object_get(r, "wall_over_bound");
	if (json_is_number(ratio)) {
		/* The least wall time this run could have taken: the critical
		 * path, or the job seconds over the lanes, whichever is more. */
		json_int_t lanes = json_integer_value(json_object_get(r, "lanes"));
		sb_reset(&sb);
		sb_addf(&sb,
			"  lower bound %.2f s = max(critical path %.2f s, %.2f job s / %lld lane%s); "
			"wall %.2fx the bound",
			jnum(r, "lower_bound_s"),
			jnum(r, "critical_path_s"),
			jnum(r, "job_s"), (long long)lanes,
			lanes == 1 ? "" : "s", json_number_value(ratio));
		put_wrapped(out, sb_str(&sb), width, 4);
	}
	free(ran_jobs);
	sb_release(&sb);
	report_print_failures(out, r, width);
}
