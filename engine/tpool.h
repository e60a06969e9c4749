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

#include "exec.h"
#include "graph.h"

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

/* Stops and joins the threads, which must all be idle, and frees them. */
void tpool_free(struct tpool *p);

#endif
