/* eventloop.c - the eventloop and auto backends: one thread, one
 * libuv loop.
 *
 * Kinds with start_async (commands; downloads on one curl multi handle)
 * are started on the loop and end through a callback; the scheduler's
 * wait() runs the loop. A kind without it (cpu tasks) runs:
 *  - on eventloop, inline in start(), blocking the loop while it computes,
 *    exactly as a CPU-bound call inside an asyncio coroutine does: nothing
 *    else starts, no exit is noticed and no timer fires until it returns.
 *    That is the lesson this backend exists to show, so it is not hidden.
 *    The task itself runs on a one-thread pool that start() waits for, so
 *    that one stuck inside a library can still be given up on at its
 *    timeout or a second signal (see tpool.h).
 *  - on auto, on a pool of threads (tpool.c) whose eventfd the loop
 *    watches; cancellation reaches them through cancel_requested().
 *
 * Lanes (the report's worker ids): attempts that count against -j take
 * lanes 0..j-1 (on auto a cpu task runs on the pool thread of its lane);
 * downloads take lanes j..j+net_jobs-1, capped by --net-jobs.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <uv.h>

#include "engine/backends/backend.h"
#include "engine/backends/tpool.h"
#include "engine/kind.h"
#include "engine/sig.h"

struct el;

/* One attempt started on the loop. */
struct el_attempt {
	struct async_attempt aa;
	struct el *el;
	struct job *job;
	int lane;
	int number;
	char *prev_extra;
	struct worker w;       /* id = lane; async kinds cache per loop, not here */
	struct result res;
	uv_work_t work;        /* attempt_begin() / attempt_end() off the loop */
	int rc;
	bool running;          /* between start_async() and done */
};

struct done {
	struct job *job;
	struct result res;
};

struct el {
	uv_loop_t loop;
	uv_poll_t cancel_watch, kill_watch, pool_watch;
	uv_poll_t wake_watch;   /* b->wake_fd, while wait() runs */
	int wake_fd;            /* the fd wake_watch was set up on; -1: none */
	uv_timer_t timer;
	bool cancel_watching, kill_watching, kill_seen;
	bool cancel_seen;       /* on_cancel() ran: the loop saw the first signal */
	bool timer_fired, signalled;
	int jobs, net_jobs;
	struct lanes lanes;     /* 0..jobs-1 */
	struct lanes net_lanes; /* jobs..jobs+net_jobs-1 */
	struct el_attempt **by_lane;
	int in_flight;          /* started, not yet in done */
	VEC(struct done) done;  /* a FIFO read from head */
	size_t head;
	void *loop_cache[KIND_SLOTS];
	struct tpool *inline_pool;   /* eventloop: where kinds run "inline" */
	struct tpool *pool;     /* auto: where blocking kinds run */
};

static bool is_net(const struct job *job)
{
	return job->sec->kind->network;
}

static void push_done(struct el *el, struct job *job, struct result *res)
{
	struct done d = {.job = job, .res = *res};
	VEC_PUSH(&el->done, d);
}

static void put_lane(struct el *el, int lane)
{
	if (lane >= el->jobs)
		lanes_put(&el->net_lanes, lane - el->jobs);
	else
		lanes_put(&el->lanes, lane);
	el->by_lane[lane] = NULL;
}

static void on_pool(uv_poll_t *h, int status, int events)
{
	struct el *el = h->data;
	struct job *job;
	int lane;
	struct result res;
	while (tpool_collect(el->pool, &job, &lane, &res)) {
		push_done(el, job, &res);
		put_lane(el, lane);
		el->in_flight--;
	}
}

static int el_init_common(struct backend *b, bool with_pool, struct strbuf *err)
{
	struct el *el = xcalloc(1, sizeof(*el));
	el->jobs = b->cfg.jobs;
	el->net_jobs = b->cfg.net_jobs;
	el->wake_fd = -1;
	int rc = uv_loop_init(&el->loop);
	if (rc < 0) {
		sb_addf(err, "cannot start an event loop: %s", uv_strerror(rc));
		free(el);
		return -1;
	}
	if (with_pool && tpool_new(&el->pool, el->jobs, err) < 0) {
		uv_loop_close(&el->loop);
		free(el);
		return -1;
	}
	lanes_init(&el->lanes, el->jobs);
	lanes_init(&el->net_lanes, el->net_jobs);
	el->by_lane = xcalloc((size_t)(el->jobs + el->net_jobs), sizeof(*el->by_lane));
	uv_timer_init(&el->loop, &el->timer);
	el->timer.data = el;
	if (el->pool) {
		uv_poll_init(&el->loop, &el->pool_watch, tpool_fd(el->pool));
		el->pool_watch.data = el;
		uv_poll_start(&el->pool_watch, UV_READABLE, on_pool);
	}
	b->priv = el;
	return 0;
}

