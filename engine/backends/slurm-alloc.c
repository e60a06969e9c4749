/* slurm-alloc.c - the slurm backend's allocation mode ([settings]
 * slurm_mode = allocation): `sbatch` allocations whose tasks each run
 * `juggle worker HOST:PORT`, which connects back to this process and runs
 * the attempts it is sent, one at a time, as the processes backend's
 * workers do (engine/remote.h: the link, its proof of the run's key, and
 * the shared way of running an attempt). Thousands of small jobs then cost
 * a few submissions and a line each way, not one srun and controller RPCs
 * each.
 *
 * The workers grow with the ready queue and shrink when idle. The first
 * allocation asks for as many workers as there are jobs ready (at most
 * slurm_tasks, default -j). While jobs wait with no idle worker and no
 * worker still to come, another allocation asks for the shortfall, never
 * taking the workers connected or asked for beyond slurm_tasks; sbatch
 * goes through the slurm_submit_rate token bucket. An allocation none of
 * whose workers has carried an attempt for slurm_idle seconds while no
 * job waited is released: its connections close (its workers end) and it
 * is cancelled. Each allocation has slurm_nodes nodes (default: Slurm's
 * choice) for slurm_time.
 *
 * One squeue a second, for every allocation at once, watches them while
 * jobs wait (so controller calls grow with time, not with jobs): a new
 * allocation is asked for only after one has shown that none of those
 * asked for earlier was cancelled. An allocation that ends before any of
 * its workers connected, or is cancelled from outside, fails the jobs
 * waiting instead of letting them wait forever; one that ends otherwise
 * (its time, a lost node) is replaced when jobs wait.
 *
 * A worker whose connection ends (its node lost, the process killed, its
 * allocation out of time) fails only the attempt it carried, which may be
 * retried on another worker; its outputs are handled here as for a
 * processes worker that died, and the report counts it. An interrupt sends
 * SIGTERM to the busy workers' tasks (each stops its command as on this
 * machine and reports the attempt interrupted), a second one cancels the
 * allocations at once; the end of the run always cancels them all and
 * waits, a few seconds at most, for Slurm to see them gone.
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

/* How often squeue is asked about the allocations while jobs wait for a
 * worker, and how long a new connection may take to prove the key. */
#define POLL_EVERY_S 1.0
#define AUTH_S       10.0
/* How long a running allocation may go without any of its workers
 * connecting before the waiting jobs fail (the nodes cannot reach this
 * host). */
#define CONNECT_S 120.0
/* How long the end of the run waits for Slurm to see the allocations gone. */
#define GONE_S 10.0
/* slurm_idle's default, in seconds. */
#define IDLE_S 30.0

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

/* One sbatch and the workers it brings. */
struct allocation {
	struct slurmctl_step job; /* comment, id, state */
	int tasks;                /* workers asked for */
	int joined;               /* workers that proved the key, ever */
	int live;                 /* of those, connected now */
	int busy;                 /* of those, carrying an attempt */
	double running_since;     /* when squeue first said RUNNING; 0: not yet */
	double idle_since;        /* since when none of its workers has been busy
	                             while no job waited; 0: busy */
	bool released;            /* its workers sent away and it cancelled */
	bool ended;               /* squeue said it ended */
};

