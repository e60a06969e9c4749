/* command.c - the `command` job kind: run a program, without a shell unless
 * asked, its output to the job's log.
 *
 * The command is split into words once per section; each instance then
 * substitutes its placeholders inside the words, so file names reach the
 * program as single, inert arguments. With shell = yes the placeholders
 * are inserted already quoted as one /bin/sh word each.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "engine/expand.h"
#include "engine/shellcheck.h"
#include "engine/kind.h"
#include "engine/load/load.h"
#include "engine/pworker.h"
#include "engine/sig.h"
#include "engine/spawn.h"

extern char **environ;

struct command_def {
	const char *text;     /* the command after ${} expansion */
	bool shell;
	const char *cwd;      /* NULL: the graph's folder */
	struct kvvec env;     /* env.NAME keys, pointing into the section */
	const char *worker;   /* a persistent worker's command, or NULL */
	double worker_idle;   /* seconds its workers may stay idle */
};

static const char *const command_keys[] = {"command", "shell", "cwd", "worker", "worker_idle",
					   NULL};
static const char *const command_settings_keys[] = {"worker_idle", NULL};

/* worker_idle: the section's, else [settings]', else PWORKER_IDLE_S. */
static int check_worker_idle(const struct graph *g, struct section *sec, struct command_def *def,
			     struct diag *d)
{
	const struct kv *idle = section_key(sec, "worker_idle");
	def->worker_idle = PWORKER_IDLE_S;
	if (idle && !def->worker) {
		diag_add(d, g->file, idle->line,
			 "job '%s': worker_idle: the job has no worker to stop; remove worker_idle "
			 "or add a worker",
			 sec->name);
		return -1;
	}
	if (!def->worker)
		return 0;
	if (!idle)
		idle = graph_kind_setting(g, "worker_idle");
	if (idle && (parse_seconds(idle->val, &def->worker_idle) < 0 || def->worker_idle <= 0)) {
		diag_add(d, g->file, idle->line,
			 "job '%s': worker_idle: '%s' is not a positive number of seconds "
			 "(how long an idle worker is kept, e.g. 60)",
			 sec->name, idle->val);
		def->worker_idle = PWORKER_IDLE_S;
		return -1;
	}
	return 0;
}

/* The worker key: a command like `command`'s, which the request's
 * arguments follow when it runs one-shot. */
static int check_worker(const struct graph *g, struct section *sec, struct command_def *def,
			const struct kv *worker, struct diag *d)
{
	if (def->shell || def->cwd) {
		diag_add(d, g->file, worker->line,
			 "job '%s': worker: a worker runs in the graph's folder, without a shell; "
			 "remove '%s' or the worker",
			 sec->name, def->shell ? "shell = yes" : "cwd");
		return -1;
	}
	struct strbuf err = {0};
	char **words = split_words(worker->val, &err);
	int rc = 0;
	if (!words) {
		diag_add(d, g->file, worker->line, "job '%s': worker: %s", sec->name, sb_str(&err));
		rc = -1;
	} else if (check_command_placeholders(worker->val, false, &err) < 0) {
		diag_add(d, g->file, worker->line, "job '%s': worker: %s", sec->name, sb_str(&err));
		rc = -1;
	}
	free_words(words);
	sb_release(&err);
	def->worker = worker->val;
	return rc;
}