static int eventloop_init(struct backend *b, struct strbuf *err)
{
	return el_init_common(b, false, err);
}

static int auto_init(struct backend *b, struct strbuf *err)
{
	return el_init_common(b, true, err);
}

static bool el_takes_slot(struct backend *b, const struct job *job)
{
	return !is_net(job);
}

static bool el_can_start(struct backend *b, const struct job *job)
{
	struct el *el = b->priv;
	struct lanes *l = is_net(job) ? &el->net_lanes : &el->lanes;
	return l->in_use < l->n;
}

/* An async attempt's file-system work - output folders and the log
 * before, output signatures (a hash of each output) and delete-on-error
 * after - is a few system calls: the attempt begins on the loop, and ends
 * there too when its outputs are small enough to hash at once; larger
 * outputs are hashed on libuv's thread pool, as Node runs its fs calls, so
 * the loop carries every other attempt meanwhile. Each trip through the
 * pool is a thread woken and the loop woken back, and the lane's next
 * attempt waits for both: on two busy CPUs that cost more than the work
 * itself (bench/io: 500 downloads of 20 KiB at 50 at a time, 1.7 s against
 * 1.4 s at load average 10; bench/commands: 2,000 touch at -j2, 2.76 s
 * against 2.32 s on the eventloop backend, 2.46 s against 2.06 s on auto,
 * in the same rounds). */

/* Outputs up to this many bytes in all are hashed on the loop (well under
 * a millisecond); larger ones on the pool. */
#define LOOP_END_BYTES (256 * 1024)

static bool end_on_loop(const struct el_attempt *ea, int rc)
{
	const struct job *job = ea->job;
	if (rc < 0 || ea->res.status != RES_OK)
		return true; /* nothing to hash */
	off_t total = 0;
	for (uint32_t i = 0; i < job->n_outputs; i++) {
		struct stat st;
		if (job_output_is_dir(job, i))
			return false;
		if (stat(job->outputs[i], &st) == 0 && S_ISREG(st.st_mode))
			total += st.st_size;
		if (total > LOOP_END_BYTES)
			return false;
	}
	return true;
}

static void work_end(uv_work_t *w)
{
	struct el_attempt *ea = w->data;
	/* The CPU time charged is this thread's over attempt_end(); the kind
	 * adds its own (a command's wait4 rusage). The loop's time is shared
	 * by every attempt and charged to none. */
	ea->aa.a.cpu0 = thread_cpu_s();
	attempt_end(&ea->aa.a, ea->rc);
}

static void after_end(uv_work_t *w, int status)
{
	struct el_attempt *ea = w->data;
	struct el *el = ea->el;
	push_done(el, ea->job, &ea->res);
	put_lane(el, ea->lane);
	el->in_flight--;
	free(ea->prev_extra);
	free(ea);
}

static void end_attempt(struct el_attempt *ea, int rc)
{
	ea->rc = rc;
	ea->running = false;
	if (end_on_loop(ea, rc)) {
		work_end(&ea->work);
		after_end(&ea->work, 0); /* frees ea */
		return;
	}
	uv_queue_work(&ea->el->loop, &ea->work, work_end, after_end);
}

/* The kind's callback: its part of the attempt ended. */
static void on_async_done(struct async_attempt *aa, int rc)
{
	end_attempt(aa->backend_data, rc);
}

/* Begins an async attempt on the loop and hands it to its kind. One that
 * fails to begin ends here, and wait() hands it back. */
static void begin_attempt(struct el_attempt *ea)
{
	const struct job_kind *kind = ea->job->sec->kind;
	ea->rc = attempt_begin(&ea->aa.a, ea->job, &ea->w, ea->number, ea->prev_extra,
			       &ea->res);
	if (ea->rc < 0) {
		end_attempt(ea, -1);
		return;
	}
	if (cancel_requested()) {
		/* abort() came while the attempt was being prepared. */
		result_fail(&ea->res, "interrupted before it started");
		ea->res.status = RES_INTERRUPTED;
		ea->res.not_started = true;
		end_attempt(ea, -1);
		return;
	}
	ea->res.status = RES_OK;
	ea->aa.loop = &ea->el->loop;
	ea->aa.loop_cache = &ea->el->loop_cache[kind_slot(kind)];
	ea->aa.done = on_async_done;
	ea->aa.backend_data = ea;
	if (kind->start_async(&ea->aa) < 0) {
		end_attempt(ea, -1);
		return;
	}
	ea->running = true;
}

