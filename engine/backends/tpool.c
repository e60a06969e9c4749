/* tpool.c - see tpool.h. */
#define _GNU_SOURCE
#include "engine/backends/tpool.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine/sig.h"

/* A lane's thread and what it was handed. The struct belongs to the pool
 * until the pool abandons the lane; then it belongs to its thread, which
 * frees it when its attempt ends (the pool may be gone by then). */
struct lane {
	struct tpool *pool;   /* under mu; NULL once abandoned */
	atomic_int posted;    /* 1 from a submit until its thread takes the job */
	bool can_spin;        /* the pool's, copied before the thread starts */
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cond;
	bool quit;            /* under mu */
	struct worker w;
	/* The attempt handed over, under mu; job == NULL: idle. */
	struct job *job;
	int number;
	char *prev_extra;
	/* Scheduler thread only: */
	struct job *carrying;  /* submitted and not collected */
	double sent;           /* when */
	double give_up;        /* monotonic time to abandon it, 0: never */
	bool by_deadline;      /* give_up comes from the job's timeout */
};

struct done {
	struct job *job;
	int lane;
	struct result res;
};

struct tpool {
	pthread_mutex_t mu;     /* guards done and head */
	struct lane **lanes;    /* NULL: not started (yet, or since abandoned) */
	int n;
	int busy;      /* scheduler thread only */
	int efd;       /* eventfd: finished attempts wait in done */
	VEC(struct done) done;  /* a FIFO read from head */
	size_t head;
	atomic_int ready;       /* entries in done, for spin_until() */
	bool can_spin; /* more than one CPU (spin_allowed()) */
	bool spin;     /* scheduler thread only: the last attempt was short */
	bool killing;  /* scheduler thread only: tpool_kill() was called */
};

static atomic_int abandoned_running;

/* Handing an attempt to a thread and its result back costs a sleep and a
 * wake-up each way. Where a context switch costs tens of microseconds (a
 * virtual machine), that is more than a tiny cpu task itself: 100,000 of
 * them spent two thirds of their time switching. So each side first
 * waits awake, for up to SPIN_S, before it sleeps: the scheduler for an
 * attempt to end, a lane's thread for its next job. The scheduler spins
 * only while the last attempt it collected was short, so waiting on long
 * jobs costs it nothing; a lane's thread spends at most SPIN_S of CPU
 * after each attempt. Neither spins with one CPU, where the other side
 * cannot run meanwhile. */
#define SPIN_S 50e-6

