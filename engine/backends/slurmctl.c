/* slurmctl.c - the Slurm client: running srun, squeue, scancel and
 * scontrol, and reading what they say. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/backends/slurmctl.h"
#include "engine/spawn.h"

/* Seconds a ping waits for `scontrol ping` (a hung controller makes
 * Slurm's tools wait MessageTimeout, 10 s by default, and retry). */
#define PING_TIMEOUT_S 5.0
/* Seconds a squeue or scancel call may take. */
#define TOOL_TIMEOUT_S 5.0

static char *find_program(const char *name)
{
	const char *path = getenv("PATH");
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path;;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n) {
			char *cand = xasprintf("%.*s/%s", (int)n, p, name);
			if (access(cand, X_OK) == 0)
				return cand;
			free(cand);
		}
		if (!colon)
			return NULL;
		p = colon + 1;
	}
}

/* Runs a Slurm tool, collecting its stdout and stderr in out, for at most
 * timeout seconds. Returns its wait status, or -1 when it could not run or
 * ran out of time (out says which). Unlike spawn_wait(), a stop request
 * does not end it: scancel must run precisely then. */
static int run_tool(char *const *argv, double timeout, struct strbuf *out)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		sb_addf(out, "cannot make a pipe: %s", strerror(errno));
		return -1;
	}
	struct spawn_opts so = {.argv = argv, .out_fd = p[1]};
	pid_t pid = spawn_start(&so, out);
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		return -1;
	}
	double until = mono_now() + timeout;
	bool late = false;
	char buf[4096];
	for (;;) {
		double left = until - mono_now();
		if (left <= 0) {
			late = true;
			break;
		}
		struct pollfd pf = {p[0], POLLIN, 0};
		int n = poll(&pf, 1, (int)(left * 1000) + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		ssize_t r = read(p[0], buf, sizeof(buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		sb_add(out, buf, (size_t)r);
	}
	close(p[0]);
	if (late)
		spawn_kill_group(pid, SIGKILL);
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
	}
	if (late) {
		sb_reset(out);
		sb_addf(out, "'%s' did not answer in %g s", argv[0], timeout);
		return -1;
	}
	return status;
}

static bool exited_0(int status)
{
	return status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int slurmctl_init(struct slurmctl *c, struct strbuf *err)
{
	*c = (struct slurmctl){0};
	const char *need[] = {"srun", "squeue", "scancel", "scontrol"};
	char **found[] = {&c->srun, &c->squeue, &c->scancel, &c->scontrol};
	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		*found[i] = find_program(need[i]);
		if (!*found[i]) {
			sb_addf(err, "'%s' not found in PATH (install Slurm's client tools, "
				     "Debian's slurm-client)", need[i]);
			slurmctl_release(c);
			return -1;
		}
	}
	return 0;
}

void slurmctl_release(struct slurmctl *c)
{
	free(c->srun);
	free(c->squeue);
	free(c->scancel);
	free(c->scontrol);
	*c = (struct slurmctl){0};
}

int slurmctl_ping(const struct slurmctl *c, struct strbuf *err)
{
	char *ping[] = {c->scontrol, "ping", NULL};
	struct strbuf out = {0};
	int st = run_tool(ping, PING_TIMEOUT_S, &out);
	int rc = 0;
	if (!exited_0(st) || !strstr(sb_str(&out), "UP")) {
		const char *o = sb_str(&out);
		int n = (int)strcspn(o, "\n");
		sb_addf(err, "cannot reach slurmctld (scontrol ping: %.*s)", n,
			n ? o : "no answer");
		rc = -1;
	}
	sb_release(&out);
	return rc;
}

/* The srun command line, NULL-terminated; the strings made here are
 * pushed to owned. */
static char **srun_argv(const struct slurmctl *c, const char *comment,
			const struct slurmctl_srun *o, struct strvec *owned)
{
	VEC(char *) v = {0};
	VEC_PUSH(&v, c->srun);
	char *name = xasprintf("--job-name=%s", o->job_name);
	VEC_PUSH(owned, name);
	VEC_PUSH(&v, name);
	char *tag = xasprintf("--comment=%s", comment);
	VEC_PUSH(owned, tag);
	VEC_PUSH(&v, tag);
	VEC_PUSH(&v, "--quit-on-interrupt");
	VEC_PUSH(&v, "-Q");
	VEC_PUSH(&v, "-N1");
	VEC_PUSH(&v, "-n1");
	if (o->partition) {
		char *p = xasprintf("--partition=%s", o->partition);
		VEC_PUSH(owned, p);
		VEC_PUSH(&v, p);
	}
	if (o->time_limit_s > 0) {
		/* Slurm counts whole minutes; juggle's own kill is exact. */
		char *t = xasprintf("--time=%ld", (long)ceil(o->time_limit_s / 60.0));
		VEC_PUSH(owned, t);
		VEC_PUSH(&v, t);
	}
	for (char *const *a = o->args; a && *a; a++)
		VEC_PUSH(&v, *a);
	if (o->chdir) {
		char *cwd = xasprintf("--chdir=%s", o->chdir);
		VEC_PUSH(owned, cwd);
		VEC_PUSH(&v, cwd);
	}
	for (char *const *a = o->argv; *a; a++)
		VEC_PUSH(&v, *a);
	VEC_PUSH(&v, NULL);
	return v.v;
}

int slurmctl_parse_job(char *line, struct slurmctl_job *job)
{
	/* id|state|exit_code|nodes|comment| - juggle's comments hold no '|'. */
	char *f[5];
	int nf = 0;
	for (char *p = line; nf < 5;) {
		f[nf++] = p;
		char *bar = strchr(p, '|');
		if (!bar)
			break;
		*bar = '\0';
		p = bar + 1;
	}
	if (nf != 5)
		return -1;
	job->id = strtol(f[0], NULL, 10);
	job->state = f[1];
	char *end;
	long w = strtol(f[2], &end, 10);
	job->wstatus = *f[2] && !*end ? (int)w : -1;
	job->node = strcmp(f[3], "(null)") != 0 ? f[3] : "";
	job->comment = f[4];
	job->comment_len = strcspn(f[4], "|");
	return 0;
}

static struct slurmctl_step *step_by_comment(struct slurmctl_step *const *steps, size_t n,
					     const char *comment, size_t len)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(steps[i]->comment) == len && memcmp(steps[i]->comment, comment, len) == 0)
			return steps[i];
	return NULL;
}

