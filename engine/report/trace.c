/* trace.c - the report as Chrome trace events (the JSON Object
 * Format that chrome://tracing, Perfetto and speedscope open).
 *
 * One process (pid 1, named after the graph), one thread per worker (tid =
 * worker + 1, named "worker N" by metadata events), one complete event
 * ("ph": "X", ts and dur in microseconds) per job that ran, with the job's
 * details in args. Jobs that did not run this time (up to date, not run)
 * have no span; they are listed under "juggle_jobs_not_run" at the top
 * level, which viewers ignore, so the file still names every job.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kind.h"
#include "engine/report/json.h"
#include "engine/report/report.h"

static json_int_t usec(double s)
{
	return (json_int_t)llround(s * 1e6);
}

/* Copies the fields of a job worth seeing in a viewer's detail pane. */
static json_t *job_args(json_t *j, bool critical)
{
	static const char *const keys[] = {"status",   "description", "attempts", "queued_s",
	                                   "duration_s", "cpu_s",     "exit_code", "signal",
	                                   "bytes",    "outputs",     "log",      "reason",
	                                   "error",    "result",      "log_tail"};
	json_t *args = json_object();
	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (jhas(j, keys[i]))
			json_object_set(args, keys[i], json_object_get(j, keys[i]));
	/* and what the job's kind reports (a download's HTTP status) */
	for (const struct job_kind *const *k = job_kinds; *k; k++)
		for (const struct kind_fact *f = (*k)->facts; f && f->name; f++)
			if (jhas(j, f->name))
				json_object_set(args, f->name, json_object_get(j, f->name));
	if (critical)
		json_object_set_new(args, "critical_path", json_true());
	return args;
}

static json_t *metadata(const char *what, json_int_t tid, json_t *args)
{
	json_t *e = json_pack("{s:s, s:s, s:i}", "name", what, "ph", "M", "pid", 1);
	if (tid >= 0)
		json_object_set_new(e, "tid", json_integer(tid));
	json_object_set_new(e, "args", args);
	return e;
}

char *report_render_trace(json_t *r, size_t *len, struct strbuf *err)
{
	json_t *jobs = json_object_get(r, "jobs");
	json_t *cp = json_object_get(r, "critical_path");
	struct strmap crit = {0};
	size_t i;
	json_t *j;
	json_array_foreach(cp, i, j)
	{
		if (json_string_value(j))
			strmap_put(&crit, json_string_value(j), (void *)1);
	}
	double wall = jnum(r, "wall_s");

	json_t *events = json_array();
	struct strbuf pname = {0};
	sb_addf(&pname, "juggle %s (%s, -j %lld)",
	        jstr(r, "graph"),
	        jstr(r, "backend"),
	        (long long)json_integer_value(json_object_get(r, "jobs_limit")));
	json_array_append_new(
	    events, metadata("process_name", -1, json_pack("{s:s}", "name", sb_str(&pname))));
	sb_release(&pname);

	VEC(json_int_t) tids = {0};
	json_t *not_run = json_array();
	json_array_foreach(jobs, i, j)
	{
		const char *name = jstr(j, "name");
		if (!jhas(j, "started_s")) {
			json_array_append_new(
			    not_run,
			    json_pack("{s:O, s:O, s:O, s:O}", "name", json_object_get(j, "name"),
			              "kind", json_object_get(j, "kind"), "status",
			              json_object_get(j, "status"), "why",
			              jhas(j, "error") ? json_object_get(j, "error") : json_null()));
			continue;
		}
		json_int_t tid =
		    jhas(j, "worker") ? json_integer_value(json_object_get(j, "worker")) + 1 : 0;
		bool seen = false;
		for (size_t k = 0; k < tids.n && !seen; k++)
			seen = tids.v[k] == tid;
		if (!seen)
			VEC_PUSH(&tids, tid);
		double st = jnum(j, "started_s");
		double fin = jhas(j, "finished_s")
		                 ? jnum(j, "finished_s")
		                 : wall;
		if (fin < st)
			fin = st;
		json_t *e = json_object();
		json_object_set(e, "name", json_object_get(j, "name"));
		json_object_set(e, "cat", json_object_get(j, "kind"));
		json_object_set_new(e, "ph", json_string("X"));
		json_object_set_new(e, "ts", json_integer(usec(st)));
		json_object_set_new(e, "dur", json_integer(usec(fin) - usec(st)));
		json_object_set_new(e, "pid", json_integer(1));
		json_object_set_new(e, "tid", json_integer(tid));
		json_object_set_new(e, "args", job_args(j, strmap_get(&crit, name) != NULL));
		json_array_append_new(events, e);
	}
	for (size_t k = 0; k < tids.n; k++) {
		char name[32];
		if (tids.v[k] > 0)
			snprintf(name, sizeof(name), "worker %lld", (long long)tids.v[k] - 1);
		else
			snprintf(name, sizeof(name), "no worker");
		json_array_append_new(
		    events, metadata("thread_name", tids.v[k], json_pack("{s:s}", "name", name)));
		json_array_append_new(events,
		                      metadata("thread_sort_index", tids.v[k],
		                               json_pack("{s:I}", "sort_index", tids.v[k])));
	}
	free(tids.v);
	strmap_release(&crit);

	json_t *other = json_object();
	static const char *const keys[] = {"juggle", "graph", "backend", "host", "started"};
	for (size_t k = 0; k < ARRAY_SIZE(keys); k++)
		if (json_is_string(json_object_get(r, keys[k])))
			json_object_set(other, keys[k], json_object_get(r, keys[k]));
	char buf[64];
	snprintf(buf, sizeof(buf), "%.3f", wall);
	json_object_set_new(other, "wall_s", json_string(buf));

	json_t *doc = json_object();
	json_object_set_new(doc, "traceEvents", events);
	json_object_set_new(doc, "displayTimeUnit", json_string("ms"));
	json_object_set_new(doc, "otherData", other);
	json_object_set_new(doc, "juggle_jobs_not_run", not_run);
	json_object_set(doc, "juggle_critical_path", cp ? cp : json_null());
	char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10));
	json_decref(doc);
	if (!text) {
		sb_addf(err, "cannot format the trace");
		return NULL;
	}
	size_t n = strlen(text);
	text = xrealloc(text, n + 2);
	text[n++] = '\n';
	text[n] = '\0';
	*len = n;
	return text;
}
