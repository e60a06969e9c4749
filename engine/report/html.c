/* html.c - the HTML report of one run: one self-contained file from the
 * report tree (see report.h).
 *
 * Everything a reader needs is drawn here, in C, as plain HTML: the run's
 * facts and counts, the timeline (one lane per worker, one bar per job,
 * positioned in percent of the wall time), the critical path, the slowest
 * and the failed jobs with their logs' tails, and every job in a table. A
 * small inline script only adds behaviour: a click on a bar shows that
 * job's details, tables sort, the critical path can be shown alone.
 *
 * The page around it, and why no string of the data can become markup,
 * is html-page.c; `juggle compare`'s page (html-compare.c) draws each
 * run with html_verdict() and html_timeline() from here.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kind.h"
#include "engine/report/html-internal.h"
#include "engine/report/json.h"
#include "engine/report/report.h"

static void fact(struct strbuf *sb, const char *label, const char *value)
{
	sb_adds(sb, "<tr><th>");
	html_text(sb, label);
	sb_adds(sb, "</th><td>");
	html_text(sb, value);
	sb_adds(sb, "</td></tr>\n");
}

static void factf(struct strbuf *sb, const char *label, const char *fmt, ...) PRINTF(3, 4);
static void factf(struct strbuf *sb, const char *label, const char *fmt, ...)
{
	struct strbuf v = {0};
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&v, fmt, ap);
	va_end(ap);
	fact(sb, label, sb_str(&v));
	sb_release(&v);
}

static const char *const status_order[] = {"ok",      "failed",      "skipped-up-to-date",
                                           "not-run", "interrupted", "skipped-nothing-failed"};
static const char *const status_label[] = {
    "ok", "failed", "up to date", "not run", "interrupted", "not triggered (nothing failed)"};

void html_verdict(struct strbuf *sb, json_t *r)
{
	json_t *counts = json_object_get(r, "counts");
	bool bad = json_integer_value(json_object_get(counts, "failed")) ||
	           json_integer_value(json_object_get(counts, "interrupted")) ||
	           json_is_true(json_object_get(r, "interrupted"));
	sb_addf(sb, "<p class=\"verdict%s\">", bad ? " bad" : "");
	bool first = true;
	for (size_t i = 0; i < ARRAY_SIZE(status_order); i++) {
		json_int_t c = json_integer_value(json_object_get(counts, status_order[i]));
		if (!c && i)
			continue;
		sb_addf(sb, "%s%lld %s", first ? "" : ", ", (long long)c, status_label[i]);
		first = false;
	}
	sb_adds(sb, " in ");
	html_seconds(sb, jnum(r, "wall_s"));
	sb_adds(sb, "</p>\n");
}

static void facts(struct strbuf *sb, json_t *r)
{
	sb_adds(sb, "<div class=\"facts\">\n<table>\n");
	fact(sb, "graph", jstr(r, "graph"));
	fact(sb, "backend", jstr(r, "backend"));
	factf(sb, "jobs limit (-j)", "%lld",
	      (long long)json_integer_value(json_object_get(r, "jobs_limit")));
	fact(sb, "order", jstr(r, "order"));
	fact(sb, "host", jstr(r, "host"));
	fact(sb, "started", jstr(r, "started"));
	fact(sb, "juggle", jstr(r, "juggle"));
	sb_adds(sb, "</table>\n<table>\n");
	factf(sb, "wall", "%.3f s", jnum(r, "wall_s"));
	factf(sb, "cpu user / system", "%.3f s / %.3f s", jnum(r, "cpu_user_s"),
	      jnum(r, "cpu_sys_s"));
	factf(sb, "jobs in flight (average)", "%.2f", jnum(r, "jobs_in_flight_avg"));
	factf(sb, "cpu use", "%.1f%% of %lld cores (cpu s / (wall x cores))",
	      100 * jnum(r, "cpu_use"), (long long)json_integer_value(json_object_get(r, "cores")));
	factf(sb, "critical path", "%.3f s", jnum(r, "critical_path_s"));
	factf(sb, "lower bound", "%.3f s (%.3f job s / %lld lanes)", jnum(r, "lower_bound_s"),
	      jnum(r, "job_s"), (long long)json_integer_value(json_object_get(r, "lanes")));
	if (jhas(r, "wall_over_bound"))
		factf(sb, "wall / lower bound", "%.2fx", jnum(r, "wall_over_bound"));
	factf(sb, "peak RSS", "%.1f MiB",
	      (double)json_integer_value(json_object_get(r, "peak_rss_kib")) / 1024);
	for (const struct job_kind *const *k = job_kinds; *k; k++) /* their counts */
		for (const char *const *c = (*k)->counts; c && *c; c++)
			factf(sb, *c, "%lld", (long long)json_integer_value(json_object_get(r, *c)));
	sb_adds(sb, "</table>\n<table>\n<thead><tr><th>status</th><th "
	            "class=\"n\">jobs</th></tr></thead>\n<tbody>\n");
	json_t *counts = json_object_get(r, "counts");
	for (size_t i = 0; i < ARRAY_SIZE(status_order); i++)
		sb_addf(
		    sb,
		    "<tr><td><span class=\"st %s\">%s</span></td><td class=\"n\">%lld</td></tr>\n",
		    html_status_class(status_order[i]), status_label[i],
		    (long long)json_integer_value(json_object_get(counts, status_order[i])));
	sb_adds(sb, "</tbody>\n</table>\n</div>\n");
}

