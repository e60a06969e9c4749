/* slurm.c - the slurm backend: each attempt is one `srun` job on a
 * Slurm cluster, as Snakemake's and Nextflow's Slurm executors do it.
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
 * it, srun can exit 0 (test_slurm_cancelled_outside_is_not_ok). So every step is tagged with a unique --comment, and after
 * srun ends one `squeue` call finds its Slurm job id, node, final state and
 * wait status; only COMPLETED with exit code 0 counts as success, and for
 * exec-job only with a result sealed by this run's key (see result.h) that
 * says ok, and the declared outputs present on this host: a results file
 * is in a folder others may write, so it alone never makes a step ok. The
 * same lookup gives the ids that timeouts and interrupts cancel with
 * scancel. Running srun, squeue and scancel is slurmctl.h's; what their
 * answers mean for an attempt is this file's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/backends/backend.h"
#include "engine/backends/slurmctl.h"
#include "engine/expand.h"
#include "engine/kind.h"
#include "engine/owndir.h"
#include "engine/safepath.h"
#include "engine/sig.h"
#include "engine/spawn.h"

/* After srun ends, how long a job still running or completing on the
 * cluster (KillWait, an epilog) is watched for its final state. */
#define SETTLE_S 60.0
#define SETTLE_EVERY_S 0.2

enum phase {
	PH_RUNNING, /* srun is running */
	PH_SETTLE,  /* srun ended; waiting for the job's final state */
	PH_DONE,    /* res is final; wait() hands it over */
};

enum why { WHY_NONE, WHY_TIMEOUT, WHY_INTERRUPT };

struct step {
	struct job *job;
	int number;
	int lane;
	bool exec;             /* runs `juggle exec-job`, not the job's argv */
	enum phase phase;
	struct slurmctl_step run; /* the srun and its Slurm job */
	struct attempt a;      /* command steps: attempt_begin()'s */
	struct result res;
	int log_fd;            /* exec steps: the log, for srun's own messages */
	off_t log_start;       /* where this attempt's part of the log begins */
	double deadline;       /* juggle's timeout, monotonic; 0: none */
	enum why killed;
	double next_kill;      /* when slurmctl_stop()'s next stage is due */
	double settle_until, next_check;
	struct out_stamp *before; /* exec steps: the outputs before the step */
};

struct slurm {
	struct slurmctl ctl;
	char **args;                   /* slurm_args, split */
	const char *partition;
	char *exe;                     /* this juggle, for exec-job */
	char *dir;                     /* the graph's folder, absolute */
	char *graph_path;              /* the graph file, absolute */
	char nonce[17];
	unsigned char key[RESULT_KEY_LEN]; /* seals exec-job's results */
	bool have_key;                     /* RESULT_KEY_PATH is ours to remove */
	unsigned seq;
	VEC(struct step *) steps;
	struct worker *lanes;
	bool *lane_busy;
	int n_lanes;
	bool aborted, hard;
};

/* ---- small tools ---- */

/* The last line of the job's log from offset on that starts with one of
 * the prefixes, without its newline; NULL when there is none. */
