/* serial.c - the serial backend: one job at a time, on one worker thread. */
#define _GNU_SOURCE
#include <stdlib.h>

#include "engine/backends/backend.h"
#include "engine/backends/tpool.h"

/* The attempt runs on a thread of its own while this one waits, so that a
 * task stuck inside a library can still be given up on (its timeout, a
 * second signal): see tpool_wait(). */
struct serial {
	struct tpool *pool;
	struct job *job;
};

static int serial_init(struct backend *b, struct strbuf *err)
{
	struct serial *s = xcalloc(1, sizeof(*s));
	if (tpool_new(&s->pool, 1, err) < 0) {
		free(s);
		return -1;
	}
	b->priv = s;
	return 0;
}

static bool serial_can_start(struct backend *b, const struct job *job)
{
	(void)job;
	return ((struct serial *)b->priv)->job == NULL;
}

static int serial_start(struct backend *b, struct job *job, int number, const char *prev_extra,
			struct strbuf *err)
{
	struct serial *s = b->priv;
	if (tpool_submit(s->pool, 0, job, number, prev_extra, err) < 0)
		return -1;
	s->job = job;
	return 0;
}

static int serial_wait(struct backend *b, struct job **job, struct result *res, double timeout)
{
	struct serial *s = b->priv;
	int lane;
	if (!s->job) {
		backend_idle_wait(timeout);
		return 0;
	}
	if (!tpool_wait(s->pool, timeout, b->wake_fd, job, &lane, res))
		return 0;
	s->job = NULL;
	return 1;
}

static int serial_running(struct backend *b)
{
	return ((struct serial *)b->priv)->job != NULL;
}

static void serial_abort(struct backend *b)
{
	/* The attempt sees cancel_requested() itself. */
	(void)b;
}

static void serial_release(struct backend *b)
{
	struct serial *s = b->priv;
	tpool_free(s->pool);
	free(s);
	b->priv = NULL;
}

const struct backend_ops backend_serial = {
	.name = "serial",
	.local = true,
	.max_lanes = 1,
	.fds_per_job = 4,
	.init = serial_init,
	.can_start = serial_can_start,
	.start = serial_start,
	.wait = serial_wait,
	.running = serial_running,
	.abort = serial_abort,
	.release = serial_release,
};
