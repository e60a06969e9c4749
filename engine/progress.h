/* progress.h - what the terminal sees while a run goes on (SPEC section 8).
 *
 * On a terminal, one status line rewritten in place, as ninja does; off a
 * terminal, one plain line per finished job. Messages and failure reports
 * are printed above the status line, so it is never torn.
 */
#ifndef JUGGLE_PROGRESS_H
#define JUGGLE_PROGRESS_H

#include <stdio.h>

#include "graph.h"
#include "sched.h"

struct progress;

/* mode AUTO picks TTY when out is a terminal. total: jobs in the run. */
struct progress *progress_new(FILE *out, enum progress_mode mode, bool verbose, bool quiet,
			      size_t total, double t0);
/* Expected seconds for the remaining work, from the last run; < 0 unknown. */
void progress_set_estimate(struct progress *p, double seconds);
void progress_started(struct progress *p, const struct job *job, const char *command);
void progress_finished(struct progress *p, const struct job *job);
/* A failed job: its error, command and the tail of its log. */
void progress_failed(struct progress *p, const struct job *job, const char *command);
/* A line above the status line (warnings, retries, dry-run output). */
void progress_printf(struct progress *p, const char *fmt, ...) PRINTF(2, 3);
/* Clears the status line; call before printing the summary. */
void progress_done(struct progress *p);
void progress_free(struct progress *p);

/* The last n lines of a file, for failure reports. */
char *file_tail(const char *path, int n);

#endif