/* A step of 1, 2 or 5 times a power of ten giving at most 10 ticks. */
static double tick_step(double span)
{
	if (span <= 0)
		return 1;
	double raw = span / 8, p = pow(10, floor(log10(raw)));
	for (double m = 1; m <= 10; m = m == 1 ? 2 : m == 2 ? 5 : 10)
		if (m * p >= raw)
			return m * p;
	return 10 * p;
}

struct bar {
	long long lane; /* worker, -1 none */
	double start;
	size_t index; /* in the report's jobs */
};

static int cmp_bar(const void *a, const void *b)
{
	const struct bar *x = a, *y = b;
	if (x->lane != y->lane)
		return x->lane < y->lane ? -1 : 1;
	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->index < y->index ? -1 : x->index > y->index;
}

/* Index of the critical path's names, for large graphs. */
static struct strmap cp_set(json_t *cp)
{
	struct strmap m = {0};
	size_t i;
	json_t *v;
	json_array_foreach(cp, i, v)
	{
		if (json_string_value(v))
			strmap_put(&m, json_string_value(v), (void *)1);
	}
	return m;
}

static void bar_title(struct strbuf *sb, json_t *j)
{
	struct strbuf t = {0};
	sb_addf(&t, "%s\n", jstr(j, "name"));
	if (jhas(j, "description"))
		sb_addf(&t, "%s\n", jstr(j, "description"));
	sb_addf(&t, "%s, %s, ", jstr(j, "kind"), jstr(j, "status"));
	html_seconds(&t, jnum(j, "duration_s"));
	if (jhas(j, "error"))
		sb_addf(&t, "\n%s", jstr(j, "error"));
	html_attr(sb, sb_str(&t));
	sb_release(&t);
}