static char *log_line(const struct job *job, off_t from, const char *const *prefixes)
{
	char *path = job_log_path(job);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	free(path);
	if (fd < 0)
		return NULL;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t start = end - from > 16384 ? end - 16384 : from;
	char *buf = NULL;
	if (start >= 0 && end > start) {
		buf = xmalloc((size_t)(end - start) + 1);
		ssize_t n = pread(fd, buf, (size_t)(end - start), start);
		buf[n > 0 ? n : 0] = '\0';
	}
	close(fd);
	char *found = NULL;
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		for (const char *const *p = prefixes; *p; p++) {
			if (strncmp(line, *p, strlen(*p)) == 0) {
				free(found);
				found = xstrdup(line);
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	free(buf);
	return found;
}

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

/* ---- init ---- */

static void slurm_release(struct backend *b);

static int slurm_init(struct backend *b, struct strbuf *err)
{
	const struct settings *set = &b->graph->settings;
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
		uint64_t x = (uint64_t)getpid() * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(mono_now() * 1e9);
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
	VEC(char *) v = {0};
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
		/* The same graph, read the same way: -b and -j feed ${backend}
		 * and ${jobs}, -s the overrides. */
		const struct graph *g = b->graph;
		VEC_PUSH(&v, s->exe);
		VEC_PUSH(&v, "-q");
		VEC_PUSH(&v, "-f");
		VEC_PUSH(&v, s->graph_path);
		if (g->settings.backend) {
			VEC_PUSH(&v, "-b");
			VEC_PUSH(&v, (char *)g->settings.backend);
		}
		if (g->settings.jobs > 0) {
			char *j = xasprintf("-j%d", g->settings.jobs);
			VEC_PUSH(&owned, j);
			VEC_PUSH(&v, j);
		}
		for (size_t i = 0; i < g->vars.n; i++) {
			if (g->vars.v[i].line != 0)
				continue; /* from [vars]; the node reads them itself */
			char *set = xasprintf("--set=%s=%s", g->vars.v[i].key, g->vars.v[i].raw);
			VEC_PUSH(&owned, set);
			VEC_PUSH(&v, set);
		}
		VEC_PUSH(&v, "exec-job");
		VEC_PUSH(&v, "--"); /* a job name may start with '-' */
		VEC_PUSH(&v, (char *)job->name);
		char *n = xasprintf("%d", st->number);
		VEC_PUSH(&owned, n);
		VEC_PUSH(&v, n);
		VEC_PUSH(&v, NULL);
		o.argv = v.v;
	}
	int rc = slurmctl_step_start(&s->ctl, &st->run, &o, err);
	free(v.v);
	strvec_release(&owned);
	return rc;
}

/* Opens the log of an exec-job step for srun's own messages: the node
 * writes the attempt's header and the kind's output itself. */
static int open_exec_log(struct step *st)
{
	char *path = job_log_path(st->job);
	mkdir_p(STATE_DIR "/logs", 0777);
	int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (st->number <= 1 ? O_TRUNC : 0);
	int fd = own_file_open(path, flags, 0666);
	if (fd < 0)
		result_fail(&st->res, "cannot open the log of '%s': %s", st->job->name,
			    strerror(errno));
	free(path);
	return fd;
}

static void finish_exec(struct step *st, bool host_decided);

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

	struct job_program prog = {0};
	int fd;
	if (!st->exec) {
		if (attempt_begin(&st->a, job, &s->lanes[st->lane], number, prev_extra, &st->res) <
		    0) {
			attempt_end(&st->a, -1);
			st->phase = PH_DONE;
			return 0;
		}
		job->sec->kind->program(job, &prog);
		fd = st->a.log_fd;
	} else {
		result_init(&st->res);
		st->res.worker = st->lane;
		st->res.started = mono_now();
		if (cancel_requested()) {
			result_fail(&st->res, "interrupted before it started");
			st->res.status = RES_INTERRUPTED;
			st->res.not_started = true;
			finish_exec(st, false);
			return 0;
		}
		st->before = out_stamps_take(job);
		st->log_fd = fd = open_exec_log(st);
		if (fd < 0) {
			finish_exec(st, false);
			return 0;
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
			finish_exec(st, true);
		} else {
			attempt_end(&st->a, -1);
			st->phase = PH_DONE;
		}
		return 0;
	}
	sb_release(&e);
	st->phase = PH_RUNNING;
	return 0;
}

/* ---- ending a step ---- */

/* The end of an exec-job step on this host. host_decided: the failure is
 * this host's finding (timeout, no result), so the log gets the reason and
 * the outputs go; otherwise the node has done both. */
