/* progress.c - see progress.h. */
#define _GNU_SOURCE
#include "engine/report/progress.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A job in flight, for the status line and the estimate. */
struct running {
	const struct job *job;
	double since; /* monotonic */
};

struct progress {
	FILE *out;
	bool tty, verbose, quiet, none, color;
	size_t total, done;
	double t0;

	pthread_mutex_t mu;
	pthread_cond_t wake;
	pthread_t ticker;
	bool ticking, stop;

	VEC(struct running) running;
	int max_running; /* lanes the run has shown it can use */
	double *est;     /* expected seconds by job index, < 0 unknown */
	size_t n_est;
	double work_left; /* expected seconds of the unfinished known jobs */
	size_t unknown;   /* unfinished jobs without an estimate */
	bool line_shown;
};

/* The progress of the run in progress, for progress_message(). */
static pthread_mutex_t active_mu = PTHREAD_MUTEX_INITIALIZER;
static struct progress *active;

/* Display columns of UTF-8 text, counting each character as one. */
static size_t columns(const char *s, size_t n)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* Byte offset of column col in s (at a character boundary). */
static size_t column_offset(const char *s, size_t n, size_t col)
{
	size_t c = 0;
	for (size_t i = 0; i < n; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80) {
			if (c == col)
				return i;
			c++;
		}
	}
	return n;
}

static void *tick(void *arg);

