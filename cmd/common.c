/* common.c - what several subcommands share: loading, options, state. */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "engine/backends/backend.h"
#include "engine/load/load.h"
#include "engine/owndir.h"
#include "engine/priority.h"
#include "engine/report/archive.h"
#include "engine/state.h"
#include "engine/term.h"

/* A path from the command line, made absolute before we change folder. */
static const char *absolute(struct cli *c, const char *p, const char *cwd)
{
	if (!p || p[0] == '/')
		return p;
	char *abs = xasprintf("%s/%s", cwd, p);
	VEC_PUSH(&c->owned, abs);
	return abs;
}

/* A file in the current folder whose name is base's but for case or a
 * typo or two (Juggle.ini, jugle.ini), or NULL; the caller frees it. */
static char *near_file_name(const char *base)
{
	DIR *d = opendir(".");
	if (!d)
		return NULL;
	char *want = xstrdup(base), *best = NULL;
	int best_d = 3;
	for (char *p = want; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	struct dirent *e;
	while ((e = readdir(d))) {
		struct stat st;
		if (strcmp(e->d_name, base) == 0 || stat(e->d_name, &st) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		char *name = xstrdup(e->d_name);
		for (char *p = name; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		int dist = levenshtein(want, name);
		free(name);
		if (dist < best_d) {
			best_d = dist;
			free(best);
			best = xstrdup(e->d_name);
		}
	}
	closedir(d);
	free(want);
	return best;
}

/* No graph file: what a first run in an empty folder meets, so the
 * message says where juggle looked and how to go on. */
static void missing_graph(const struct cli *c, const char *base)
{
	char *near = near_file_name(base);
	char *cwd = getcwd(NULL, 0);
	error("cannot read graph file '%s': %s (in '%s')%s%s%s", c->file, strerror(ENOENT),
	      cwd ? cwd : ".", near ? "; did you mean '-f " : "", near ? near : "",
	      near ? "'?" : "");
	const char *cmd = !c->command_named && c->nargs ? command_closest(c->args[0]) : NULL;
	if (cmd)
		error("hint: '%s' is not a command; did you mean '%s'?", c->args[0], cmd);
	error("hint: -f FILE reads another graph file, -C DIR runs in another folder");
	/* The example writes the file juggle looked for, when its name needs
	 * no quoting in a shell. */
	static const char plain[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				    "0123456789._/-";
	const char *file = c->file[strspn(c->file, plain)] ? "juggle.ini" : c->file;
	error("hint: juggle.ini(5) describes the file; a first one: "
	      "printf '[command hello]\\noutput = hello.txt\\ncommand = echo hello world "
	      "> {output}\\nshell = yes\\n' > %s",
	      file);
	free(cwd);
	free(near);
}

int cli_load(struct cli *c, struct graph *g)
{
	/* Callers release g whatever happens, also when no graph was loaded. */
	memset(g, 0, sizeof(*g));
	const char *slash = strrchr(c->file, '/');
	const char *base = slash ? slash + 1 : c->file;
	if (c->entered) /* a later round of the same run */
		goto load;
	if (c->directory && chdir(c->directory) < 0) {
		error("cannot change to folder '%s': %s", c->directory, strerror(errno));
		return EXIT_USAGE;
	}
	char *cwd = getcwd(NULL, 0);
	if (!cwd) {
		error("cannot find the current folder: %s", strerror(errno));
		return EXIT_CANNOT_START;
	}
	c->set.report = absolute(c, c->set.report, cwd);
	c->set.html = absolute(c, c->set.html, cwd);
	c->set.trace = absolute(c, c->set.trace, cwd);
	c->set.junit = absolute(c, c->set.junit, cwd);
	c->set.archive = absolute(c, c->set.archive, cwd);
	free(cwd);

	/* Everything happens in the graph's folder, as in make -C. */
	if (slash) {
		char *dir = slash == c->file ? xstrdup("/") : xstrndup(c->file, (size_t)(slash - c->file));
		if (chdir(dir) < 0) {
			error("cannot read graph file '%s': %s", c->file, strerror(errno));
			free(dir);
			return EXIT_USAGE;
		}
		free(dir);
	}
	if (access(base, F_OK) < 0 && errno == ENOENT) {
		missing_graph(c, base);
		return EXIT_USAGE;
	}
	c->entered = true;
load:;
	struct load_opts o = {
		.file = base,
		.display = c->file,
		.cli = c->set,
		.set = c->vars.v,
		.default_jobs = (int)cpus_usable() + 2,
		.dynamic = true,
		.settled = c->settled,
		.settled_if_exists = c->settled_if_exists,
	};
	struct diag d = {0};
	int loaded = graph_load(g, &o, &d);
	for (size_t i = 0; i < d.warnings.n && !c->load_warned; i++) {
		/* A run in rounds loads the graph again: each warning once. */
		bool said = false;
		for (size_t k = 0; k < c->warned.n && !said; k++)
			said = strcmp(c->warned.v[k], d.warnings.v[i]) == 0;
		if (!said) {
			warning("%s", d.warnings.v[i]);
			VEC_PUSH(&c->warned, xstrdup(d.warnings.v[i]));
		}
	}
	if (loaded < 0) {
		for (size_t i = 0; i < d.msgs.n; i++) {
			term_fputs(d.msgs.v[i], stderr);
			fputc('\n', stderr);
		}
		if (d.msgs.n > 1)
			error("%zu errors in '%s'; nothing ran", d.msgs.n, c->file);
		else
			error("nothing ran");
		diag_release(&d);
		return EXIT_USAGE;
	}
	diag_release(&d);
	return 0;
}

int cli_load_selected(struct cli *c, struct graph *g)
{
	int rc = cli_load(c, g);
	if (rc)
		return rc;
	struct strbuf err = {0};
	if (graph_select(g, c->args, c->nargs, &err) < 0) {
		/* "juggle lsit": the first word was meant as a command. */
		const char *near = c->command_named ? NULL : command_closest(c->args[0]);
		struct strbuf first = {0};
		if (near && graph_select(g, c->args, 1, &first) < 0 &&
		    !strstr(sb_str(&first), "did you mean"))
			error("no command, job or output is called '%s' (did you mean the command "
			      "'%s'?)",
			      c->args[0], near);
		else
			error("%s", sb_str(&err));
		sb_release(&first);
		sb_release(&err);
		return EXIT_USAGE;
	}
	return 0;
}

struct state *cli_state_readonly(int *status)
{
	struct state *st;
	struct strbuf warn = {0}, err = {0};
	if (own_dir_prepare(STATE_DIR, OWN_READ, &err) < 0 ||
	    state_open(&st, STATE_DIR, true, &warn, &err) < 0) {
		error("%s", sb_str(&err));
		*status = EXIT_CANNOT_START;
		st = NULL;
	}
	term_fputs_lines(sb_str(&warn), stderr);
	sb_release(&warn);
	sb_release(&err);
	return st;
}

int cli_run_opts(const struct cli *c, const struct graph *g, struct run_opts *o)
{
	memset(o, 0, sizeof(*o));
	const char *name = g->settings.backend;
	o->backend = backend_by_name(name);
	if (!o->backend) {
		const char *near = backend_closest_name(name);
		struct strbuf names = {0};
		backend_names_join(&names, ", ", false);
		error("unknown backend '%s'%s%s%s (backends: %s)", name,
		      near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "",
		      sb_str(&names));
		sb_release(&names);
		return EXIT_USAGE;
	}
	o->jobs = g->settings.jobs;
	o->net_jobs = g->settings.net_jobs;
	o->keep_going = g->settings.keep_going > 0;
	o->max_load = g->settings.load;
	/* For tests only: the load average read from this file. */
	o->load_file = getenv("JUGGLE_TEST_LOADAVG");
	o->always_make = c->always_make;
	o->verbose = c->verbose;
	attempt_verbose = c->verbose;
	o->quiet = c->quiet;
	const char *p = g->settings.progress;
	if (!p || strcmp(p, "auto") == 0)
		o->progress = PROGRESS_AUTO;
	else if (strcmp(p, "tty") == 0)
		o->progress = PROGRESS_TTY;
	else if (strcmp(p, "plain") == 0)
		o->progress = PROGRESS_PLAIN;
	else if (strcmp(p, "none") == 0)
		o->progress = PROGRESS_NONE;
	else {
		error("progress: '%s' is not auto, tty, plain or none", p);
		return EXIT_USAGE;
	}
	o->order = ORDER_CRITICAL;
	if (g->settings.order && run_order_parse(g->settings.order, &o->order) < 0) {
		error("--order: '%s' is not critical or file", g->settings.order);
		return EXIT_USAGE;
	}
	/* The archive's format and SOURCE_DATE_EPOCH are usage errors, found
	 * before anything runs; whether the files can be written is checked
	 * by run (exit 3). */
	if (g->settings.archive) {
		struct strbuf err = {0};
		enum run_archive_format fmt;
		long long epoch;
		bool set;
		if (run_archive_format(g->settings.archive, &fmt, &err) < 0 ||
		    run_archive_epoch(&epoch, &set, &err) < 0) {
			error("%s", sb_str(&err));
			sb_release(&err);
			return EXIT_USAGE;
		}
	}
	return 0;
}