/* The timeline of run number `run` (its index in the embedded data). */
void html_timeline(struct strbuf *sb, json_t *r, int run)
{
	json_t *jobs = json_object_get(r, "jobs");
	json_t *cp = json_object_get(r, "critical_path");
	struct strmap crit = cp_set(cp);
	double wall = jnum(r, "wall_s");
	size_t i;
	json_t *j;
	/* The bars, sorted by lane then start. */
	VEC(struct bar) bars = {0};
	json_array_foreach(jobs, i, j)
	{
		if (!jhas(j, "started_s"))
			continue;
		double fin = jhas(j, "finished_s") ? jnum(j, "finished_s") : jnum(j, "started_s");
		if (fin > wall)
			wall = fin;
		struct bar b = {jhas(j, "worker") ? json_integer_value(json_object_get(j, "worker"))
		                                 : -1,
		                jnum(j, "started_s"), i};
		VEC_PUSH(&bars, b);
	}
	if (bars.n)
		qsort(bars.v, bars.n, sizeof(*bars.v), cmp_bar);
	if (wall <= 0)
		wall = 1e-3;

	sb_adds(sb, "<div class=\"legend\"><span>kind:</span>");
	html_kind_legend(sb);
	sb_adds(sb, "<span><i class=\"sw k-other\"></i>other</span>"
	            "<span>status:</span><span><i class=\"sw k-other\"></i>ok</span>"
	            "<span><i class=\"sw bar s-failed\" style=\"position:static\"></i>failed</span>"
	            "<span><i class=\"sw bar s-interrupted\" style=\"position:static\"></i>"
	            "interrupted</span>"
	            "<span><i class=\"sw bar cp k-other\" style=\"position:static\"></i>"
	            "critical path</span>");
	if (run == 0)
		sb_adds(sb, "<label><input type=\"checkbox\" id=\"cp-only\"> only the critical "
		            "path</label>");
	sb_adds(sb, "</div>\n");
	if (!bars.n) {
		sb_adds(sb, "<p class=\"muted\">No job ran.</p>\n");
		free(bars.v);
		strmap_release(&crit);
		return;
	}
	sb_adds(sb, "<div class=\"tl\">\n<div class=\"axis\"><div class=\"lbl\">seconds</div>"
	            "<div class=\"track\">");
	double step = tick_step(wall);
	for (int k = 0; k * step <= wall + step * 1e-9 && k < 100; k++) {
		double t = k * step;
		sb_addf(sb, "<span class=\"tick\" style=\"left:%.4f%%\">%g</span>", 100 * t / wall,
		        t);
	}
	sb_adds(sb, "</div></div>\n");
	for (size_t b = 0; b < bars.n; b++) {
		long long lane = bars.v[b].lane;
		if (b == 0 || bars.v[b - 1].lane != lane) {
			if (lane >= 0)
				sb_addf(sb,
				        "<div class=\"lane\"><div class=\"lbl\">worker %lld</div>"
				        "<div class=\"track\">",
				        lane);
			else
				sb_adds(sb, "<div class=\"lane\"><div class=\"lbl\">no worker</div>"
				            "<div class=\"track\">");
		}
		j = json_array_get(jobs, bars.v[b].index);
		double st = jnum(j, "started_s");
		double fin = jhas(j, "finished_s") ? jnum(j, "finished_s") : wall;
		if (fin < st)
			fin = st;
		sb_addf(sb,
		        "<div class=\"bar k-%s %s%s\" style=\"left:%.4f%%;width:%.4f%%\" "
		        "tabindex=\"0\" data-r=\"%d\" data-i=\"%zu\" title=\"",
		        html_kind_class(jstr(j, "kind")), html_status_class(jstr(j, "status")),
		        strmap_get(&crit, jstr(j, "name")) ? " cp" : "", 100 * st / wall,
		        100 * (fin - st) / wall, run, bars.v[b].index);
		bar_title(sb, j);
		sb_adds(sb, "\"></div>");
		if (b + 1 == bars.n || bars.v[b + 1].lane != lane)
			sb_adds(sb, "</div></div>\n");
	}
	sb_addf(sb,
	        "</div>\n<div class=\"details\" id=\"details-%d\"><span class=\"muted\">"
	        "Click a bar (or focus it and press Enter) for the job's details.</span></div>\n",
	        run);
	free(bars.v);
	strmap_release(&crit);
}

static json_t *job_named(json_t *jobs, const char *name)
{
	size_t i;
	json_t *j;
	json_array_foreach(jobs, i, j)
	{
		if (strcmp(jstr(j, "name"), name) == 0)
			return j;
	}
	return NULL;
}

static void job_cells(struct strbuf *sb, json_t *j)
{
	sb_adds(sb, "<td><span class=\"mono\">");
	html_text(sb, jstr(j, "name"));
	sb_adds(sb, "</span>");
	if (jhas(j, "description")) {
		sb_adds(sb, "<br><span class=\"muted\">");
		html_text(sb, jstr(j, "description"));
		sb_adds(sb, "</span>");
	}
	sb_adds(sb, "</td><td>");
	html_text(sb, jstr(j, "kind"));
	sb_addf(sb, "</td><td><span class=\"st %s\">", html_status_class(jstr(j, "status")));
	html_text(sb, jstr(j, "status"));
	sb_adds(sb, "</span></td>");
}

