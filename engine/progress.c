/* progress.c - see progress.h. */
#define _GNU_SOURCE
#include "progress.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct progress {
	FILE *out;
	bool tty, verbose, quiet, none, color;
	size_t total, done, running;
	double t0;
	double estimate;
	const char *last_name;
	bool line_shown;
};

struct progress *progress_new(FILE *out, enum progress_mode mode, bool verbose, bool quiet,
			      size_t total, double t0)
{
	struct progress *p = xcalloc(1, sizeof(*p));
	p->out = out;
	p->verbose = verbose;
	p->quiet = quiet;
	p->none = mode == PROGRESS_NONE || quiet;
	p->tty = !p->none && (mode == PROGRESS_TTY ||
			      (mode == PROGRESS_AUTO && isatty(fileno(out)) && !verbose));
	const char *nc = getenv("NO_COLOR");
	p->color = isatty(fileno(out)) && !(nc && *nc);
	p->total = total;
	p->t0 = t0;
	p->estimate = -1;
	return p;
}

void progress_set_estimate(struct progress *p, double seconds)
{
	p->estimate = seconds;
}

static void clear_line(struct progress *p)
{
	if (p->tty && p->line_shown) {
		fputs("\r\033[K", p->out);
		p->line_shown = false;
	}
}

static void status_line(struct progress *p)
{
	if (!p->tty)
		return;
	struct winsize ws;
	int width = ioctl(fileno(p->out), TIOCGWINSZ, &ws) == 0 && ws.ws_col ? ws.ws_col : 80;
	double el = mono_now() - p->t0;
	struct strbuf sb = {0};
	sb_addf(&sb, "[%zu/%zu] %zu running  %s  %d:%02d elapsed", p->done, p->total, p->running,
		p->last_name ? p->last_name : "", (int)el / 60, (int)el % 60);
	if (p->estimate >= 0) {
		double left = p->estimate - el;
		if (left < 0)
			left = 0;
		sb_addf(&sb, ", ~%d:%02d left", (int)left / 60, (int)left % 60);
	}
	if ((int)sb.len > width - 1 && width > 1) {
		sb.len = (size_t)width - 1;
		sb.buf[sb.len] = '\0';
	}
	fprintf(p->out, "\r%s\033[K", sb_str(&sb));
	fflush(p->out);
	p->line_shown = true;
	sb_release(&sb);
}

void progress_printf(struct progress *p, const char *fmt, ...)
{
	if (p->quiet)
		return;
	clear_line(p);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(p->out, fmt, ap);
	va_end(ap);
	status_line(p);
	fflush(p->out);
}

void progress_started(struct progress *p, const struct job *job, const char *command)
{
	p->running++;
	p->last_name = job->sec->description && !job->item ? job->sec->description : job->name;
	if (p->none)
		return;
	if (p->verbose && command) {
		clear_line(p);
		fprintf(p->out, "%s: %s\n", job->name, command);
	}
	status_line(p);
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
	p->done++;
	if (job->run.started && p->running)
		p->running--;
	if (p->none)
		return;
	if (p->tty) {
		status_line(p);
		return;
	}
	if (job->run.status == JS_SKIPPED && !p->verbose)
		return;
	const struct job_run *r = &job->run;
	fprintf(p->out, "[%zu/%zu] %s%-11s%s %s", p->done, p->total, paint(p, r->status),
		job_status_name(r->status), p->color ? "\033[0m" : "", job->name);
	if (r->started)
		fprintf(p->out, "  %.2fs", r->finished - r->started_at);
	fputc('\n', p->out);
	fflush(p->out);
}

char *file_tail(const char *path, int n)
{
	size_t len;
	char *data = read_file(path, &len);
	if (!data)
		return NULL;
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
	if (len - start > 8192)
		start = len - 8192;
	char *tail = xstrdup(data + start);
	free(data);
	return tail;
}

void progress_failed(struct progress *p, const struct job *job, const char *command)
{
	clear_line(p);
	FILE *o = p->none ? stderr : p->out;
	if (p->none && p->tty)
		o = stderr;
	fprintf(o, "%sFAILED%s %s: %s\n", p->color ? "\033[1;31m" : "", p->color ? "\033[0m" : "",
		job->name, job->run.error ? job->run.error : "failed");
	if (command)
		fprintf(o, "  command: %s\n", command);
	char *log = job_log_path(job);
	char *tail = file_tail(log, 10);
	if (tail && *tail) {
		fprintf(o, "  last lines of %s:\n", log);
		for (char *line = tail; line && *line;) {
			char *nl = strchr(line, '\n');
			fprintf(o, "    %.*s\n", nl ? (int)(nl - line) : (int)strlen(line), line);
			line = nl ? nl + 1 : NULL;
		}
	}
	free(tail);
	free(log);
	fflush(o);
	status_line(p);
}

void progress_done(struct progress *p)
{
	clear_line(p);
	fflush(p->out);
}

void progress_free(struct progress *p)
{
	free(p);
}