static int command_check(const struct graph *g, struct section *sec, struct diag *d)
{
	const struct kv *cmd = section_key(sec, "command");
	const struct kv *shell = section_key(sec, "shell");
	const struct kv *cwd = section_key(sec, "cwd");
	int errors = 0;
	if (!cmd || !*cmd->val) {
		diag_add(d, g->file, cmd ? cmd->line : sec->line,
			 "job '%s': missing key 'command' (the program and its arguments)",
			 sec->name);
		return -1;
	}
	struct command_def *def = xcalloc(1, sizeof(*def));
	sec->kpriv = def;
	def->text = cmd->val;
	if (shell && parse_yes_no(shell->val, &def->shell) < 0) {
		diag_add(d, g->file, shell->line, "job '%s': shell: '%s' is not yes or no",
			 sec->name, shell->val);
		errors++;
	}
	if (def->shell && cmd->cut_line) {
		/* To a shell, " ;" ends a command: here it ends the value. */
		diag_add(d, g->file, cmd->cut_line,
			 "job '%s': command: ' ;' starts a comment, which cuts this shell command short; write ${semicolon} for a ';' after a space",
			 sec->name);
		errors++;
	}
	if (cwd && *cwd->val)
		def->cwd = cwd->val;
	if (!def->shell) {
		/* Split now to report a bad quote; split again where it runs
		 * (cheap next to a spawn), to keep no copy per section. */
		struct strbuf err = {0};
		char **words = split_words(cmd->val, &err);
		if (!words) {
			diag_add(d, g->file, cmd->line, "job '%s': command: %s", sec->name,
				 sb_str(&err));
			errors++;
		} else if (!words[0]) {
			diag_add(d, g->file, cmd->line, "job '%s': command is empty", sec->name);
			errors++;
		}
		free_words(words);
		sb_release(&err);
	}
	const struct kv *worker = section_key(sec, "worker");
	if (worker && *worker->val && check_worker(g, sec, def, worker, d) < 0)
		errors++;
	if (check_worker_idle(g, sec, def, d) < 0)
		errors++;
	struct strbuf why = {0};
	if (!errors && check_command_placeholders(cmd->val, def->shell, &why) < 0) {
		diag_add(d, g->file, cmd->line, "job '%s': command: %s", sec->name, sb_str(&why));
		errors++;
	}
	sb_release(&why);
	for (size_t i = 0; i < sec->keys.n; i++) {
		const struct kv *kv = &sec->keys.v[i];
		if (strncmp(kv->key, "env.", 4) != 0)
			continue;
		if (strchr(kv->key + 4, '=')) {
			diag_add(d, g->file, kv->line, "job '%s': '%s' is not a variable name",
				 sec->name, kv->key);
			errors++;
			continue;
		}
		VEC_PUSH(&def->env, *kv);
	}
	return errors ? -1 : 0;
}

static void command_release(struct section *sec)
{
	struct command_def *def = sec->kpriv;
	if (!def)
		return;
	free(def->env.v);
	free(def);
	sec->kpriv = NULL;
}

/* The argv of an instance. */
static char **instance_argv(const struct job *job)
{
	const struct command_def *def = job->sec->kpriv;
	if (!def->shell) {
		char **tmpl = split_words(def->text, &(struct strbuf){0});
		char **argv = job_argv(job, tmpl);
		free_words(tmpl);
		return argv;
	}
	struct strbuf sb = {0};
	subst_placeholders(job, def->text, SUBST_SHELL, &sb);
	char **argv = xcalloc(4, sizeof(*argv));
	argv[0] = xstrdup("/bin/sh");
	argv[1] = xstrdup("-c");
	argv[2] = sb_detach(&sb);
	return argv;
}

/* The worker's start-up command of an instance (without
 * --persistent_worker). */
static char **worker_argv(const struct job *job)
{
	const struct command_def *def = job->sec->kpriv;
	char **tmpl = split_words(def->worker, &(struct strbuf){0});
	char **argv = job_argv(job, tmpl);
	free_words(tmpl);
	return argv;
}

/* What an instance runs as one program: its command, or with a worker the
 * worker's command followed by the request's arguments (one-shot). */
static char **full_argv(const struct job *job)
{
	const struct command_def *def = job->sec->kpriv;
	char **args = instance_argv(job);
	if (!def->worker)
		return args;
	char **start = worker_argv(job);
	size_t n = 0, m = 0;
	while (start[n])
		n++;
	while (args[m])
		m++;
	char **argv = xcalloc(n + m + 1, sizeof(*argv));
	memcpy(argv, start, n * sizeof(*argv));
	memcpy(argv + n, args, m * sizeof(*argv));
	free(start);
	free(args);
	return argv;
}

static void quote_for_display(const char *s, struct strbuf *out)
{
	bool plain = *s != '\0';
	for (const char *p = s; *p && plain; p++)
		plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			       "-_./=:,+@%^", *p) != NULL;
	if (plain)
		sb_adds(out, s);
	else
		shell_quote(s, out);
}

static void command_describe(const struct job *job, struct strbuf *out)
{
	const struct command_def *def = job->sec->kpriv;
	char **argv = full_argv(job);
	if (def->cwd) {
		struct strbuf cwd = {0};
		subst_placeholders(job, def->cwd, SUBST_TEXT, &cwd);
		sb_adds(out, "cd ");
		quote_for_display(sb_str(&cwd), out);
		sb_adds(out, " && ");
		sb_release(&cwd);
	}
	for (char **a = argv; *a; a++) {
		if (a != argv)
			sb_addc(out, ' ');
		quote_for_display(*a, out);
	}
	free_words(argv);
}