static void critical(struct strbuf *sb, json_t *r)
{
	json_t *cp = json_object_get(r, "critical_path");
	json_t *jobs = json_object_get(r, "jobs");
	sb_adds(sb, "<h2 id=\"critical\">Critical path</h2>\n");
	if (!json_array_size(cp)) {
		sb_adds(sb, "<p class=\"muted\">No job ran.</p>\n");
		return;
	}
	sb_addf(sb,
	        "<p class=\"muted\">The longest chain of jobs by duration through their "
	        "dependencies, %.3f s: the wall time with unlimited workers.</p>\n<table>\n"
	        "<thead><tr><th>#</th><th>job</th><th>kind</th><th>status</th>"
	        "<th class=\"n\">started</th><th class=\"n\">seconds</th></tr></thead>\n"
	        "<tbody>\n",
	        jnum(r, "critical_path_s"));
	size_t i;
	json_t *v;
	json_array_foreach(cp, i, v)
	{
		json_t *j = job_named(jobs, json_string_value(v) ? json_string_value(v) : "");
		sb_addf(sb, "<tr><td class=\"n\">%zu</td>", i + 1);
		if (j) {
			job_cells(sb, j);
			sb_addf(sb, "<td class=\"n\">%.3f</td><td class=\"n\">%.3f</td></tr>\n",
			        jnum(j, "started_s"), jnum(j, "duration_s"));
		} else {
			sb_adds(sb, "<td class=\"mono\">");
			html_text(sb, json_string_value(v));
			sb_adds(sb, "</td><td></td><td></td><td></td><td></td></tr>\n");
		}
	}
	sb_adds(sb, "</tbody>\n</table>\n");
}

static int cmp_dur(const void *a, const void *b)
{
	double x = jnum(*(json_t *const *)a, "duration_s"),
	       y = jnum(*(json_t *const *)b, "duration_s");
	return x < y ? 1 : x > y ? -1 : 0;
}

static void slowest(struct strbuf *sb, json_t *r)
{
	json_t *jobs = json_object_get(r, "jobs");
	size_t n = 0, i;
	json_t *j;
	json_t **v = xmalloc((json_array_size(jobs) + 1) * sizeof(*v));
	json_array_foreach(jobs, i, j)
	{
		if (jhas(j, "started_s"))
			v[n++] = j;
	}
	qsort(v, n, sizeof(*v), cmp_dur);
	sb_adds(sb, "<h2 id=\"slowest\">Slowest jobs</h2>\n");
	if (!n) {
		sb_adds(sb, "<p class=\"muted\">No job ran.</p>\n");
		free(v);
		return;
	}
	sb_adds(sb, "<table>\n<thead><tr><th>job</th><th>kind</th><th>status</th>"
	            "<th class=\"n\">seconds</th><th class=\"n\">cpu s</th><th class=\"n\">"
	            "attempts</th></tr></thead>\n<tbody>\n");
	for (size_t k = 0; k < n && k < 10; k++) {
		sb_adds(sb, "<tr>");
		job_cells(sb, v[k]);
		sb_addf(sb,
		        "<td class=\"n\">%.3f</td><td class=\"n\">%.3f</td><td class=\"n\">"
		        "%lld</td></tr>\n",
		        jnum(v[k], "duration_s"), jnum(v[k], "cpu_s"),
		        (long long)json_integer_value(json_object_get(v[k], "attempts")));
	}
	sb_adds(sb, "</tbody>\n</table>\n");
	free(v);
}

