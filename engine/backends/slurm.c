/* slurm.c - the slurm backend: each attempt is one `srun` job on a
 * Slurm cluster, as Snakemake's and Nextflow's Slurm executors do it
 * (slurm_mode = steps, the default; slurm_mode = allocation hands the run
 * to slurm-alloc.c at init). slurm_submit_rate spaces the sruns out with
 * a token bucket: steps wait here, in order, for their token.
 *
 * A command job runs its own argv under srun; every other kind runs as
 * `juggle exec-job NAME ATTEMPT` on the node, which loads the same graph
 * from the same path (a shared filesystem), runs that one attempt and
 * leaves its result in .juggle/results/. srun's own output goes to the
 * job's log. The scheduler, the state log and the reports stay on the
 * submitting host.
 *
 * Each srun is a child of juggle in its own process group, watched through
 * a pidfd in wait(), so -j steps run at once without threads. srun's exit
 * status alone is not trusted: when a step is cancelled, times out or is
 * interrupted while its task ignores SIGTERM until Slurm's KillWait ends
 * it, srun can exit 0 (test_slurm_cancelled_outside_is_not_ok). So every step is tagged with a
 * unique --comment, and after srun ends one `squeue` call finds its Slurm job id, node, final state
 * and wait status; only COMPLETED with exit code 0 counts as success, and for exec-job only with a
 * result sealed by this run's key (see result.h) that says ok, and the declared outputs present on
 * this host: a results file is in a folder others may write, so it alone never makes a step ok. The
 * same lookup gives the ids that timeouts and interrupts cancel with
 * scancel. Running srun, squeue and scancel is slurmctl.h's; watching
 * the steps and stopping them is this file's; what their answers mean for
 * an attempt is slurm-result.c's (slurm-internal.h holds what they share).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "engine/backends/backend.h"
#include "engine/backends/slurm-internal.h"
#include "engine/backends/slurmctl.h"
#include "engine/expand.h"
#include "engine/kind.h"
#include "engine/safepath.h"
#include "engine/sig.h"

/* After srun ends, how long a job still running or completing on the
 * cluster (KillWait, an epilog) is watched for its final state. */
#define SETTLE_S       60.0
#define SETTLE_EVERY_S 0.2

struct slurm {
	struct slurmctl ctl;
	char **args; /* slurm_args, split */
	const char *partition;
	char *exe;        /* this juggle, for exec-job */
	char *dir;        /* the graph's folder, absolute */
	char *graph_path; /* the graph file, absolute */
	char nonce[17];
	unsigned char key[RESULT_KEY_LEN]; /* seals exec-job's results */
	bool have_key;                     /* RESULT_KEY_PATH is ours to remove */
	unsigned seq;
	VEC(struct step *) steps;
	struct worker *lanes;
	bool *lane_busy;
	int n_lanes;
	bool aborted, hard;
	struct slurm_bucket bucket; /* slurm_submit_rate: srun starts */
};

/* ---- asking the controller ---- */

/* One squeue call for every step: fills jobid, state, node and wstatus of
 * those the controller knows. Returns 0, or -1 when squeue failed. */
static int query_jobs(struct slurm *s)
{
	VEC(struct slurmctl_step *) runs = {0};
	for (size_t i = 0; i < s->steps.n; i++)
		VEC_PUSH(&runs, &s->steps.v[i]->run);
	int rc = slurmctl_query(&s->ctl, runs.v, runs.n);
	free(runs.v);
	return rc;
}

