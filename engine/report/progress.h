/* progress.h - what the terminal sees while a run goes on (juggle(1),
 * PROGRESS).
 *
 * On a terminal, one status line rewritten in place, as ninja does:
 *
 *   [37/240] 4 running  docs[guide/intro.xml]  0:12 elapsed, ~1:05 left
 *
 * fitted to the terminal's width: the estimate, then the words, the count
 * of running jobs and the clock go before the job name loses its middle,
 * refreshed every second by a small thread so the clock moves while a long
 * job runs. Off a terminal, one plain line per finished job. Messages and
 * failure reports are printed above the status line, so it is never torn:
 * jobs write to their logs, and juggle's own messages go through
 * progress_printf() or progress_message().
 *
 * The estimate of the time left comes from the durations the state log
 * remembers (progress_expect()): the work of the jobs not yet finished,
 * less what the running ones have done, spread over as many lanes as the
 * run has shown it can use. It is shown only when every job left has an
 * estimate.
 *
 * Thread safety: every function may be called from any thread of juggle's
 * own process (not from a forked child); the scheduler thread is the only
 * one that reports starts and ends.
 */
#ifndef JUGGLE_PROGRESS_H
#define JUGGLE_PROGRESS_H

#include <stdio.h>

#include "engine/graph.h"
#include "engine/sched.h"
#include "engine/term.h"

struct progress;

/* mode AUTO picks TTY when out is a terminal (and TERM is not "dumb") and
 * -v is off. total: jobs in the run. t0: the run's monotonic start. */
struct progress *progress_new(FILE *out, enum progress_mode mode, bool verbose, bool quiet,
                              size_t total, double t0);
/* The expected seconds of a job, from its last success; < 0 unknown. Call
 * before the job starts; a job never announced counts as unknown. */
void progress_expect(struct progress *p, const struct job *job, double seconds);
/* Seconds the work left should take, from now; < 0 unknown. */
double progress_eta(struct progress *p);
void progress_started(struct progress *p, const struct job *job, const char *command);
/* An attempt failed and the job waits to retry: it no longer runs. The
 * message (one line, with its newline) is printed above the status line. */
void progress_retrying(struct progress *p, const struct job *job, const char *fmt, ...)
    PRINTF(3, 4);
void progress_finished(struct progress *p, const struct job *job);
/* A failed job: its error and its command, as it fails. The tail of its
 * log is printed once, at the end (report_print_failures()). */
void progress_failed(struct progress *p, const struct job *job, const char *command);
/* A line above the status line (dry-run output), on the progress stream. */
void progress_printf(struct progress *p, const char *fmt, ...) PRINTF(2, 3);
/* A warning from anywhere in juggle during a run: printed on stderr, above
 * the status line of the run in progress if there is one. */
void progress_message(const char *fmt, ...) PRINTF(1, 2);
/* Clears the status line and stops its clock; call before the summary. */
void progress_done(struct progress *p);
void progress_free(struct progress *p);

/* The columns of the terminal out is (its window size), else the value of
 * COLUMNS, else 0: unknown. */
int progress_columns(FILE *out);

/* The last n lines of a file (at most 8 KiB of them), for failure reports;
 * NULL when the file cannot be read. The caller frees it. */
char *file_tail(const char *path, int n);

#endif