static void failures(struct strbuf *sb, json_t *r)
{
	struct report_failures fl;
	report_failures_init(&fl, r);
	if (fl.n)
		sb_adds(sb, "<h2 id=\"failed\">Failed jobs</h2>\n");
	for (size_t k = 0; k < fl.n; k++) {
		const struct report_failure *f = &fl.v[k];
		sb_adds(sb, "<div class=\"fail\"><h3 class=\"mono\">");
		html_text(sb, f->name);
		sb_addf(sb, " <span class=\"st %s\">", html_status_class(f->status));
		html_text(sb, f->status);
		sb_adds(sb, "</span></h3>\n<p>");
		if (f->how) {
			html_text(sb, f->how);
			sb_adds(sb, ": ");
		}
		html_text(sb, f->what);
		if (f->log) {
			sb_adds(sb, " <span class=\"muted\">(log: <code>");
			html_text(sb, f->log);
			sb_adds(sb, "</code>)</span>");
		}
		sb_adds(sb, "</p>\n");
		if (*f->log_tail) {
			sb_adds(sb, "<pre>");
			html_text(sb, f->log_tail);
			sb_adds(sb, "</pre>\n");
		}
		sb_adds(sb, "</div>\n");
	}
	report_failures_release(&fl);
}

static void all_jobs(struct strbuf *sb, json_t *r)
{
	json_t *jobs = json_object_get(r, "jobs");
	sb_addf(sb, "<h2 id=\"jobs\">All jobs (%zu)</h2>\n", json_array_size(jobs));
	sb_adds(sb, "<table class=\"sort\">\n<thead><tr><th>job</th><th>kind</th><th>status</th>"
	            "<th class=\"n\">attempts</th><th class=\"n\">worker</th><th class=\"n\">"
	            "started</th><th class=\"n\">seconds</th><th class=\"n\">cpu s</th>"
	            "<th>why it ran / why it failed</th></tr></thead>\n<tbody>\n");
	size_t i;
	json_t *j;
	json_array_foreach(jobs, i, j)
	{
		sb_adds(sb, "<tr>");
		job_cells(sb, j);
		sb_addf(sb, "<td class=\"n\" data-v=\"%lld\">%lld</td>",
		        (long long)json_integer_value(json_object_get(j, "attempts")),
		        (long long)json_integer_value(json_object_get(j, "attempts")));
		if (jhas(j, "worker"))
			sb_addf(sb, "<td class=\"n\" data-v=\"%lld\">%lld</td>",
			        (long long)json_integer_value(json_object_get(j, "worker")),
			        (long long)json_integer_value(json_object_get(j, "worker")));
		else
			sb_adds(sb, "<td class=\"n\" data-v=\"-1\"></td>");
		if (jhas(j, "started_s"))
			sb_addf(sb, "<td class=\"n\" data-v=\"%.6f\">%.3f</td>",
			        jnum(j, "started_s"), jnum(j, "started_s"));
		else
			sb_adds(sb, "<td class=\"n\" data-v=\"-1\"></td>");
		sb_addf(sb,
		        "<td class=\"n\" data-v=\"%.6f\">%.3f</td><td class=\"n\" "
		        "data-v=\"%.6f\">%.3f</td><td>",
		        jnum(j, "duration_s"), jnum(j, "duration_s"), jnum(j, "cpu_s"),
		        jnum(j, "cpu_s"));
		html_text(sb, jhas(j, "error") ? jstr(j, "error") : jstr(j, "reason"));
		sb_adds(sb, "</td></tr>\n");
	}
	sb_adds(sb, "</tbody>\n</table>\n");
}

/* The body of one run's report; run: its index in the embedded data. */
static void run_body(struct strbuf *sb, json_t *r, int run)
{
	html_verdict(sb, r);
	facts(sb, r);
	sb_adds(sb, "<h2 id=\"timeline\">Timeline</h2>\n");
	html_timeline(sb, r, run);
	critical(sb, r);
	slowest(sb, r);
	failures(sb, r);
	all_jobs(sb, r);
}

char *report_render_html(json_t *report, size_t *len, struct strbuf *err)
{
	(void)err;
	struct strbuf sb = {0};
	struct strbuf title = {0};
	sb_addf(&title, "juggle: %s", jstr(report, "graph"));
	html_page_begin(&sb, sb_str(&title));
	sb_adds(&sb, "<h1>juggle run of <code>");
	html_text(&sb, jstr(report, "graph"));
	sb_adds(&sb, "</code></h1>\n");
	run_body(&sb, report, 0);
	json_t *runs = json_pack("[O]", report);
	html_page_end(&sb, runs);
	json_decref(runs);
	sb_release(&title);
	*len = sb.len;
	return sb_detach(&sb);
}