char **slurm_juggle_argv(const struct graph *g, const char *exe, const char *graph_path,
                         char *const *tail, struct strvec *owned)
{
	/* The same graph, read the same way: -b and -j feed ${backend} and
	 * ${jobs}, -s the overrides. */
	VEC(char *) v = {0};
	VEC_PUSH(&v, (char *)exe);
	VEC_PUSH(&v, "-q");
	VEC_PUSH(&v, "-f");
	VEC_PUSH(&v, (char *)graph_path);
	if (g->settings.backend) {
		VEC_PUSH(&v, "-b");
		VEC_PUSH(&v, (char *)g->settings.backend);
	}
	if (g->settings.jobs > 0) {
		char *j = xasprintf("-j%d", g->settings.jobs);
		VEC_PUSH(owned, j);
		VEC_PUSH(&v, j);
	}
	for (size_t i = 0; i < g->vars.n; i++) {
		if (g->vars.v[i].line != 0)
			continue; /* from [vars]; the node reads them itself */
		char *set = xasprintf("--set=%s=%s", g->vars.v[i].key, g->vars.v[i].raw);
		VEC_PUSH(owned, set);
		VEC_PUSH(&v, set);
	}
	for (size_t i = 0; tail[i]; i++)
		VEC_PUSH(&v, tail[i]);
	VEC_PUSH(&v, NULL);
	return v.v;
}

/* ---- init ---- */

static void slurm_release(struct backend *b);

static int slurm_init(struct backend *b, struct strbuf *err)
{
	const struct settings *set = &b->graph->settings;
	if (set->slurm_mode && strcmp(set->slurm_mode, "allocation") == 0)
		return slurm_alloc_init(b, err);
	struct slurm *s = xcalloc(1, sizeof(*s));
	b->priv = s;
	struct strbuf e = {0};
	if (slurmctl_init(&s->ctl, &e) < 0) {
		sb_addf(err, "backend slurm: %s", sb_str(&e));
		sb_release(&e);
		goto fail;
	}
	if (set->slurm_args && *set->slurm_args) {
		s->args = split_words(set->slurm_args, &e);
		if (!s->args) {
			sb_addf(err, "slurm_args: %s", sb_str(&e));
			sb_release(&e);
			goto fail;
		}
	}
	s->partition = set->slurm_partition && *set->slurm_partition ? set->slurm_partition : NULL;
	if (slurm_bucket_init(&s->bucket, set->slurm_submit_rate, err) < 0)
		goto fail;

	/* A controller that is down makes srun retry for a long time; find
	 * out now, in bounded time, rather than per job. */
	if (slurmctl_ping(&s->ctl, &e) < 0) {
		sb_addf(err, "backend slurm: %s", sb_str(&e));
		sb_release(&e);
		goto fail;
	}

	s->exe = realpath("/proc/self/exe", NULL);
	s->dir = getcwd(NULL, 0);
	if (!s->exe || !s->dir) {
		sb_addf(err, "backend slurm: cannot find juggle's own path: %s", strerror(errno));
		goto fail;
	}
	const char *slash = strrchr(b->graph->file, '/');
	s->graph_path = xasprintf("%s/%s", s->dir, slash ? slash + 1 : b->graph->file);

	unsigned char rnd[8];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		uint64_t x =
		    (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(mono_now() * 1e9);
		memcpy(rnd, &x, sizeof(rnd));
	}
	hex_encode(s->nonce, rnd, sizeof(rnd));
	if (result_key_create(RESULT_KEY_PATH, s->key) < 0) {
		sb_addf(err, "backend slurm: cannot create '%s': %s", RESULT_KEY_PATH,
		        strerror(errno));
		goto fail;
	}
	s->have_key = true;

	s->n_lanes = b->cfg.jobs;
	s->lanes = xcalloc((size_t)s->n_lanes, sizeof(*s->lanes));
	s->lane_busy = xcalloc((size_t)s->n_lanes, sizeof(*s->lane_busy));
	for (int i = 0; i < s->n_lanes; i++)
		s->lanes[i].id = i;
	return 0;
fail:
	/* The scheduler releases only a backend that started. */
	slurm_release(b);
	return -1;
}

/* ---- starting a step ---- */

static bool slurm_can_start(struct backend *b, const struct job *job)
{
	(void)job;
	struct slurm *s = b->priv;
	for (int i = 0; i < s->n_lanes; i++)
		if (!s->lane_busy[i])
			return true;
	return false;
}

