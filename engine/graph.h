/* graph.h - the job graph: sections as written, jobs after expansion.
 *
 * Lifecycle:
 *   1. graph_load() (engine/load/load.h) reads the INI file, expands
 *      ${vars} and foreach, resolves inputs, outputs and dependencies, and
 *      validates everything; on any error it returns -1 with every problem
 *      in the diag and the graph is only fit for graph_release().
 *   2. The graph is then read-only, except for each job's `run` record,
 *      which only the scheduler thread writes.
 *   3. graph_release() frees everything.
 *
 * Strings in the graph live in its arena and are never freed one by one.
 */
#ifndef JUGGLE_GRAPH_H
#define JUGGLE_GRAPH_H

#include <string.h>

#include "engine/diag.h"
#include "engine/util.h"

struct job_kind;

/* One "key = value" of a section. */
struct kv {
	const char *key;
	const char *raw; /* as written, continuation lines joined with one space */
	const char *val; /* after ${var} expansion; placeholders still in */
	int line;
	int cut_line;    /* a line where inih cut the value at " ;", or 0 */
	bool failed;     /* its line or its ${} was reported as an error: the key
			  * is there (never "missing"), its value is not read */
};

struct kvvec {
	struct kv *v;
	size_t n, cap;
};

struct pool {
	const char *name;
	int depth;   /* at most this much weight of the pool's jobs at once */
	int line;
	int running; /* scheduler's count: the weight of its jobs in flight */
	int index;   /* in graph.pools */
};

/* A pool a job takes, and how much of its depth (pools = NAME:WEIGHT). */
struct pool_use {
	struct pool *pool;
	int weight;
};

/* What a foreach key expands over. */
enum foreach_type { FE_NONE, FE_GLOB, FE_LINES, FE_RANGE, FE_LIST };

/* When a job runs, by how its dependencies ended (when = ...): success,
 * the default, only after every one succeeded or was up to date;
 * all_done once all have ended, whatever their outcome; any_failed only
 * when a job upstream failed in this run. */
enum when { WHEN_SUCCESS = 0, WHEN_ALL_DONE, WHEN_ANY_FAILED };

/* A job section as written: the template of its instances. */
struct section {
	const struct job_kind *kind;
	const char *name;
	int line;
	struct kvvec keys;

	/* Common keys, parsed. */
	enum foreach_type foreach;
	const char *foreach_arg;  /* the glob, file, range or list after expansion */
	const char *glob_prefix;  /* for FE_GLOB: the fixed folder part, "" or ending in '/' */
	int retries;
	double retry_delay;       /* seconds */
	double timeout;           /* seconds, 0 = none */
	bool always;
	struct pool_use *pools;   /* what pool and pools say, in the arena; n_pools of them */
	int n_pools;
	const char *description;  /* NULL = the job's name */
	int batch;                /* foreach items per job (batch = N); 0 = no batch key */
	enum when when;           /* when = ...: success, all_done or any_failed */
	/* A foreach over what another job makes (a lines: file or a folder a
	 * glob reads that some job declares as its output): that output.
	 * NULL otherwise. deferred: its items are not known yet, and the
	 * section is one job of its name that stands for them ("expands
	 * after" the producer of dyn_source), which never runs. */
	const char *dyn_source;
	bool deferred;

	void *kpriv;              /* the kind's parsed form of its keys */
	bool bad_keys;            /* an unknown key was reported */
	size_t first_job, n_jobs; /* its instances in graph.jobs */
};

/* The outcome of a job in a run, in the report's words. */
enum job_status {
	JS_PENDING = 0,
	JS_OK,
	JS_FAILED,
	JS_SKIPPED, /* skipped-up-to-date */
	JS_NOT_RUN,
	JS_INTERRUPTED,
	JS_NOT_TRIGGERED, /* skipped-nothing-failed: when = any_failed and
	                   * nothing upstream failed */
	JS__COUNT
};
const char *job_status_name(enum job_status s);

/* What happened to a job in this run; written only by the scheduler. */
struct job_run {
	enum job_status status;
	bool wanted;        /* requested, or needed by a requested job */
	bool started;
	bool changed;       /* ran and changed an output (or has none) */
	bool logged;        /* an attempt wrote to its log: the file is there */
	int pending;        /* unfinished dependencies */
	int attempts;
	int worker;         /* lane of the last attempt, -1 none */
	int exit_code;      /* -1 none */
	int signal;         /* 0 none */
	/* Its attempts' facts (a later attempt's replacing an earlier's) and
	 * counts (added up): see struct result. NULL when none. */
	struct json_t *facts, *counts;
	int64_t bytes;
	double queued, started_at, finished; /* seconds from the run's start */
	double cpu_s;
	double busy_s;      /* seconds its attempts held a lane (no retry waits) */
	double not_before;  /* retry time, monotonic */
	char *reason;       /* why it ran (or NULL) */
	char *error;        /* why it failed */
	char *value;        /* cpu task result */
	/* For a job with when = all_done or any_failed: the jobs upstream
	 * that failed in this run, one name a line (JUGGLE_FAILED); NULL
	 * when none did. */
	char *failed_upstream;
};