#define FAILED_VAR "JUGGLE_FAILED"

/* juggle's environment with the job's env.NAME on top; for a job with
 * when = all_done or any_failed, JUGGLE_FAILED: the jobs upstream that
 * failed, one a line (empty when none did). */
static char **job_environ(const struct job *job, const char **path)
{
	const struct command_def *def = job->sec->kpriv;
	VEC(char *) env = {0};
	struct strbuf sb = {0};
	bool trigger = job->sec->when != WHEN_SUCCESS;
	for (char **e = environ; *e; e++) {
		bool replaced = trigger && strncmp(*e, FAILED_VAR "=", strlen(FAILED_VAR) + 1) == 0;
		for (size_t i = 0; i < def->env.n && !replaced; i++) {
			const char *name = def->env.v[i].key + 4;
			size_t n = strlen(name);
			replaced = strncmp(*e, name, n) == 0 && (*e)[n] == '=';
		}
		if (!replaced)
			VEC_PUSH(&env, xstrdup(*e));
	}
	for (size_t i = 0; i < def->env.n; i++) {
		sb_reset(&sb);
		sb_addf(&sb, "%s=", def->env.v[i].key + 4);
		subst_placeholders(job, def->env.v[i].val, SUBST_TEXT, &sb);
		char *entry = xstrdup(sb_str(&sb));
		if (strcmp(def->env.v[i].key + 4, "PATH") == 0)
			*path = entry + 5;
		VEC_PUSH(&env, entry);
		if (strcmp(def->env.v[i].key + 4, FAILED_VAR) == 0)
			trigger = false; /* the section's own value */
	}
	if (trigger)
		VEC_PUSH(&env, xasprintf(FAILED_VAR "=%s",
		                         job->run.failed_upstream ? job->run.failed_upstream : ""));
	VEC_PUSH(&env, NULL);
	sb_release(&sb);
	return env.v;
}

/* What an instance runs: the same for run() here and for a backend that
 * starts it elsewhere (slurm). */
static void command_program(const struct job *job, struct job_program *p)
{
	const struct command_def *def = job->sec->kpriv;
	memset(p, 0, sizeof(*p));
	p->argv = full_argv(job);
	p->envp = def->env.n || job->sec->when != WHEN_SUCCESS ? job_environ(job, &p->path) : NULL;
	if (def->cwd) {
		struct strbuf cwd = {0};
		subst_placeholders(job, def->cwd, SUBST_TEXT, &cwd);
		p->cwd = sb_detach(&cwd);
	}
}

/* Spawns the instance with its output to the log; the pid, or -1 with
 * the attempt failed (not worth a retry: the program is missing). Shared
 * by run() and start_async(). */
static pid_t launch(struct attempt *a)
{
	struct job_program prog;
	struct strbuf err = {0};
	int log = attempt_log(a);
	if (log < 0) {
		a->res->retryable = false;
		return -1;
	}
	command_program(a->job, &prog);
	struct spawn_opts so = {
		.argv = prog.argv,
		.envp = prog.envp,
		.cwd = prog.cwd,
		.out_fd = log,
		.path = prog.path,
	};
	pid_t pid = spawn_start(&so, &err);
	if (pid < 0) {
		result_fail(a->res, "%s", sb_str(&err));
		a->res->retryable = false;
	}
	job_program_release(&prog);
	sb_release(&err);
	return pid;
}

/* Fills the result from how the program ended; 0 on success, else -1. */
static int conclude(struct attempt *a, const struct spawn_status *st)
{
	struct result *res = a->res;
	res->cpu_s += (double)st->ru.ru_utime.tv_sec + (double)st->ru.ru_utime.tv_usec / 1e6 +
		      (double)st->ru.ru_stime.tv_sec + (double)st->ru.ru_stime.tv_usec / 1e6;
	if (WIFEXITED(st->status))
		res->exit_code = WEXITSTATUS(st->status);
	else if (WIFSIGNALED(st->status))
		res->signal = WTERMSIG(st->status);
	res->retryable = true;
	if (st->cancelled) {
		result_fail(res, "interrupted");
		res->status = RES_INTERRUPTED;
	} else if (st->timed_out) {
		res->timed_out = true;
		result_fail(res, "timed out after %g s (killed its process group)",
			    a->job->sec->timeout);
	} else if (WIFEXITED(st->status) && WEXITSTATUS(st->status) == 0) {
		return 0;
	} else {
		struct strbuf why = {0};
		describe_status(st->status, &why);
		result_fail(res, "%s", sb_str(&why));
		sb_release(&why);
	}
	return -1;
}