static void finish_exec(struct step *st, bool host_decided)
{
	struct result *res = &st->res;
	if (res->status != RES_OK && host_decided) {
		attempt_fail_end(st->job, st->before, res, st->log_fd);
	} else if (res->status != RES_OK) {
		/* the node has removed the outputs and noted the error itself */
		if (!res->error)
			res->error = xstrdup("failed");
		if (cancel_requested())
			res->status = RES_INTERRUPTED;
	}
	if (st->log_fd >= 0)
		close(st->log_fd);
	st->log_fd = -1;
	char *path = job_result_path(st->job);
	unlink(path);
	free(path);
	res->finished = mono_now();
	st->phase = PH_DONE;
}

/* Reads what exec-job left; 0 when there was a result, -1 when there was
 * none, -2 when there was one this run's exec-job did not write (no seal,
 * or the seal of another attempt or key). */
static int read_exec_result(struct slurm *s, struct step *st)
{
	char *path = job_result_path(st->job);
	size_t len;
	char *text = own_file_read(path, &len);
	free(path);
	if (!text)
		return -1;
	struct result r;
	int rc = result_unseal(text, st->job->name, st->number, s->key, &r);
	free(text);
	if (rc < 0)
		return rc == -1 ? -2 : -1;
	/* Keep this host's lane and clock; take the rest from the node. */
	r.worker = st->res.worker;
	r.started = st->res.started;
	result_release(&st->res);
	st->res = r;
	return 0;
}

/* Decides how a step ended, once srun has ended and the job's final state
 * is known (or cannot be). */
/* For an exec-job step the node says ok: whether each declared output is
 * here, on the host that records it, as the node's result says. Returns
 * 0, or -1 with res failed. */
static int check_exec_outputs(struct step *st)
{
	struct result *res = &st->res;
	const struct job *job = st->job;
	for (uint32_t i = 0; i < job->n_outputs; i++) {
		bool named = false;
		for (uint32_t k = 0; k < res->n_outs && !named; k++)
			named = strcmp(res->outs[k].path, job->outputs[i]) == 0;
		struct file_sig here;
		if (!named || file_sig_read(job->outputs[i], &here, false) < 0) {
			result_fail(res, "Slurm job %ld reported success, but output '%s' is %s on "
					 "this host (is the folder shared with node %s?)",
				    st->run.jobid, job->outputs[i],
				    named ? "missing" : "not in its result",
				    st->run.node[0] ? st->run.node : "of the job");
			res->retryable = true;
			return -1;
		}
	}
	return 0;
}

