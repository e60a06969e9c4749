/* pworker.c - see pworker.h. */
#define _GNU_SOURCE
#include "engine/pworker.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "engine/filesig.h"
#include "engine/sig.h"
#include "engine/spawn.h"

/* One worker process. */
struct pw {
	char *key;         /* its command and environment, NUL-separated */
	char *name;        /* its command, for messages */
	char *log;         /* PWORKER_LOG_DIR/N.log */
	pid_t pid;         /* also its process group */
	int in_fd;         /* its stdin, ours to write */
	int out_fd;        /* its stdout, ours to read */
	struct strbuf buf; /* bytes read past the last response */
	double cpu_seen;   /* its CPU seconds at the last answer */
	double idle_since; /* monotonic */
	double idle_s;     /* how long it may stay idle */
	bool busy;
	bool stopping; /* idle too long, being stopped: in the table until gone */
	bool reaped;   /* waited for already: only its group may be left */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static VEC(struct pw *) table;
static int started; /* workers started by this process, for log names */
static bool enabled = true;

/* The reaper (see pworker.h), under lock. reaper_cond waits on the
 * monotonic clock, mono_now()'s. */
static pthread_cond_t reaper_cond;
/* Signalled when a stopping worker is gone: a request of its key waits for
 * that before it starts another, so a key's live workers never outnumber
 * its requests in flight, even for a moment. */
static pthread_cond_t gone_cond = PTHREAD_COND_INITIALIZER;
static pthread_once_t reaper_once = PTHREAD_ONCE_INIT;
static pthread_t reaper;
static bool reaper_on;   /* its thread runs, in this process */
static bool reaper_quit; /* asked to end */

static void pw_stop(struct pw *pw, double grace);
static void pw_end(struct pw *pw, double grace);
static void pw_free(struct pw *pw);

void pworker_start_run(bool on)
{
	enabled = on;
	/* The logs of the last run's workers only; a symlink is removed, never
	 * followed (FTW_PHYS). */
	if (on)
		remove_tree(PWORKER_LOG_DIR);
}

bool pworker_enabled(void)
{
	return enabled;
}

/* Marks stopping, into *out, the idle workers whose idle time is up at
 * now; returns the earliest expiry of those left idle, or -1. Under
 * lock. */
static double take_expired(double now, struct pw ***out, size_t *n_out)
{
	VEC(struct pw *) stale = {0};
	double next = -1;
	for (size_t i = 0; i < table.n; i++) {
		struct pw *pw = table.v[i];
		if (pw->busy || pw->stopping)
			continue;
		double end = pw->idle_since + pw->idle_s;
		if (end <= now) {
			pw->stopping = true;
			VEC_PUSH(&stale, pw);
		} else if (next < 0 || end < next) {
			next = end;
		}
	}
	*out = stale.v;
	*n_out = stale.n;
	return next;
}

/* Stops the n workers take_expired() gave, without the lock (the grace
 * would hold up every request), then drops them from the table. */
static void stop_expired(struct pw **stale, size_t n)
{
	for (size_t i = 0; i < n; i++)
		pw_end(stale[i], 1.0);
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < table.n; k++)
			if (table.v[k] == stale[i]) {
				table.v[k] = table.v[--table.n];
				break;
			}
	pthread_cond_broadcast(&gone_cond);
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < n; i++)
		pw_free(stale[i]);
	free(stale);
}

static void *reaper_main(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&lock);
	while (!reaper_quit) {
		struct pw **stale;
		size_t n;
		double next = take_expired(mono_now(), &stale, &n);
		if (n) {
			pthread_mutex_unlock(&lock);
			stop_expired(stale, n);
			pthread_mutex_lock(&lock);
			continue;
		}
		free(stale);
		if (next < 0) {
			pthread_cond_wait(&reaper_cond, &lock);
		} else {
			struct timespec ts;
			ts.tv_sec = (time_t)next;
			ts.tv_nsec = (long)((next - (double)ts.tv_sec) * 1e9);
			if (ts.tv_nsec >= 1000000000L)
				ts.tv_sec++, ts.tv_nsec -= 1000000000L;
			pthread_cond_timedwait(&reaper_cond, &lock, &ts);
		}
	}
	pthread_mutex_unlock(&lock);
	return NULL;
}

/* fork(): the child must not inherit the lock held by another thread, nor
 * the parent's workers, whose pipes' ends it may close but whose
 * processes are not its children; nor the reaper, which is not there. */
static void fork_prepare(void)
{
	pthread_mutex_lock(&lock);
}

static void fork_parent(void)
{
	pthread_mutex_unlock(&lock);
}

