/* main.c - option parsing and the subcommand table. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "engine/backends/backend.h"
#include "engine/backends/tpool.h"
#include "engine/kind.h"
#include "engine/report/report.h"
#include "engine/term.h"
#include "engine/version.h"

static const struct subcommand commands[] = {
	{"run", cmd_run, "bring the named jobs (default: all) up to date"},
	{"compare", cmd_compare, "run the graph once per backend and compare them"},
	{"list", cmd_list, "the jobs after expansion, with their state"},
	{"graph", cmd_graph, "the graph in Graphviz dot"},
	{"explain", cmd_explain, "why each job would run, or that it is up to date"},
	{"check", cmd_check, "parse and validate the graph only"},
	{"clean", cmd_clean, "remove the declared outputs and the state folder"},
	{"exec-job", cmd_exec_job, "run exactly one job in this process"},
};

/* A message is one line; what it quotes (file names, URLs, errors from
 * elsewhere) is shown escaped, never obeyed by the terminal. */
static void vmessage(const char *prefix, const char *fmt, va_list ap)
{
	struct strbuf sb = {0};
	sb_vaddf(&sb, fmt, ap);
	fputs(prefix, stderr);
	term_fputs(sb_str(&sb), stderr);
	fputc('\n', stderr);
	sb_release(&sb);
}

void error(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("juggle: ", fmt, ap);
	va_end(ap);
}

void warning(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vmessage("juggle: warning: ", fmt, ap);
	va_end(ap);
}

enum long_only {
	OPT_NET_JOBS = 256,
	OPT_REPORT,
	OPT_HTML,
	OPT_TRACE,
	OPT_JUNIT,
	OPT_ARCHIVE,
	OPT_PROGRESS,
	OPT_BACKENDS,
	OPT_REPEAT,
	OPT_LIST_BACKENDS,
};

/* One table: getopt reads it and --help prints it. */
static const struct option_doc {
	struct option opt;
	int shortc;
	const char *arg;
	const char *help;
} options[] = {
	{{"file", required_argument, NULL, 'f'}, 'f', "FILE", "graph file (default juggle.ini)"},
	{{"directory", required_argument, NULL, 'C'}, 'C', "DIR", "change to DIR first"},
	{{"backend", required_argument, NULL, 'b'}, 'b', "NAME",
	 NULL /* the names of the backends, from their table */},
	{{"jobs", required_argument, NULL, 'j'}, 'j', "N", "most jobs in flight (default: CPUs + 2)"},
	{{"net-jobs", required_argument, NULL, OPT_NET_JOBS}, 0, "N",
	 "downloads in flight on top of -j (eventloop, auto; default 32)"},
	{{"keep-going", no_argument, NULL, 'k'}, 'k', NULL,
	 "after a failure, run every job that does not depend on it"},
	{{"dry-run", no_argument, NULL, 'n'}, 'n', NULL, "print what would run, run nothing"},
	{{"always-make", no_argument, NULL, 'B'}, 'B', NULL, "treat every job as out of date"},
	{{"set", required_argument, NULL, 's'}, 's', "NAME=VALUE", "override a variable of [vars]"},
	{{"verbose", no_argument, NULL, 'v'}, 'v', NULL, "print each command"},
	{{"quiet", no_argument, NULL, 'q'}, 'q', NULL, "print only errors"},
	{{"report", required_argument, NULL, OPT_REPORT}, 0, "FILE", "JSON timing report"},
	{{"html", required_argument, NULL, OPT_HTML}, 0, "FILE", "self-contained HTML timeline"},
	{{"trace", required_argument, NULL, OPT_TRACE}, 0, "FILE", "Chrome trace-event JSON"},
	{{"junit", required_argument, NULL, OPT_JUNIT}, 0, "FILE", "JUnit XML, a test case per job"},
	{{"archive", required_argument, NULL, OPT_ARCHIVE}, 0, "FILE",
	 "archive outputs, logs and reports"},
	{{"progress", required_argument, NULL, OPT_PROGRESS}, 0, "MODE",
	 "status display: auto, tty, plain, none"},
	{{"backends", required_argument, NULL, OPT_BACKENDS}, 0, "LIST",
	 "compare: backends to run (comma-separated)"},
	{{"repeat", required_argument, NULL, OPT_REPEAT}, 0, "N",
	 "compare: runs per backend (the median is shown)"},
	{{"help", no_argument, NULL, 'h'}, 'h', NULL, "this help"},
	{{"version", no_argument, NULL, 'V'}, 'V', NULL, "juggle's version"},
	/* For completion scripts and tests; not in --help. */
	{{"list-backends", optional_argument, NULL, OPT_LIST_BACKENDS}, 0, "[=local]", NULL},
};

/* --backend's help: every backend, the default marked. */
static void print_backend_names(FILE *out)
{
	for (size_t i = 0; backends[i]; i++)
		fprintf(out, "%s%s%s", i ? ", " : "", backends[i]->name,
			backends[i] == backend_default ? " (default)" : "");
	fputc('\n', out);
}

/* --list-backends: one name a line, or only the local ones. */
static int list_backends(const char *which)
{
	bool only_local = false;
	if (which && strcmp(which, "local") == 0)
		only_local = true;
	else if (which) {
		error("--list-backends: '%s' is not 'local'", which);
		return -1;
	}
	struct strbuf names = {0};
	backend_names_join(&names, "\n", only_local);
	printf("%s\n", sb_str(&names));
	sb_release(&names);
	return 0;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: juggle [OPTIONS] [COMMAND] [TARGET...]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(out, "\noptions:\n");
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		char left[64];
		const struct option_doc *o = &options[i];
		if (o->opt.val == OPT_LIST_BACKENDS)
			continue;
		if (o->shortc)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shortc, o->opt.name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->opt.name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		fprintf(out, "  %-26s ", left);
		if (o->opt.val == 'b')
			print_backend_names(out);
		else
			fprintf(out, "%s\n", o->help);
	}
	fprintf(out, "\nexit status: 0 ok, 1 a job failed, 2 usage or graph error, "
		     "3 could not start, 130 interrupted\nsee juggle(1) and juggle.ini(5)\n");
}