static bool spin_allowed(void)
{
	cpu_set_t set;
	return sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 1;
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

/* Waits awake up to SPIN_S for *v to be non-zero: true when it is. */
static bool spin_until(atomic_int *v)
{
	double until = mono_now() + SPIN_S;
	do {
		for (int i = 0; i < 64; i++) {
			if (atomic_load_explicit(v, memory_order_acquire))
				return true;
			cpu_relax();
		}
	} while (mono_now() < until);
	return false;
}

static void lane_free(struct lane *l)
{
	worker_release(&l->w);
	pthread_cond_destroy(&l->cond);
	pthread_mutex_destroy(&l->mu);
	free(l->prev_extra);
	free(l);
}

static void *lane_main(void *arg)
{
	struct lane *l = arg;
	pthread_mutex_lock(&l->mu);
	for (;;) {
		if (l->can_spin && !l->job && !l->quit) {
			pthread_mutex_unlock(&l->mu);
			spin_until(&l->posted);
			pthread_mutex_lock(&l->mu);
		}
		while (!l->job && !l->quit)
			pthread_cond_wait(&l->cond, &l->mu);
		if (!l->job)
			break;
		atomic_store_explicit(&l->posted, 0, memory_order_relaxed);
		struct job *job = l->job;
		int number = l->number;
		char *prev_extra = l->prev_extra;
		l->prev_extra = NULL;
		pthread_mutex_unlock(&l->mu);

		struct done d = {.job = job};
		job_attempt(job, &l->w, number, prev_extra, &d.res);
		free(prev_extra);

		pthread_mutex_lock(&l->mu);
		l->job = NULL;
		struct tpool *p = l->pool;
		if (!p) {
			/* Given up on: nobody waits for this result. */
			pthread_mutex_unlock(&l->mu);
			result_release(&d.res);
			lane_free(l);
			atomic_fetch_sub(&abandoned_running, 1);
			return NULL;
		}
		d.lane = l->w.id;
		/* Lock order: a lane's mu, then the pool's. */
		pthread_mutex_lock(&p->mu);
		VEC_PUSH(&p->done, d);
		atomic_fetch_add_explicit(&p->ready, 1, memory_order_release);
		uint64_t one = 1;
		/* Cannot fail short of 2^64 - 1 unread completions. */
		if (write(p->efd, &one, sizeof(one)) < 0) {
		}
		pthread_mutex_unlock(&p->mu);
	}
	pthread_mutex_unlock(&l->mu);
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
	p->can_spin = p->spin = spin_allowed();
	p->lanes = xcalloc((size_t)n, sizeof(*p->lanes));
	*out = p;
	return 0;
}

int tpool_submit(struct tpool *p, int lane, struct job *job, int number, const char *prev_extra,
		 struct strbuf *err)
{
	struct lane *l = p->lanes[lane];
	if (!l) {
		l = xcalloc(1, sizeof(*l));
		l->pool = p;
		l->w.id = lane;
		l->can_spin = p->can_spin;
		pthread_mutex_init(&l->mu, NULL);
		pthread_cond_init(&l->cond, NULL);
		/* A small stack would do for commands, but cpu tasks (libxml2)
		 * and curl want the default. */
		int rc = pthread_create(&l->thread, NULL, lane_main, l);
		if (rc != 0) {
			sb_addf(err, "cannot start worker thread %d: %s", lane, strerror(rc));
			pthread_cond_destroy(&l->cond);
			pthread_mutex_destroy(&l->mu);
			free(l);
			return -1;
		}
		p->lanes[lane] = l;
	}
	pthread_mutex_lock(&l->mu);
	l->job = job;
	l->number = number;
	l->prev_extra = prev_extra ? xstrdup(prev_extra) : NULL;
	atomic_store_explicit(&l->posted, 1, memory_order_release);
	pthread_cond_signal(&l->cond);
	pthread_mutex_unlock(&l->mu);
	l->carrying = job;
	l->sent = mono_now();
	double t = job->sec->timeout;
	l->by_deadline = t > 0;
	l->give_up = t > 0 ? l->sent + t + ABANDON_GRACE_S : 0;
	if (p->killing && (!l->give_up || l->give_up > l->sent + ABANDON_GRACE_S)) {
		l->give_up = l->sent + ABANDON_GRACE_S;
		l->by_deadline = false;
	}
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
		atomic_fetch_sub_explicit(&p->ready, 1, memory_order_relaxed);
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
	if (got) {
		struct lane *l = p->lanes[*lane];
		p->spin = p->can_spin && mono_now() - l->sent < 4 * SPIN_S;
		l->carrying = NULL;
		p->busy--;
	}
	return got;
}

int tpool_busy(const struct tpool *p)
{
	return p->busy;
}

double tpool_time_left(const struct tpool *p)
{
	double first = 0;
	for (int i = 0; i < p->n; i++) {
		const struct lane *l = p->lanes[i];
		if (l && l->carrying && l->give_up > 0 && (first == 0 || l->give_up < first))
			first = l->give_up;
	}
	if (first == 0)
		return -1;
	double left = first - mono_now();
	return left > 0 ? left : 0;
}

void tpool_kill(struct tpool *p)
{
	double until = mono_now() + ABANDON_GRACE_S;
	p->killing = true;
	for (int i = 0; i < p->n; i++) {
		struct lane *l = p->lanes[i];
		if (l && l->carrying && (l->give_up == 0 || l->give_up > until)) {
			l->give_up = until;
			l->by_deadline = false;
		}
	}
}

int tpool_abandon_overdue(struct tpool *p, struct job **job, int *lane, struct result *res)
{
	double now = mono_now();
	for (int i = 0; i < p->n; i++) {
		struct lane *l = p->lanes[i];
		if (!l || !l->carrying || l->give_up == 0 || now < l->give_up)
			continue;
		/* It may have ended just now: then its result is the truth. */
		if (tpool_collect(p, job, lane, res))
			return 1;
		/* What is needed of the lane, read before it is handed to its
		 * thread, which may free it as soon as the lock is let go. */
		struct job *carried = l->carrying;
		double sent = l->sent;
		bool by_deadline = l->by_deadline;
		pthread_t thread = l->thread;
		pthread_mutex_lock(&l->mu);
		bool running = l->job != NULL;
		if (running) {
			l->pool = NULL;
			atomic_store(&l->w.abandoned, true);
			atomic_fetch_add(&abandoned_running, 1);
		}
		pthread_mutex_unlock(&l->mu);
		if (!running) {
			/* Finished between the collect and the lock: its result
			 * is on its way through the eventfd. */
			continue;
		}
		pthread_detach(thread);
		p->lanes[i] = NULL;
		result_init(res);
		res->worker = i;
		res->started = sent;
		res->finished = now;
		if (by_deadline) {
			res->timed_out = true;
			result_fail(res,
				    "timed out after %g s; it did not stop and was abandoned (its "
				    "thread runs on until juggle exits, its output is discarded)",
				    carried->sec->timeout);
		} else {
			result_fail(res,
				    "interrupted; it did not stop and was abandoned (its thread runs "
				    "on until juggle exits, its output is discarded)");
			res->status = RES_INTERRUPTED;
		}
		*job = carried;
		*lane = i;
		p->busy--;
		return 1;
	}
	return 0;
}

int tpool_abandoned(void)
{
	return atomic_load(&abandoned_running);
}

void tpool_free(struct tpool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++) {
		struct lane *l = p->lanes[i];
		if (!l)
			continue;
		pthread_mutex_lock(&l->mu);
		l->quit = true;
		pthread_cond_signal(&l->cond);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
		lane_free(l);
	}
	for (size_t i = p->head; i < p->done.n; i++)
		result_release(&p->done.v[i].res);
	free(p->done.v);
	free(p->lanes);
	pthread_mutex_destroy(&p->mu);
	close(p->efd);
	free(p);
}