/* Runs a blocking attempt while the loop waits, on a thread of its own so
 * that one stuck inside a library can still be given up on (its timeout, a
 * second signal): the loop is blocked all the same. */
static int run_inline(struct el *el, struct job *job, int lane, int number,
		      const char *prev_extra, struct strbuf *err)
{
	if (!el->inline_pool && tpool_new(&el->inline_pool, 1, err) < 0)
		return -1;
	if (tpool_submit(el->inline_pool, 0, job, number, prev_extra, err) < 0)
		return -1;
	struct job *done_job;
	int l;
	struct result res;
	while (!tpool_wait(el->inline_pool, -1, -1, &done_job, &l, &res)) {
		/* A first signal: the attempt sees it too; wait on. */
	}
	res.worker = lane;
	push_done(el, done_job, &res);
	return 0;
}

static int el_start(struct backend *b, struct job *job, int number, const char *prev_extra,
		    struct strbuf *err)
{
	struct el *el = b->priv;
	const struct job_kind *kind = job->sec->kind;
	int lane = is_net(job) ? lanes_take(&el->net_lanes) : lanes_take(&el->lanes);
	if (lane < 0) {
		sb_addf(err, "no free lane");
		return -1;
	}
	if (is_net(job))
		lane += el->jobs;

	bool async = kind->start_async && (!kind->async_ok || kind->async_ok(job));
	if (!async && el->pool && lane < el->jobs) {
		if (tpool_submit(el->pool, lane, job, number, prev_extra, err) < 0) {
			put_lane(el, lane);
			return -1;
		}
		el->in_flight++;
		return 0;
	}

	struct el_attempt *ea = xcalloc(1, sizeof(*ea));
	ea->el = el;
	ea->job = job;
	ea->lane = lane;
	ea->number = number;
	ea->prev_extra = prev_extra ? xstrdup(prev_extra) : NULL;
	ea->w.id = lane;
	ea->work.data = ea;
	if (async) {
		ea->w.cpu_by_backend = true; /* work_end() reads it */
		el->by_lane[lane] = ea;
		el->in_flight++;
		begin_attempt(ea);
		return 0;
	}
	/* Inline, blocking the loop: see the top of this file. What was
	 * started before it has begun already (on the loop, in file order),
	 * as the tasks an asyncio program created before a blocking call
	 * would. */
	free(ea->prev_extra);
	free(ea);
	if (run_inline(el, job, lane, number, prev_extra, err) < 0) {
		put_lane(el, lane);
		return -1;
	}
	put_lane(el, lane);
	return 0;
}

static void on_timer(uv_timer_t *t)
{
	((struct el *)t->data)->timer_fired = true;
}

static void on_cancel(uv_poll_t *h, int status, int events)
{
	struct el *el = h->data;
	/* The fd stays readable from now on: stop watching it. */
	uv_poll_stop(h);
	el->cancel_seen = true;
	el->signalled = true;
}

static void on_wake(uv_poll_t *h, int status, int events)
{
	struct el *el = h->data;
	el->signalled = true; /* back to the scheduler, which takes a token */
}

static void cancel_all(struct el *el)
{
	for (int i = 0; i < el->jobs + el->net_jobs; i++) {
		struct el_attempt *ea = el->by_lane[i];
		if (ea && ea->running && ea->job->sec->kind->cancel_async)
			ea->job->sec->kind->cancel_async(&ea->aa);
	}
}

static void on_kill(uv_poll_t *h, int status, int events)
{
	struct el *el = h->data;
	uv_poll_stop(h);
	el->kill_seen = true;
	/* A second signal: cancel again, and the kinds kill at once; pool
	 * tasks that do not stop soon are given up on. */
	cancel_all(el);
	if (el->pool)
		tpool_kill(el->pool);
	el->signalled = true; /* wait() sets its timer again */
}

static void watch(struct el *el, uv_poll_t *h, bool *flag, int fd, uv_poll_cb cb)
{
	if (*flag || fd < 0)
		return;
	uv_poll_init(&el->loop, h, fd);
	h->data = el;
	uv_poll_start(h, UV_READABLE, cb);
	*flag = true;
}