static void fork_child(void)
{
	pthread_mutex_unlock(&lock); /* the one thread here took it */
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&reaper_cond, &attr);
	pthread_condattr_destroy(&attr);
	pthread_cond_init(&gone_cond, NULL);
	for (size_t i = 0; i < table.n; i++)
		pw_free(table.v[i]);
	free(table.v);
	table.v = NULL;
	table.n = table.cap = 0;
	reaper_on = reaper_quit = false;
}

static void reaper_setup(void)
{
	pthread_condattr_t attr;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&reaper_cond, &attr);
	pthread_condattr_destroy(&attr);
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}

/* Starts the reaper if it does not run. Under lock. Should the thread not
 * start, idle workers are stopped when a request next comes (checkout()). */
static void reaper_start(void)
{
	if (reaper_on)
		return;
	/* Signals are for the threads that run jobs, not this one. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	reaper_quit = false;
	reaper_on = pthread_create(&reaper, NULL, reaper_main, NULL) == 0;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Kills the worker's process group and reaps it; with grace, first closes
 * its stdin and gives it that long to end by itself. */
static void pw_end(struct pw *pw, double grace)
{
	if (pw->in_fd >= 0)
		close(pw->in_fd);
	pw->in_fd = -1;
	if (pw->pid > 0 && pw->reaped) {
		kill(-pw->pid, SIGKILL); /* what it left in its group; not its pid, reaped */
	} else if (pw->pid > 0) {
		double until = mono_now() + grace;
		int status;
		pid_t w = 0;
		while (grace > 0 && (w = waitpid(pw->pid, &status, WNOHANG)) == 0 &&
		       mono_now() < until)
			poll(NULL, 0, 5);
		spawn_kill_group(pw->pid, SIGKILL);
		if (w != pw->pid)
			while (waitpid(pw->pid, &status, 0) < 0 && errno == EINTR) {
			}
		pw->reaped = true;
	}
}

static void pw_free(struct pw *pw)
{
	if (pw->in_fd >= 0)
		close(pw->in_fd);
	if (pw->out_fd >= 0)
		close(pw->out_fd);
	sb_release(&pw->buf);
	free(pw->key);
	free(pw->name);
	free(pw->log);
	free(pw);
}

/* pw_end(), then pw_free(). */
static void pw_stop(struct pw *pw, double grace)
{
	pw_end(pw, grace);
	pw_free(pw);
}

/* The worker's CPU seconds, its own and its waited-for children's; the
 * last reading when /proc cannot say. */
static double pw_cpu(const struct pw *pw)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pw->pid);
	size_t len;
	char *s = read_file(path, &len);
	if (!s)
		return pw->cpu_seen;
	/* Fields after the command (which may hold spaces), from the last ')':
	 * state is field 3, utime 14, stime 15, cutime 16, cstime 17. */
	double cpu = pw->cpu_seen;
	char *p = strrchr(s, ')');
	unsigned long long ut, st;
	long long cut, cst;
	if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %lld %lld",
	                &ut, &st, &cut, &cst) == 4) {
		long hz = sysconf(_SC_CLK_TCK);
		cpu = (double)(ut + st + (unsigned long long)(cut + cst)) /
		      (double)(hz > 0 ? hz : 100);
	}
	free(s);
	return cpu;
}

static char *request_key(const struct pworker_request *rq, struct strbuf *name)
{
	struct strbuf unused = {0};
	if (!name)
		name = &unused;
	struct strbuf key = {0};
	for (char *const *a = rq->start; *a; a++) {
		sb_add(&key, *a, strlen(*a) + 1);
		if (a != rq->start)
			sb_addc(name, ' ');
		sb_adds(name, *a);
	}
	sb_add(&key, "", 1);
	for (char *const *e = rq->envp; e && *e; e++)
		sb_add(&key, *e, strlen(*e) + 1);
	/* The key holds NULs: kept with its length as a string of escapes
	 * would be longer; hex keeps it a plain C string. */
	struct strbuf hex = {0};
	for (size_t i = 0; i < key.len; i++)
		sb_addf(&hex, "%02x", (unsigned char)key.buf[i]);
	sb_release(&key);
	sb_release(&unused);
	return sb_detach(&hex);
}

char *pworker_key(const struct pworker_request *rq)
{
	return request_key(rq, NULL);
}

/* Takes an idle worker of key, or reserves a new slot (pid 0) the caller
 * starts, once no worker of key is still being stopped. Stops workers idle
 * too long that the reaper has not stopped yet (or could not: it did not
 * start). */