static void finalize(struct slurm *s, struct step *st)
{
	struct result *res = &st->res;
	const struct job *job = st->job;
	const char *state = st->run.state;
	bool srun_ok = WIFEXITED(st->run.status) && WEXITSTATUS(st->run.status) == 0;
	/* COMPLETED is the controller's word that the task exited 0 (and its
	 * exit code, when known, must say so too). Without a word (no squeue,
	 * a job purged already) srun's status stands. */
	bool completed = srun_ok && ((strcmp(state, "COMPLETED") == 0 && st->run.wstatus <= 0) ||
				     (!*state && st->killed == WHY_NONE));
	struct strbuf why = {0};
	if (st->run.jobid)
		sb_addf(&why, "Slurm job %ld", st->run.jobid);
	else
		sb_adds(&why, "its Slurm job");
	int rc = -1;
	bool host_decided = true;

	if (!completed && st->killed == WHY_TIMEOUT && st->exec && read_exec_result(s, st) == 0 &&
	    st->res.timed_out) {
		/* The node's own clock ran out too, and it has said so in the
		 * log and its result: one "timed out" per attempt, not two. */
		res = &st->res;
		host_decided = false;
	} else if (!completed && st->killed == WHY_TIMEOUT) {
		res->timed_out = true;
		res->retryable = true;
		result_fail(res, "timed out after %g s (%s cancelled)", job->sec->timeout,
			    sb_str(&why));
	} else if (!completed && st->killed == WHY_INTERRUPT) {
		result_fail(res, "interrupted (%s cancelled)", sb_str(&why));
		res->status = RES_INTERRUPTED;
	} else if (*state && slurmctl_state_reason(state)) {
		res->retryable = true;
		result_fail(res, "%s %s%s%s", sb_str(&why), slurmctl_state_reason(state),
			    st->run.node[0] ? " on node " : "", st->run.node);
	} else if (*state && !slurmctl_state_final(state)) {
		res->retryable = true;
		result_fail(res, "%s was still %s when juggle stopped watching it", sb_str(&why),
			    state);
	} else if (st->exec) {
		int got = read_exec_result(s, st);
		if (got == 0 && st->res.status == RES_OK && !completed) {
			/* The node's word against Slurm's: Slurm's wins. */
			struct strbuf d = {0};
			describe_status(st->run.wstatus >= 0 && st->run.jobid ? st->run.wstatus
									  : st->run.status,
					&d);
			result_fail(res, "%s ended %s (%s) although its result says ok", sb_str(&why),
				    *state ? state : "without a final state", sb_str(&d));
			res->retryable = true;
			sb_release(&d);
		} else if (got == 0) {
			res = &st->res;
			host_decided = res->status == RES_OK;
			rc = res->status == RES_OK ? check_exec_outputs(st) : -1;
		} else if (got == -2) {
			result_fail(res, "the result of %s in '%s' was not written by this run's "
					 "juggle exec-job (its seal is missing or wrong); rejected",
				    sb_str(&why), STATE_DIR "/results/");
			res->retryable = false;
		} else {
			static const char *const pre[] = {"juggle: ", "srun: error: ", NULL};
			char *line = log_line(job, st->log_start, pre);
			struct strbuf d = {0};
			describe_status(st->run.status, &d);
			res->retryable = true;
			result_fail(res, "juggle exec-job left no result (srun %s%s%s)%s%s", sb_str(&d),
				    st->run.node[0] ? " on node " : "", st->run.node, line ? ": " : "",
				    line ? line : "");
			free(line);
			sb_release(&d);
		}
	} else if (completed) {
		rc = 0;
	} else {
		/* The task's own status, as Slurm saw it, else srun's. */
		int ws = st->run.wstatus >= 0 && st->run.jobid ? st->run.wstatus : st->run.status;
		if (WIFEXITED(ws))
			res->exit_code = WEXITSTATUS(ws);
		else if (WIFSIGNALED(ws))
			res->signal = WTERMSIG(ws);
		res->retryable = true;
		if (!st->run.jobid && !srun_ok) {
			/* No job: the controller refused it, or srun failed early. */
			static const char *const pre[] = {"srun: error: ", "srun: fatal: ", NULL};
			char *line = log_line(job, st->log_start, pre);
			struct strbuf d = {0};
			describe_status(st->run.status, &d);
			result_fail(res, "srun %s before a job started%s%s", sb_str(&d),
				    line ? ": " : "", line ? line + 6 : "");
			res->exit_code = -1;
			free(line);
			sb_release(&d);
		} else {
			struct strbuf d = {0};
			describe_status(ws, &d);
			result_fail(res, "%s%s%s", sb_str(&d), st->run.node[0] ? " on node " : "",
				    st->run.node);
			sb_release(&d);
		}
	}
	sb_release(&why);
	if (st->run.jobid > 0)
		result_fact_int(res, "slurm_job_id", st->run.jobid);
	if (st->run.node[0])
		result_fact_str(res, "node", st->run.node);
	if (rc == 0) {
		res->status = RES_OK;
		free(res->error);
		res->error = NULL;
	}
	if (st->exec) {
		if (rc != 0 && res->status == RES_OK)
			res->status = RES_FAILED;
		finish_exec(st, host_decided && rc != 0);
	} else {
		attempt_end(&st->a, rc);
		/* attempt_end() counts this thread's CPU time, which here is
		 * the scheduler's; the task's is not known without accounting. */
		res->cpu_s = 0;
		st->phase = PH_DONE;
	}
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
		finalize(s, st);
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
		else if (st->phase == PH_RUNNING && st->killed != WHY_NONE && st->run.kill_stage < 3)
			e = st->next_kill;
		else if (st->phase == PH_SETTLE)
			e = st->next_check;
		else if (st->phase == PH_DONE)
			e = 0;
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
