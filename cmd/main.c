/* main.c - option parsing and the subcommand table. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "engine/backends/backend.h"
#include "engine/backends/tpool.h"
#include "engine/jobserver.h"
#include "engine/kind.h"
#include "engine/load/load.h"
#include "engine/report/report.h"
#include "engine/term.h"
#include "engine/version.h"

/* The commands, for the dispatch, `juggle help` and the checks of which
 * options and words each takes. */
static int cmd_help(struct cli *c);

static const struct subcommand commands[] = {
	{"run", cmd_run, CMD_RUN, "[TARGET...]", "bring the named jobs (default: all) up to date"},
	{"compare", cmd_compare, CMD_COMPARE, "[TARGET...]",
	 "run the graph once per backend and compare them"},
	{"list", cmd_list, CMD_LIST, "[TARGET...]", "the jobs after expansion, with their state"},
	{"graph", cmd_graph, CMD_GRAPH, "[TARGET...]", "the graph in Graphviz dot"},
	{"explain", cmd_explain, CMD_EXPLAIN, "[TARGET...]",
	 "why each job would run, or that it is up to date"},
	{"check", cmd_check, CMD_CHECK, NULL, "parse and validate the graph only"},
	{"clean", cmd_clean, CMD_CLEAN, "[TARGET...]",
	 "remove the declared outputs and the state folder"},
	{"exec-job", cmd_exec_job, CMD_EXEC_JOB, "JOB [ATTEMPT]",
	 "run exactly one job in this process"},
	{"worker", cmd_worker, CMD_WORKER, "HOST:PORT",
	 "run the jobs a run sends (its Slurm allocation's workers)"},
	{"help", cmd_help, CMD_HELP, "[COMMAND]", "the commands, or one command and its options"},
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
	OPT_ORDER,
	OPT_BACKENDS,
	OPT_REPEAT,
	OPT_LIST_BACKENDS,
	OPT_NO_JOBSERVER,
	OPT_NO_WORKERS,
	OPT_STALE,
};

enum has_arg { NO_ARG, NEEDS_ARG, OPTIONAL_ARG /* only as --name=VALUE */ };

/* One table: the parser reads it, --help and `juggle help COMMAND` print
 * it, and an option used with a command outside its `only` is an error
 * rather than silently ignored. `only` is 0 for what every command
 * accepts: the settings ([settings] in the file may say them too, and a
 * shell alias carries them to every command), -s, -n (which every command
 * keeps: nothing runs), -v and -q. */
