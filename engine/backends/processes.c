/* processes.c - the processes backend: a pool of forked worker
 * processes (multiprocessing.Pool with an initializer), each forked once,
 * the first time its lane is needed, and kept for the run.
 *
 * The scheduler writes one request per attempt to a worker's job pipe -
 * "INDEX ATTEMPT LEN FLEN\n", then LEN bytes of prev_extra (LEN -1: none),
 * raw, since a kind's state need not be text, then FLEN bytes of the
 * job's run.failed_upstream (-1: none) - and the worker runs
 * job_attempt() on its copy of the graph and writes back result_to_json()
 * on its result pipe. Workers never write the state log or the graph's run
 * records: those stay in this process. Each worker keeps its struct worker,
 * so a download's curl handle is reused across the jobs it carries.
 *
 * A worker that dies (a crash, kill -9) shows as end-of-file on its result
 * pipe: its job fails naming the signal, its declared outputs are removed
 * as a failed attempt's are, and the lane gets a fresh worker when next
 * needed.
 *
 * Persistent workers (engine/pworker.h) live in the worker processes, each
 * with its own table, so the pools that cap a key's requests in flight
 * would not cap its workers: four worker processes that each served a job
 * of a pool of depth 2 would keep four. So jobs are routed here: a job
 * whose kind names its worker key (job_kind.worker_key) goes to a free
 * worker process that may hold a worker of that key; failing that, to
 * another only while fewer worker processes than the job's cap (-j, and
 * each of its pools' depth over its weight) may hold one; otherwise it
 * waits. A worker process serves one job at a time, so it holds at most
 * one worker of a key, and a key's live workers never pass its cap. What
 * a worker process may hold is counted from what it was sent, and
 * forgotten when it dies; a worker its own reaper stopped still counts
 * (its process then starts a new one for the key's next job). Jobs without
 * a worker go to the free worker process that may hold the fewest
 * workers, to keep those that hold them free for their keys.
 *
 * Workers sit in their own process group, so ^C at the terminal
 * reaches juggle alone; abort() forwards SIGTERM, and each worker then
 * stops its command (TERM, then KILL after the grace period or a second
 * signal, forwarded the same way) and reports the attempt interrupted.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/backends/backend.h"
#include "engine/kind.h"
#include "engine/owndir.h"
#include "engine/pworker.h"
#include "engine/remote.h"
#include "engine/safepath.h"
#include "engine/sig.h"
#include "engine/spawn.h"

struct proc {
	pid_t pid;        /* 0: not forked (yet, or again) */
	int job_fd;       /* write end of the worker's job pipe */
	int res_fd;       /* read end of its result pipe */
	struct job *job;  /* the attempt it carries, NULL: idle */
	double sent;      /* monotonic time the attempt was sent */
	struct out_stamp *before; /* its outputs before it was sent */
	double give_up;   /* when to kill the worker if it has not answered, 0: never */
	int killed;       /* 1: killed at its job's timeout, 2: after a second signal */
	struct strbuf in; /* result bytes read so far */
	VEC(int) keys;    /* the worker keys (procs.keys) it may hold a worker of */
};

struct done {
	struct job *job;
	struct result res;
};

struct procs {
	struct graph *g;
	struct proc *w;
	int n;
	struct lanes lanes;
	VEC(struct done) done;
	bool kill_forwarded;
	bool cancel_seen;  /* wait() saw the first signal's fd */
	VEC(char *) keys; /* the worker keys seen, interned */
	int *key_of;      /* by job index: in keys, -1: no worker, -2: not looked up */
};

/* ---- the worker's side ---- */