struct progress *progress_new(FILE *out, enum progress_mode mode, bool verbose, bool quiet,
                              size_t total, double t0)
{
	struct progress *p = xcalloc(1, sizeof(*p));
	p->out = out;
	p->verbose = verbose;
	p->quiet = quiet;
	p->none = mode == PROGRESS_NONE || quiet;
	bool term = isatty(fileno(out));
	const char *t = getenv("TERM");
	bool smart = term && !(t && strcmp(t, "dumb") == 0);
	p->tty = !p->none && (mode == PROGRESS_TTY || (mode == PROGRESS_AUTO && smart && !verbose));
	const char *nc = getenv("NO_COLOR");
	p->color = term && !(nc && *nc) && !(t && strcmp(t, "dumb") == 0);
	p->total = total;
	p->t0 = t0;
	pthread_mutex_init(&p->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->wake, &ca);
	pthread_condattr_destroy(&ca);
	if (p->tty) {
		/* The clock thread takes no signals: they stay with the
		 * scheduler's thread, as before it existed. */
		sigset_t all, old;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		p->ticking = pthread_create(&p->ticker, NULL, tick, p) == 0;
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	pthread_mutex_lock(&active_mu);
	if (!active)
		active = p;
	pthread_mutex_unlock(&active_mu);
	return p;
}

void progress_expect(struct progress *p, const struct job *job, double seconds)
{
	pthread_mutex_lock(&p->mu);
	if (job->index >= p->n_est) {
		size_t n = p->n_est ? p->n_est : 64;
		while (n <= job->index)
			n *= 2;
		p->est = xrealloc(p->est, n * sizeof(*p->est));
		for (size_t i = p->n_est; i < n; i++)
			p->est[i] = -2; /* never announced */
		p->n_est = n;
	}
	double old = p->est[job->index];
	if (old >= 0)
		p->work_left -= old;
	else if (old == -1)
		p->unknown--;
	p->est[job->index] = seconds < 0 ? -1 : seconds;
	if (seconds >= 0)
		p->work_left += seconds;
	else
		p->unknown++;
	pthread_mutex_unlock(&p->mu);
}

static double est_of(const struct progress *p, const struct job *job)
{
	return job->index < p->n_est ? p->est[job->index] : -2;
}

/* With p->mu held. */
static double eta_locked(struct progress *p, double now)
{
	if (p->unknown || !p->n_est || p->done >= p->total)
		return -1;
	double work = p->work_left;
	for (size_t i = 0; i < p->running.n; i++) {
		double e = est_of(p, p->running.v[i].job);
		if (e < -1)
			return -1; /* a job nobody announced */
		double el = now - p->running.v[i].since;
		work -= el < e ? el : e;
	}
	size_t left = p->total - p->done;
	size_t lanes = p->max_running > 0 ? (size_t)p->max_running : 1;
	if (lanes > left)
		lanes = left;
	return work > 0 ? work / (double)lanes : 0;
}

double progress_eta(struct progress *p)
{
	pthread_mutex_lock(&p->mu);
	double e = eta_locked(p, mono_now());
	pthread_mutex_unlock(&p->mu);
	return e;
}

static void clear_line(struct progress *p)
{
	if (p->tty && p->line_shown) {
		fputs("\r\033[K", p->out);
		p->line_shown = false;
	}
}

static void clock_text(struct strbuf *sb, double s)
{
	long t = (long)s;
	if (t >= 3600)
		sb_addf(sb, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
	else
		sb_addf(sb, "%ld:%02ld", t / 60, t % 60);
}

int progress_columns(FILE *out)
{
	struct winsize ws;
	if (isatty(fileno(out)) && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col)
		return ws.ws_col;
	const char *c = getenv("COLUMNS");
	int w = c ? atoi(c) : 0;
	return w > 0 ? w : 0;
}

static const char *display_name(const struct job *job)
{
	return job->sec->description && !job->item ? job->sec->description : job->name;
}

/* Redraws the status line; with p->mu held. */
static void status_line(struct progress *p)
{
	if (!p->tty)
		return;
	double now = mono_now();
	/* The job that has run longest: the one holding the run up. */
	char *name = xstrdup("");
	if (p->running.n) {
		const char *n = display_name(p->running.v[0].job);
		free(name);
		name = term_clean(n, strlen(n));
	}
	int cols = progress_columns(p->out);
	int width = (cols ? cols : 80) - 1; /* the last column would wrap on some terminals */
	double eta = eta_locked(p, now);
	/* The decorations go before the name does, least useful first: the
	 * estimate, the words, the count of running jobs, the clock. */
	struct strbuf head = {0}, tail = {0};
	size_t nlen = strlen(name), ncols = columns(name, nlen);
	for (int level = eta >= 0 ? 0 : 1; level <= 4; level++) {
		sb_reset(&head);
		sb_reset(&tail);
		sb_addf(&head, "[%zu/%zu]", p->done, p->total);
		if (level <= 2)
			sb_addf(&head, " %zu running", p->running.n);
		if (ncols)
			sb_adds(&head, level <= 2 ? "  " : " ");
		if (level <= 3) {
			sb_adds(&tail, level <= 2 ? "  " : " ");
			clock_text(&tail, now - p->t0);
		}
		if (level <= 1)
			sb_adds(&tail, " elapsed");
		if (level == 0) {
			sb_adds(&tail, ", ~");
			clock_text(&tail, eta);
			sb_adds(&tail, " left");
		}
		if (columns(head.buf, head.len) + ncols + columns(tail.buf, tail.len) <=
		    (size_t)width)
			break;
	}
	size_t fixed = columns(head.buf, head.len) + columns(tail.buf, tail.len);
	struct strbuf line = {0};
	sb_add(&line, head.buf, head.len);
	if (fixed + ncols > (size_t)width && ncols > 0) {
		/* Elide the middle of the name, as ninja does. */
		long room = (long)width - (long)fixed;
		if (room >= 5) {
			size_t keep = (size_t)room - 3, front = keep / 2, back = keep - front;
			sb_add(&line, name, column_offset(name, nlen, front));
			sb_adds(&line, "...");
			size_t from = column_offset(name, nlen, ncols - back);
			sb_add(&line, name + from, nlen - from);
		}
	} else {
		sb_add(&line, name, nlen);
	}
	sb_add(&line, tail.buf, tail.len);
	if (width > 0 && columns(line.buf, line.len) > (size_t)width) {
		line.len = column_offset(line.buf, line.len, (size_t)width);
		line.buf[line.len] = '\0';
	}
	fprintf(p->out, "\r%s\033[K", sb_str(&line));
	fflush(p->out);
	p->line_shown = true;
	sb_release(&line);
	sb_release(&head);
	sb_release(&tail);
	free(name);
}

static void *tick(void *arg)
{
	struct progress *p = arg;
	pthread_mutex_lock(&p->mu);
	while (!p->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += 1;
		int rc = pthread_cond_timedwait(&p->wake, &p->mu, &ts);
		if (rc == ETIMEDOUT && !p->stop && p->line_shown)
			status_line(p);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

static void vprint_above(struct progress *p, FILE *to, const char *fmt, va_list ap)
{
	bool shown = p->line_shown;
	clear_line(p);
	if (to != p->out)
		fflush(p->out);
	vfprintf(to, fmt, ap);
	fflush(to);
	if (shown || p->running.n)
		status_line(p);
}

void progress_printf(struct progress *p, const char *fmt, ...)
{
	if (p->quiet)
		return;
	pthread_mutex_lock(&p->mu);
	va_list ap;
	va_start(ap, fmt);
	vprint_above(p, p->out, fmt, ap);
	va_end(ap);
	pthread_mutex_unlock(&p->mu);
}

void progress_message(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pthread_mutex_lock(&active_mu);
	struct progress *p = active;
	if (p) {
		pthread_mutex_lock(&p->mu);
		vprint_above(p, stderr, fmt, ap);
		pthread_mutex_unlock(&p->mu);
	} else {
		vfprintf(stderr, fmt, ap);
	}
	pthread_mutex_unlock(&active_mu);
	va_end(ap);
}

static void drop_running(struct progress *p, const struct job *job)
{
	for (size_t i = 0; i < p->running.n; i++) {
		if (p->running.v[i].job == job) {
			memmove(&p->running.v[i], &p->running.v[i + 1],
			        (p->running.n - i - 1) * sizeof(*p->running.v));
			p->running.n--;
			return;
		}
	}
}

void progress_started(struct progress *p, const struct job *job, const char *command)
{
	pthread_mutex_lock(&p->mu);
	drop_running(p, job);
	struct running r = {job, mono_now()};
	VEC_PUSH(&p->running, r);
	if ((int)p->running.n > p->max_running)
		p->max_running = (int)p->running.n;
	if (!p->none) {
		if (p->verbose && command) {
			clear_line(p);
			char *n = term_clean(job->name, strlen(job->name));
			char *c = term_clean(command, strlen(command));
			fprintf(p->out, "%s: %s\n", n, c);
			free(n);
			free(c);
		}
		status_line(p);
	}
	pthread_mutex_unlock(&p->mu);
}

void progress_retrying(struct progress *p, const struct job *job, const char *fmt, ...)
{
	pthread_mutex_lock(&p->mu);
	drop_running(p, job);
	if (!p->quiet) {
		va_list ap;
		va_start(ap, fmt);
		vprint_above(p, p->out, fmt, ap);
		va_end(ap);
	}
	pthread_mutex_unlock(&p->mu);
}

static const char *paint(struct progress *p, enum job_status s)
{
	if (!p->color)
		return "";
	switch (s) {
	case JS_OK:
		return "\033[32m";
	case JS_FAILED:
	case JS_INTERRUPTED:
		return "\033[31m";
	default:
		return "\033[2m";
	}
}

void progress_finished(struct progress *p, const struct job *job)
{
	pthread_mutex_lock(&p->mu);
	p->done++;
	drop_running(p, job);
	double e = est_of(p, job);
	if (e >= 0) {
		p->work_left -= e;
		p->est[job->index] = -3; /* settled */
	} else if (e == -1) {
		p->unknown--;
		p->est[job->index] = -3;
	}
	if (p->tty)
		status_line(p);
	if (p->none || p->tty) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	const struct job_run *r = &job->run;
	if (r->status == JS_SKIPPED && !p->verbose) {
		pthread_mutex_unlock(&p->mu);
		return;
	}
	char *n = term_clean(job->name, strlen(job->name));
	fprintf(p->out, "[%zu/%zu] %s%-11s%s %s", p->done, p->total, paint(p, r->status),
	        job_status_name(r->status), p->color ? "\033[0m" : "", n);
	free(n);
	if (r->started)
		fprintf(p->out, "  %.2fs", r->finished - r->started_at);
	fputc('\n', p->out);
	fflush(p->out);
	pthread_mutex_unlock(&p->mu);
}

char *file_tail(const char *path, int n)
{
	/* Only the end of the file is read: a log may be huge. A link
	 * planted at a log's name must not bring another file into a report. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	enum { WINDOW = 65536, MAX_TAIL = 8192 };
	off_t from = st.st_size > WINDOW ? st.st_size - WINDOW : 0;
	size_t want = (size_t)(st.st_size - from), len = 0;
	char *data = xmalloc(want + 1);
	while (len < want) {
		ssize_t got = pread(fd, data + len, want - len, from + (off_t)len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	data[len] = '\0';
	size_t start = len;
	int lines = 0;
	if (start && data[start - 1] == '\n')
		start--;
	while (start > 0) {
		if (data[start - 1] == '\n' && ++lines == n)
			break;
		start--;
	}
	/* A very long last line is cut to its end. */
	if (len - start > MAX_TAIL)
		start = len - MAX_TAIL;
	char *tail = xstrdup(data + start);
	free(data);
	return tail;
}

void progress_failed(struct progress *p, const struct job *job, const char *command)
{
	pthread_mutex_lock(&p->mu);
	clear_line(p);
	FILE *o = p->none ? stderr : p->out;
	if (o != p->out)
		fflush(p->out);
	char *name = term_clean(job->name, strlen(job->name));
	const char *e = job->run.error ? job->run.error : "failed";
	char *err = term_clean(e, strlen(e));
	fprintf(o, "%sFAILED%s %s: %s\n", p->color ? "\033[1;31m" : "", p->color ? "\033[0m" : "",
	        name, err);
	free(name);
	free(err);
	if (command) {
		char *c = term_clean(command, strlen(command));
		fprintf(o, "  command: %s\n", c);
		free(c);
	}
	fflush(o);
	status_line(p);
	pthread_mutex_unlock(&p->mu);
}

void progress_done(struct progress *p)
{
	pthread_mutex_lock(&p->mu);
	p->stop = true;
	pthread_cond_signal(&p->wake);
	pthread_mutex_unlock(&p->mu);
	if (p->ticking)
		pthread_join(p->ticker, NULL);
	p->ticking = false;
	pthread_mutex_lock(&p->mu);
	clear_line(p);
	fflush(p->out);
	pthread_mutex_unlock(&p->mu);
}

void progress_free(struct progress *p)
{
	if (!p)
		return;
	if (p->ticking)
		progress_done(p);
	pthread_mutex_lock(&active_mu);
	if (active == p)
		active = NULL;
	pthread_mutex_unlock(&active_mu);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->wake);
	free(p->running.v);
	free(p->est);
	free(p);
}