static const struct option_doc {
	const char *name;
	int shortc;
	enum has_arg has_arg;
	int val;
	unsigned only;
	const char *arg;
	const char *help;
} options[] = {
	{"file", 'f', NEEDS_ARG, 'f', 0, "FILE", "graph file (default juggle.ini)"},
	{"directory", 'C', NEEDS_ARG, 'C', 0, "DIR", "change to DIR first"},
	{"backend", 'b', NEEDS_ARG, 'b', 0, "NAME",
	 NULL /* the names of the backends, from their table */},
	{"jobs", 'j', NEEDS_ARG, 'j', 0, "N", "most jobs in flight (default: CPUs + 2)"},
	{"net-jobs", 0, NEEDS_ARG, OPT_NET_JOBS, 0, "N",
	 "downloads in flight on top of -j (eventloop, auto; default 32)"},
	{"no-jobserver", 0, NO_ARG, OPT_NO_JOBSERVER, CMD_RUN, NULL,
	 "neither use make's jobserver nor serve one to commands"},
	{"no-workers", 0, NO_ARG, OPT_NO_WORKERS, CMD_RUN, NULL,
	 "run jobs with a worker one-shot, without persistent workers"},
	{"stale", 0, NO_ARG, OPT_STALE, CMD_LIST | CMD_CLEAN, NULL,
	 "list or clean the outputs of jobs no longer in the graph"},
	{"keep-going", 'k', NO_ARG, 'k', 0, NULL,
	 "after a failure, run every job that does not depend on it"},
	{"load-average", 'l', NEEDS_ARG, 'l', 0, "LOAD",
	 "start no job while others run and the load average is above LOAD"},
	{"dry-run", 'n', NO_ARG, 'n', 0, NULL, "print what would run, run nothing"},
	{"always-make", 'B', NO_ARG, 'B', CMD_RUN | CMD_LIST | CMD_EXPLAIN, NULL,
	 "treat every job as out of date"},
	{"set", 's', NEEDS_ARG, 's', 0, "NAME=VALUE", "override a variable of [vars]"},
	{"verbose", 'v', NO_ARG, 'v', 0, NULL, "print each command"},
	{"quiet", 'q', NO_ARG, 'q', 0, NULL, "print only errors"},
	{"report", 0, NEEDS_ARG, OPT_REPORT, CMD_RUN | CMD_COMPARE, "FILE", "JSON timing report"},
	{"html", 0, NEEDS_ARG, OPT_HTML, CMD_RUN | CMD_COMPARE, "FILE",
	 "self-contained HTML timeline"},
	{"trace", 0, NEEDS_ARG, OPT_TRACE, CMD_RUN, "FILE", "Chrome trace-event JSON"},
	{"junit", 0, NEEDS_ARG, OPT_JUNIT, CMD_RUN, "FILE", "JUnit XML, a test case per job"},
	{"archive", 0, NEEDS_ARG, OPT_ARCHIVE, CMD_RUN, "FILE", "archive outputs, logs and reports"},
	{"progress", 0, NEEDS_ARG, OPT_PROGRESS, 0, "MODE", "status display: auto, tty, plain, none"},
	{"order", 0, NEEDS_ARG, OPT_ORDER, 0, "ORDER",
	 "ready jobs start: critical (longest chain first, default), file"},
	{"backends", 0, NEEDS_ARG, OPT_BACKENDS, CMD_COMPARE, "LIST",
	 "compare: backends to run (comma-separated)"},
	{"repeat", 0, NEEDS_ARG, OPT_REPEAT, CMD_COMPARE, "N",
	 "compare: runs per backend (the median is shown)"},
	{"help", 'h', NO_ARG, 'h', 0, NULL, "this help"},
	{"version", 'V', NO_ARG, 'V', 0, NULL, "juggle's version"},
	/* For completion scripts and tests; not in --help. */
	{"list-backends", 0, OPTIONAL_ARG, OPT_LIST_BACKENDS, 0, "[=local]", NULL},
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

/* The options of the commands in mask (every option when mask is 0). */
static void print_options(FILE *out, unsigned mask)
{
	fprintf(out, "\noptions:\n");
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		char left[64];
		const struct option_doc *o = &options[i];
		if (o->val == OPT_LIST_BACKENDS || (mask && o->only && !(o->only & mask)))
			continue;
		if (o->shortc)
			snprintf(left, sizeof(left), "-%c, --%s%s%s", o->shortc, o->name,
				 o->arg ? " " : "", o->arg ? o->arg : "");
		else
			snprintf(left, sizeof(left), "    --%s%s%s", o->name, o->arg ? " " : "",
				 o->arg ? o->arg : "");
		fprintf(out, "  %-26s ", left);
		if (o->val == 'b')
			print_backend_names(out);
		else
			fprintf(out, "%s\n", o->help);
	}
}

static void usage(FILE *out)
{
	fprintf(out, "usage: juggle [OPTIONS] [COMMAND] [TARGET...]\n\ncommands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
	print_options(out, 0);
	fprintf(out, "\nexit status: 0 ok, 1 a job failed, 2 usage or graph error, "
		     "3 could not start, 130 interrupted\nsee juggle(1) and juggle.ini(5)\n");
}

static void usage_command(FILE *out, const struct subcommand *cmd)
{
	fprintf(out, "usage: juggle [OPTIONS] %s%s%s\n\n%s\n", cmd->name, cmd->words ? " " : "",
		cmd->words ? cmd->words : "", cmd->summary);
	if (cmd->bit != CMD_HELP)
		print_options(out, cmd->bit);
	fprintf(out, "\nsee juggle(1)\n");
}

static const struct subcommand *command_by_name(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(name, commands[i].name) == 0)
			return &commands[i];
	return NULL;
}