int tpool_wait(struct tpool *p, double timeout, int wake_fd, struct job **job, int *lane,
	       struct result *res)
{
	double until = timeout < 0 ? -1 : mono_now() + timeout;
	bool spun = timeout == 0;
	for (;;) {
		if (tpool_collect(p, job, lane, res) || tpool_abandon_overdue(p, job, lane, res))
			return 1;
		if (kill_requested() && !p->killing)
			tpool_kill(p);
		if (!spun && p->spin && p->busy > 0) {
			spun = true;
			if (spin_until(&p->ready))
				continue;
		}
		double left = until < 0 ? -1 : until - mono_now();
		if (until >= 0 && left <= 0)
			return 0;
		double give_up = tpool_time_left(p);
		bool by_give_up = give_up >= 0 && (left < 0 || give_up < left);
		if (by_give_up)
			left = give_up;
		struct pollfd fds[3] = {{p->efd, POLLIN, 0}, {-1, POLLIN, 0}, {wake_fd, POLLIN, 0}};
		if (!cancel_requested())
			fds[1].fd = sig_cancel_fd();
		else if (!p->killing)
			fds[1].fd = sig_kill_fd();
		int ms = left < 0 ? -1 : (int)(left * 1000) + 1;
		int r;
		while ((r = poll(fds, 3, ms)) < 0 && errno == EINTR) {
		}
		if (r > 0 && fds[1].revents && fds[1].fd == sig_cancel_fd())
			return 0; /* the scheduler aborts, then waits again */
		if (r > 0 && fds[2].revents && !fds[0].revents)
			return 0; /* a token may be free: the scheduler looks */
		if (r == 0 && !by_give_up)
			return 0;
	}
}
