/* slurm-alloc.c - the slurm backend's allocation mode ([settings]
 * slurm_mode = allocation): one `sbatch` allocation whose tasks each run
 * `juggle worker HOST:PORT`, which connects back to this process and runs
 * the attempts it is sent, one at a time, as the processes backend's
 * workers do (engine/remote.h: the link, its proof of the run's key, and
 * the shared way of running an attempt). Thousands of small jobs then cost
 * one submission and a line each way, not one srun and controller RPCs
 * each.
 *
 * The allocation's size is fixed for the run: slurm_tasks workers (default
 * -j) on slurm_nodes nodes (default: Slurm's choice), for slurm_time. Jobs
 * wait in a queue here until a worker is free; while some wait, one squeue
 * per second watches the allocation, so one that ends before any worker
 * could take them fails them instead of waiting forever.
 *
 * A worker whose connection ends (its node lost, the process killed, the
 * allocation cancelled from outside) fails only the attempt it carried,
 * which may be retried on another worker; its outputs are handled here as
 * for a processes worker that died. An interrupt sends SIGTERM to the
 * workers' tasks (each stops its command as on this machine and reports
 * the attempt interrupted), a second one cancels the allocation at once;
 * the end of the run always cancels it and waits, a few seconds at most,
 * for Slurm to see it gone.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "engine/backends/backend.h"
#include "engine/backends/slurm-internal.h"
#include "engine/backends/slurmctl.h"
#include "engine/expand.h"
#include "engine/kind.h"
#include "engine/owndir.h"
#include "engine/remote.h"
#include "engine/safepath.h"
#include "engine/sig.h"

/* How often squeue is asked about the allocation while jobs wait for a
 * worker, and how long a new connection may take to prove the key. */
#define POLL_EVERY_S 1.0
#define AUTH_S       10.0
/* How long a running allocation may go without any worker connecting
 * before its waiting jobs fail (the nodes cannot reach this host). */
#define CONNECT_S 120.0
/* How long the end of the run waits for Slurm to see the allocation gone. */
#define GONE_S 10.0

/* One attempt, from start() until its result is handed over. */
struct ticket {
	struct job *job;
	int number;
	char *extra;
	int lane;
	double sent;              /* when a worker got it */
	double give_up;           /* when to drop a silent worker; 0: never */
	struct out_stamp *before; /* its outputs before it was sent */
};

struct conn {
	int fd;
	bool authed;
	char nonce[2 * REMOTE_NONCE_LEN + 1];
	double auth_until;
	char *who; /* "NODE pid N", once authed */
	struct strbuf in;
	struct ticket *t; /* the attempt it carries; NULL: idle */
};

struct done {
	struct job *job;
	struct result res;
};

struct alloc {
	struct slurmctl ctl;
	char **args; /* slurm_args, split */
	char *exe, *dir, *graph_path;
	unsigned char key[RESULT_KEY_LEN];
	bool have_key;
	int listen_fd;
	char *addr;               /* HOST:PORT, as the workers reach us */
	struct slurmctl_step job; /* the allocation: comment, id, state */
	int tasks;
	double next_poll, running_since;
	bool ever_connected, gone;
	char *gone_why;
	VEC(struct conn *) conns;
	VEC(struct ticket *) queue; /* started, not sent yet, FIFO */
	VEC(struct done) done;
	struct lanes lanes;
	bool aborted, hard;
};

static const struct backend_ops backend_slurm_alloc;

/* ---- listening ---- */

/* Opens the listener on slurm_listen (HOST or HOST:PORT; default this
 * host's name, any port) and sets a->addr. 0, or -1 with err. */