static struct pw *checkout(const char *key, const char *name)
{
	struct pw *got = NULL;
	pthread_once(&reaper_once, reaper_setup);
	pthread_mutex_lock(&lock);
	for (;;) {
		struct pw **stale;
		size_t n_stale;
		take_expired(mono_now(), &stale, &n_stale);
		if (n_stale) {
			pthread_mutex_unlock(&lock);
			stop_expired(stale, n_stale);
			pthread_mutex_lock(&lock);
			continue;
		}
		free(stale);
		bool stopping = false;
		for (size_t i = 0; i < table.n && !got; i++) {
			struct pw *pw = table.v[i];
			if (pw->busy || strcmp(pw->key, key) != 0)
				continue;
			if (pw->stopping) {
				stopping = true;
			} else {
				pw->busy = true;
				got = pw;
			}
		}
		if (got || !stopping)
			break;
		pthread_cond_wait(&gone_cond, &lock);
	}
	if (!got) {
		got = xcalloc(1, sizeof(*got));
		got->key = xstrdup(key);
		got->name = xstrdup(name);
		got->in_fd = got->out_fd = -1;
		got->busy = true;
		/* The pid of the process that keeps the table: on the processes
		 * backend each of its workers keeps one, counting from 1. */
		got->log = xasprintf(PWORKER_LOG_DIR "/%d-%d.log", (int)getpid(), ++started);
		VEC_PUSH(&table, got);
	}
	pthread_mutex_unlock(&lock);
	return got;
}

/* Gives an answered worker back, to stay idle at most idle_s. */
static void checkin(struct pw *pw, double idle_s)
{
	pthread_mutex_lock(&lock);
	pw->busy = false;
	pw->idle_since = mono_now();
	pw->idle_s = idle_s > 0 ? idle_s : PWORKER_IDLE_S;
	reaper_start();
	/* Its expiry may come before the one the reaper sleeps until. */
	pthread_cond_signal(&reaper_cond);
	pthread_mutex_unlock(&lock);
}

/* Drops a failed worker from the table and kills it. */
static void discard(struct pw *pw)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < table.n; i++)
		if (table.v[i] == pw) {
			table.v[i] = table.v[--table.n];
			break;
		}
	pthread_mutex_unlock(&lock);
	pw_stop(pw, 0);
}

void pworker_shutdown(void)
{
	pthread_mutex_lock(&lock);
	if (reaper_on) {
		reaper_quit = true;
		pthread_cond_signal(&reaper_cond);
		pthread_mutex_unlock(&lock);
		pthread_join(reaper, NULL);
		pthread_mutex_lock(&lock);
		reaper_on = false;
	}
	VEC(struct pw *) all = {0};
	for (size_t i = 0; i < table.n;) {
		if (!table.v[i]->busy && !table.v[i]->stopping) {
			VEC_PUSH(&all, table.v[i]);
			table.v[i] = table.v[--table.n];
		} else {
			i++;
		}
	}
	if (!table.n) {
		free(table.v);
		table.v = NULL;
		table.cap = 0;
	}
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < all.n; i++)
		pw_stop(all.v[i], 1.0);
	free(all.v);
}

