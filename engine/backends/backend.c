/* backend.c - the backend registry, the serial backend and the dry run. */
#define _GNU_SOURCE
#include "engine/backends/backend.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "engine/backends/tpool.h"
#include "engine/sched.h"
#include "engine/sig.h"

const char *const backend_names[] = {"serial", "threads", "processes", "eventloop",
				     "auto",   "slurm",   NULL};

static const struct backend_ops *const backends[] = {
	&backend_serial,
	&backend_threads,
	&backend_processes,
	&backend_eventloop,
	&backend_auto,
	&backend_slurm,
	NULL,
};

const struct backend_ops *backend_by_name(const char *name)
{
	for (size_t i = 0; backends[i]; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

void backend_idle_wait(double timeout)
{
	if (timeout == 0)
		return;
	struct pollfd p = {sig_cancel_fd(), POLLIN, 0};
	int ms = timeout < 0 ? -1 : (int)(timeout * 1000) + 1;
	if (cancel_requested())
		return;
	while (poll(&p, 1, ms) < 0 && errno == EINTR) {
	}
}

void lanes_init(struct lanes *l, int n)
{
	l->n = n > 0 ? n : 1;
	l->used = xcalloc((size_t)l->n, sizeof(*l->used));
	l->in_use = 0;
}

int lanes_take(struct lanes *l)
{
	for (int i = 0; i < l->n; i++) {
		if (!l->used[i]) {
			l->used[i] = true;
			l->in_use++;
			return i;
		}
	}
	return -1;
}

void lanes_put(struct lanes *l, int lane)
{
	if (lane >= 0 && lane < l->n && l->used[lane]) {
		l->used[lane] = false;
		l->in_use--;
	}
}

void lanes_release(struct lanes *l)
{
	free(l->used);
	l->used = NULL;
}

int backend_poll_fd(int fd, double timeout)
{
	struct pollfd p[2] = {{fd, POLLIN, 0}, {sig_cancel_fd(), POLLIN, 0}};
	int n = cancel_requested() ? 1 : 2;
	int ms = timeout < 0 ? -1 : (int)(timeout * 1000) + 1;
	int r;
	while ((r = poll(p, (nfds_t)n, ms)) < 0 && errno == EINTR) {
	}
	return r > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0;
}

/* ---- serial: one job at a time, on one worker thread ---- */

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
	if (!tpool_wait(s->pool, timeout, job, &lane, res))
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
	.init = serial_init,
	.can_start = serial_can_start,
	.start = serial_start,
	.wait = serial_wait,
	.running = serial_running,
	.abort = serial_abort,
	.release = serial_release,
};

/* ---- dry run: every job succeeds at once and changes its outputs ---- */

struct dry {
	VEC(struct job *) done;
};

static int dry_init(struct backend *b, struct strbuf *err)
{
	(void)err;
	b->priv = xcalloc(1, sizeof(struct dry));
	return 0;
}

static bool dry_can_start(struct backend *b, const struct job *job)
{
	(void)b;
	(void)job;
	return true;
}

static int dry_start(struct backend *b, struct job *job, int number, const char *prev_extra,
		     struct strbuf *err)
{
	(void)number;
	(void)prev_extra;
	(void)err;
	struct dry *d = b->priv;
	VEC_PUSH(&d->done, job);
	return 0;
}

static int dry_wait(struct backend *b, struct job **job, struct result *res, double timeout)
{
	(void)timeout;
	struct dry *d = b->priv;
	if (!d->done.n)
		return 0;
	*job = d->done.v[0];
	memmove(d->done.v, d->done.v + 1, (d->done.n - 1) * sizeof(*d->done.v));
	d->done.n--;
	result_init(res);
	res->status = RES_OK;
	res->worker = 0;
	res->started = res->finished = mono_now();
	return 1;
}

static int dry_running(struct backend *b)
{
	return (int)((struct dry *)b->priv)->done.n;
}

static void dry_abort(struct backend *b)
{
	(void)b;
}

static void dry_release(struct backend *b)
{
	struct dry *d = b->priv;
	free(d->done.v);
	free(d);
}

const struct backend_ops backend_dry = {
	.name = "dry-run",
	.init = dry_init,
	.can_start = dry_can_start,
	.start = dry_start,
	.wait = dry_wait,
	.running = dry_running,
	.abort = dry_abort,
	.release = dry_release,
};
