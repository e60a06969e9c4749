/* dry.c - a backend that runs nothing: every job succeeds at once and
 * changes its outputs. juggle -n no longer uses it (cmd/predict.c says what
 * would run without the scheduler); it and the scheduler's dry_run
 * branches are due to be removed. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "engine/backends/backend.h"

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