static int el_wait(struct backend *b, struct job **job, struct result *res, double timeout)
{
	struct el *el = b->priv;
	if (el->head == el->done.n && el->in_flight == 0) {
		backend_idle_wait(timeout);
		return 0;
	}
	/* The first signal's fd is watched until the loop has seen it, even
	 * when the signal came before this wait: it came, perhaps, while
	 * start() began a command on the loop, after the scheduler last
	 * looked, and only a wake here sends the scheduler to stop it. */
	if (!el->cancel_seen)
		watch(el, &el->cancel_watch, &el->cancel_watching, sig_cancel_fd(), on_cancel);
	else if (!el->kill_seen)
		watch(el, &el->kill_watch, &el->kill_watching, sig_kill_fd(), on_kill);
	el->timer_fired = el->signalled = false;
	if (b->wake_fd >= 0 && el->wake_fd < 0) {
		/* One fd for the whole run: set up once. */
		uv_poll_init(&el->loop, &el->wake_watch, b->wake_fd);
		el->wake_watch.data = el;
		el->wake_fd = b->wake_fd;
	}
	if (b->wake_fd >= 0)
		uv_poll_start(&el->wake_watch, UV_READABLE, on_wake);
	/* The pool's attempts that do not stop by their time are given up on. */
	double give_up = el->pool ? tpool_time_left(el->pool) : -1;
	if (give_up >= 0 && (timeout < 0 || give_up < timeout))
		timeout = give_up;
	if (timeout >= 0)
		uv_timer_start(&el->timer, on_timer, (uint64_t)(timeout * 1000) + 1, 0);
	while (el->head == el->done.n && !el->timer_fired && !el->signalled)
		uv_run(&el->loop, UV_RUN_ONCE);
	uv_timer_stop(&el->timer);
	if (el->wake_fd >= 0)
		uv_poll_stop(&el->wake_watch);
	struct job *gone;
	int lane;
	struct result r;
	while (el->pool && tpool_abandon_overdue(el->pool, &gone, &lane, &r)) {
		push_done(el, gone, &r);
		put_lane(el, lane);
		el->in_flight--;
	}
	if (el->head == el->done.n)
		return 0;
	*job = el->done.v[el->head].job;
	*res = el->done.v[el->head].res;
	if (++el->head == el->done.n)
		el->head = el->done.n = 0;
	return 1;
}

static int el_running(struct backend *b)
{
	struct el *el = b->priv;
	return el->in_flight + (int)(el->done.n - el->head);
}

static void el_abort(struct backend *b)
{
	/* Async attempts are asked to stop; pool threads and inline runs see
	 * cancel_requested() themselves. */
	cancel_all(b->priv);
}

static void close_if(uv_handle_t *h, bool open)
{
	if (open && !uv_is_closing(h))
		uv_close(h, NULL);
}

static void el_release(struct backend *b)
{
	struct el *el = b->priv;
	for (int i = 0; job_kinds[i] && i < KIND_SLOTS; i++)
		if (el->loop_cache[i] && job_kinds[i]->loop_release)
			job_kinds[i]->loop_release(el->loop_cache[i]);
	close_if((uv_handle_t *)&el->cancel_watch, el->cancel_watching);
	close_if((uv_handle_t *)&el->kill_watch, el->kill_watching);
	close_if((uv_handle_t *)&el->pool_watch, el->pool != NULL);
	close_if((uv_handle_t *)&el->wake_watch, el->wake_fd >= 0);
	close_if((uv_handle_t *)&el->timer, true);
	uv_run(&el->loop, UV_RUN_DEFAULT);
	uv_loop_close(&el->loop);
	tpool_free(el->pool);
	tpool_free(el->inline_pool);
	for (size_t i = el->head; i < el->done.n; i++)
		result_release(&el->done.v[i].res);
	free(el->done.v);
	free(el->by_lane);
	lanes_release(&el->lanes);
	lanes_release(&el->net_lanes);
	free(el);
	b->priv = NULL;
}

const struct backend_ops backend_eventloop = {
	.name = "eventloop",
	.notes = "cpu tasks run inline on the event loop's thread and block it while they "
		 "compute, as a CPU-bound call in an asyncio coroutine does: nothing else "
		 "starts or is noticed meanwhile, so cpu work gets no parallelism here "
		 "(the auto backend runs it on a thread pool)",
	.local = true,
	.fds_per_job = 4,
	.fds_per_net_job = 4,
	.init = eventloop_init,
	.can_start = el_can_start,
	.takes_slot = el_takes_slot,
	.start = el_start,
	.wait = el_wait,
	.running = el_running,
	.abort = el_abort,
	.release = el_release,
};

const struct backend_ops backend_auto = {
	.name = "auto",
	.local = true,
	.fds_per_job = 4,
	.fds_per_net_job = 4,
	.init = auto_init,
	.can_start = el_can_start,
	.takes_slot = el_takes_slot,
	.start = el_start,
	.wait = el_wait,
	.running = el_running,
	.abort = el_abort,
	.release = el_release,
};