/* Starts the srun of a step, which runs prog (or exec-job) with its
 * output on fd. Returns 0, or -1 with err. */
static int start_srun(struct backend *b, struct step *st, const struct job_program *prog, int fd,
                      struct strbuf *err)
{
	struct slurm *s = b->priv;
	const struct job *job = st->job;
	struct strvec owned = {0};
	char *name = xasprintf("juggle:%s", job->name);
	VEC_PUSH(&owned, name);
	/* srun exports its environment to the task: the job's env.NAME go
	 * there. srun itself is found in juggle's PATH, not the job's. */
	struct slurmctl_srun o = {
	    .job_name = name,
	    .partition = s->partition,
	    .time_limit_s = job->sec->timeout,
	    .args = s->args,
	    .envp = prog ? prog->envp : NULL,
	    .out_fd = fd,
	};
	char **argv = NULL;
	if (prog) {
		if (prog->cwd) {
			/* Relative to the graph's folder, as on every backend. */
			char *cwd = prog->cwd[0] == '/' ? xstrdup(prog->cwd)
			                                : xasprintf("%s/%s", s->dir, prog->cwd);
			VEC_PUSH(&owned, cwd);
			o.chdir = cwd;
		}
		o.argv = prog->argv;
	} else {
		char *n = xasprintf("%d", st->number);
		VEC_PUSH(&owned, n);
		char *tail[] = {"exec-job", "--", /* a job name may start with '-' */
		                (char *)job->name, n, NULL};
		argv = slurm_juggle_argv(b->graph, s->exe, s->graph_path, tail, &owned);
		o.argv = argv;
	}
	int rc = slurmctl_step_start(&s->ctl, &st->run, &o, err);
	free(argv);
	strvec_release(&owned);
	return rc;
}

int slurm_bucket_init(struct slurm_bucket *k, const char *rate, struct strbuf *err)
{
	*k = (struct slurm_bucket){0};
	if (!rate || !*rate)
		return 0;
	char *end;
	k->rate = strtod(rate, &end);
	if (end == rate || *end || !(k->rate > 0) || k->rate > 1e6) {
		sb_addf(err,
		        "slurm_submit_rate: '%s' is not a number of submissions a second (more "
		        "than 0)",
		        rate);
		return -1;
	}
	k->tokens = k->rate < 1 ? 1 : k->rate;
	k->refilled = mono_now();
	return 0;
}

bool slurm_bucket_take(struct slurm_bucket *k, double now)
{
	if (k->rate <= 0)
		return true;
	double burst = k->rate < 1 ? 1 : k->rate;
	k->tokens += (now - k->refilled) * k->rate;
	k->refilled = now;
	if (k->tokens > burst)
		k->tokens = burst;
	if (k->tokens < 1)
		return false;
	k->tokens -= 1;
	return true;
}

double slurm_bucket_next(const struct slurm_bucket *k)
{
	if (k->rate <= 0)
		return 0;
	return k->refilled + (1 - k->tokens) / k->rate;
}