static void worker_main(struct graph *g, int id, int job_fd, int res_fd)
{
	struct worker w = {.id = id};
	FILE *in = fdopen(job_fd, "r");
	char *line = NULL;
	size_t cap = 0;
	while (in && getline(&line, &cap, in) > 0) {
		long index = -1, elen = -1, flen = -1;
		int number = 0;
		char *extra = NULL, *failed = NULL;
		if (sscanf(line, "%ld %d %ld %ld", &index, &number, &elen, &flen) != 4)
			index = -1;
		if (index >= 0 && elen >= 0) {
			extra = xmalloc((size_t)elen + 1);
			if (fread(extra, 1, (size_t)elen, in) != (size_t)elen)
				index = -1;
			extra[elen] = '\0';
		}
		if (index >= 0 && flen >= 0) {
			failed = xmalloc((size_t)flen + 1);
			if (fread(failed, 1, (size_t)flen, in) != (size_t)flen)
				index = -1;
			failed[flen] = '\0';
		}
		if (index >= 0 && (size_t)index < g->jobs.n) {
			/* The scheduler's run record is not in this copy of the
			 * graph: what the attempt reads of it comes along. */
			struct job_run *r = &g->jobs.v[index]->run;
			free(r->failed_upstream);
			r->failed_upstream = failed;
			failed = NULL;
		}
		free(failed);
		int rc;
		if (index < 0 || (size_t)index >= g->jobs.n) {
			struct result res;
			result_init(&res);
			result_fail(&res, "worker %d: bad request", id);
			char *out = result_to_json(&res);
			size_t len = strlen(out);
			out[len] = '\n'; /* replaces the NUL; the length is known */
			rc = write_all(res_fd, out, len + 1);
			free(out);
			result_release(&res);
		} else {
			rc = remote_run_attempt(g->jobs.v[index], &w, number, extra, res_fd);
		}
		free(extra);
		if (rc < 0)
			break;
	}
	free(line);
	worker_release(&w);
	pworker_shutdown();
}

/* Forks the worker of lane i. 0, or -1 with err. */
static int fork_worker(struct procs *p, int i, struct strbuf *err)
{
	int jp[2], rp[2];
	if (pipe2(jp, O_CLOEXEC) < 0) {
		sb_addf(err, "cannot create a pipe: %s", strerror(errno));
		return -1;
	}
	if (pipe2(rp, O_CLOEXEC) < 0) {
		sb_addf(err, "cannot create a pipe: %s", strerror(errno));
		close(jp[0]);
		close(jp[1]);
		return -1;
	}
	fflush(stdout);
	fflush(stderr);
	/* No signal may run its handler in the child before it has pipes of
	 * its own: it would poke the parent's. */
	sigset_t all, old;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &old);
	pid_t parent = getpid();
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		sig_reinit();
		sigprocmask(SIG_SETMASK, &old, NULL);
		if (getppid() != parent)
			_exit(0);
		/* The other workers' pipe ends must not stay open here, or
		 * their end-of-file would never come. */
		for (int k = 0; k < p->n; k++) {
			if (p->w[k].pid > 0) {
				close(p->w[k].job_fd);
				close(p->w[k].res_fd);
			}
		}
		close(jp[1]);
		close(rp[0]);
		worker_main(p->g, i, jp[0], rp[1]);
		attempt_spare_release();
		_exit(0);
	}
	int e = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(jp[0]);
	close(rp[1]);
	if (pid < 0) {
		sb_addf(err, "cannot fork a worker process: %s", strerror(e));
		close(jp[1]);
		close(rp[0]);
		return -1;
	}
	/* Also in the parent, so a signal to the group cannot race the
	 * child's own setpgid. */
	setpgid(pid, pid);
	struct proc *w = &p->w[i];
	w->pid = pid;
	w->job_fd = jp[1];
	w->res_fd = rp[0];
	fcntl(w->res_fd, F_SETFL, O_NONBLOCK);
	sb_reset(&w->in);
	return 0;
}

/* ---- the scheduler's side ---- */

static int bury(struct proc *w);

/* The index in p->keys of job's worker key, or -1 when it uses none. */
static int key_of(struct procs *p, const struct job *job)
{
	int *k = &p->key_of[job->index];
	if (*k != -2)
		return *k;
	char *key = job->sec->kind->worker_key ? job->sec->kind->worker_key(job) : NULL;
	*k = -1;
	if (!key)
		return -1;
	for (size_t i = 0; i < p->keys.n && *k < 0; i++)
		if (strcmp(p->keys.v[i], key) == 0)
			*k = (int)i;
	if (*k < 0) {
		*k = (int)p->keys.n;
		VEC_PUSH(&p->keys, key);
	} else {
		free(key);
	}
	return *k;
}

static bool holds(const struct proc *w, int key)
{
	for (size_t i = 0; i < w->keys.n; i++)
		if (w->keys.v[i] == key)
			return true;
	return false;
}

/* How many workers of its key job may have alive: -j, and for each of its
 * pools as many as fit its depth at once. */
static int worker_cap(const struct procs *p, const struct job *job)
{
	int cap = p->n;
	for (int i = 0; i < job->sec->n_pools; i++) {
		const struct pool_use *u = &job->sec->pools[i];
		int fit = u->weight > 0 ? u->pool->depth / u->weight : u->pool->depth;
		if (fit < cap)
			cap = fit;
	}
	return cap > 0 ? cap : 1;
}