/* One request to a persistent worker (engine/pworker.h). */
static int run_in_worker(struct attempt *a)
{
	const struct command_def *def = a->job->sec->kpriv;
	struct pworker_request rq = {0};
	char **start = worker_argv(a->job);
	char **args = instance_argv(a->job);
	char **envp = def->env.n ? job_environ(a->job, &rq.path) : NULL;
	rq.start = start;
	rq.envp = envp;
	rq.arguments = args;
	rq.idle_s = def->worker_idle;
	int rc = pworker_run(a, &rq);
	free_words(start);
	free_words(args);
	free_words(envp);
	return rc;
}

static bool uses_worker(const struct job *job)
{
	const struct command_def *def = job->sec->kpriv;
	return def->worker && pworker_enabled();
}

static char *command_worker_key(const struct job *job)
{
	const struct command_def *def = job->sec->kpriv;
	if (!uses_worker(job))
		return NULL;
	struct pworker_request rq = {0};
	char **start = worker_argv(job);
	char **envp = def->env.n ? job_environ(job, &rq.path) : NULL;
	rq.start = start;
	rq.envp = envp;
	char *key = pworker_key(&rq);
	free_words(start);
	free_words(envp);
	return key;
}

static int command_run(struct attempt *a)
{
	if (uses_worker(a->job))
		return run_in_worker(a);
	pid_t pid = launch(a);
	if (pid < 0)
		return -1;
	struct spawn_status st;
	if (spawn_wait(pid, a->deadline, &st) < 0) {
		result_fail(a->res, "cannot wait for process %d: %s", (int)pid, strerror(errno));
		return -1;
	}
	return conclude(a, &st);
}

/* ---- on an event loop: the exit is watched through a pidfd, so wait4()
 * still gives the program's own CPU time and the same messages as run().
 * Without pidfd_open (ENOSYS: before Linux 5.3, and under valgrind 3.19) a
 * timer looks with waitpid every EXIT_POLL_MS instead. ---- */

#define EXIT_POLL_MS 20

struct cmd_async {
	struct async_attempt *aa;
	union {
		uv_poll_t poll;   /* the pidfd, readable when the program exits */
		uv_timer_t timer; /* no pidfd: looks every EXIT_POLL_MS */
	} exit_watch;
	uv_timer_t timer;       /* the deadline, then the grace before SIGKILL */
	pid_t pid;
	int pidfd;              /* -1: none, exit_watch is the timer */
	int open_handles;
	bool exited;
	bool term_sent;
	struct spawn_status st;
	int rc;
};

static void async_closed(uv_handle_t *h)
{
	struct cmd_async *c = h->data;
	if (--c->open_handles > 0)
		return;
	struct async_attempt *aa = c->aa;
	int rc = c->rc;
	if (c->pidfd >= 0)
		close(c->pidfd);
	free(c);
	aa->kpriv = NULL;
	aa->done(aa, rc);
}

static void check_exit(struct cmd_async *c)
{
	pid_t w;
	while ((w = wait4(c->pid, &c->st.status, WNOHANG, &c->st.ru)) < 0 && errno == EINTR) {
	}
	if (w == 0)
		return; /* not yet */
	c->exited = true;
	if (w < 0) {
		result_fail(c->aa->a.res, "cannot wait for process %d: %s", (int)c->pid,
			    strerror(errno));
		c->rc = -1;
	} else {
		/* Whatever the program left running in its group goes with it. */
		if (c->st.timed_out || c->st.cancelled)
			spawn_kill_group(c->pid, SIGKILL);
		c->rc = conclude(&c->aa->a, &c->st);
	}
	uv_close((uv_handle_t *)&c->exit_watch, async_closed);
	uv_close((uv_handle_t *)&c->timer, async_closed);
}

static void on_exit_ready(uv_poll_t *h, int status, int events)
{
	check_exit(h->data);
}