struct job {
	const char *name;     /* "docs" or "docs[guide/intro.xml]" */
	struct section *sec;
	const char *item;     /* foreach item, NULL without foreach */
	const char *match;    /* the matched path of a glob foreach */
	/* A batch (batch = N): the foreach instances it stands for, in item
	 * order, each with its own item, match, inputs and outputs. They are
	 * not in graph.jobs; the batch's inputs and outputs are theirs joined
	 * (inputs once each). NULL otherwise. */
	struct job **members;
	uint32_t n_members;
	const char **inputs;  /* normalised paths */
	const char **outputs; /* normalised paths, inside the graph's folder */
	/* Per output, 1: a folder output, written "DIR/" (engine/outtree.h);
	 * NULL when the job has none. */
	const unsigned char *out_dirs;
	struct job **deps;    /* after-jobs and producers of inputs, no duplicates */
	struct job **rdeps;   /* jobs that depend on this one */
	uint32_t n_inputs, n_outputs, n_deps, n_rdeps;
	uint32_t index;       /* position in graph.jobs */
	unsigned char fp[16]; /* fingerprint of the definition */
	struct job_run run;
};

/* [settings] merged with the command line; unset fields are NULL / -1. */
struct settings {
	const char *backend;
	int jobs;
	bool jobs_given;   /* -j or [settings] jobs said it, not the default */
	int net_jobs;
	int keep_going;
	double load; /* -l: hold new starts above this load average; 0: no limit */
	/* GNU make's jobserver (engine/jobserver.h): on unless [settings]
	 * jobserver = no; the command line's --no-jobserver sets no_jobserver. */
	bool jobserver, no_jobserver;
	const char *report, *html, *trace, *junit, *archive, *progress;
	const char *slurm_partition, *slurm_args;
	/* Allocation mode (engine/backends/slurm-alloc.c); checked there. */
	const char *slurm_mode, *slurm_nodes, *slurm_tasks, *slurm_time, *slurm_listen;
	const char *slurm_submit_rate; /* submissions a second, both modes */
	const char *slurm_idle; /* allocation mode: seconds before an idle one goes */
	const char *order;   /* "critical" or "file" (engine/priority.h) */
	/* What a run that did not succeed archives: false (the default) its
	 * partial archive beside the archive, true nothing at all. */
	bool archive_on_failure_none;
	/* stale = remove: a run that succeeded removes the stale outputs
	 * (engine/stale.h) at its end; keep, the default, leaves them. */
	bool stale_remove;
	/* The keys kinds take in [settings] (job_kind.settings_keys), in
	 * file order, ${} expanded. */
	struct kvvec kind;
};

struct graph {
	const char *file;      /* as given, for messages */
	struct arena arena;
	struct settings settings;
	VEC(struct section *) sections;
	VEC(struct job *) jobs;  /* in the order of the file, instances in item order */
	VEC(struct pool *) pools;
	struct kvvec vars;       /* [vars] then -s overrides */
	struct strmap job_by_name;
	struct strmap section_by_name;
	struct strmap producer;  /* output path -> job */
	struct strmap batch_of;  /* a batched instance's name -> its batch job */
	double loaded_at;        /* wall-clock time the ${date} built-ins used */
};

void graph_release(struct graph *g);

/* The job called name, or the batch holding the instance called name; NULL
 * if none. */
struct job *graph_job(const struct graph *g, const char *name);

/* Marks the jobs named by targets (job names, foreach base names or output
 * paths) and everything they depend on as wanted; all jobs when n == 0.
 * Returns 0, or -1 naming the unknown target in err. */
int graph_select(struct graph *g, char **targets, int n, struct strbuf *err);

/* Wanted jobs in an order where dependencies come first (file order among
 * independent jobs). The caller frees the array. */
struct job **graph_order(const struct graph *g, size_t *n);

/* Whether the job's output i is a folder output. */
static inline bool job_output_is_dir(const struct job *job, uint32_t i)
{
	return job->out_dirs && job->out_dirs[i];
}

/* Whether path lies inside the folder dir (both normalised). */
static inline bool path_inside(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	return strncmp(path, dir, n) == 0 && path[n] == '/';
}

/* The job whose folder output holds path (a file inside an unpacked
 * archive), or NULL. */
struct job *graph_tree_producer(const struct graph *g, const char *path);

/* Whether path, an input of job, is a folder output of one of its
 * dependencies (a job reading a whole tree: "input = site/"). */
bool job_input_is_tree(const struct job *job, const char *path);

/* Value of key in a section, NULL if absent (the last one if repeated). */
const struct kv *section_key(const struct section *sec, const char *key);

/* The value [settings] gives a key some kind takes there (see
 * job_kind.settings_keys), NULL if absent or reported as an error (the
 * last one if repeated). */
const struct kv *graph_kind_setting(const struct graph *g, const char *key);

/* True if s is a valid job name: 1-128 of A-Z a-z 0-9 . _ - */
bool valid_job_name(const char *s);

/* A path's form as the graph keeps it: no "./", no "//", no trailing "/",
 * no "x/.." (leading ".." stay). */
char *path_normalize(const char *p);

/* The log of a job: ".juggle/logs/<name, with / and odd bytes escaped>.log". */
char *job_log_path(const struct job *job);
/* Where `juggle exec-job` leaves an attempt's result for the backend that
 * asked: ".juggle/results/<the log's base name>.json". */
char *job_result_path(const struct job *job);

#define STATE_DIR ".juggle"

#endif
