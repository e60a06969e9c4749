/* sched.c - the scheduler loop; see sched.h. */
#define _GNU_SOURCE
#include "engine/sched.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "engine/heap.h"
#include "engine/jobserver.h"
#include "engine/kind.h"
#include "engine/report/progress.h"
#include "engine/sig.h"
#include "engine/uptodate.h"

/* Ready jobs, in the run's order (engine/heap.h), with a count of each kind
 * they hold so start_from() can tell when the backend has refused all. */
struct heap {
	struct job_heap q;
	uint32_t kinds[KIND_SLOTS]; /* how many of each kind it holds */
};

static void heap_push(struct heap *h, struct job *j)
{
	job_heap_push(&h->q, j);
	h->kinds[kind_slot(j->sec->kind)]++;
}

static struct job *heap_pop(struct heap *h)
{
	struct job *top = job_heap_pop(&h->q);
	if (top)
		h->kinds[kind_slot(top->sec->kind)]--;
	return top;
}

/* What the scheduler keeps for an attempt in flight. */
struct inflight {
	struct file_sig *ins; /* the inputs as they were when it started */
	uint32_t n_ins;
	double wall_start;    /* epoch seconds of the first attempt */
	double attempt_at;    /* when the running attempt started, from the run's start */
	bool waited;          /* came out of a pool's wait heap: may pass its waiters */
	int woken_from;       /* 1 + the pool that woke it and holds room for it, or 0 */
};

struct sched {
	struct graph *g;
	struct state *st;
	const struct run_opts *o;
	struct backend be;
	struct progress *prog;
	struct run_summary *sum;
	struct heap ready;         /* ready jobs that take a -j slot */
	struct heap ready_free;    /* ready jobs the backend caps itself */
	bool pushed_free;          /* ready_free grew since start_ready looked */
	VEC(struct job *) blocked; /* ready, waiting for the backend */
	struct heap *pool_wait;    /* by pool index: ready, waiting for the pool */
	int *promised;             /* by pool index: weight of woken jobs not yet started */
	bool load_high;            /* -l: the load average is above it this round */
	bool load_held;            /* a start was held for it: look again soon */
	VEC(struct job *) delayed; /* waiting out a retry delay */
	struct inflight *fl;       /* by job index */
	int running;
	int running_slots; /* attempts that count against -j */
	bool token_wait;   /* a job waits for a jobserver token */
	bool stopping;   /* no new starts: a failure without -k, or a signal */
	/* After a failure without -k, once nothing runs: the jobs with when
	 * = all_done or any_failed still run, the others are not-run. */
	bool finale;
	bool aborted;
	bool failed;
};

/* How often a start held by -l looks at the load again while nothing ends
 * (the kernel updates it every 5 seconds). */
#define LOAD_RECHECK_S 1.0

static double rel(const struct sched *s, double mono)
{
	return mono - s->sum->t0;
}

static char *describe(const struct job *job)
{
	if (!job->sec->kind->describe)
		return NULL;
	struct strbuf sb = {0};
	job->sec->kind->describe(job, &sb);
	return sb_detach(&sb);
}

static bool takes_slot(struct sched *s, const struct job *job)
{
	return !s->be.ops->takes_slot || s->be.ops->takes_slot(&s->be, job);
}

static void make_ready(struct sched *s, struct job *job)
{
	if (takes_slot(s, job)) {
		heap_push(&s->ready, job);
	} else {
		heap_push(&s->ready_free, job);
		s->pushed_free = true;
	}
}

/* No new start at all: a signal, or a failure without -k before the
 * finale. */
static bool halted(const struct sched *s)
{
	return s->stopping && (!s->finale || s->aborted);
}

/* A job that runs whatever its dependencies' outcome (when = all_done or
 * any_failed). */
static bool triggered(const struct job *job)
{
	return job->sec->when != WHEN_SUCCESS;
}

/* One dependency of a job has ended, however: once all have, it is
 * ready. */
static void dep_ended(struct sched *s, struct job *job, double now)
{
	if (--job->run.pending == 0) {
		job->run.queued = rel(s, now);
		make_ready(s, job);
	}
}