int slurmctl_query(const struct slurmctl *c, struct slurmctl_step *const *steps, size_t n)
{
	char *argv[] = {c->squeue, "--me", "-h", "-t", "all", "-O",
			"JobID:|,State:|,exit_code:|,NodeList:|,Comment:|", NULL};
	struct strbuf out = {0};
	int status = run_tool(argv, TOOL_TIMEOUT_S, &out);
	if (!exited_0(status)) {
		sb_release(&out);
		return -1;
	}
	char *text = sb_detach(&out);
	for (char *line = text; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		struct slurmctl_job job;
		struct slurmctl_step *st = NULL;
		if (slurmctl_parse_job(line, &job) == 0)
			st = step_by_comment(steps, n, job.comment, job.comment_len);
		if (st) {
			st->jobid = job.id;
			snprintf(st->state, sizeof(st->state), "%s", job.state);
			st->wstatus = job.wstatus;
			if (*job.node)
				snprintf(st->node, sizeof(st->node), "%s", job.node);
		}
		line = nl ? nl + 1 : NULL;
	}
	free(text);
	return 0;
}

/* scancel [opt] the job ids of the given steps that have one; opt is
 * NULL for a full cancel, or "--signal=TERM" to only signal the tasks.
 * Its failure is no news: a job that has ended needs no cancel. */
static void cancel(const struct slurmctl *c, struct slurmctl_step *const *steps, size_t n,
		   const char *opt)
{
	VEC(char *) argv = {0};
	VEC_PUSH(&argv, c->scancel);
	if (opt)
		VEC_PUSH(&argv, (char *)opt);
	size_t first = argv.n;
	for (size_t i = 0; i < n; i++)
		if (steps[i]->jobid > 0)
			VEC_PUSH(&argv, xasprintf("%ld", steps[i]->jobid));
	if (argv.n > first) {
		VEC_PUSH(&argv, NULL);
		struct strbuf out = {0};
		run_tool(argv.v, TOOL_TIMEOUT_S, &out);
		sb_release(&out);
		argv.n--;
	}
	for (size_t i = first; i < argv.n; i++)
		free(argv.v[i]);
	free(argv.v);
}

void slurmctl_step_init(struct slurmctl_step *st)
{
	*st = (struct slurmctl_step){.pidfd = -1, .wstatus = -1};
}

int slurmctl_step_start(const struct slurmctl *c, struct slurmctl_step *st,
			const struct slurmctl_srun *o, struct strbuf *err)
{
	struct strvec owned = {0};
	char **argv = srun_argv(c, st->comment, o, &owned);
	struct spawn_opts so = {.argv = argv, .envp = o->envp, .out_fd = o->out_fd};
	st->pid = spawn_start(&so, err);
	free(argv);
	strvec_release(&owned);
	if (st->pid < 0) {
		st->pid = 0;
		return -1;
	}
	st->pidfd = (int)pidfd_open(st->pid, 0);
	return 0;
}

bool slurmctl_step_reap(struct slurmctl_step *st)
{
	int status;
	pid_t w;
	while ((w = waitpid(st->pid, &status, WNOHANG)) < 0 && errno == EINTR) {
	}
	if (w == 0)
		return false;
	st->status = w == st->pid ? status : 0;
	if (st->pidfd >= 0)
		close(st->pidfd);
	st->pidfd = -1;
	st->pid = 0;
	return true;
}

