/* priority.h - the order ready jobs start in.
 *
 * Two orders. "file": ready jobs start in the order they are written, as
 * make and ninja start them. "critical" (the default of `juggle run`):
 * the ready job with the longest chain of expected seconds from it to the
 * end of the graph starts first, so a long chain hidden among many short
 * jobs is begun early rather than left for last. Ties keep file order, so
 * a run's order is deterministic.
 *
 * Expected seconds come from the state log's history: a job's last
 * success; a job with none takes the mean of its section's instances that
 * have one, else the mean of the jobs of its kind that have one, else
 * PRIORITY_DEFAULT_S. The chain is the report's critical path (see
 * critical_path() in engine/report/report.h) read forward from the job:
 * the job's own seconds plus the longest chain among the wanted jobs that
 * depend on it.
 */
#ifndef JUGGLE_PRIORITY_H
#define JUGGLE_PRIORITY_H

#include "engine/graph.h"
#include "engine/state.h"

/* A zeroed struct run_opts keeps file order. */
enum run_order { ORDER_FILE = 0, ORDER_CRITICAL };

/* What a job never seen to succeed, of a kind none of whose jobs was, is
 * expected to take. Only its ratio to known durations matters. */
#define PRIORITY_DEFAULT_S 1.0

/* "file" or "critical". */
const char *run_order_name(enum run_order o);
/* The order called name; -1 when there is none ("critical or file"). */
int run_order_parse(const char *name, enum run_order *out);

/* The expected seconds of every job, by job index (see above). st may be
 * NULL (no history: every job gets PRIORITY_DEFAULT_S). O(jobs). The
 * caller frees the array. */
double *priority_expected(const struct graph *g, const struct state *st);

/* The longest chain of expected seconds (expected[] by job index) from
 * each wanted job to the end of the graph, its own included, by job
 * index; 0 for a job not wanted. One pass from the last jobs back,
 * O(jobs + edges). The caller frees the array. */
double *priority_chains(const struct graph *g, const double *expected);

/* priority_chains() of priority_expected(): what the ready heaps of a
 * critical-order run are ordered by (see job_heap in engine/heap.h). */
double *priority_compute(const struct graph *g, const struct state *st);

#endif
