/* threads.c - the threads backend: a pool of -j threads, each
 * carrying one attempt at a time through job_attempt().
 *
 * Only this (the scheduler's) thread touches the graph's run records and
 * the state; a worker reads its job's definition and writes only its
 * struct result, handed back through the pool's eventfd. Commands are
 * spawned and waited for in the worker (spawn_wait polls the signal fds
 * itself), cpu tasks run there, downloads reuse the worker's own curl
 * handle: the thread-local session.
 */
#define _GNU_SOURCE
#include <stdlib.h>

#include "engine/backends/backend.h"
#include "engine/backends/tpool.h"

struct threads {
	struct tpool *pool;
	struct lanes lanes;
};

static int threads_init(struct backend *b, struct strbuf *err)
{
	struct threads *t = xcalloc(1, sizeof(*t));
	int n = b->cfg.jobs;
	if (tpool_new(&t->pool, n, err) < 0) {
		free(t);
		return -1;
	}
	lanes_init(&t->lanes, n);
	b->priv = t;
	return 0;
}

static bool threads_can_start(struct backend *b, const struct job *job)
{
	struct threads *t = b->priv;
	return t->lanes.in_use < t->lanes.n;
}

static int threads_start(struct backend *b, struct job *job, int number, const char *prev_extra,
			 struct strbuf *err)
{
	struct threads *t = b->priv;
	int lane = lanes_take(&t->lanes);
	if (lane < 0) {
		sb_addf(err, "no free worker thread");
		return -1;
	}
	if (tpool_submit(t->pool, lane, job, number, prev_extra, err) < 0) {
		lanes_put(&t->lanes, lane);
		return -1;
	}
	return 0;
}

static int threads_wait(struct backend *b, struct job **job, struct result *res, double timeout)
{
	struct threads *t = b->priv;
	int lane;
	if (tpool_busy(t->pool) == 0) {
		backend_idle_wait(timeout);
		return 0;
	}
	if (!tpool_wait(t->pool, timeout, b->wake_fd, job, &lane, res))
		return 0;
	lanes_put(&t->lanes, lane);
	return 1;
}

static int threads_running(struct backend *b)
{
	return tpool_busy(((struct threads *)b->priv)->pool);
}

static void threads_abort(struct backend *b)
{
	/* Every worker sees cancel_requested(): commands get TERM, then KILL
	 * after the grace period or a second signal; cpu tasks and transfers
	 * stop at their next check. One that does not stop (stuck inside a
	 * library) is abandoned after a second signal: see tpool_wait(). */
	(void)b;
}

static void threads_release(struct backend *b)
{
	struct threads *t = b->priv;
	tpool_free(t->pool);
	lanes_release(&t->lanes);
	free(t);
	b->priv = NULL;
}

const struct backend_ops backend_threads = {
	.name = "threads",
	.local = true,
	.fds_per_job = 4,
	.init = threads_init,
	.can_start = threads_can_start,
	.start = threads_start,
	.wait = threads_wait,
	.running = threads_running,
	.abort = threads_abort,
	.release = threads_release,
};