/* Marks everything downstream of a job that will not finish well, as far
 * as a job with when = all_done or any_failed, which is told that one
 * more of its dependencies has ended. */
static void skip_dependents(struct sched *s, struct job *job)
{
	VEC(struct job *) stack = {0};
	VEC_PUSH(&stack, job);
	while (stack.n) {
		struct job *j = stack.v[--stack.n];
		for (uint32_t i = 0; i < j->n_rdeps; i++) {
			struct job *r = j->rdeps[i];
			if (!r->run.wanted || r->run.status != JS_PENDING || r->run.started)
				continue;
			if (triggered(r)) {
				dep_ended(s, r, mono_now());
				continue;
			}
			r->run.status = JS_NOT_RUN;
			if (!r->run.error)
				r->run.error = xasprintf("dependency '%s' did not succeed", job->name);
			s->sum->counts[JS_NOT_RUN]++;
			progress_finished(s->prog, r);
			VEC_PUSH(&stack, r);
		}
	}
	free(stack.v);
}

/* A job is settled (ok or up to date): its dependents may become ready. */
static void release_dependents(struct sched *s, struct job *job, double now)
{
	for (uint32_t i = 0; i < job->n_rdeps; i++) {
		struct job *r = job->rdeps[i];
		if (!r->run.wanted || r->run.status != JS_PENDING)
			continue;
		dep_ended(s, r, now);
	}
}

static void finish(struct sched *s, struct job *job, enum job_status status)
{
	job->run.status = status;
	s->sum->counts[status]++;
	progress_finished(s->prog, job);
	if (status == JS_OK || status == JS_SKIPPED || status == JS_NOT_TRIGGERED) {
		release_dependents(s, job, mono_now());
	} else {
		if (status == JS_FAILED) {
			s->failed = true;
			char *cmd = describe(job);
			progress_failed(s->prog, job, cmd);
			free(cmd);
			if (!s->o->keep_going)
				s->stopping = true;
		}
		skip_dependents(s, job);
	}
}

/* A job an earlier round settled: its record, moved here, and its
 * outcome for what comes after it; progress saw it then. */
static void settle_prior(struct sched *s, struct job *job, struct job_run *before)
{
	struct job_run *r = &job->run;
	bool wanted = r->wanted;
	free(r->reason);
	free(r->failed_upstream);
	*r = *before;
	before->facts = before->counts = NULL;
	before->reason = before->error = before->value = before->failed_upstream = NULL;
	r->wanted = wanted;
	r->pending = 0;
	s->sum->counts[r->status]++;
	if (r->status == JS_OK || r->status == JS_SKIPPED) {
		release_dependents(s, job, mono_now());
		return;
	}
	if (r->status == JS_FAILED)
		s->failed = true;
	skip_dependents(s, job);
}

static void fail_now(struct sched *s, struct job *job, char *error)
{
	free(job->run.error);
	job->run.error = error;
	state_record_fail(s->st, job);
	finish(s, job, JS_FAILED);
}

/* A job the run does not start since it stops after a failure (no -k). */
static void not_run_stopped(struct sched *s, struct job *job)
{
	job->run.status = JS_NOT_RUN;
	free(job->run.error);
	job->run.error = xstrdup("not started: the run stops after a failure (-k keeps going)");
	s->sum->counts[JS_NOT_RUN]++;
	progress_finished(s->prog, job);
	skip_dependents(s, job);
}

/* A failure without -k stopped the run and nothing runs any more: if a
 * job with when = all_done or any_failed is still to come, every other
 * job not started ends not-run, which ends its dependencies for those
 * jobs, and the run goes on with them alone. Returns true when it does. */
static bool enter_finale(struct sched *s)
{
	if (!s->stopping || s->aborted || s->finale || cancel_requested())
		return false;
	const struct graph *g = s->g;
	bool any = false;
	for (size_t i = 0; i < g->jobs.n && !any; i++) {
		const struct job *j = g->jobs.v[i];
		any = j->run.wanted && j->run.status == JS_PENDING && triggered(j);
	}
	if (!any)
		return false;
	s->finale = true;
	for (size_t i = 0; i < g->jobs.n; i++) {
		struct job *j = g->jobs.v[i];
		if (j->run.wanted && j->run.status == JS_PENDING && !j->run.started &&
		    !triggered(j))
			not_run_stopped(s, j);
	}
	return true;
}

