/* cmd.h - the command line: options, subcommands and exit statuses.
 *
 * Only cmd/ turns errors into messages and exit statuses; the engine
 * returns codes and fills buffers.
 */
#ifndef JUGGLE_CMD_H
#define JUGGLE_CMD_H

#include "engine/graph.h"
#include "engine/sched.h"

enum exit_status {
	EXIT_OK = 0,
	EXIT_FAILED = 1,      /* one or more jobs failed */
	EXIT_USAGE = 2,       /* bad command line or invalid graph */
	EXIT_CANNOT_START = 3, /* lock held, folder not writable */
	EXIT_INTERRUPTED = 130,
};

struct cli {
	const char *file;       /* -f, default juggle.ini */
	const char *directory;  /* -C */
	struct settings set;    /* command-line settings (NULL / -1 when unset) */
	bool dry_run, always_make, verbose, quiet;
	bool no_workers;        /* --no-workers */
	bool stale;             /* list --stale, clean --stale */
	VEC(const char *) vars; /* -s NAME=VALUE */
	bool load_warned;       /* the graph's warnings were printed (by the run an
				 * exec-job step belongs to): cli_load prints none */
	/* How a foreach over another job's output loads (load_opts.dynamic):
	 * deferred until its source is in settled (run, list, -n, ...), or
	 * read when the source exists (clean, exec-job). */
	const struct strmap *settled;
	bool settled_if_exists;
	bool entered;           /* cli_load changed to the graph's folder */
	struct strvec warned;   /* the load warnings printed so far */
	const char *backends;   /* compare --backends */
	int repeat;             /* compare --repeat */
	char **args;            /* the words after the command */
	int nargs;
	const char *argv0;
	bool command_named;     /* the command was a word, not the default run */
	struct strvec owned;    /* strings made for the fields above */
};

/* One bit per command, so an option can say which commands it means
 * something to. */
enum command_bit {
	CMD_RUN = 1 << 0,
	CMD_COMPARE = 1 << 1,
	CMD_LIST = 1 << 2,
	CMD_GRAPH = 1 << 3,
	CMD_EXPLAIN = 1 << 4,
	CMD_CHECK = 1 << 5,
	CMD_CLEAN = 1 << 6,
	CMD_EXEC_JOB = 1 << 7,
	CMD_HELP = 1 << 8,
	CMD_WORKER = 1 << 9,
};

struct subcommand {
	const char *name;
	int (*fn)(struct cli *c);
	unsigned bit;           /* its enum command_bit */
	const char *words;      /* the words it takes, for help; NULL: none */
	const char *summary;
};

int cmd_run(struct cli *c);
int cmd_check(struct cli *c);
int cmd_list(struct cli *c);
int cmd_graph(struct cli *c);
int cmd_explain(struct cli *c);
int cmd_clean(struct cli *c);
int cmd_exec_job(struct cli *c);
int cmd_worker(struct cli *c);
int cmd_compare(struct cli *c);

/* The command closest to a mistyped word, or NULL (cmd/main.c). */
const char *command_closest(const char *word);

/* Enters the graph's folder and loads the graph, printing every error.
 * Returns 0, or the exit status to end with. */
int cli_load(struct cli *c, struct graph *g);
/* Loads the graph and marks the targets (c->args) wanted. */
int cli_load_selected(struct cli *c, struct graph *g);
/* Opens the state read-only, printing warnings. NULL: exit with *status. */
struct state *cli_state_readonly(int *status);
/* The run options from the command line and [settings]. 0 or exit status. */
int cli_run_opts(const struct cli *c, const struct graph *g, struct run_opts *o);

/* Raises the soft RLIMIT_NOFILE as far as the run needs (up to the hard
 * limit), or lowers o->net_jobs, then o->jobs, with a warning when even
 * the hard limit is too few (cmd/fdlimit.c). */
void fd_budget(const struct graph *g, struct run_opts *o);

/* Prints "juggle: " and the message to stderr. */
void error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void warning(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
