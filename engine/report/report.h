/* report.h - the timing report (juggle(1), TIMING REPORTS) and the
 * terminal summary.
 *
 * The JSON report is built once as a jansson tree when HTML, trace or
 * JUnit is asked for; those formats (and compare) read that tree, so every
 * format says the same thing. Otherwise report_write_graph() writes the
 * same jobs' text straight from the graph (engine/report/json.h's
 * writer), with no tree and no jansson object per job.
 */
#ifndef JUGGLE_REPORT_H
#define JUGGLE_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "engine/graph.h"
#include "engine/sched.h"

struct report_meta {
	const char *graph;   /* the graph file as named */
	const char *backend; /* the backend's name */
	int jobs;
	const char *notes;   /* what a reader of the numbers must know, or NULL */
	int max_lanes;       /* the backend's cap on attempts at once; 0: -j */
	const char *order;   /* the order ready jobs started in (engine/priority.h) */
};

/* Builds the report of a finished run. The caller owns the result. */
json_t *report_build(const struct graph *g, const struct run_summary *sum,
		     const struct report_meta *m);
/* The part of report_build() that report_print_summary() reads, for a
 * run whose other formats need no tree: the header, and only the jobs the
 * summary shows. Not a report to write. The caller owns the result. */
json_t *report_build_summary(const struct graph *g, const struct run_summary *sum,
			     const struct report_meta *m);
/* Writes the report of a run straight from the graph, one job at a time
 * (what report_build() would give, without holding it all in memory).
 * Atomic: a temporary file renamed. 0, or -1 with err. */
int report_write_graph(const struct graph *g, const struct run_summary *sum,
		       const struct report_meta *m, const char *path, struct strbuf *err);
/* Writes a JSON value to path atomically. 0, or -1 with err. */
int report_write(json_t *report, const char *path, struct strbuf *err);
/* Prints counts, wall time, the slowest jobs and the critical path, then
 * report_print_failures() (last, so a long table does not push them out
 * of sight). width: the terminal's columns, which every line but a log's
 * fits (the table drops its cpu, kind and status columns, in that order,
 * before the job name gets narrow; long lines break at spaces); 0: no
 * limit. */
void report_print_summary(FILE *out, json_t *report, int width);
/* Under "failed jobs:", each failed job with its exit code or signal, its
 * error, its log's last REPORT_SHOWN_TAIL_LINES lines and its path; then
 * under "interrupted jobs:" the same for the jobs a signal stopped. This
 * is the one place a run prints a log's tail. Nothing when none. */
void report_print_failures(FILE *out, json_t *report, int width);
#define REPORT_SHOWN_TAIL_LINES 10

/* The report as text, each format from the same tree. The caller frees
 * the text; *len gets its length. JSON never fails; HTML, trace and JUnit
 * return NULL with err only when a library fails. */
char *report_render_json(json_t *report, size_t *len);
char *report_render_html(json_t *report, size_t *len, struct strbuf *err);
char *report_render_trace(json_t *report, size_t *len, struct strbuf *err);
char *report_render_junit(json_t *report, size_t *len, struct strbuf *err);

/* The bar chart of `juggle compare`, one self-contained HTML file. The
 * shape it reads (fields beyond these are ignored; missing ones are shown
 * as blanks):
 *
 *   {"graph": "nightly.ini", "repeat": 3, "outputs_identical": true,
 *    "runs": [{"backend": "serial", "status": "finished", "wall_s": 7.41,
 *              "cpu_s": 1.92, "peak_rss_kib": 6120, "connections": 1,
 *              "ok": 80, "failed": 0, "outputs": "identical",
 *              "speedup": 1.0,        (optional: else the first finished
 *                                      row's wall / wall)
 *              "report": {...}},       (optional: that run's report, whose
 *                                       timeline is drawn below the chart)
 *             {"backend": "slurm", "status": "failed",
 *              "reason": "cannot reach slurmctld"}]}
 *
 * A row whose status is not "finished" ("failed", "interrupted",
 * "not-run") is shown with its status and reason, never with numbers.
 *
 * Writes path atomically; 0, or -1 with err. */
int report_html_compare(json_t *compare_report, const char *path, struct strbuf *err);
char *report_render_html_compare(json_t *compare_report, size_t *len, struct strbuf *err);

/* Writes text to path atomically, creating its folder; 0, or -1 with err
 * naming what (e.g. "HTML report") could not be written. */
int report_save(const char *what, const char *path, const char *text, size_t len,
		struct strbuf *err);
/* Before a run: checks that path can be written (its folder exists or can
 * be made, a file can be created there, and path is not a folder), so a
 * nightly run does not find out after hours. 0, or -1 with err. */
int report_probe(const char *what, const char *path, struct strbuf *err);

/* A JSON string of s, with invalid UTF-8 replaced by U+FFFD, so a file
 * name or a log line of any bytes can go into a report. */
json_t *json_text(const char *s);

/* Lines of a failed job's log kept in the report ("log_tail"). */
#define REPORT_LOG_TAIL_LINES 20

/* The critical path: the longest chain of jobs that ran, through
 * dependency edges, weighing each job by its duration (what the run would
 * take with unlimited workers). The jobs in order (caller frees the
 * array); *n gets their number and *seconds the chain's length. */
struct job **critical_path(const struct graph *g, size_t *n, double *seconds);

/* Whether the job j of a report tree failed or was interrupted: the jobs
 * every format lists as failures. */
bool report_job_failed(json_t *j);
/* How the job j of a report tree failed, in a few words: "killed by
 * SIGKILL", "exit code 2", "HTTP 404", or NULL when its exit says nothing
 * more than its error. Every format that shows a failure says it with
 * this. The caller frees the string. */
char *report_how_failed(json_t *j);

/* One failed or interrupted job of a report tree, as every format that
 * lists failures shows it. The strings belong to the tree, but how. */
struct report_failure {
	json_t *job;          /* the job's object in the tree */
	const char *name;
	const char *status;   /* "failed" or "interrupted" */
	bool interrupted;
	char *how;            /* report_how_failed(), or NULL */
	const char *what;     /* its error, or its status when it has none */
	const char *log;      /* its log's path, or NULL */
	const char *log_tail; /* its log's last lines, "" when none */
};

struct report_failures {
	struct report_failure *v;
	size_t n, cap;
};

/* Fills fl with the failures of report r: its jobs for which
 * report_job_failed() holds, in the order of its "jobs" array, all of
 * them. The terminal summary and the HTML report both list this, so they
 * cannot disagree on which jobs failed or how. Free with
 * report_failures_release(). */
void report_failures_init(struct report_failures *fl, json_t *r);
void report_failures_release(struct report_failures *fl);

#endif
