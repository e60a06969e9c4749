/* tpool.c - see tpool.h. */
#define _GNU_SOURCE
#include "tpool.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct lane {
	struct tpool *pool;
	pthread_t thread;
	bool started;
	pthread_cond_t cond;
	struct worker w;
	/* The attempt handed over, under pool->mu; job == NULL: idle. */
	struct job *job;
	int number;
	char *prev_extra;
};

struct done {
	struct job *job;
	int lane;
	struct result res;
};

struct tpool {
	pthread_mutex_t mu;
	struct lane *lanes;
	int n;
	int busy;      /* scheduler thread only */
	bool quit;     /* under mu */
	int efd;       /* eventfd: finished attempts wait in done */
	VEC(struct done) done; /* under mu; a FIFO read from head */
	size_t head;
};

static void *lane_main(void *arg)
{
	struct lane *l = arg;
	struct tpool *p = l->pool;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!l->job && !p->quit)
			pthread_cond_wait(&l->cond, &p->mu);
		if (!l->job)
			break;
		struct job *job = l->job;
		int number = l->number;
		char *prev_extra = l->prev_extra;
		pthread_mutex_unlock(&p->mu);

		struct done d = {.job = job, .lane = (int)(l - p->lanes)};
		job_attempt(job, &l->w, number, prev_extra, &d.res);
		free(prev_extra);

		pthread_mutex_lock(&p->mu);
		l->job = NULL;
		l->prev_extra = NULL;
		VEC_PUSH(&p->done, d);
		uint64_t one = 1;
		/* Cannot fail short of 2^64 - 1 unread completions. */
		if (write(p->efd, &one, sizeof(one)) < 0) {
		}
	}
	pthread_mutex_unlock(&p->mu);
	worker_release(&l->w);
	return NULL;
}

int tpool_new(struct tpool **out, int n, struct strbuf *err)
{
	struct tpool *p = xcalloc(1, sizeof(*p));
	p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (p->efd < 0) {
		sb_addf(err, "cannot create an eventfd: %s", strerror(errno));
		free(p);
		return -1;
	}
	pthread_mutex_init(&p->mu, NULL);
	p->n = n;
	p->lanes = xcalloc((size_t)n, sizeof(*p->lanes));
	for (int i = 0; i < n; i++) {
		p->lanes[i].pool = p;
		p->lanes[i].w.id = i;
		pthread_cond_init(&p->lanes[i].cond, NULL);
	}
	*out = p;
	return 0;
}

int tpool_submit(struct tpool *p, int lane, struct job *job, int number, const char *prev_extra,
		 struct strbuf *err)
{
	struct lane *l = &p->lanes[lane];
	if (!l->started) {
		/* A small stack would do for commands, but cpu tasks (libxml2)
		 * and curl want the default. */
		int rc = pthread_create(&l->thread, NULL, lane_main, l);
		if (rc != 0) {
			sb_addf(err, "cannot start worker thread %d: %s", lane, strerror(rc));
			return -1;
		}
		l->started = true;
	}
	pthread_mutex_lock(&p->mu);
	l->job = job;
	l->number = number;
	l->prev_extra = prev_extra ? xstrdup(prev_extra) : NULL;
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&p->mu);
	p->busy++;
	return 0;
}

int tpool_fd(const struct tpool *p)
{
	return p->efd;
}

int tpool_collect(struct tpool *p, struct job **job, int *lane, struct result *res)
{
	uint64_t count;
	/* Reset the counter first: a completion pushed after this read
	 * writes again, so none is missed. */
	if (read(p->efd, &count, sizeof(count)) < 0) {
	}
	pthread_mutex_lock(&p->mu);
	int got = 0;
	if (p->head < p->done.n) {
		struct done *d = &p->done.v[p->head++];
		*job = d->job;
		*lane = d->lane;
		*res = d->res;
		got = 1;
		if (p->head < p->done.n) {
			/* More are waiting: keep the fd readable. */
			uint64_t one = 1;
			if (write(p->efd, &one, sizeof(one)) < 0) {
			}
		} else {
			p->head = p->done.n = 0;
		}
	}
	pthread_mutex_unlock(&p->mu);
	p->busy -= got;
	return got;
}

int tpool_busy(const struct tpool *p)
{
	return p->busy;
}

void tpool_free(struct tpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = true;
	for (int i = 0; i < p->n; i++)
		pthread_cond_signal(&p->lanes[i].cond);
	pthread_mutex_unlock(&p->mu);
	for (int i = 0; i < p->n; i++) {
		if (p->lanes[i].started)
			pthread_join(p->lanes[i].thread, NULL);
		pthread_cond_destroy(&p->lanes[i].cond);
	}
	for (size_t i = p->head; i < p->done.n; i++)
		result_release(&p->done.v[i].res);
	free(p->done.v);
	free(p->lanes);
	pthread_mutex_destroy(&p->mu);
	close(p->efd);
	free(p);
}