static void on_exit_poll(uv_timer_t *t)
{
	check_exit(t->data);
}

static void on_timer(uv_timer_t *t)
{
	struct cmd_async *c = t->data;
	if (c->exited)
		return;
	if (!c->term_sent) {
		if (!c->st.cancelled)
			c->st.timed_out = true;
		c->term_sent = true;
		spawn_kill_group(c->pid, SIGTERM);
		uv_timer_start(&c->timer, on_timer, (uint64_t)(KILL_GRACE_S * 1000), 0);
	} else {
		spawn_kill_group(c->pid, SIGKILL);
	}
}

/* On an event loop, a request waits for its worker on libuv's thread
 * pool: the wait blocks, the loop does not. */
struct worker_async {
	uv_work_t work;
	struct async_attempt *aa;
	int rc;
};

static void worker_work(uv_work_t *w)
{
	struct worker_async *wa = w->data;
	wa->rc = run_in_worker(&wa->aa->a);
}

static void worker_after(uv_work_t *w, int status)
{
	struct worker_async *wa = w->data;
	struct async_attempt *aa = wa->aa;
	int rc = wa->rc;
	free(wa);
	aa->kpriv = NULL;
	aa->done(aa, rc);
}

static int command_start_async(struct async_attempt *aa)
{
	struct attempt *a = &aa->a;
	if (uses_worker(a->job)) {
		struct worker_async *wa = xcalloc(1, sizeof(*wa));
		wa->aa = aa;
		wa->work.data = wa;
		int e = uv_queue_work(aa->loop, &wa->work, worker_work, worker_after);
		if (e < 0) {
			free(wa);
			result_fail(a->res, "cannot queue a worker request: %s", uv_strerror(e));
			return -1;
		}
		return 0;
	}
	pid_t pid = launch(a);
	if (pid < 0)
		return -1;
	int pidfd = (int)pidfd_open(pid, 0);
	if (pidfd < 0 && errno != ENOSYS) {
		int e = errno;
		spawn_kill_group(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {
		}
		result_fail(a->res, "cannot watch process %d: %s", (int)pid, strerror(e));
		return -1;
	}
	struct cmd_async *c = xcalloc(1, sizeof(*c));
	c->aa = aa;
	c->pid = pid;
	c->pidfd = pidfd;
	if (pidfd >= 0) {
		uv_poll_init(aa->loop, &c->exit_watch.poll, pidfd);
		c->exit_watch.poll.data = c;
	} else {
		uv_timer_init(aa->loop, &c->exit_watch.timer);
		c->exit_watch.timer.data = c;
	}
	uv_timer_init(aa->loop, &c->timer);
	c->timer.data = c;
	c->open_handles = 2;
	aa->kpriv = c;
	if (pidfd >= 0)
		uv_poll_start(&c->exit_watch.poll, UV_READABLE, on_exit_ready);
	else
		uv_timer_start(&c->exit_watch.timer, on_exit_poll, EXIT_POLL_MS, EXIT_POLL_MS);
	if (a->deadline > 0) {
		double left = a->deadline - mono_now();
		uv_timer_start(&c->timer, on_timer, left > 0 ? (uint64_t)(left * 1000) + 1 : 0, 0);
	}
	return 0;
}

static void command_cancel_async(struct async_attempt *aa)
{
	struct cmd_async *c = aa->kpriv;
	/* A worker's request sees the stop itself, through cancel_requested(). */
	if (uses_worker(aa->a.job))
		return;
	if (!c || c->exited)
		return;
	if (!c->st.timed_out)
		c->st.cancelled = true;
	if (kill_requested()) {
		spawn_kill_group(c->pid, SIGKILL);
	} else if (!c->term_sent) {
		c->term_sent = true;
		spawn_kill_group(c->pid, SIGTERM);
		uv_timer_start(&c->timer, on_timer, (uint64_t)(KILL_GRACE_S * 1000), 0);
	}
}

const struct job_kind kind_command = {
	.name = "command",
	.color = "#4e79a7",
	.keys = command_keys,
	.settings_keys = command_settings_keys,
	.env_keys = true,
	.batchable = true,
	.folder_outputs = true,
	.check = command_check,
	.run = command_run,
	.start_async = command_start_async,
	.cancel_async = command_cancel_async,
	.program = command_program,
	.describe = command_describe,
	.worker_key = command_worker_key,
	.release = command_release,
};
