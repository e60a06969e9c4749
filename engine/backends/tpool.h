/* tpool.h - a pool of worker threads, one per lane, that run job_attempt()
 * and hand the results back to the scheduler thread through an eventfd
 * (what libuv's work queue does with its async handle).
 *
 * Only the scheduler thread calls these functions. Lane k is carried by
 * thread k, created the first time lane k is used; the caller picks an
 * idle lane (its own bookkeeping says which), so a job's worker id in the
 * report is the thread that ran it. Each thread keeps its own struct
 * worker, so a kind's per-worker cache (a curl handle) lives as long as
 * the pool.
 *
 * Lifecycle: tpool_new -> (tpool_submit / tpool_collect)* -> tpool_free.
 */
#ifndef JUGGLE_TPOOL_H
#define JUGGLE_TPOOL_H

#include "engine/attempt.h"
#include "engine/graph.h"

struct tpool;

/* A pool of at most n lanes; 0 with *out set, or -1 with err. */
int tpool_new(struct tpool **out, int n, struct strbuf *err);

/* Runs attempt number of job on lane's thread, which must be idle.
 * prev_extra is copied. Returns 0, or -1 with err when the thread could
 * not be created. */
int tpool_submit(struct tpool *p, int lane, struct job *job, int number, const char *prev_extra,
		 struct strbuf *err);

/* Readable while finished attempts wait to be collected; poll it. */
int tpool_fd(const struct tpool *p);

/* Takes one finished attempt without blocking: 1 with *job, *lane and res
 * filled (res is moved to the caller), 0 when none is waiting. */
int tpool_collect(struct tpool *p, struct job **job, int *lane, struct result *res);

/* Attempts submitted and not collected yet. */
int tpool_busy(const struct tpool *p);

/* Giving up on attempts that do not stop. An attempt whose job has a
 * timeout gets ABANDON_GRACE_S past it; after tpool_kill() (a second
 * signal) every attempt gets ABANDON_GRACE_S from then. Past that, the
 * lane is abandoned: its thread is left to finish alone (its worker's
 * abandoned flag set, its result thrown away, the lane given a fresh
 * thread when next used), and the attempt ends at once as timed out or
 * interrupted. The cost: the thread keeps its CPU and memory until it
 * returns or juggle exits. */

/* Seconds until the first attempt is to be given up on; -1: none is. */
double tpool_time_left(const struct tpool *p);
/* Starts every attempt's last ABANDON_GRACE_S, now and for later ones. */
void tpool_kill(struct tpool *p);
/* Like tpool_collect(), for an attempt whose time is up: 1 with *job,
 * *lane and res filled (a result of its own when it was abandoned). */
int tpool_abandon_overdue(struct tpool *p, struct job **job, int *lane, struct result *res);
/* Waits up to timeout seconds (< 0: no limit) for an attempt to end or be
 * given up on, as tpool_collect() and tpool_abandon_overdue() return them;
 * 0 when the time ran out, a first signal arrived or wake_fd (when >= 0)
 * became readable. A second signal starts tpool_kill() itself. */
int tpool_wait(struct tpool *p, double timeout, int wake_fd, struct job **job, int *lane,
	       struct result *res);
/* Abandoned threads of any pool still running (for exit: see cmd/). */
int tpool_abandoned(void);

/* Stops and joins the threads, which must all be idle (abandoned ones are
 * not the pool's any more), and frees them. */
void tpool_free(struct tpool *p);

#endif