/* The free lane to send job to (see the top of this file), or -1. */
static int pick_lane(struct procs *p, const struct job *job)
{
	int key = key_of(p, job), holders = 0, best = -1;
	for (int i = 0; i < p->n; i++) {
		const struct proc *w = &p->w[i];
		bool has = key >= 0 && holds(w, key);
		holders += has;
		if (p->lanes.used[i])
			continue;
		if (has)
			return i;
		if (best < 0 || w->keys.n < p->w[best].keys.n)
			best = i;
	}
	if (key >= 0 && holders >= worker_cap(p, job))
		return -1;
	return best;
}

static int procs_init(struct backend *b, struct strbuf *err)
{
	struct procs *p = xcalloc(1, sizeof(*p));
	p->g = b->graph;
	p->n = b->cfg.jobs;
	p->w = xcalloc((size_t)p->n, sizeof(*p->w));
	for (int i = 0; i < p->n; i++)
		p->w[i].job_fd = p->w[i].res_fd = -1;
	lanes_init(&p->lanes, p->n);
	p->key_of = xmalloc((b->graph->jobs.n + 1) * sizeof(*p->key_of));
	for (size_t i = 0; i < b->graph->jobs.n; i++)
		p->key_of[i] = -2;
	b->priv = p;
	return 0;
}

static bool procs_can_start(struct backend *b, const struct job *job)
{
	struct procs *p = b->priv;
	return p->lanes.in_use < p->lanes.n && pick_lane(p, job) >= 0;
}

static int procs_start(struct backend *b, struct job *job, int number, const char *prev_extra,
		       struct strbuf *err)
{
	struct procs *p = b->priv;
	int lane = pick_lane(p, job);
	if (lane < 0) {
		sb_addf(err, "no free worker process");
		return -1;
	}
	lanes_take_at(&p->lanes, lane);
	struct proc *w = &p->w[lane];
	struct strbuf req = {0};
	const char *failed = job->run.failed_upstream;
	sb_addf(&req, "%u %d %ld %ld\n", job->index, number,
	        prev_extra ? (long)strlen(prev_extra) : -1L, failed ? (long)strlen(failed) : -1L);
	if (prev_extra)
		sb_adds(&req, prev_extra);
	if (failed)
		sb_adds(&req, failed);
	size_t len = req.len;
	char *line = sb_detach(&req);
	/* The worker is idle, reading: a long line cannot block us for good.
	 * An idle worker may have died unseen (we only watch busy ones): then
	 * the write fails with EPIPE, and a fresh worker takes the job. */
	free(w->before);
	w->before = out_stamps_take(job);
	int rc = -1;
	for (int tries = 0; tries < 2 && rc < 0; tries++) {
		if (w->pid > 0 && tries > 0)
			bury(w);
		if (w->pid == 0 && fork_worker(p, lane, err) < 0)
			break;
		rc = write_all(w->job_fd, line, len);
		if (rc < 0 && errno != EPIPE)
			break;
	}
	int e = errno;
	free(line);
	if (rc < 0) {
		if (!err->len)
			sb_addf(err, "cannot send the job to worker process %d: %s", (int)w->pid,
				strerror(e));
		lanes_put(&p->lanes, lane);
		return -1;
	}
	w->job = job;
	w->sent = mono_now();
	int key = key_of(p, job);
	if (key >= 0 && !holds(w, key))
		VEC_PUSH(&w->keys, key);
	/* The worker stops its own command at the timeout (TERM, then KILL);
	 * past that too, the attempt is stuck in the worker itself. */
	w->give_up = job->sec->timeout > 0
			     ? w->sent + job->sec->timeout + KILL_GRACE_S + ABANDON_GRACE_S
			     : 0;
	if (p->kill_forwarded && (!w->give_up || w->give_up > w->sent + ABANDON_GRACE_S))
		w->give_up = w->sent + ABANDON_GRACE_S;
	w->killed = 0;
	return 0;
}

/* Forgets a dead worker: reaps it and closes its pipes. Returns its wait
 * status. */
static int bury(struct proc *w)
{
	int status = 0;
	while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
	}
	close(w->job_fd);
	close(w->res_fd);
	w->job_fd = w->res_fd = -1;
	w->pid = 0;
	sb_reset(&w->in);
	/* Its workers read end-of-file on their stdin and end. */
	w->keys.n = 0;
	return status;
}