/* Starts a step's srun, its token taken. */
static void launch(struct backend *b, struct step *st)
{
	struct slurm *s = b->priv;
	struct job *job = st->job;
	struct job_program prog = {0};
	int fd;
	if (!st->exec) {
		int rc = attempt_begin(&st->a, job, &s->lanes[st->lane], st->number, st->prev_extra,
		                       &st->res);
		free(st->prev_extra);
		st->prev_extra = NULL;
		if (rc < 0) {
			attempt_end(&st->a, -1);
			st->phase = PH_DONE;
			return;
		}
		/* srun's own messages go to the log: it is open. */
		if ((fd = attempt_log(&st->a)) < 0) {
			attempt_end(&st->a, -1);
			st->phase = PH_DONE;
			return;
		}
		job->sec->kind->program(job, &prog);
	} else {
		result_init(&st->res);
		st->res.worker = st->lane;
		st->res.started = mono_now();
		if (cancel_requested()) {
			result_fail(&st->res, "interrupted before it started");
			st->res.status = RES_INTERRUPTED;
			st->res.not_started = true;
			slurm_finish_exec(st, false);
			return;
		}
		st->before = out_stamps_take(job);
		st->log_fd = fd = slurm_open_exec_log(st);
		if (fd < 0) {
			slurm_finish_exec(st, false);
			return;
		}
		char *result = job_result_path(job);
		unlink(result); /* a stale result must not pass for this attempt's */
		free(result);
	}
	st->log_start = lseek(fd, 0, SEEK_END);
	st->deadline = job->sec->timeout > 0 ? mono_now() + job->sec->timeout : 0;

	struct strbuf e = {0};
	int started = start_srun(b, st, st->exec ? NULL : &prog, fd, &e);
	job_program_release(&prog);
	if (started < 0) {
		result_fail(&st->res, "cannot start srun: %s", sb_str(&e));
		st->res.retryable = false;
		sb_release(&e);
		if (st->exec) {
			slurm_finish_exec(st, true);
		} else {
			attempt_end(&st->a, -1);
			st->phase = PH_DONE;
		}
		return;
	}
	sb_release(&e);
	st->phase = PH_RUNNING;
}

/* Launches queued steps, in the order they were started, while tokens
 * last. */
static void launch_queued(struct backend *b, double now)
{
	struct slurm *s = b->priv;
	for (size_t i = 0; i < s->steps.n; i++)
		if (s->steps.v[i]->phase == PH_QUEUED) {
			if (!slurm_bucket_take(&s->bucket, now))
				return;
			launch(b, s->steps.v[i]);
		}
}

static int slurm_start(struct backend *b, struct job *job, int number, const char *prev_extra,
                       struct strbuf *err)
{
	(void)err;
	struct slurm *s = b->priv;
	struct step *st = xcalloc(1, sizeof(*st));
	st->job = job;
	st->number = number;
	slurmctl_step_init(&st->run);
	st->log_fd = -1;
	for (st->lane = 0; st->lane < s->n_lanes - 1 && s->lane_busy[st->lane]; st->lane++) {
	}
	s->lane_busy[st->lane] = true;
	snprintf(st->run.comment, sizeof(st->run.comment), "juggle-%s-%u", s->nonce, ++s->seq);
	VEC_PUSH(&s->steps, st);
	st->exec = job->sec->kind->program == NULL;
	st->prev_extra = prev_extra ? xstrdup(prev_extra) : NULL;
	st->phase = PH_QUEUED;
	bool waiting = false;
	for (size_t i = 0; i + 1 < s->steps.n; i++)
		waiting |= s->steps.v[i]->phase == PH_QUEUED;
	if (!waiting && slurm_bucket_take(&s->bucket, mono_now()))
		launch(b, st);
	return 0;
}

/* ---- killing ---- */

/* Moves the steps whose time has come one stage further in stopping them
 * (slurmctl_stop()), KILL_GRACE_S apart, as for local programs. A
 * timeout first sends SIGTERM to the task and waits for srun; an
 * interrupt cancels the job, so the cluster records it as CANCELLED. A
 * second ^C goes to the last stage. */
static void escalate(struct slurm *s, double now)
{
	VEC(struct slurmctl_step *) due = {0};
	bool need_ids = false;
	for (size_t i = 0; i < s->steps.n; i++) {
		struct step *st = s->steps.v[i];
		if (st->phase != PH_RUNNING || st->killed == WHY_NONE || st->run.kill_stage >= 3)
			continue;
		if (st->next_kill > now && !s->hard)
			continue;
		VEC_PUSH(&due, &st->run);
		st->run.cancel = st->killed != WHY_TIMEOUT;
		st->next_kill = now + KILL_GRACE_S;
		/* Ask once: later stages do without an id rather than wait on a
		 * controller that may be gone. */
		need_ids |= st->run.jobid == 0 && st->run.kill_stage == 0;
	}
	if (!due.n) {
		free(due.v);
		return;
	}
	if (need_ids)
		query_jobs(s);
	slurmctl_stop(&s->ctl, due.v, due.n, s->hard);
	free(due.v);
}