struct conn {
	int fd;
	bool authed;
	char nonce[2 * REMOTE_NONCE_LEN + 1];
	double auth_until;
	char *who;             /* "NODE pid N", once authed */
	struct allocation *al; /* its allocation, once authed; NULL: unknown */
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
	char *addr;    /* HOST:PORT, as the workers reach us */
	char tag[17];  /* this run's, in its allocations' comments */
	int max;       /* slurm_tasks: most workers connected and asked for */
	double idle_s; /* slurm_idle */
	struct slurm_bucket bucket;
	VEC(struct allocation *) allocs; /* every one asked for, in order */
	int workers;                     /* connections that proved the key */
	double next_poll;
	bool gone;
	char *gone_why;
	VEC(struct conn *) conns;
	VEC(struct ticket *) queue; /* started, not sent yet, FIFO */
	VEC(struct done) done;
	struct lanes lanes;
	bool aborted, hard;
	struct backend_allocs *stats; /* the backend's, for the report */
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

/* ---- the allocations ---- */

/* Whether al may still bring or keep workers. */
static bool alive(const struct allocation *al)
{
	return !al->released && !al->ended;
}

/* Workers asked for and not connected yet. */
static int pending_workers(const struct alloc *a)
{
	int n = 0;
	for (size_t i = 0; i < a->allocs.n; i++) {
		const struct allocation *al = a->allocs.v[i];
		if (alive(al) && al->tasks > al->joined)
			n += al->tasks - al->joined;
	}
	return n;
}

static bool any_alive(const struct alloc *a)
{
	for (size_t i = 0; i < a->allocs.n; i++)
		if (alive(a->allocs.v[i]))
			return true;
	return false;
}

/* Asks for an allocation of n workers: 0, or -1 with err. */
static int submit(struct backend *b, struct alloc *a, int n, struct strbuf *err)
{
	const struct settings *set = &b->graph->settings;
	struct allocation *al = xcalloc(1, sizeof(*al));
	slurmctl_step_init(&al->job);
	al->tasks = n;
	snprintf(al->job.comment, sizeof(al->job.comment), "juggle-%s-workers-%zu", a->tag,
	         a->allocs.n + 1);
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

	char *path = xasprintf("%s/workers-%s.sh", STATE_DIR, al->job.comment);
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
	OPT("--comment=%s", al->job.comment);
	OPT("--ntasks=%d", n);
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
	rc = slurmctl_sbatch(&a->ctl, o.v, path, &al->job.jobid, &e);
	if (rc < 0)
		sb_addf(err, "%s", sb_str(&e));
	sb_release(&e);
	free(o.v);
	strvec_release(&mine);
	unlink(path); /* sbatch keeps its own copy */
out:
	free(path);
	sb_release(&script);
	if (rc < 0) {
		slurmctl_step_release(&al->job);
		free(al);
		return -1;
	}
	VEC_PUSH(&a->allocs, al);
	a->stats->allocations++;
	if (a->allocs.n == 1)
		a->stats->first_tasks = n;
	return 0;
}

/* ---- init ---- */

static void alloc_release(struct backend *b);

int slurm_alloc_init(struct backend *b, struct strbuf *err)
{
	const struct settings *set = &b->graph->settings;
	struct alloc *a = xcalloc(1, sizeof(*a));
	b->ops = &backend_slurm_alloc;
	b->priv = a;
	b->allocs = (struct backend_allocs){.used = true};
	a->stats = &b->allocs;
	a->listen_fd = -1;
	struct strbuf e = {0};
	a->max = b->cfg.jobs;
	if (set->slurm_tasks && *set->slurm_tasks) {
		char *end;
		long v = strtol(set->slurm_tasks, &end, 10);
		if (*end || v < 1 || v > 100000) {
			sb_addf(err, "slurm_tasks: '%s' is not a number of tasks (1 to 100000)",
			        set->slurm_tasks);
			goto fail;
		}
		a->max = (int)v;
	}
	a->idle_s = IDLE_S;
	if (set->slurm_idle && *set->slurm_idle) {
		char *end;
		a->idle_s = strtod(set->slurm_idle, &end);
		if (end == set->slurm_idle || *end || !(a->idle_s > 0) || a->idle_s > 1e6) {
			sb_addf(err, "slurm_idle: '%s' is not a number of seconds (more than 0)",
			        set->slurm_idle);
			goto fail;
		}
	}
	if (slurm_bucket_init(&a->bucket, set->slurm_submit_rate, err) < 0)
		goto fail;
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
	snprintf(a->tag, sizeof(a->tag), "%.16s", nonce);
	if (listen_on(a, set->slurm_listen, err) < 0)
		goto fail;
	/* The first allocation waits for the first jobs: its size is theirs. */
	lanes_init(&a->lanes, a->max < b->cfg.jobs ? a->max : b->cfg.jobs);
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

/* No worker will come: the waiting attempts fail with why (taken), and
 * so will every later one. */
static void give_up(struct alloc *a, char *why)
{
	if (a->gone) {
		free(why);
		return;
	}
	a->gone = true;
	a->gone_why = why;
	for (size_t i = 0; i < a->queue.n; i++)
		fail_unsent(a, a->queue.v[i], false, why);
	a->queue.n = 0;
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

static void add_facts(struct conn *c, struct result *res)
{
	if (c->al && c->al->job.jobid > 0)
		result_fact_int(res, "slurm_job_id", c->al->job.jobid);
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
static void finish(struct conn *c, struct alloc *a, struct result *res)
{
	struct ticket *t = c->t;
	c->t = NULL;
	if (c->al)
		c->al->busy--;
	double now = mono_now();
	double duration = res->finished; /* result_from_json() put it there */
	res->finished = now;
	res->started = now - duration < t->sent ? t->sent : now - duration;
	res->worker = t->lane;
	add_facts(c, res);
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
	finish(c, a, &res);
}

static void drop(struct alloc *a, size_t i, const char *why)
{
	struct conn *c = a->conns.v[i];
	if (c->t)
		lost(a, c, why, false);
	if (c->authed)
		a->workers--;
	if (c->al)
		c->al->live--;
	close(c->fd);
	sb_release(&c->in);
	free(c->who);
	free(c);
	a->conns.v[i] = a->conns.v[--a->conns.n];
}

/* The idle worker to send the next attempt to: one of the allocation
 * with the most busy workers, the oldest of those, so that work gathers
 * on few allocations and the others can go idle and be released. -1:
 * none idle. */
static ssize_t pick_worker(const struct alloc *a)
{
	ssize_t best = -1;
	for (size_t i = 0; i < a->conns.n; i++) {
		const struct conn *c = a->conns.v[i];
		if (!c->authed || c->t)
			continue;
		if (best < 0) {
			best = (ssize_t)i;
			continue;
		}
		const struct allocation *x = c->al, *y = a->conns.v[best]->al;
		int bx = x ? x->busy : -1, by = y ? y->busy : -1;
		if (bx > by || (bx == by && x && y && x->job.jobid < y->job.jobid))
			best = (ssize_t)i;
	}
	return best;
}

/* Sends queued attempts to idle workers. */
static void dispatch(struct alloc *a)
{
	ssize_t i;
	while (a->queue.n && (i = pick_worker(a)) >= 0) {
		struct conn *c = a->conns.v[i];
		struct ticket *t = a->queue.v[0];
		memmove(a->queue.v, a->queue.v + 1, (a->queue.n - 1) * sizeof(*a->queue.v));
		a->queue.n--;
		free(t->before);
		t->before = out_stamps_take(t->job);
		t->sent = mono_now();
		double to = t->job->sec->timeout;
		t->give_up = to > 0 ? t->sent + to + KILL_GRACE_S + ABANDON_GRACE_S + 5.0 : 0;
		char *line = remote_request(t->job->name, t->number, t->extra,
		                            t->job->run.failed_upstream);
		int rc = write_all(c->fd, line, strlen(line));
		free(line);
		if (rc < 0) {
			/* It never got it: back to the front of the queue. */
			VEC_PUSH(&a->queue, t);
			memmove(a->queue.v + 1, a->queue.v, (a->queue.n - 1) * sizeof(*a->queue.v));
			a->queue.v[0] = t;
			drop(a, (size_t)i, "closed its connection");
			continue;
		}
		c->t = t;
		if (c->al) {
			c->al->busy++;
			c->al->idle_since = 0;
		}
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

/* A connection proved the key with line: it is a worker now, of the
 * allocation it names. false when it must go (its allocation was
 * released). */
static bool joined(struct alloc *a, struct conn *c, const char *line)
{
	long id = remote_slurm_job(line);
	for (size_t i = 0; id > 0 && i < a->allocs.n; i++)
		if (a->allocs.v[i]->job.jobid == id)
			c->al = a->allocs.v[i];
	if (c->al && c->al->released) {
		c->al = NULL;
		return false;
	}
	c->authed = true;
	if (++a->workers > a->stats->workers_peak)
		a->stats->workers_peak = a->workers;
	if (c->al) {
		c->al->joined++;
		c->al->live++;
	}
	return true;
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
		if (c->authed && !a->aborted)
			a->stats->workers_lost++;
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
			if (!joined(a, c, c->in.buf)) {
				drop(a, i, "belongs to a released allocation");
				return false;
			}
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
			finish(c, a, &res);
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

/* One squeue for every allocation still alive; what it says of each. */
static void poll_allocations(struct alloc *a, double now)
{
	VEC(struct slurmctl_step *) jobs = {0};
	for (size_t i = 0; i < a->allocs.n; i++)
		if (alive(a->allocs.v[i]))
			VEC_PUSH(&jobs, &a->allocs.v[i]->job);
	int rc = jobs.n ? slurmctl_query(&a->ctl, jobs.v, jobs.n) : 0;
	free(jobs.v);
	if (rc < 0)
		return;
	for (size_t i = 0; i < a->allocs.n; i++) {
		struct allocation *al = a->allocs.v[i];
		if (!alive(al))
			continue;
		if (strcmp(al->job.state, "RUNNING") == 0 && !al->running_since)
			al->running_since = now;
		char *why = NULL;
		if (slurmctl_state_final(al->job.state)) {
			al->ended = true;
			const char *r = slurmctl_state_reason(al->job.state);
			/* Ended without a worker, or cancelled by someone else:
			 * asking again would go the same way. */
			if (!al->joined || strcmp(al->job.state, "CANCELLED") == 0)
				why = xasprintf("the workers' allocation (Slurm job %ld) %s before "
				                "it could run this; see %s/workers-%ld.log",
				                al->job.jobid, r ? r : "ended", STATE_DIR,
				                al->job.jobid);
		} else if (!al->joined && al->running_since &&
		           now - al->running_since > CONNECT_S) {
			why =
			    xasprintf("no worker of Slurm job %ld connected to %s within %g s: "
			              "the nodes must reach this host there (slurm_listen), and "
			              "see the same folder; see %s/workers-%ld.log",
			              al->job.jobid, a->addr, CONNECT_S, STATE_DIR, al->job.jobid);
		}
		if (why)
			give_up(a, why);
	}
}

/* Asks for the workers the waiting jobs lack, if slurm_tasks leaves room
 * and a token is free. fresh: the allocations alive were just polled. */
static void grow(struct backend *b, struct alloc *a, double now, bool fresh)
{
	if (!a->queue.n || a->gone || a->aborted || (any_alive(a) && !fresh))
		return;
	int idle = 0;
	for (size_t i = 0; i < a->conns.n; i++)
		idle += a->conns.v[i]->authed && !a->conns.v[i]->t;
	int pending = pending_workers(a);
	int need = (int)a->queue.n - idle - pending;
	int room = a->max - a->workers - pending;
	int n = need < room ? need : room;
	if (n <= 0 || !slurm_bucket_take(&a->bucket, now))
		return;
	struct strbuf e = {0};
	if (submit(b, a, n, &e) < 0 && a->workers + pending == 0)
		give_up(a, xasprintf("cannot submit the workers' allocation: %s", sb_str(&e)));
	/* else the workers there are carry on, and the next poll asks again */
	sb_release(&e);
}

/* Sends away the workers of al and cancels it. */
static void release_one(struct alloc *a, struct allocation *al)
{
	al->released = true;
	for (size_t i = a->conns.n; i-- > 0;)
		if (a->conns.v[i]->al == al)
			drop(a, i, "was released");
	struct slurmctl_step *one = &al->job;
	slurmctl_cancel_jobs(&a->ctl, &one, 1, NULL);
}

/* Releases the allocations idle for slurm_idle; returns when the next
 * one will be due (< 0: none). */
static double shrink(struct alloc *a, double now)
{
	double next = -1;
	if (a->aborted)
		return -1; /* the end of the run cancels them all */
	for (size_t i = 0; i < a->allocs.n; i++) {
		struct allocation *al = a->allocs.v[i];
		if (!alive(al))
			continue;
		if (al->busy || a->queue.n) {
			al->idle_since = 0;
			continue;
		}
		if (!al->idle_since)
			al->idle_since = now;
		if (now - al->idle_since >= a->idle_s) {
			release_one(a, al);
			continue;
		}
		double due = al->idle_since + a->idle_s;
		if (next < 0 || due < next)
			next = due;
	}
	return next;
}

/* Cancels (opt NULL) or signals every allocation alive, in one scancel. */
static void cancel_all(struct alloc *a, const char *opt, bool only_busy)
{
	VEC(struct slurmctl_step *) jobs = {0};
	for (size_t i = 0; i < a->allocs.n; i++) {
		struct allocation *al = a->allocs.v[i];
		if (alive(al) && (!only_busy || al->busy))
			VEC_PUSH(&jobs, &al->job);
	}
	if (jobs.n)
		slurmctl_cancel_jobs(&a->ctl, jobs.v, jobs.n, opt);
	free(jobs.v);
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
		double next_idle = shrink(a, now);
		if (a->lanes.in_use == 0 && next_idle < 0) {
			backend_idle_wait(until < 0 ? -1 : (until > now ? until - now : 0));
			return 0;
		}
		if (!a->aborted && cancel_requested())
			return 0; /* the scheduler calls abort() */
		if (a->aborted && !a->hard && kill_requested()) {
			a->hard = true;
			cancel_all(a, NULL, false);
		}
		dispatch(a);
		bool fresh = false;
		if (a->queue.n && !a->gone && now >= a->next_poll && any_alive(a)) {
			a->next_poll = now + POLL_EVERY_S;
			poll_allocations(a, now);
			fresh = true;
		}
		grow(b, a, now, fresh);
		dispatch(a);
		double wake = until;
		if (next_idle >= 0 && (wake < 0 || next_idle < wake))
			wake = next_idle;
		for (size_t i = 0; i < a->conns.n;) {
			struct conn *c = a->conns.v[i];
			double d = !c->authed ? c->auth_until : c->t ? c->t->give_up : 0;
			if (d > 0 && now >= d) {
				if (c->t)
					lost(a, c, "", true);
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
	/* The busy workers' tasks get SIGTERM and stop their commands as
	 * juggle does on this machine; each then reports its attempt
	 * interrupted. */
	cancel_all(a, "--signal=TERM", true);
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
	if (a->allocs.n) {
		/* Idle workers end at the end of their connection; cancel what
		 * is left, and wait a little for Slurm to see it all gone, so
		 * that nothing of this run is left on the cluster. */
		cancel_all(a, NULL, false);
		VEC(struct slurmctl_step *) jobs = {0};
		for (size_t i = 0; i < a->allocs.n; i++)
			VEC_PUSH(&jobs, &a->allocs.v[i]->job);
		for (double end = mono_now() + GONE_S; mono_now() < end;) {
			bool all = slurmctl_query(&a->ctl, jobs.v, jobs.n) == 0;
			for (size_t i = 0; all && i < jobs.n; i++)
				all = slurmctl_state_final(jobs.v[i]->state);
			if (all)
				break;
			poll(NULL, 0, 100);
		}
		free(jobs.v);
	}
	for (size_t i = 0; i < a->allocs.n; i++) {
		slurmctl_step_release(&a->allocs.v[i]->job);
		free(a->allocs.v[i]);
	}
	free(a->allocs.v);
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