/* The worker carrying job died before answering: fail the attempt the way
 * attempt_end() would have (outputs removed, a line in the log). */
static void worker_died(struct proc *w, struct result *res)
{
	pid_t pid = w->pid;
	int status = bury(w);
	const struct job *job = w->job;
	result_init(res);
	struct strbuf why = {0};
	describe_status(status, &why);
	/* "worker process 1234 was killed by SIGKILL" */
	result_fail(res, "worker process %d %s%s", (int)pid, WIFSIGNALED(status) ? "was " : "",
		    sb_str(&why));
	sb_release(&why);
	if (WIFSIGNALED(status))
		res->signal = WTERMSIG(status);
	res->retryable = true;
	if (w->killed == 1) {
		result_fail(res, "timed out after %g s; it did not stop, so its worker process %d "
				 "was killed", job->sec->timeout, (int)pid);
		res->timed_out = true;
		res->retryable = false;
	} else if (w->killed == 2) {
		result_fail(res, "interrupted; it did not stop, so its worker process %d was killed",
			    (int)pid);
		res->retryable = false;
	}
	/* It may have died between creating an output's temporary file and
	 * renaming it into place; that file is ours and useless now. */
	out_sweep_job_temps(job);
	char *log = job_log_path(job);
	int fd = own_file_open(log, O_WRONLY | O_APPEND | O_CREAT, 0666);
	attempt_fail_end(job, w->before, res, fd);
	if (fd >= 0) {
		close(fd);
		res->logged = true;
	}
	free(log);
}

/* Ends the attempt of lane i with res, stamping the times on our clock:
 * the worker's monotonic clock is its own. */
static void finish_lane(struct procs *p, int i, struct result *res)
{
	struct proc *w = &p->w[i];
	double now = mono_now();
	double duration = res->finished; /* result_from_json() put it there */
	res->finished = now;
	res->started = now - duration < w->sent ? w->sent : now - duration;
	res->worker = i;
	struct done d = {.job = w->job};
	d.res = *res;
	VEC_PUSH(&p->done, d);
	w->job = NULL;
	free(w->before);
	w->before = NULL;
	lanes_put(&p->lanes, i);
}

/* Reads what worker i sent; queues complete results. */
static void drain(struct procs *p, int i)
{
	struct proc *w = &p->w[i];
	char buf[65536];
	bool eof = false;
	for (;;) {
		ssize_t n = read(w->res_fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			eof = true; /* or a broken pipe: the worker is gone */
			break;
		}
		sb_add(&w->in, buf, (size_t)n);
	}
	char *nl;
	while (w->job && w->in.len && (nl = memchr(w->in.buf, '\n', w->in.len))) {
		*nl = '\0';
		struct result res;
		if (result_from_json(w->in.buf, &res) < 0) {
			result_init(&res);
			result_fail(&res, "worker process %d sent an unreadable result", (int)w->pid);
		}
		size_t used = (size_t)(nl - w->in.buf) + 1;
		memmove(w->in.buf, nl + 1, w->in.len - used);
		w->in.len -= used;
		w->in.buf[w->in.len] = '\0';
		finish_lane(p, i, &res);
	}
	if (!eof)
		return;
	if (w->job) {
		struct result res;
		worker_died(w, &res);
		res.finished = mono_now() - w->sent; /* the duration, as from a worker */
		finish_lane(p, i, &res);
	} else {
		bury(w);
	}
}

static void forward(struct procs *p, int sig)
{
	for (int i = 0; i < p->n; i++)
		if (p->w[i].pid > 0 && p->w[i].job)
			kill(p->w[i].pid, sig);
}