/* ---- waiting ---- */

static void reap(struct step *st)
{
	if (!slurmctl_step_reap(&st->run))
		return;
	st->phase = PH_SETTLE;
	st->settle_until = mono_now() + SETTLE_S;
	st->next_check = 0;
}

/* Asks the controller about every step whose srun has ended. */
static void settle(struct slurm *s, double now)
{
	bool due = false;
	for (size_t i = 0; i < s->steps.n; i++) {
		struct step *st = s->steps.v[i];
		due |= st->phase == PH_SETTLE && st->next_check <= now;
	}
	if (!due)
		return;
	bool known = query_jobs(s) == 0;
	now = mono_now();
	for (size_t i = 0; i < s->steps.n; i++) {
		struct step *st = s->steps.v[i];
		if (st->phase != PH_SETTLE || st->next_check > now)
			continue;
		/* A second ^C stops waiting for the cluster to finish the kill. */
		if (known && st->run.jobid && !slurmctl_state_final(st->run.state) &&
		    now < st->settle_until && !s->hard) {
			st->next_check = now + SETTLE_EVERY_S;
			continue;
		}
		if (!known)
			st->run.state[0] = '\0';
		slurm_finalize(st, s->key);
	}
}

static double next_event(struct slurm *s, double until)
{
	double t = until;
	for (size_t i = 0; i < s->steps.n; i++) {
		const struct step *st = s->steps.v[i];
		double e = -1;
		if (st->phase == PH_RUNNING && st->killed == WHY_NONE && st->deadline > 0)
			e = st->deadline;
		else if (st->phase == PH_RUNNING && st->killed != WHY_NONE &&
		         st->run.kill_stage < 3)
			e = st->next_kill;
		else if (st->phase == PH_SETTLE)
			e = st->next_check;
		else if (st->phase == PH_DONE)
			e = 0;
		else if (st->phase == PH_QUEUED)
			e = slurm_bucket_next(&s->bucket);
		if (e >= 0 && (t < 0 || e < t))
			t = e;
	}
	return t;
}

static struct step *take_done(struct slurm *s)
{
	for (size_t i = 0; i < s->steps.n; i++) {
		struct step *st = s->steps.v[i];
		if (st->phase == PH_DONE) {
			memmove(s->steps.v + i, s->steps.v + i + 1,
			        (s->steps.n - i - 1) * sizeof(*s->steps.v));
			s->steps.n--;
			return st;
		}
	}
	return NULL;
}