void slurmctl_stop(const struct slurmctl *c, struct slurmctl_step *const *steps, size_t n,
		   bool hard)
{
	VEC(struct slurmctl_step *) term = {0}, kill9 = {0}, full = {0};
	for (size_t i = 0; i < n; i++) {
		struct slurmctl_step *st = steps[i];
		int stage = hard ? 3 : st->kill_stage + 1;
		if (stage == 1 && !st->jobid) {
			spawn_kill_group(st->pid, SIGTERM);
		} else if (stage == 1 && !st->cancel) {
			VEC_PUSH(&term, st);
		} else if (stage == 1) {
			VEC_PUSH(&full, st);
		} else if (stage == 2) {
			VEC_PUSH(&kill9, st);
			spawn_kill_group(st->pid, SIGTERM);
		} else {
			VEC_PUSH(&kill9, st);
			VEC_PUSH(&full, st);
			spawn_kill_group(st->pid, SIGKILL);
		}
		st->kill_stage = stage;
	}
	cancel(c, term.v, term.n, "--signal=TERM");
	cancel(c, kill9.v, kill9.n, "--signal=KILL");
	cancel(c, full.v, full.n, NULL);
	free(term.v);
	free(kill9.v);
	free(full.v);
}

void slurmctl_step_release(struct slurmctl_step *st)
{
	if (st->pid > 0) {
		spawn_kill_group(st->pid, SIGKILL);
		waitpid(st->pid, NULL, 0);
	}
	if (st->pidfd >= 0)
		close(st->pidfd);
	st->pid = 0;
	st->pidfd = -1;
}

bool slurmctl_state_final(const char *state)
{
	static const char *const final[] = {"COMPLETED", "FAILED",    "CANCELLED",
					    "TIMEOUT",   "NODE_FAIL", "PREEMPTED",
					    "BOOT_FAIL", "DEADLINE",  "OUT_OF_MEMORY",
					    "REVOKED",   "SPECIAL_EXIT"};
	for (size_t i = 0; i < ARRAY_SIZE(final); i++)
		if (strcmp(state, final[i]) == 0)
			return true;
	return false;
}

const char *slurmctl_state_reason(const char *state)
{
	static const char *const map[][2] = {
		{"CANCELLED", "was cancelled (scancel, or by an administrator)"},
		{"TIMEOUT", "reached its Slurm time limit"},
		{"NODE_FAIL", "ended because its node failed"},
		{"PREEMPTED", "was preempted"},
		{"BOOT_FAIL", "could not boot its node"},
		{"DEADLINE", "reached its deadline"},
		{"OUT_OF_MEMORY", "ran out of memory"},
		{"REVOKED", "was revoked"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(map); i++)
		if (strcmp(state, map[i][0]) == 0)
			return map[i][1];
	return NULL;
}

int slurmctl_sbatch(const struct slurmctl *c, char *const *opts, const char *script, long *jobid,
		    struct strbuf *err)
{
	char *sbatch = find_program("sbatch");
	if (!sbatch) {
		sb_addf(err, "'sbatch' not found in PATH (install Slurm's client tools, Debian's "
			     "slurm-client)");
		return -1;
	}
	(void)c;
	VEC(char *) argv = {0};
	VEC_PUSH(&argv, sbatch);
	VEC_PUSH(&argv, "--parsable");
	for (size_t i = 0; opts && opts[i]; i++)
		VEC_PUSH(&argv, opts[i]);
	VEC_PUSH(&argv, (char *)script);
	VEC_PUSH(&argv, NULL);
	struct strbuf out = {0};
	int status = run_tool(argv.v, TOOL_TIMEOUT_S, &out);
	free(argv.v);
	free(sbatch);
	char *end = NULL;
	long id = exited_0(status) ? strtol(sb_str(&out), &end, 10) : 0;
	if (id <= 0 || !end || (*end && *end != '\n' && *end != ';')) {
		while (out.len && (out.buf[out.len - 1] == '\n' || out.buf[out.len - 1] == ' '))
			out.buf[--out.len] = '\0';
		sb_addf(err, "sbatch failed: %s", out.len ? sb_str(&out) : "no job id");
		sb_release(&out);
		return -1;
	}
	sb_release(&out);
	*jobid = id;
	return 0;
}

void slurmctl_cancel_job(const struct slurmctl *c, long jobid, const char *opt)
{
	struct slurmctl_step st;
	slurmctl_step_init(&st);
	st.jobid = jobid;
	struct slurmctl_step *one = &st;
	cancel(c, &one, 1, opt);
}

void slurmctl_cancel_jobs(const struct slurmctl *c, struct slurmctl_step *const *steps, size_t n,
			  const char *opt)
{
	cancel(c, steps, n, opt);
}