static int listen_on(struct alloc *a, const char *spec, struct strbuf *err)
{
	char host[256] = "";
	const char *port = "0";
	char *copy = NULL;
	if (spec && *spec) {
		copy = xstrdup(spec);
		char *colon = strrchr(copy, ':');
		if (colon && !strchr(colon + 1, ']') && strchr(copy, ':') == colon) {
			*colon = '\0';
			port = colon + 1;
		}
		snprintf(host, sizeof(host), "%s", copy);
	} else if (gethostname(host, sizeof(host) - 1) < 0) {
		snprintf(host, sizeof(host), "localhost");
	}
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	int rc = getaddrinfo(host, port, &hints, &res);
	if (rc != 0) {
		sb_addf(err, "slurm_listen: cannot resolve '%s' port '%s': %s", host, port,
		        gai_strerror(rc));
		free(copy);
		return -1;
	}
	int fd = -1, e = 0;
	for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		if (bind(fd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(fd, 128) < 0) {
			e = errno;
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	if (fd < 0) {
		sb_addf(err,
		        "slurm_listen: cannot listen on '%s' port %s: %s (set slurm_listen "
		        "to an address of this host that the nodes reach)",
		        host, port, strerror(e ? e : EADDRNOTAVAIL));
		free(copy);
		return -1;
	}
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	getsockname(fd, (struct sockaddr *)&ss, &len);
	int p = ss.ss_family == AF_INET6 ? ntohs(((struct sockaddr_in6 *)&ss)->sin6_port)
	                                 : ntohs(((struct sockaddr_in *)&ss)->sin_port);
	a->listen_fd = fd;
	a->addr = xasprintf("%s:%d", host, p);
	free(copy);
	return 0;
}

/* ---- submitting the allocation ---- */

static int submit(struct backend *b, struct alloc *a, struct strbuf *err)
{
	const struct settings *set = &b->graph->settings;
	struct strvec owned = {0};
	char *tail[] = {"worker", a->addr, NULL};
	char **argv = slurm_juggle_argv(b->graph, a->exe, a->graph_path, tail, &owned);
	struct strbuf script = {0};
	sb_adds(&script, "#!/bin/sh\n# juggle's workers: each task connects back to the run\n"
	                 "exec srun --kill-on-bad-exit=0");
	for (size_t i = 0; argv[i]; i++) {
		sb_addc(&script, ' ');
		shell_quote(argv[i], &script);
	}
	sb_addc(&script, '\n');
	free(argv);
	strvec_release(&owned);

	char *path = xasprintf("%s/workers-%s.sh", STATE_DIR, a->job.comment);
	int rc = -1;
	if (write_file_atomic(path, script.buf, script.len) < 0) {
		sb_addf(err, "cannot write '%s': %s", path, strerror(errno));
		goto out;
	}
	VEC(char *) o = {0};
	struct strvec mine = {0};
#define OPT(...)                                                                                   \
	do {                                                                                       \
		char *s_ = xasprintf(__VA_ARGS__);                                                 \
		VEC_PUSH(&mine, s_);                                                               \
		VEC_PUSH(&o, s_);                                                                  \
	} while (0)
	OPT("--job-name=juggle-workers");
	OPT("--comment=%s", a->job.comment);
	OPT("--ntasks=%d", a->tasks);
	if (set->slurm_nodes && *set->slurm_nodes)
		OPT("--nodes=%s", set->slurm_nodes);
	if (set->slurm_time && *set->slurm_time)
		OPT("--time=%s", set->slurm_time);
	if (set->slurm_partition && *set->slurm_partition)
		OPT("--partition=%s", set->slurm_partition);
	OPT("--chdir=%s", a->dir);
	OPT("--output=%s/%s/workers-%%j.log", a->dir, STATE_DIR);
#undef OPT
	for (size_t i = 0; a->args && a->args[i]; i++)
		VEC_PUSH(&o, a->args[i]);
	VEC_PUSH(&o, NULL);
	struct strbuf e = {0};
	rc = slurmctl_sbatch(&a->ctl, o.v, path, &a->job.jobid, &e);
	if (rc < 0)
		sb_addf(err, "%s", sb_str(&e));
	sb_release(&e);
	free(o.v);
	strvec_release(&mine);
	unlink(path); /* sbatch keeps its own copy */
out:
	free(path);
	sb_release(&script);
	return rc;
}

/* ---- init ---- */

static void alloc_release(struct backend *b);

int slurm_alloc_init(struct backend *b, struct strbuf *err)
{
	const struct settings *set = &b->graph->settings;
	struct alloc *a = xcalloc(1, sizeof(*a));
	b->ops = &backend_slurm_alloc;
	b->priv = a;
	a->listen_fd = -1;
	slurmctl_step_init(&a->job);
	struct strbuf e = {0};
	a->tasks = b->cfg.jobs;
	if (set->slurm_tasks && *set->slurm_tasks) {
		char *end;
		long v = strtol(set->slurm_tasks, &end, 10);
		if (*end || v < 1 || v > 100000) {
			sb_addf(err, "slurm_tasks: '%s' is not a number of tasks (1 to 100000)",
			        set->slurm_tasks);
			goto fail;
		}
		a->tasks = (int)v;
	}
	if (slurmctl_init(&a->ctl, &e) < 0 || slurmctl_ping(&a->ctl, &e) < 0) {
		sb_addf(err, "backend slurm: %s", sb_str(&e));
		goto fail;
	}
	if (set->slurm_args && *set->slurm_args) {
		a->args = split_words(set->slurm_args, &e);
		if (!a->args) {
			sb_addf(err, "slurm_args: %s", sb_str(&e));
			goto fail;
		}
	}
	a->exe = realpath("/proc/self/exe", NULL);
	a->dir = getcwd(NULL, 0);
	if (!a->exe || !a->dir) {
		sb_addf(err, "backend slurm: cannot find juggle's own path: %s", strerror(errno));
		goto fail;
	}
	const char *slash = strrchr(b->graph->file, '/');
	a->graph_path = xasprintf("%s/%s", a->dir, slash ? slash + 1 : b->graph->file);
	if (result_key_create(RESULT_KEY_PATH, a->key) < 0) {
		sb_addf(err, "backend slurm: cannot create '%s': %s", RESULT_KEY_PATH,
		        strerror(errno));
		goto fail;
	}
	a->have_key = true;
	char nonce[2 * REMOTE_NONCE_LEN + 1];
	free(remote_hello(nonce));
	snprintf(a->job.comment, sizeof(a->job.comment), "juggle-%.16s-workers", nonce);
	if (listen_on(a, set->slurm_listen, err) < 0)
		goto fail;
	if (submit(b, a, &e) < 0) {
		sb_addf(err, "backend slurm: %s", sb_str(&e));
		goto fail;
	}
	lanes_init(&a->lanes, a->tasks < b->cfg.jobs ? a->tasks : b->cfg.jobs);
	sb_release(&e);
	return 0;
fail:
	sb_release(&e);
	alloc_release(b);
	return -1;
}

/* ---- attempts ---- */

static bool alloc_can_start(struct backend *b, const struct job *job)
{
	(void)job;
	struct alloc *a = b->priv;
	return a->lanes.in_use < a->lanes.n;
}

static void push_done(struct alloc *a, struct ticket *t, struct result *res)
{
	struct done d = {.job = t->job, .res = *res};
	VEC_PUSH(&a->done, d);
	lanes_put(&a->lanes, t->lane);
	free(t->extra);
	free(t->before);
	free(t);
}

/* Ends an attempt that never reached a worker. */
static void fail_unsent(struct alloc *a, struct ticket *t, bool interrupted, const char *why)
{
	struct result res;
	result_init(&res);
	res.worker = t->lane;
	res.started = res.finished = mono_now();
	result_fail(&res, "%s", why);
	res.not_started = true;
	res.status = interrupted ? RES_INTERRUPTED : RES_FAILED;
	push_done(a, t, &res);
}

static int alloc_start(struct backend *b, struct job *job, int number, const char *prev_extra,
                       struct strbuf *err)
{
	struct alloc *a = b->priv;
	int lane = lanes_take(&a->lanes);
	if (lane < 0) {
		sb_addf(err, "no free worker");
		return -1;
	}
	struct ticket *t = xcalloc(1, sizeof(*t));
	t->job = job;
	t->number = number;
	t->extra = prev_extra ? xstrdup(prev_extra) : NULL;
	t->lane = lane;
	if (a->gone)
		fail_unsent(a, t, false, a->gone_why);
	else if (cancel_requested())
		fail_unsent(a, t, true, "interrupted before it started");
	else
		VEC_PUSH(&a->queue, t);
	return 0;
}

static void add_facts(struct alloc *a, struct conn *c, struct result *res)
{
	if (a->job.jobid > 0)
		result_fact_int(res, "slurm_job_id", a->job.jobid);
	if (c->who) {
		char node[256];
		snprintf(node, sizeof(node), "%s", c->who);
		char *sp = strchr(node, ' ');
		if (sp)
			*sp = '\0';
		result_fact_str(res, "node", node);
	}
}

/* A worker answered: its attempt ends with res, timed on our clock. */
static void finish(struct alloc *a, struct conn *c, struct result *res)
{
	struct ticket *t = c->t;
	c->t = NULL;
	double now = mono_now();
	double duration = res->finished; /* result_from_json() put it there */
	res->finished = now;
	res->started = now - duration < t->sent ? t->sent : now - duration;
	res->worker = t->lane;
	add_facts(a, c, res);
	push_done(a, t, res);
}

/* The worker of c is gone while carrying an attempt: fail it as a
 * processes worker that died fails it (outputs removed, a line in the
 * log); retryable unless the run is being interrupted or it timed out. */
static void lost(struct alloc *a, struct conn *c, const char *why, bool timed_out)
{
	struct ticket *t = c->t;
	struct result res;
	result_init(&res);
	if (timed_out) {
		result_fail(&res,
		            "timed out after %g s; its worker %s did not answer, so it was "
		            "dropped",
		            t->job->sec->timeout, c->who);
		res.timed_out = true;
	} else if (a->aborted) {
		result_fail(&res, "interrupted; its worker %s %s", c->who, why);
		res.status = RES_INTERRUPTED;
	} else {
		result_fail(&res, "its worker %s %s", c->who, why);
		res.retryable = true;
	}
	out_sweep_job_temps(t->job);
	char *log = job_log_path(t->job);
	int fd = own_file_open(log, O_WRONLY | O_APPEND | O_CREAT, 0666);
	attempt_fail_end(t->job, t->before, &res, fd);
	if (fd >= 0)
		close(fd);
	free(log);
	if (a->aborted)
		res.status = RES_INTERRUPTED;
	res.finished = mono_now() - t->sent; /* a duration, as from a worker */
	finish(a, c, &res);
}

static void drop(struct alloc *a, size_t i, const char *why)
{
	struct conn *c = a->conns.v[i];
	if (c->t)
		lost(a, c, why, false);
	close(c->fd);
	sb_release(&c->in);
	free(c->who);
	free(c);
	a->conns.v[i] = a->conns.v[--a->conns.n];
}

/* Sends queued attempts to idle workers. */
static void dispatch(struct alloc *a)
{
	for (size_t i = 0; i < a->conns.n && a->queue.n;) {
		struct conn *c = a->conns.v[i];
		if (!c->authed || c->t) {
			i++;
			continue;
		}
		struct ticket *t = a->queue.v[0];
		memmove(a->queue.v, a->queue.v + 1, (a->queue.n - 1) * sizeof(*a->queue.v));
		a->queue.n--;
		free(t->before);
		t->before = out_stamps_take(t->job);
		t->sent = mono_now();
		double to = t->job->sec->timeout;
		t->give_up = to > 0 ? t->sent + to + KILL_GRACE_S + ABANDON_GRACE_S + 5.0 : 0;
		c->t = t;
		char *line = remote_request(t->job->name, t->number, t->extra,
		                            t->job->run.failed_upstream);
		int rc = write_all(c->fd, line, strlen(line));
		free(line);
		if (rc < 0) {
			/* It never got it: back to the front of the queue. */
			c->t = NULL;
			VEC_PUSH(&a->queue, t);
			memmove(a->queue.v + 1, a->queue.v, (a->queue.n - 1) * sizeof(*a->queue.v));
			a->queue.v[0] = t;
			drop(a, i, "closed its connection");
			continue;
		}
		i++;
	}
}

static void accept_one(struct alloc *a)
{
	int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return;
	/* One small line each way per job: Nagle's delay would wait for the
	 * ack of the last one, tens of milliseconds a job. */
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct conn *c = xcalloc(1, sizeof(*c));
	c->fd = fd;
	c->auth_until = mono_now() + AUTH_S;
	char *hello = remote_hello(c->nonce);
	int rc = write_all(fd, hello, strlen(hello));
	free(hello);
	if (rc < 0) {
		close(fd);
		free(c);
		return;
	}
	VEC_PUSH(&a->conns, c);
}

/* Reads what connection i sent. Returns false when it was dropped. */
static bool serve(struct alloc *a, size_t i)
{
	struct conn *c = a->conns.v[i];
	char buf[65536];
	ssize_t n;
	do
		n = read(c->fd, buf, sizeof(buf));
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		drop(a, i, n < 0 ? "lost its connection" : "closed its connection");
		return false;
	}
	sb_add(&c->in, buf, (size_t)n);
	char *nl;
	while (c->in.len && (nl = memchr(c->in.buf, '\n', c->in.len))) {
		*nl = '\0';
		if (!c->authed) {
			/* The first line proves the key, or the connection ends. */
			if (!remote_check(c->in.buf, c->nonce, a->key, &c->who)) {
				drop(a, i, "did not prove the run's key");
				return false;
			}
			c->authed = a->ever_connected = true;
		} else if (c->t) {
			struct result res;
			if (result_from_json(c->in.buf, &res) < 0) {
				drop(a, i, "sent an unreadable result");
				return false;
			}
			if (res.status == RES_INTERRUPTED && !a->aborted) {
				/* Not this run's interrupt: Slurm signalled the
				 * worker (a cancel, the allocation's time). */
				result_fail(&res,
				            "stopped on its node by a signal to its worker %s "
				            "(the allocation cancelled or out of time): %s",
				            c->who, res.error ? res.error : "interrupted");
				res.status = RES_FAILED;
				res.not_started = false;
				res.retryable = true;
			}
			finish(a, c, &res);
		} else {
			drop(a, i, "sent a result for no attempt");
			return false;
		}
		size_t used = (size_t)(nl - c->in.buf) + 1;
		memmove(c->in.buf, nl + 1, c->in.len - used);
		c->in.len -= used;
		c->in.buf[c->in.len] = '\0';
	}
	if (c->in.len > (c->authed ? REMOTE_MAX_LINE : 4096)) {
		drop(a, i, "sent too long a line");
		return false;
	}
	return true;
}

/* While attempts wait for a worker: one squeue for the allocation. */
static void watch_allocation(struct alloc *a, double now)
{
	if (!a->queue.n || a->gone || now < a->next_poll)
		return;
	a->next_poll = now + POLL_EVERY_S;
	struct slurmctl_step *one = &a->job;
	if (slurmctl_query(&a->ctl, &one, 1) < 0)
		return;
	if (strcmp(a->job.state, "RUNNING") == 0 && !a->running_since)
		a->running_since = now;
	char *why = NULL;
	if (slurmctl_state_final(a->job.state)) {
		if (a->conns.n)
			return; /* its workers still finish what they carry */
		const char *r = slurmctl_state_reason(a->job.state);
		why = xasprintf("the workers' allocation (Slurm job %ld) %s before it could run "
		                "this; see %s/workers-%ld.log",
		                a->job.jobid, r ? r : "ended", STATE_DIR, a->job.jobid);
	} else if (!a->ever_connected && a->running_since && now - a->running_since > CONNECT_S) {
		why = xasprintf("no worker of Slurm job %ld connected to %s within %g s: the nodes "
		                "must reach this host there (slurm_listen), and see the same "
		                "folder; see %s/workers-%ld.log",
		                a->job.jobid, a->addr, CONNECT_S, STATE_DIR, a->job.jobid);
	}
	if (!why)
		return;
	a->gone = true;
	a->gone_why = why;
	for (size_t i = 0; i < a->queue.n; i++)
		fail_unsent(a, a->queue.v[i], false, why);
	a->queue.n = 0;
}

static int alloc_wait(struct backend *b, struct job **job, struct result *res, double timeout)
{
	struct alloc *a = b->priv;
	double until = timeout < 0 ? -1 : mono_now() + timeout;
	for (;;) {
		if (a->done.n) {
			*job = a->done.v[0].job;
			*res = a->done.v[0].res;
			memmove(a->done.v, a->done.v + 1, (a->done.n - 1) * sizeof(*a->done.v));
			a->done.n--;
			return 1;
		}
		double now = mono_now();
		if (a->lanes.in_use == 0) {
			backend_idle_wait(until < 0 ? -1 : (until > now ? until - now : 0));
			return 0;
		}
		if (!a->aborted && cancel_requested())
			return 0; /* the scheduler calls abort() */
		if (a->aborted && !a->hard && kill_requested()) {
			a->hard = true;
			slurmctl_cancel_job(&a->ctl, a->job.jobid, NULL);
		}
		dispatch(a);
		watch_allocation(a, now);
		double wake = until;
		for (size_t i = 0; i < a->conns.n;) {
			struct conn *c = a->conns.v[i];
			double d = !c->authed ? c->auth_until : c->t ? c->t->give_up : 0;
			if (d > 0 && now >= d) {
				if (c->t) {
					lost(a, c, "", true);
					c->t = NULL;
				}
				drop(a, i, "did not prove the run's key in time");
				continue;
			}
			if (d > 0 && (wake < 0 || d < wake))
				wake = d;
			i++;
		}
		if (a->queue.n && !a->gone && (wake < 0 || a->next_poll < wake))
			wake = a->next_poll;
		if (a->done.n)
			continue;
		if (until >= 0 && now >= until)
			return 0;

		VEC(struct pollfd) pf = {0};
		VEC_PUSH(&pf, ((struct pollfd){a->listen_fd, POLLIN, 0}));
		for (size_t i = 0; i < a->conns.n; i++)
			VEC_PUSH(&pf, ((struct pollfd){a->conns.v[i]->fd, POLLIN, 0}));
		size_t nconn = a->conns.n;
		int sigfd = !a->aborted ? sig_cancel_fd() : !a->hard ? sig_kill_fd() : -1;
		if (sigfd >= 0)
			VEC_PUSH(&pf, ((struct pollfd){sigfd, POLLIN, 0}));
		if (b->wake_fd >= 0)
			VEC_PUSH(&pf, ((struct pollfd){b->wake_fd, POLLIN, 0}));
		int ms = wake < 0 ? -1 : wake <= now ? 0 : (int)((wake - now) * 1000) + 1;
		int n = poll(pf.v, pf.n, ms);
		bool other = false;
		if (n > 0) {
			/* Connections from the last one down, so a drop (which
			 * moves the last into its place) skips none. */
			for (size_t k = nconn; k-- > 0;)
				if (pf.v[k + 1].revents && k < a->conns.n)
					serve(a, k);
			if (pf.v[0].revents)
				accept_one(a);
			for (size_t k = nconn + 1; k < pf.n; k++)
				other |= pf.v[k].revents != 0;
		}
		free(pf.v);
		if (a->done.n)
			continue;
		if (n < 0 || other)
			return 0; /* a signal or the jobserver: back to the scheduler */
	}
}

static int alloc_running(struct backend *b)
{
	struct alloc *a = b->priv;
	return a->lanes.in_use;
}

static void alloc_abort(struct backend *b)
{
	struct alloc *a = b->priv;
	a->aborted = true;
	for (size_t i = 0; i < a->queue.n; i++)
		fail_unsent(a, a->queue.v[i], true, "interrupted before it started");
	a->queue.n = 0;
	bool busy = false;
	for (size_t i = 0; i < a->conns.n; i++)
		busy |= a->conns.v[i]->t != NULL;
	/* The workers' tasks get SIGTERM and stop their commands as juggle
	 * does on this machine; each then reports its attempt interrupted. */
	if (busy)
		slurmctl_cancel_job(&a->ctl, a->job.jobid, "--signal=TERM");
}

static void alloc_release(struct backend *b)
{
	struct alloc *a = b->priv;
	if (!a)
		return;
	while (a->conns.n)
		drop(a, a->conns.n - 1, "closed its connection");
	for (size_t i = 0; i < a->done.n; i++)
		result_release(&a->done.v[i].res);
	free(a->done.v);
	for (size_t i = 0; i < a->queue.n; i++) {
		free(a->queue.v[i]->extra);
		free(a->queue.v[i]->before);
		free(a->queue.v[i]);
	}
	free(a->queue.v);
	free(a->conns.v);
	if (a->listen_fd >= 0)
		close(a->listen_fd);
	if (a->job.jobid > 0) {
		/* Idle workers end at the end of their connection; cancel what
		 * is left, and wait a little for Slurm to see it gone, so that
		 * nothing of this run is left on the cluster. */
		slurmctl_cancel_job(&a->ctl, a->job.jobid, NULL);
		struct slurmctl_step *one = &a->job;
		for (double end = mono_now() + GONE_S; mono_now() < end;) {
			if (slurmctl_query(&a->ctl, &one, 1) == 0 &&
			    slurmctl_state_final(a->job.state))
				break;
			poll(NULL, 0, 100);
		}
	}
	if (a->have_key)
		unlink(RESULT_KEY_PATH);
	lanes_release(&a->lanes);
	slurmctl_release(&a->ctl);
	free_words(a->args);
	free(a->exe);
	free(a->dir);
	free(a->graph_path);
	free(a->addr);
	free(a->gone_why);
	free(a);
	b->priv = NULL;
}

static const struct backend_ops backend_slurm_alloc = {
    .name = "slurm",
    .fds_per_job = 2,
    .init = slurm_alloc_init,
    .can_start = alloc_can_start,
    .start = alloc_start,
    .wait = alloc_wait,
    .running = alloc_running,
    .abort = alloc_abort,
    .release = alloc_release,
};