static int slurm_wait(struct backend *b, struct job **job, struct result *res, double timeout)
{
	struct slurm *s = b->priv;
	double until = timeout < 0 ? -1 : mono_now() + timeout;
	for (;;) {
		struct step *st = take_done(s);
		if (st) {
			*job = st->job;
			*res = st->res;
			s->lane_busy[st->lane] = false;
			free(st->before);
			free(st->prev_extra); /* exec steps: the node reads its own */
			free(st);
			return 1;
		}
		double now = mono_now();
		if (!s->steps.n) {
			backend_idle_wait(until < 0 ? -1 : (until > now ? until - now : 0));
			return 0;
		}
		if (!s->aborted && cancel_requested())
			return 0; /* the scheduler calls abort() */
		if (s->aborted && !s->hard && kill_requested())
			s->hard = true;
		for (size_t i = 0; i < s->steps.n; i++) {
			struct step *r = s->steps.v[i];
			if (r->phase == PH_RUNNING && r->killed == WHY_NONE && r->deadline > 0 &&
			    now >= r->deadline) {
				r->killed = WHY_TIMEOUT;
				r->next_kill = now;
			}
		}
		if (!s->aborted)
			launch_queued(b, now);
		escalate(s, now);
		settle(s, now);
		if (next_event(s, -1) == 0)
			continue; /* a step is done */
		now = mono_now();
		if (until >= 0 && now >= until)
			return 0;

		/* Poll the sruns and the signal pipe until the next event. */
		VEC(struct pollfd) pf = {0};
		VEC(struct step *) who = {0};
		for (size_t i = 0; i < s->steps.n; i++) {
			struct step *r = s->steps.v[i];
			if (r->phase == PH_RUNNING && r->run.pidfd >= 0) {
				VEC_PUSH(&pf, ((struct pollfd){r->run.pidfd, POLLIN, 0}));
				VEC_PUSH(&who, r);
			}
		}
		int sigfd = !s->aborted ? sig_cancel_fd() : !s->hard ? sig_kill_fd() : -1;
		if (sigfd >= 0)
			VEC_PUSH(&pf, ((struct pollfd){sigfd, POLLIN, 0}));
		double wake = next_event(s, until);
		int ms = wake < 0 ? -1 : wake <= now ? 0 : (int)((wake - now) * 1000) + 1;
		bool fallback = false;
		for (size_t i = 0; i < s->steps.n; i++) {
			const struct step *r = s->steps.v[i];
			fallback |= r->phase == PH_RUNNING && r->run.pidfd < 0;
		}
		if (fallback && (ms < 0 || ms > 50))
			ms = 50; /* no pidfd (an old kernel): look with waitpid */
		int n = poll(pf.v, pf.n, ms);
		for (size_t i = 0; n > 0 && i < who.n; i++)
			if (pf.v[i].revents)
				reap(who.v[i]);
		for (size_t i = 0; fallback && i < s->steps.n; i++) {
			struct step *r = s->steps.v[i];
			if (r->phase == PH_RUNNING && r->run.pidfd < 0)
				reap(r);
		}
		free(pf.v);
		free(who.v);
	}
}

static int slurm_running(struct backend *b)
{
	return (int)((struct slurm *)b->priv)->steps.n;
}

static void slurm_abort(struct backend *b)
{
	struct slurm *s = b->priv;
	s->aborted = true;
	double now = mono_now();
	for (size_t i = 0; i < s->steps.n; i++) {
		struct step *st = s->steps.v[i];
		if (st->phase == PH_QUEUED) {
			result_init(&st->res);
			st->res.worker = st->lane;
			st->res.started = st->res.finished = now;
			result_fail(&st->res, "interrupted before it started");
			st->res.status = RES_INTERRUPTED;
			st->res.not_started = true;
			st->phase = PH_DONE;
			free(st->prev_extra);
			st->prev_extra = NULL;
		}
		if (st->phase == PH_RUNNING && st->killed == WHY_NONE) {
			st->killed = WHY_INTERRUPT;
			st->next_kill = now;
		}
	}
	escalate(s, now);
}

static void slurm_release(struct backend *b)
{
	struct slurm *s = b->priv;
	if (!s)
		return;
	for (size_t i = 0; i < s->steps.n; i++) {
		/* Only after a failed init or a scheduler bug: nothing should run. */
		struct step *st = s->steps.v[i];
		slurmctl_step_release(&st->run);
		result_release(&st->res);
		free(st->before);
		free(st->prev_extra);
		free(st);
	}
	free(s->steps.v);
	if (s->have_key)
		unlink(RESULT_KEY_PATH);
	for (int i = 0; i < s->n_lanes; i++)
		worker_release(&s->lanes[i]);
	free(s->lanes);
	free(s->lane_busy);
	slurmctl_release(&s->ctl);
	free_words(s->args);
	free(s->exe);
	free(s->dir);
	free(s->graph_path);
	free(s);
	b->priv = NULL;
}

const struct backend_ops backend_slurm = {
    .name = "slurm",
    .fds_per_job = 4,
    .init = slurm_init,
    .can_start = slurm_can_start,
    .start = slurm_start,
    .wait = slurm_wait,
    .running = slurm_running,
    .abort = slurm_abort,
    .release = slurm_release,
};