/* The wanted jobs upstream of job (its dependencies, theirs, and so on)
 * that failed in this run, one name a line, in file order; NULL when
 * none did. */
static char *failed_upstream(const struct sched *s, const struct job *job)
{
	const struct graph *g = s->g;
	bool *seen = xcalloc(g->jobs.n + 1, sizeof(*seen));
	VEC(const struct job *) stack = {0};
	VEC_PUSH(&stack, job);
	while (stack.n) {
		const struct job *j = stack.v[--stack.n];
		for (uint32_t i = 0; i < j->n_deps; i++) {
			const struct job *d = j->deps[i];
			if (d->run.wanted && !seen[d->index]) {
				seen[d->index] = true;
				VEC_PUSH(&stack, d);
			}
		}
	}
	free(stack.v);
	struct strbuf sb = {0};
	for (size_t i = 0; i < g->jobs.n; i++)
		if (seen[i] && g->jobs.v[i]->run.status == JS_FAILED)
			sb_addf(&sb, "%s%s", sb.len ? "\n" : "", g->jobs.v[i]->name);
	free(seen);
	return sb.len ? sb_detach(&sb) : NULL;
}

/* Why a job with when = all_done or any_failed runs, or NULL when that
 * is for the usual rules to say; sets run.failed_upstream. *not_triggered:
 * it is any_failed and nothing upstream failed (the reason says so). */
static char *trigger_reason(const struct sched *s, struct job *job, bool *not_triggered)
{
	struct job_run *r = &job->run;
	*not_triggered = false;
	free(r->failed_upstream);
	r->failed_upstream = failed_upstream(s, job);
	const char *when = job->sec->when == WHEN_ALL_DONE ? "all_done" : "any_failed";
	if (r->failed_upstream) {
		size_t n = 1;
		for (const char *c = r->failed_upstream; *c; c++)
			n += *c == '\n';
		int first = (int)strcspn(r->failed_upstream, "\n");
		return n == 1 ? xasprintf("'%.*s' failed upstream (when = %s)", first,
		                          r->failed_upstream, when)
		              : xasprintf("'%.*s' and %zu more failed upstream (when = %s)", first,
		                          r->failed_upstream, n - 1, when);
	}
	if (job->sec->when == WHEN_ANY_FAILED) {
		*not_triggered = true;
		return xstrdup("nothing failed upstream (when = any_failed)");
	}
	return NULL;
}

/* Keeps an attempt's facts (replacing an earlier attempt's) and adds its
 * counts on the job. */
static void take_facts(struct job_run *r, const struct result *res)
{
	facts_update(&r->facts, res->facts);
	counts_add_all(&r->counts, res->counts);
}

static void free_inflight(struct inflight *f)
{
	free(f->ins);
	f->ins = NULL;
	f->n_ins = 0;
}

/* Takes the inputs' signatures now, before the job can change anything.
 * Fails the job (returns -1) when an input is missing. */