static int parse_count(const char *opt, const char *s, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < 1 || v > 100000) {
		error("%s: '%s' is not a number from 1 to 100000", opt, s);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int parse_args(int argc, char **argv, struct cli *c, const struct subcommand **cmd)
{
	struct option longopts[ARRAY_SIZE(options) + 1];
	char shortopts[64] = "+";
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		longopts[i] = options[i].opt;
		if (options[i].shortc) {
			size_t n = strlen(shortopts);
			shortopts[n] = (char)options[i].shortc;
			shortopts[n + 1] = '\0';
			if (options[i].opt.has_arg)
				strcat(shortopts, ":");
		}
	}
	memset(&longopts[ARRAY_SIZE(options)], 0, sizeof(struct option));
	/* Options may come before and after the command, as with git and
	 * make: parse, take one word, and go on. */
	VEC(char *) words = {0};
	optind = 1;
	opterr = 0;
	for (;;) {
		int opt = getopt_long(argc, argv, shortopts, longopts, NULL);
		if (opt == -1) {
			if (optind >= argc)
				break;
			if (strcmp(argv[optind - 1], "--") == 0) {
				while (optind < argc)
					VEC_PUSH(&words, argv[optind++]);
				break;
			}
			VEC_PUSH(&words, argv[optind++]);
			continue;
		}
		switch (opt) {
		case 'f': c->file = optarg; break;
		case 'C': c->directory = optarg; break;
		case 'b': c->set.backend = optarg; break;
		case 'j':
			if (parse_count("-j", optarg, &c->set.jobs) < 0)
				goto usage;
			break;
		case OPT_NET_JOBS:
			if (parse_count("--net-jobs", optarg, &c->set.net_jobs) < 0)
				goto usage;
			break;
		case 'k': c->set.keep_going = 1; break;
		case 'n': c->dry_run = true; break;
		case 'B': c->always_make = true; break;
		case 's':
			if (!strchr(optarg, '=') || optarg[0] == '=') {
				error("-s: '%s' is not NAME=VALUE", optarg);
				goto usage;
			}
			VEC_PUSH(&c->vars, optarg);
			break;
		case 'v': c->verbose = true; break;
		case 'q': c->quiet = true; break;
		case OPT_REPORT: c->set.report = optarg; break;
		case OPT_HTML: c->set.html = optarg; break;
		case OPT_TRACE: c->set.trace = optarg; break;
		case OPT_JUNIT: c->set.junit = optarg; break;
		case OPT_ARCHIVE: c->set.archive = optarg; break;
		case OPT_PROGRESS: c->set.progress = optarg; break;
		case OPT_BACKENDS: c->backends = optarg; break;
		case OPT_REPEAT:
			if (parse_count("--repeat", optarg, &c->repeat) < 0)
				goto usage;
			break;
		case 'h':
			usage(stdout);
			free(words.v);
			exit(EXIT_OK);
		case OPT_LIST_BACKENDS:
			if (list_backends(optarg) < 0)
				goto usage;
			free(words.v);
			exit(EXIT_OK);
		case 'V':
			printf("juggle %s\n", JUGGLE_VERSION);
			free(words.v);
			exit(EXIT_OK);
		case ':':
			error("option '%s' needs a value", argv[optind - 1]);
			goto usage;
		default:
			if (optopt)
				error("unknown option '-%c'", optopt);
			else
				error("unknown option '%s'", argv[optind - 1]);
			goto usage;
		}
	}
	*cmd = &commands[0];
	size_t first = 0;
	if (words.n) {
		for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
			if (strcmp(words.v[0], commands[i].name) == 0) {
				*cmd = &commands[i];
				first = 1;
			}
		}
	}
	c->nargs = (int)(words.n - first);
	c->args = xcalloc(words.n + 1, sizeof(char *));
	for (size_t i = first; i < words.n; i++)
		c->args[i - first] = words.v[i];
	free(words.v);
	return 0;
usage:
	free(words.v);
	fprintf(stderr, "run 'juggle --help' for the options\n");
	return -1;
}

/* Started with stdin, stdout or stderr closed (`juggle >&-`, a careless
 * cron wrapper), the next file juggle opens would take that number, and
 * progress lines or error messages would land in it: a job's log, the
 * state log. /dev/null takes those numbers first. */
static void hold_std_fds(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int n = open("/dev/null", fd == 0 ? O_RDONLY : O_WRONLY);
		if (n >= 0 && n != fd) {
			dup2(n, fd);
			close(n);
		}
	}
}

int main(int argc, char **argv)
{
	hold_std_fds();
	struct cli c = {
		.file = "juggle.ini",
		.set = {.jobs = -1, .net_jobs = -1, .keep_going = -1},
		.repeat = 1,
		.argv0 = argv[0],
	};
	const struct subcommand *cmd;
	if (parse_args(argc, argv, &c, &cmd) < 0)
		return EXIT_USAGE;
	VEC_PUSH(&c.vars, NULL);
	kinds_init();
	int rc = cmd->fn(&c);
	free(c.args);
	free(c.vars.v);
	strvec_release(&c.owned);
	fflush(stdout);
	if (tpool_abandoned() > 0) {
		/* A task given up on still runs in its thread: the libraries'
		 * exit handlers must not free what it is using. */
		fflush(stderr);
		_exit(rc);
	}
	return rc;
}
