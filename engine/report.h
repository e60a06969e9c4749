/* report.h - the timing report (SPEC section 5) and the terminal summary.
 *
 * The JSON report is built once as a jansson tree; the other formats
 * (HTML, trace, JUnit, compare) read that tree, so every format says the
 * same thing.
 */
#ifndef JUGGLE_REPORT_H
#define JUGGLE_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "graph.h"
#include "sched.h"

#define JUGGLE_VERSION "0.1.0"

struct report_meta {
	const char *graph;   /* the graph file as named */
	const char *backend; /* the backend's name */
	int jobs;
	bool dry_run;
};

/* Builds the report of a finished run. The caller owns the result. */
json_t *report_build(const struct graph *g, const struct run_summary *sum,
		     const struct report_meta *m);
/* Writes the report of a run straight from the graph, one job at a time
 * (what report_build() would give, without holding it all in memory).
 * Atomic: a temporary file renamed. 0, or -1 with err. */
int report_write_graph(const struct graph *g, const struct run_summary *sum,
		       const struct report_meta *m, const char *path, struct strbuf *err);
/* Writes a JSON value to path atomically. 0, or -1 with err. */
int report_write(json_t *report, const char *path, struct strbuf *err);
/* Prints counts, wall time, the slowest jobs and the critical path. */
void report_print_summary(FILE *out, json_t *report);

/* The chain of jobs that bounded the wall time, in order; caller frees. */
struct job **critical_path(const struct graph *g, size_t *n);

#endif