static int snapshot_inputs(struct sched *s, struct job *job)
{
	struct inflight *f = &s->fl[job->index];
	free_inflight(f);
	f->ins = xcalloc(job->n_inputs + 1, sizeof(*f->ins));
	const struct state_rec *rec = state_find(s->st, job->name);
	for (uint32_t i = 0; i < job->n_inputs; i++) {
		const struct file_sig *known = NULL;
		for (uint32_t k = 0; rec && k < rec->n_in; k++)
			if (strcmp(rec->files[k].path, job->inputs[i]) == 0)
				known = &rec->files[k];
		const struct file_sig *now = job_input_is_tree(job, job->inputs[i])
						     ? state_tree_sig(s->st, job->inputs[i])
						     : state_sig(s->st, job->inputs[i], known);
		if (!now) {
			struct job *maker = strmap_get(&s->g->producer, job->inputs[i]);
			if (!maker)
				maker = graph_tree_producer(s->g, job->inputs[i]);
			/* when = all_done or any_failed: what a job that did not
			 * succeed did not make is simply absent. */
			if (triggered(job) && maker && maker->run.wanted &&
			    (maker->run.status == JS_FAILED || maker->run.status == JS_NOT_RUN))
				continue;
			unsigned char h[16];
			struct stat sb;
			/* There but unreadable (a permission, a folder, an I/O
			 * error): say so, not that it is missing. */
			if (stat(job->inputs[i], &sb) == 0 && hash_file(job->inputs[i], h) < 0) {
				fail_now(s, job,
					 S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode)
						 ? xasprintf("cannot read input '%s': %s",
							     job->inputs[i], strerror(errno))
						 : xasprintf("input '%s' is not a regular file (a FIFO, "
							     "socket or device); juggle hashes inputs, so "
							     "it reads only regular files",
							     job->inputs[i]));
				free_inflight(f);
				return -1;
			}
			fail_now(s, job,
				 maker ? xasprintf("input '%s' was not made by job '%s'",
						   job->inputs[i], maker->name)
				       : xasprintf("input '%s' does not exist and no job makes it",
						   job->inputs[i]));
			free_inflight(f);
			return -1;
		}
		f->ins[f->n_ins++] = *now;
	}
	return 0;
}

/* The first of a job's pools that cannot take it now, or NULL when all
 * can: one without room for its weight, or one that others wait for. A
 * job never passes a pool's waiters unless it waited itself, so a heavy
 * job waiting for room is not overtaken forever by light ones that keep
 * fitting in what is left. */
static struct pool *pool_refusing(struct sched *s, const struct job *job)
{
	const struct section *sec = job->sec;
	for (int i = 0; i < sec->n_pools; i++) {
		struct pool *p = sec->pools[i].pool;
		if (p->running + sec->pools[i].weight > p->depth ||
		    (s->pool_wait[p->index].q.n && !s->fl[job->index].waited))
			return p;
	}
	return NULL;
}

static int weight_in(const struct job *job, const struct pool *p)
{
	for (int i = 0; i < job->sec->n_pools; i++)
		if (job->sec->pools[i].pool == p)
			return job->sec->pools[i].weight;
	return 0;
}

/* A woken job started, failed or waits again: the room its pool held for
 * it may go to the next waiter. */
static void unpromise(struct sched *s, struct job *job)
{
	struct inflight *f = &s->fl[job->index];
	if (f->woken_from) {
		const struct pool *p = s->g->pools.v[f->woken_from - 1];
		s->promised[p->index] -= weight_in(job, p);
		f->woken_from = 0;
	}
}

/* Hands back to the ready heaps, in their order, the waiters of each pool
 * that fit in its room, stopping at the first that does not. The room
 * stays promised to them until they start or wait again, so waiters held
 * back by -j or the backend are not woken over and over. Returns true
 * when it moved any. */
static bool wake_pools(struct sched *s)
{
	bool moved = false;
	for (size_t i = 0; i < s->g->pools.n; i++) {
		const struct pool *p = s->g->pools.v[i];
		struct job_heap *q = &s->pool_wait[i].q;
		while (q->n && weight_in(q->v[0].job, p) <= p->depth - p->running - s->promised[i]) {
			struct job *j = heap_pop(&s->pool_wait[i]);
			s->promised[i] += weight_in(j, p);
			s->fl[j->index].waited = true;
			s->fl[j->index].woken_from = (int)i + 1;
			make_ready(s, j);
			moved = true;
		}
	}
	return moved;
}

/* The one-minute load average, from getloadavg(), or from the first
 * number in o->load_file when it is set (for tests); -1 when it cannot be
 * read, which holds nothing. */