static int procs_wait(struct backend *b, struct job **job, struct result *res, double timeout)
{
	struct procs *p = b->priv;
	double until = timeout < 0 ? -1 : mono_now() + timeout;
	for (;;) {
		if (p->done.n) {
			*job = p->done.v[0].job;
			*res = p->done.v[0].res;
			memmove(p->done.v, p->done.v + 1, (p->done.n - 1) * sizeof(*p->done.v));
			p->done.n--;
			return 1;
		}
		if (p->lanes.in_use == 0) {
			backend_idle_wait(timeout);
			return 0;
		}
		if (kill_requested() && !p->kill_forwarded) {
			/* The workers' second signal: they kill their commands now,
			 * and a worker that still does not answer is killed. */
			p->kill_forwarded = true;
			forward(p, SIGTERM);
			double soon = mono_now() + ABANDON_GRACE_S;
			for (int i = 0; i < p->n; i++)
				if (p->w[i].job && (!p->w[i].give_up || p->w[i].give_up > soon))
					p->w[i].give_up = soon;
		}
		double now = mono_now(), give_up = -1;
		for (int i = 0; i < p->n; i++) {
			struct proc *w = &p->w[i];
			if (!w->job || !w->give_up || w->killed)
				continue;
			if (now >= w->give_up) {
				/* Its end of file comes through the poll below. */
				w->killed = p->kill_forwarded ? 2 : 1;
				kill(w->pid, SIGKILL);
			} else if (give_up < 0 || w->give_up - now < give_up) {
				give_up = w->give_up - now;
			}
		}
		struct pollfd *fds = xcalloc((size_t)p->n + 3, sizeof(*fds));
		int *lane = xcalloc((size_t)p->n + 3, sizeof(*lane));
		nfds_t nf = 0;
		for (int i = 0; i < p->n; i++) {
			if (p->w[i].job) {
				fds[nf] = (struct pollfd){p->w[i].res_fd, POLLIN, 0};
				lane[nf++] = i;
			}
		}
		nfds_t nw = nf;
		/* Watched until seen, even when the signal came before this
		 * wait (during start(), after the scheduler last looked): only
		 * a return from here sends the scheduler to abort. */
		if (!p->cancel_seen)
			fds[nf++] = (struct pollfd){sig_cancel_fd(), POLLIN, 0};
		else if (!p->kill_forwarded)
			fds[nf++] = (struct pollfd){sig_kill_fd(), POLLIN, 0};
		nfds_t nwake = nf;
		if (b->wake_fd >= 0)
			fds[nf++] = (struct pollfd){b->wake_fd, POLLIN, 0};
		double left = until < 0 ? -1 : until - mono_now();
		bool by_give_up = give_up >= 0 && (left < 0 || give_up < left);
		int ms = left < 0 ? -1 : (int)(left * 1000) + 1;
		if (until >= 0 && left <= 0)
			ms = 0;
		if (by_give_up)
			ms = (int)(give_up * 1000) + 1;
		int r = poll(fds, nf, ms);
		bool sig = false, wake = false;
		for (nfds_t k = 0; r > 0 && k < nf; k++) {
			if (!fds[k].revents)
				continue;
			if (k < nw) {
				drain(p, lane[k]);
			} else if (k == nwake) {
				wake = true;
			} else {
				sig = true;
				p->cancel_seen |= fds[k].fd == sig_cancel_fd();
			}
		}
		free(fds);
		free(lane);
		if (p->done.n)
			continue;
		/* A signal (by fd or by EINTR) goes back to the scheduler, which
		 * then aborts; so does the end of the timeout. */
		if (r == 0 && by_give_up)
			continue;
		if (r <= 0 || (sig && !kill_requested()) || wake)
			return 0;
	}
}

static int procs_running(struct backend *b)
{
	return ((struct procs *)b->priv)->lanes.in_use;
}

static void procs_abort(struct backend *b)
{
	forward(b->priv, SIGTERM);
}

static void procs_release(struct backend *b)
{
	struct procs *p = b->priv;
	/* Idle workers read end-of-file and exit. */
	for (int i = 0; i < p->n; i++)
		if (p->w[i].pid > 0)
			close(p->w[i].job_fd), p->w[i].job_fd = -1;
	for (int i = 0; i < p->n; i++) {
		struct proc *w = &p->w[i];
		if (w->pid > 0) {
			int status;
			while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {
			}
			close(w->res_fd);
		}
		sb_release(&w->in);
		free(w->before);
		free(w->keys.v);
	}
	for (size_t i = 0; i < p->keys.n; i++)
		free(p->keys.v[i]);
	free(p->keys.v);
	free(p->key_of);
	for (size_t i = 0; i < p->done.n; i++)
		result_release(&p->done.v[i].res);
	free(p->done.v);
	free(p->w);
	lanes_release(&p->lanes);
	free(p);
	b->priv = NULL;
}

const struct backend_ops backend_processes = {
	.name = "processes",
	.local = true,
	.fds_per_job = 4,
	.init = procs_init,
	.can_start = procs_can_start,
	.start = procs_start,
	.wait = procs_wait,
	.running = procs_running,
	.abort = procs_abort,
	.release = procs_release,
};