const char *command_closest(const char *word)
{
	/* The commands are few and far apart, so two edits are still a
	 * likely typo ("lsit", "chekc") where a graph's names would not be. */
	const char *best = NULL;
	int best_d = strlen(word) < 4 ? 1 : 2;
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++) {
		int d = levenshtein(word, commands[i].name);
		if (d <= best_d && (!best || d < levenshtein(word, best)))
			best = commands[i].name;
	}
	return best;
}

/* `juggle help [COMMAND]`: on stdout, as --help. */
static int cmd_help(struct cli *c)
{
	if (c->nargs == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	const struct subcommand *cmd = command_by_name(c->args[0]);
	if (!cmd) {
		const char *near = command_closest(c->args[0]);
		error("no command is called '%s'%s%s%s; the commands are in 'juggle help'",
		      c->args[0], near ? " (did you mean '" : "", near ? near : "",
		      near ? "'?)" : "");
		return EXIT_USAGE;
	}
	usage_command(stdout, cmd);
	return EXIT_OK;
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

/* A long option by its name or an unambiguous prefix of it, as getopt
 * and git take them; NULL after saying why not. */
static const struct option_doc *long_option(const char *arg, size_t len)
{
	const struct option_doc *found = NULL;
	size_t matches = 0;
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		if (strncmp(options[i].name, arg, len) != 0)
			continue;
		if (strlen(options[i].name) == len)
			return &options[i];
		found = &options[i];
		matches++;
	}
	if (matches == 1)
		return found;
	if (matches > 1) {
		struct strbuf names = {0};
		for (size_t i = 0; i < ARRAY_SIZE(options); i++)
			if (strncmp(options[i].name, arg, len) == 0 &&
			    options[i].val != OPT_LIST_BACKENDS)
				sb_addf(&names, "%s--%s", names.len ? ", " : "", options[i].name);
		error("option '--%.*s' is ambiguous: it could be %s", (int)len, arg, sb_str(&names));
		sb_release(&names);
		return NULL;
	}
	const char *names[ARRAY_SIZE(options)];
	for (size_t i = 0; i < ARRAY_SIZE(options); i++)
		names[i] = options[i].name;
	char *word = xstrndup(arg, len);
	const char *near = closest_word(word, names, ARRAY_SIZE(options));
	free(word);
	error("unknown option '--%.*s'%s%s%s", (int)len, arg, near ? " (did you mean '--" : "",
	      near ? near : "", near ? "'?)" : "");
	return NULL;
}

/* What the parse leaves for after it: which options were given (to check
 * them against the command), whether help was asked for. */
struct parse_state {
	char given[ARRAY_SIZE(options)]; /* 's' as -x, 'l' as --name, or 0 */
	bool help;
};

/* Takes one option and its value into c. 0, 1 when the option was all
 * there was to do (--version), or -1 after an error. */
static int take_option(struct cli *c, struct parse_state *ps, const struct option_doc *o,
		       char as, const char *value)
{
	ps->given[o - options] = as;
	switch (o->val) {
	case 'f': c->file = value; break;
	case 'C': c->directory = value; break;
	case 'b': c->set.backend = value; break;
	case 'j': return parse_count("-j", value, &c->set.jobs);
	case OPT_NET_JOBS: return parse_count("--net-jobs", value, &c->set.net_jobs);
	case 'k': c->set.keep_going = 1; break;
	case 'l':
		if (parse_load(value, &c->set.load) < 0) {
			error("-l: '%s' is not a load average (a number from 0 to 100000; 0: no "
			      "limit)",
			      value);
			return -1;
		}
		break;
	case OPT_NO_JOBSERVER: c->set.no_jobserver = true; break;
	case OPT_NO_WORKERS: c->no_workers = true; break;
	case OPT_STALE: c->stale = true; break;
	case 'n': c->dry_run = true; break;
	case 'B': c->always_make = true; break;
	case 's':
		if (!strchr(value, '=') || value[0] == '=') {
			error("-s: '%s' is not NAME=VALUE", value);
			return -1;
		}
		VEC_PUSH(&c->vars, value);
		break;
	case 'v': c->verbose = true; break;
	case 'q': c->quiet = true; break;
	case OPT_REPORT: c->set.report = value; break;
	case OPT_HTML: c->set.html = value; break;
	case OPT_TRACE: c->set.trace = value; break;
	case OPT_JUNIT: c->set.junit = value; break;
	case OPT_ARCHIVE: c->set.archive = value; break;
	case OPT_PROGRESS: c->set.progress = value; break;
	case OPT_ORDER: c->set.order = value; break;
	case OPT_BACKENDS: c->backends = value; break;
	case OPT_REPEAT: return parse_count("--repeat", value, &c->repeat);
	case 'h': ps->help = true; break;
	case OPT_LIST_BACKENDS:
		if (list_backends(value) < 0)
			return -1;
		return 1;
	case 'V':
		printf("juggle %s\n", JUGGLE_VERSION);
		return 1;
	}
	return 0;
}

/* A value an option needs, from "--name=VALUE", the rest of "-jN", or
 * the next word; NULL after saying it is missing. */
static const char *option_value(const struct option_doc *o, const char *spelled,
				const char *attached, int argc, char **argv, int *i)
{
	if (attached)
		return attached;
	if (*i + 1 < argc)
		return argv[++*i];
	if (o->val == 'j')
		error("option '%s' needs a number: -j N runs at most N jobs at once", spelled);
	else
		error("option '%s' needs a value: %s %s", spelled, spelled, o->arg);
	return NULL;
}

/* Options may come before and after the command, as with git and make;
 * "--" ends them. The words are the command (if the first names one) and
 * its targets. Returns 0, 1 when nothing is left to do (--help), or -1
 * after an error. */
static int parse_args(int argc, char **argv, struct cli *c, const struct subcommand **cmd)
{
	VEC(char *) words = {0};
	struct parse_state ps = {0};
	char spelled[64];
	int taken;
	for (int i = 1; i < argc; i++) {
		char *arg = argv[i];
		if (strcmp(arg, "--") == 0) {
			while (++i < argc)
				VEC_PUSH(&words, argv[i]);
			break;
		}
		if (arg[0] != '-' || arg[1] == '\0') {
			VEC_PUSH(&words, arg);
			continue;
		}
		if (arg[1] == '-') {
			const char *eq = strchr(arg + 2, '=');
			size_t len = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
			const struct option_doc *o = long_option(arg + 2, len);
			if (!o)
				goto usage;
			snprintf(spelled, sizeof(spelled), "--%s", o->name);
			const char *value = NULL;
			if (o->has_arg == NO_ARG && eq) {
				error("option '%s' takes no value", spelled);
				goto usage;
			}
			if (o->has_arg == OPTIONAL_ARG)
				value = eq ? eq + 1 : NULL;
			else if (o->has_arg == NEEDS_ARG &&
				 !(value = option_value(o, spelled, eq ? eq + 1 : NULL, argc, argv, &i)))
				goto usage;
			if ((taken = take_option(c, &ps, o, 'l', value)) != 0)
				goto done;
			continue;
		}
		/* A cluster of short options: -kv, -j4, -fFILE. */
		for (char *p = arg + 1; *p; p++) {
			const struct option_doc *o = NULL;
			for (size_t k = 0; k < ARRAY_SIZE(options) && !o; k++)
				if (options[k].shortc && options[k].shortc == *p)
					o = &options[k];
			if (!o) {
				error("unknown option '-%c'", *p);
				goto usage;
			}
			snprintf(spelled, sizeof(spelled), "-%c", *p);
			const char *value = NULL;
			if (o->has_arg == NEEDS_ARG &&
			    !(value = option_value(o, spelled, p[1] ? p + 1 : NULL, argc, argv, &i)))
				goto usage;
			if ((taken = take_option(c, &ps, o, 's', value)) != 0)
				goto done;
			if (value)
				break;
		}
	}
	*cmd = &commands[0];
	size_t first = 0;
	if (words.n && command_by_name(words.v[0])) {
		*cmd = command_by_name(words.v[0]);
		c->command_named = true;
		first = 1;
	}
	if (ps.help) {
		if (c->command_named)
			usage_command(stdout, *cmd);
		else
			usage(stdout);
		free(words.v);
		return 1;
	}
	/* What a command would ignore is a mistake to point out. */
	for (size_t i = 0; i < ARRAY_SIZE(options); i++) {
		if (ps.given[i] && options[i].only && !(options[i].only & (*cmd)->bit)) {
			struct strbuf names = {0};
			for (size_t k = 0; k < ARRAY_SIZE(commands); k++)
				if (options[i].only & commands[k].bit)
					sb_addf(&names, "%s%s", names.len ? ", " : "", commands[k].name);
			if (ps.given[i] == 's')
				error("option '-%c' means nothing to '%s' (it is for: %s)",
				      options[i].shortc, (*cmd)->name, sb_str(&names));
			else
				error("option '--%s' means nothing to '%s' (it is for: %s)",
				      options[i].name, (*cmd)->name, sb_str(&names));
			sb_release(&names);
			goto usage;
		}
	}
	if (!(*cmd)->words && words.n > first) {
		error("'%s' takes no targets, but was given '%s'", (*cmd)->name, words.v[first]);
		goto usage;
	}
	if ((*cmd)->bit == CMD_HELP && words.n > first + 1) {
		error("'help' takes one command, but was given '%s' too", words.v[first + 1]);
		goto usage;
	}
	c->nargs = (int)(words.n - first);
	c->args = xcalloc(words.n + 1, sizeof(char *));
	for (size_t i = first; i < words.n; i++)
		c->args[i - first] = words.v[i];
	free(words.v);
	return 0;
done:
	if (taken > 0) {
		free(words.v);
		return 1;
	}
usage:
	free(words.v);
	fprintf(stderr, "juggle: the options are in 'juggle --help'\n");
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

/* Whether what juggle printed was lost: `juggle list >/dev/full` must not
 * end 0 as if the list had been written, as for cat(1). A reader that
 * went away (a pipe or socket: `juggle list | head -1`) is not an error:
 * it chose to stop reading (see main). */
static bool stdout_lost(void)
{
	errno = 0;
	if (fflush(stdout) == 0 && !ferror(stdout))
		return false;
	int err = errno;
	struct stat st;
	if (err == EPIPE || (fstat(STDOUT_FILENO, &st) == 0 && (S_ISFIFO(st.st_mode) ||
								 S_ISSOCK(st.st_mode))))
		return false;
	if (err)
		error("cannot write to standard output: %s", strerror(err));
	else
		error("cannot write to standard output");
	return true;
}

int main(int argc, char **argv)
{
	hold_std_fds();
	/* Before juggle opens anything: see jobserver_probe(). */
	jobserver_probe();
	struct cli c = {
		.file = "juggle.ini",
		.set = {.jobs = -1, .net_jobs = -1, .keep_going = -1, .load = -1},
		.repeat = 1,
		.argv0 = argv[0],
	};
	/* Every command treats a reader that goes away alike (`juggle list |
	 * head -1`): the writes fail with EPIPE instead of killing juggle, so
	 * a run still finishes and records its jobs, and each command ends
	 * quietly with its own exit status. Jobs start with SIGPIPE restored
	 * (spawn_start). */
	signal(SIGPIPE, SIG_IGN);
	const struct subcommand *cmd;
	int parsed = parse_args(argc, argv, &c, &cmd), rc = EXIT_OK;
	if (parsed < 0)
		return EXIT_USAGE;
	if (parsed == 0) {
		VEC_PUSH(&c.vars, NULL);
		kinds_init();
		rc = cmd->fn(&c);
	}
	free(c.args);
	free(c.vars.v);
	strvec_release(&c.owned);
	strvec_release(&c.warned);
	if (stdout_lost() && rc == EXIT_OK)
		rc = EXIT_FAILED;
	if (tpool_abandoned() > 0) {
		/* A task given up on still runs in its thread: the libraries'
		 * exit handlers must not free what it is using. */
		fflush(stderr);
		_exit(rc);
	}
	return rc;
}