static double load_now(const struct run_opts *o)
{
	double v = -1;
	if (!o->load_file) {
		if (getloadavg(&v, 1) < 1)
			v = -1;
		return v;
	}
	FILE *f = fopen(o->load_file, "r");
	if (f) {
		if (fscanf(f, "%lf", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static void start_attempt(struct sched *s, struct job *job)
{
	struct job_run *r = &job->run;
	const struct state_rec *rec = state_find(s->st, job->name);
	struct strbuf err = {0};
	int number = r->attempts + 1;
	double now = rel(s, mono_now());
	if (!r->started) {
		r->started = true;
		r->started_at = now;
		s->fl[job->index].wall_start = (double)time(NULL);
	}
	s->fl[job->index].attempt_at = now;
	s->fl[job->index].waited = false;
	unpromise(s, job);
	char *cmd = describe(job);
	progress_started(s->prog, job, cmd);
	free(cmd);
	/* -B means "as if nothing had been done": no conditional download. */
	const char *memo = rec && !s->o->always_make ? rec->extra : NULL;
	if (s->be.ops->start(&s->be, job, number, memo, &err) < 0) {
		fail_now(s, job, sb_detach(&err));
		free_inflight(&s->fl[job->index]);
		return;
	}
	r->attempts = number;
	s->running++;
	s->running_slots += takes_slot(s, job);
	for (int i = 0; i < job->sec->n_pools; i++)
		job->sec->pools[i].pool->running += job->sec->pools[i].weight;
	sb_release(&err);
}

/* Starts what can start from one ready heap; slots: its jobs count
 * against -j. */
static void start_from(struct sched *s, struct heap *h, bool slots)
{
	/* Kinds the backend refused in this pass. Starting more only fills
	 * the backend, so once it has refused every kind still in the heap,
	 * nothing else can start and the rest wait for the next round.
	 * Without this, a serial run of 100,000 ready jobs popped and pushed
	 * back every one of them after each job: quadratic, hours instead of
	 * seconds. */
	bool refused[KIND_SLOTS] = {false};
	struct job *job;
	/* A signal stops the starts at once, not at the next round: on the
	 * eventloop backend a cpu task runs inside start(), and the jobs
	 * behind it in this pass must not be handed over after it was
	 * interrupted. */
	while (!halted(s) && !cancel_requested() && (job = heap_pop(h))) {
		struct job_run *r = &job->run;
		if (r->status != JS_PENDING) {
			unpromise(s, job);
			continue;
		}
		if (job->sec->deferred) {
			/* Its items are read in the next round; it and what
			 * waits for it stay pending until then. */
			unpromise(s, job);
			continue;
		}
		struct job_run *before =
		    s->o->prior && !r->started ? strmap_get(s->o->prior, job->name) : NULL;
		if (before) {
			unpromise(s, job);
			settle_prior(s, job, before);
			continue;
		}
		if (s->finale && !triggered(job) && !r->started) {
			unpromise(s, job);
			not_run_stopped(s, job);
			continue;
		}
		if (!r->reason && !r->started && triggered(job)) {
			bool not_triggered;
			r->reason = trigger_reason(s, job, &not_triggered);
			if (not_triggered) {
				unpromise(s, job);
				finish(s, job, JS_NOT_TRIGGERED);
				continue;
			}
		}
		if (!r->reason && !r->started) {
			r->reason = job_out_of_date(job, s->st, s->o->always_make);
			if (!r->reason) {
				state_refresh(s->st, job);
				finish(s, job, JS_SKIPPED);
				continue;
			}
		}
		if (slots && s->running_slots >= s->o->jobs && s->o->jobs > 0) {
			VEC_PUSH(&s->blocked, job);
			/* -j is full; only up-to-date checks could still proceed,
			 * and they wait for the next round. */
			break;
		}
		if (s->load_high && s->running > 0) {
			/* -l, as make and ninja: never holds the first job. */
			VEC_PUSH(&s->blocked, job);
			s->load_held = true;
			break;
		}
		struct pool *full = pool_refusing(s, job);
		if (full) {
			/* Out of the way until the pool has room: a pool of
			 * depth 1 in front of 100,000 jobs must not have them
			 * all looked at after each one. */
			unpromise(s, job);
			heap_push(&s->pool_wait[full->index], job);
			continue;
		}
		int slot = kind_slot(job->sec->kind);
		if (refused[slot] || !s->be.ops->can_start(&s->be, job)) {
			VEC_PUSH(&s->blocked, job);
			refused[slot] = true;
			bool more = false;
			for (int k = 0; k < KIND_SLOTS && !more; k++)
				more = h->kinds[k] && !refused[k];
			if (!more)
				break;
			continue;
		}
		/* Every job beyond the first needs a jobserver token. */
		if (slots && s->o->jobserver && s->running_slots > jobserver_held() &&
		    !jobserver_take()) {
			VEC_PUSH(&s->blocked, job);
			s->token_wait = true;
			break;
		}
		if (r->attempts == 0 && snapshot_inputs(s, job) < 0) {
			unpromise(s, job);
			continue;
		}
		start_attempt(s, job);
	}
}

/* One jobserver token for each attempt in flight beyond the first: the
 * rest go back (an attempt that ended, or one that failed to start). */
static void keep_tokens(struct sched *s)
{
	if (s->o->jobserver)
		jobserver_keep(s->running_slots - 1);
}

/* Phase one: start what can start. */
static void start_ready(struct sched *s)
{
	/* Jobs blocked last time go first, then the newly ready. */
	for (size_t i = 0; i < s->blocked.n; i++)
		make_ready(s, s->blocked.v[i]);
	s->blocked.n = 0;
	s->load_held = false;
	s->load_high = s->o->max_load > 0 && load_now(s->o) > s->o->max_load;
	/* A job settled from one heap can make jobs of the other ready, and
	 * a job sent to wait for a pool that has room is woken at once. */
	bool woke;
	s->token_wait = false;
	do {
		s->pushed_free = false;
		woke = wake_pools(s);
		start_from(s, &s->ready_free, false);
		start_from(s, &s->ready, true);
	} while ((s->pushed_free || woke) && !halted(s));
	keep_tokens(s);
}

static double retry_delay(const struct job *job, const struct result *res)
{
	double d = job->sec->retry_delay * pow(2, job->run.attempts - 1);
	if (res->retry_after > d)
		d = res->retry_after;
	return d > 3600 ? 3600 : d;
}

/* Phase two's other half: what to do with a finished attempt. */
static void handle_result(struct sched *s, struct job *job, struct result *res)
{
	struct job_run *r = &job->run;
	struct inflight *f = &s->fl[job->index];
	s->running--;
	s->running_slots -= takes_slot(s, job);
	for (int i = 0; i < job->sec->n_pools; i++)
		job->sec->pools[i].pool->running -= job->sec->pools[i].weight;
	r->worker = res->worker;
	r->exit_code = res->exit_code;
	r->signal = res->signal;
	r->bytes += res->bytes;
	r->cpu_s += res->cpu_s;
	r->logged = r->logged || res->logged;
	take_facts(r, res);
	r->finished = rel(s, res->finished);
	/* The lane was held from this attempt's start to its end, not
	 * while the job waited out a retry delay between attempts. */
	if (r->finished > f->attempt_at)
		r->busy_s += r->finished - f->attempt_at;
	free(r->value);
	r->value = res->value ? xstrdup(res->value) : NULL;

	if (res->status == RES_OK) {
		const struct state_rec *rec = state_find(s->st, job->name);
		bool changed = !res->unchanged && (job->n_outputs == 0 ||
						   !state_outputs_same(rec, res->outs, res->n_outs));
		r->changed = changed;
		free(r->error);
		r->error = NULL;
		for (uint32_t i = 0; i < res->n_outs; i++)
			state_sig_put(s->st, &res->outs[i]);
		state_record_ok(s->st, job, f->ins, f->n_ins, res->outs, res->n_outs, f->wall_start,
				res->finished - res->started, res->extra, changed);
		free_inflight(f);
		finish(s, job, JS_OK);
		return;
	}
	if (res->not_started && r->attempts == 1) {
		/* Handed to the backend, but the interrupt came first: it never
		 * ran, as the jobs never handed over; the end of the run counts
		 * it not-run, with no log and its state untouched. */
		r->started = false;
		r->attempts = 0;
		r->started_at = r->finished = 0;
		r->worker = -1;
		free_inflight(f);
		return;
	}
	free(r->error);
	r->error = xstrdup(res->error ? res->error : "failed");
	if (res->status == RES_INTERRUPTED || cancel_requested()) {
		free_inflight(f);
		state_record_fail(s->st, job);
		finish(s, job, JS_INTERRUPTED);
		return;
	}
	if (res->retryable && r->attempts <= job->sec->retries && !halted(s)) {
		double d = retry_delay(job, res);
		r->not_before = mono_now() + d;
		char *name = term_clean(job->name, strlen(job->name));
		char *why = term_clean(r->error, strlen(r->error));
		progress_retrying(s->prog, job, "%s: attempt %d failed (%s); retrying in %.1fs\n",
				  name, r->attempts, why, d);
		free(name), free(why);
		VEC_PUSH(&s->delayed, job);
		return;
	}
	free_inflight(f);
	state_record_fail(s->st, job);
	finish(s, job, JS_FAILED);
}

/* Retries whose time has come go back to the ready queue. Returns the
 * seconds until the next one, or -1 when none waits. */
static double wake_delayed(struct sched *s)
{
	double now = mono_now(), next = -1;
	size_t w = 0;
	for (size_t i = 0; i < s->delayed.n; i++) {
		struct job *j = s->delayed.v[i];
		if (halted(s)) {
			/* A pending retry is work that was under way. */
			finish(s, j, cancel_requested() ? JS_INTERRUPTED : JS_FAILED);
			continue;
		}
		if (j->run.not_before <= now) {
			make_ready(s, j);
			continue;
		}
		double left = j->run.not_before - now;
		if (next < 0 || left < next)
			next = left;
		s->delayed.v[w++] = j;
	}
	s->delayed.n = w;
	return next;
}

/* Tells the progress display how long each wanted job took last time.
 * A job that never succeeded borrows the mean of its foreach siblings. */
static void set_estimate(struct sched *s)
{
	const struct graph *g = s->g;
	for (size_t k = 0; k < g->sections.n; k++) {
		const struct section *sec = g->sections.v[k];
		double sum = 0;
		size_t known = 0;
		for (size_t i = sec->first_job; i < sec->first_job + sec->n_jobs; i++) {
			const struct state_rec *rec = state_find(s->st, g->jobs.v[i]->name);
			if (rec && g->jobs.v[i]->run.wanted) {
				sum += rec->duration;
				known++;
			}
		}
		for (size_t i = sec->first_job; i < sec->first_job + sec->n_jobs; i++) {
			const struct job *j = g->jobs.v[i];
			if (!j->run.wanted)
				continue;
			const struct state_rec *rec = state_find(s->st, j->name);
			progress_expect(s->prog, j,
					rec ? rec->duration : known ? sum / (double)known : -1);
		}
	}
}

int sched_run(struct graph *g, struct state *st, const struct run_opts *o,
	      struct run_summary *sum, struct strbuf *err)
{
	struct sched s = {.g = g, .st = st, .o = o, .sum = sum};
	memset(sum, 0, sizeof(*sum));
	sum->t0 = mono_now();
	process_cpu_s(&sum->cpu_user0, &sum->cpu_sys0);
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	sum->wall_start = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	if (o->first) {
		sum->t0 = o->first->t0;
		sum->wall_start = o->first->wall_start;
		sum->cpu_user0 = o->first->cpu_user0;
		sum->cpu_sys0 = o->first->cpu_sys0;
	}
	size_t wanted = 0;
	for (size_t i = 0; i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		wanted += j->run.wanted && !(o->prior && strmap_get(o->prior, j->name));
	}
	s.be.ops = o->backend;
	s.be.cfg.jobs = o->jobs > 0 ? o->jobs : 1;
	s.be.cfg.net_jobs = o->net_jobs > 0 ? o->net_jobs : 1;
	s.be.graph = g;
	s.be.wake_fd = -1;
	kinds_global_init(g); /* before the backend starts any worker */
	if (s.be.ops->init(&s.be, err) < 0)
		return -1;
	s.fl = xcalloc(g->jobs.n + 1, sizeof(*s.fl));
	s.pool_wait = xcalloc(g->pools.n + 1, sizeof(*s.pool_wait));
	s.promised = xcalloc(g->pools.n + 1, sizeof(*s.promised));
	s.prog = progress_new(stdout, o->progress, o->verbose, o->quiet, wanted, sum->t0);
	set_estimate(&s);
	/* Every ready heap takes the run's order: -j's, the backend's own,
	 * and each pool's. */
	double *prio = o->order == ORDER_CRITICAL ? priority_compute(g, st) : NULL;
	s.ready.q.prio = s.ready_free.q.prio = prio;
	for (size_t i = 0; i < g->pools.n; i++)
		s.pool_wait[i].q.prio = prio;

	for (size_t i = 0; i < g->jobs.n; i++) {
		struct job *j = g->jobs.v[i];
		j->run.worker = -1;
		j->run.exit_code = -1;
		if (!j->run.wanted)
			continue;
		for (uint32_t k = 0; k < j->n_deps; k++)
			j->run.pending += j->deps[k]->run.wanted;
		if (!j->run.pending)
			make_ready(&s, j);
	}

	for (;;) {
		if (cancel_requested() && !s.aborted) {
			s.stopping = s.aborted = true;
			sum->interrupted = true;
			sum->signal = sig_received();
			s.be.ops->abort(&s.be);
		}
		double next = wake_delayed(&s);
		start_ready(&s);
		if (s.running == 0 && s.delayed.n == 0 &&
		    (halted(&s) || (!s.ready.q.n && !s.ready_free.q.n)) &&
		    (halted(&s) || !s.blocked.n)) {
			if (enter_finale(&s))
				continue;
			break;
		}
		struct job *job = NULL;
		struct result res;
		result_init(&res);
		if (s.load_held && (next < 0 || next > LOAD_RECHECK_S))
			next = LOAD_RECHECK_S;
		s.be.wake_fd = s.token_wait && !halted(&s) ? jobserver_fd() : -1;
		int got = s.be.ops->wait(&s.be, &job, &res, next);
		if (got == 1) {
			handle_result(&s, job, &res);
			keep_tokens(&s);
		}
		result_release(&res);
		if (s.running == 0 && s.delayed.n == 0 && !s.ready.q.n && !s.ready_free.q.n &&
		    s.blocked.n && !halted(&s) &&
		    got == 0) {
			/* Blocked with nothing running cannot happen with sane
			 * pools; guard against a backend that never frees a slot. */
			for (size_t i = 0; i < s.blocked.n; i++) {
				unpromise(&s, s.blocked.v[i]);
				fail_now(&s, s.blocked.v[i],
					 xstrdup("the backend could not start it"));
			}
			s.blocked.n = 0;
		}
	}
	/* Whatever was wanted and never settled. */
	for (size_t i = 0; i < g->jobs.n; i++) {
		struct job *j = g->jobs.v[i];
		if (!j->run.wanted || j->run.status != JS_PENDING)
			continue;
		j->run.status = j->run.started ? JS_INTERRUPTED : JS_NOT_RUN;
		sum->counts[j->run.status]++;
	}
	progress_done(s.prog);
	progress_free(s.prog);
	s.be.ops->release(&s.be);
	attempt_spare_release();
	sum->allocs = s.be.allocs;
	if (o->jobserver)
		jobserver_keep(0);
	for (size_t i = 0; i < g->jobs.n; i++)
		free_inflight(&s.fl[i]);
	free(s.fl);
	job_heap_release(&s.ready.q);
	job_heap_release(&s.ready_free.q);
	free(s.blocked.v);
	for (size_t i = 0; i < g->pools.n; i++)
		job_heap_release(&s.pool_wait[i].q);
	free(s.pool_wait);
	free(prio);
	free(s.promised);
	free(s.delayed.v);
	sum->wall_s = mono_now() - sum->t0;
	if (sum->interrupted)
		return 130;
	return s.failed ? 1 : 0;
}