/* Starts the reserved worker pw. 0, or -1 with err. */
static int pw_start(struct pw *pw, const struct pworker_request *rq, struct strbuf *err)
{
	int in[2], out[2];
	struct stat st;
	if (mkdir_p(PWORKER_LOG_DIR, 0777) < 0 || lstat(PWORKER_LOG_DIR, &st) < 0) {
		sb_addf(err, "cannot create %s: %s", PWORKER_LOG_DIR, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		/* A symlink would take the log out of the graph's folder. */
		sb_addf(err, "%s is not a folder; remove it", PWORKER_LOG_DIR);
		return -1;
	}
	int log = open(pw->log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666);
	if (log < 0) {
		sb_addf(err, "cannot open %s: %s", pw->log, strerror(errno));
		return -1;
	}
	/* Close-on-exec, so a program another thread starts meanwhile holds
	 * no end of these pipes (the worker would never see its stdin end). */
	if (pipe2(in, O_CLOEXEC) < 0) {
		sb_addf(err, "cannot make a pipe: %s", strerror(errno));
		close(log);
		return -1;
	}
	if (pipe2(out, O_CLOEXEC) < 0) {
		sb_addf(err, "cannot make a pipe: %s", strerror(errno));
		close(in[0]);
		close(in[1]);
		close(log);
		return -1;
	}
	size_t n = 0;
	while (rq->start[n])
		n++;
	char **argv = xcalloc(n + 2, sizeof(*argv));
	memcpy(argv, rq->start, n * sizeof(*argv));
	argv[n] = (char *)"--persistent_worker";
	int stdio[3] = {in[0], out[1], log};
	struct spawn_opts so = {
	    .argv = argv, .envp = rq->envp, .path = rq->path, .out_fd = -1, .stdio = stdio};
	pid_t pid = spawn_start(&so, err);
	free(argv);
	close(in[0]);
	close(out[1]);
	close(log);
	if (pid < 0) {
		close(in[1]);
		close(out[0]);
		return -1;
	}
	pw->pid = pid;
	pw->in_fd = in[1];
	pw->out_fd = out[0];
	pw->cpu_seen = 0;
	return 0;
}

/* The request as one line of JSON. */
static char *request_line(const struct attempt *a, const struct pworker_request *rq)
{
	json_t *args = json_array();
	for (char *const *s = rq->arguments; *s; s++)
		json_array_append_new(args, json_string(*s));
	json_t *inputs = json_array();
	for (uint32_t i = 0; i < a->job->n_inputs; i++) {
		const char *path = a->job->inputs[i];
		unsigned char h[16];
		char hex[33] = "";
		if (hash_file(path, h) == 0)
			for (int k = 0; k < 16; k++)
				snprintf(hex + 2 * k, 3, "%02x", h[k]);
		json_array_append_new(inputs, json_pack("{s:s, s:s}", "path", path, "digest", hex));
	}
	json_t *req =
	    json_pack("{s:o, s:o, s:i}", "arguments", args, "inputs", inputs, "requestId", 0);
	char *line = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	struct strbuf sb = {0};
	sb_adds(&sb, line);
	sb_addc(&sb, '\n');
	free(line);
	return sb_detach(&sb);
}

enum wait_end { W_LINE, W_EOF, W_ERROR, W_TIMEOUT, W_CANCEL };

/* Reads until pw->buf holds a whole non-blank line, which it moves to
 * line. */
static enum wait_end read_line(struct pw *pw, double deadline, struct strbuf *line)
{
	for (;;) {
		char *nl;
		while ((nl = memchr(sb_str(&pw->buf), '\n', pw->buf.len))) {
			size_t n = (size_t)(nl - pw->buf.buf);
			bool blank = strspn(pw->buf.buf, " \t\r") >= n;
			if (!blank)
				sb_add(line, pw->buf.buf, n);
			memmove(pw->buf.buf, nl + 1, pw->buf.len - n - 1);
			pw->buf.len -= n + 1;
			pw->buf.buf[pw->buf.len] = '\0';
			if (!blank)
				return W_LINE;
		}
		double left = deadline > 0 ? deadline - mono_now() : -1;
		if (deadline > 0 && left <= 0)
			return W_TIMEOUT;
		struct pollfd p[2] = {{pw->out_fd, POLLIN, 0}, {sig_cancel_fd(), POLLIN, 0}};
		int r = poll(p, 2, left < 0 ? -1 : (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return W_ERROR;
		if (p[1].revents)
			return W_CANCEL;
		if (!p[0].revents)
			continue;
		char chunk[65536];
		ssize_t got = read(pw->out_fd, chunk, sizeof(chunk));
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return W_ERROR;
		if (got == 0)
			return W_EOF;
		sb_add(&pw->buf, chunk, (size_t)got);
	}
}

/* Copies the last lines of the worker's log to the job's log. */
static void log_tail(const struct pw *pw, struct attempt *a)
{
	size_t len;
	char *s = read_file(pw->log, &len);
	if (!s || !len) {
		free(s);
		return;
	}
	const char *p = s + len;
	int lines = 0;
	while (p > s && lines <= 10)
		if (*--p == '\n' && p + 1 < s + len)
			lines++;
	if (*p == '\n')
		p++;
	struct strbuf sb = {0};
	sb_addf(&sb, "--- the last lines of %s (worker '%s') ---\n", pw->log, pw->name);
	sb_add(&sb, p, len - (size_t)(p - s));
	if (len && s[len - 1] != '\n')
		sb_addc(&sb, '\n');
	attempt_log_write(a, sb.buf, sb.len);
	sb_release(&sb);
	free(s);
}

/* Parses a response line: 0 with the exit code and output, or -1 with why
 * it is not the answer expected. */
static int parse_response(const char *line, int *exit_code, const char **output, json_t **doc,
                          struct strbuf *why)
{
	json_error_t jerr;
	*doc = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
	if (!*doc || !json_is_object(*doc)) {
		sb_addf(why, "wrote something that is not a WorkResponse: '%.80s%s'", line,
		        strlen(line) > 80 ? "..." : "");
		return -1;
	}
	json_t *code = json_object_get(*doc, "exitCode");
	json_t *out = json_object_get(*doc, "output");
	json_t *id = json_object_get(*doc, "requestId");
	/* Fields left at their default are absent, as protobuf's JSON
	 * writes them. */
	if ((code && !json_is_integer(code)) || (out && !json_is_string(out)) ||
	    (id && !json_is_integer(id))) {
		sb_addf(why, "wrote something that is not a WorkResponse: '%.80s%s'", line,
		        strlen(line) > 80 ? "..." : "");
		return -1;
	}
	if (id && json_integer_value(id) != 0) {
		sb_addf(why, "answered requestId %lld to request 0", json_integer_value(id));
		return -1;
	}
	*exit_code = code ? (int)json_integer_value(code) : 0;
	*output = out ? json_string_value(out) : "";
	return 0;
}

int pworker_run(struct attempt *a, const struct pworker_request *rq)
{
	struct result *res = a->res;
	struct strbuf name = {0}, why = {0}, line = {0};
	char *key = request_key(rq, &name);
	struct pw *pw;
	int status;
	/* One that ended while idle (a crash between requests) is replaced,
	 * not blamed on this job. */
	while ((pw = checkout(key, sb_str(&name)))->pid > 0 &&
	       waitpid(pw->pid, &status, WNOHANG) == pw->pid) {
		pw->reaped = true;
		discard(pw);
	}
	free(key);
	sb_release(&name);
	res->retryable = true;
	if (pw->pid == 0 && pw_start(pw, rq, &why) < 0) {
		result_fail(res, "cannot start worker '%s': %s", pw->name, sb_str(&why));
		res->retryable = false;
		discard(pw);
		sb_release(&why);
		return -1;
	}
	char *req = request_line(a, rq);
	int rc = -1;
	enum wait_end end = W_ERROR;
	if (write_all(pw->in_fd, req, strlen(req)) < 0)
		sb_addf(&why, "cannot be written to (%s)", strerror(errno));
	else
		end = read_line(pw, a->deadline, &line);
	free(req);
	double cpu = pw_cpu(pw);
	res->cpu_s += cpu > pw->cpu_seen ? cpu - pw->cpu_seen : 0;
	pw->cpu_seen = cpu;
	json_t *doc = NULL;
	int exit_code = 0;
	const char *output = NULL;
	switch (end) {
	case W_LINE:
		if (parse_response(sb_str(&line), &exit_code, &output, &doc, &why) == 0) {
			attempt_log_write(a, output, strlen(output));
			res->exit_code = exit_code;
			if (exit_code == 0) {
				rc = 0;
			} else {
				result_fail(res, "exited with status %d (worker '%s')", exit_code,
				            pw->name);
				log_tail(pw, a);
			}
			checkin(pw, rq->idle_s);
			pw = NULL;
		}
		break;
	case W_EOF: {
		/* It closed its stdout: it is ending or has ended. */
		pid_t w;
		status = 0;
		double until = mono_now() + 1.0;
		while ((w = waitpid(pw->pid, &status, WNOHANG)) == 0 && mono_now() < until)
			poll(NULL, 0, 5);
		if (w == pw->pid) {
			sb_adds(&why, "died mid-request (");
			describe_status(status, &why);
			sb_adds(&why, ")");
			pw->reaped = true;
		} else {
			sb_adds(&why, "closed its stdout mid-request");
		}
		break;
	}
	case W_ERROR:
		if (!why.len)
			sb_addf(&why, "cannot be read from (%s)", strerror(errno));
		break;
	case W_TIMEOUT:
		res->timed_out = true;
		sb_addf(&why, "timed out after %g s (killed the worker's process group)",
		        a->job->sec->timeout);
		break;
	case W_CANCEL:
		break;
	}
	if (pw) {
		/* A fault: this worker serves no more requests. */
		if (end == W_CANCEL) {
			result_fail(res, "interrupted");
			res->status = RES_INTERRUPTED;
		} else if (end == W_TIMEOUT) {
			result_fail(res, "%s; worker '%s', its log: %s", sb_str(&why), pw->name,
			            pw->log);
		} else {
			result_fail(res, "worker '%s' (pid %d) %s; its log: %s", pw->name,
			            (int)pw->pid, sb_str(&why), pw->log);
		}
		if (end != W_CANCEL)
			log_tail(pw, a);
		discard(pw);
	}
	json_decref(doc);
	sb_release(&why);
	sb_release(&line);
	return rc;
}
