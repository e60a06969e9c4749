/* kind.h - the contract between the engine and a job kind.
 *
 * A job kind (jobs/command.c, jobs/cpu.c, jobs/download/) is one table of
 * functions. The engine never names a kind: it finds a section's kind by its
 * name in job_kinds[], and everything kind-specific goes through the table.
 * Adding a kind is one new file (a folder when it grows) and one line in
 * jobs/kinds.c.
 */
#ifndef JUGGLE_KIND_H
#define JUGGLE_KIND_H

#include "engine/attempt.h"
#include "engine/graph.h"

struct uv_loop_s;

/* One attempt carried by an event loop (eventloop and auto backends). The
 * backend fills everything but kpriv, calls attempt_begin() on a first, and
 * attempt_end() after done. */
struct async_attempt {
	struct attempt a;           /* as for run(): job, log_fd, deadline, res */
	struct uv_loop_s *loop;
	void **loop_cache;          /* the kind's per-loop slot, NULL at first */
	void (*done)(struct async_attempt *aa, int rc); /* rc: 0 ok, -1 failed */
	void *backend_data;         /* the backend's, untouched by the kind */
	void *kpriv;                /* the kind's, for this attempt */
};

/* The program an attempt runs, for a backend that starts it itself (slurm
 * runs it under srun). Free with job_program_release(). */
struct job_program {
	char **argv;      /* the program and its arguments */
	char **envp;      /* NULL: juggle's own environment */
	char *cwd;        /* NULL: the graph's folder */
	const char *path; /* the PATH to find argv[0] in (inside envp); NULL: juggle's */
};
void job_program_release(struct job_program *p);

/* A fact a kind's attempts report (struct result's facts). */
struct kind_fact {
	const char *name;      /* its key in results and reports: "http_status" */
	const char *label;     /* how a failure's summary shows it ("HTTP" in
				* "HTTP 404"), or NULL: never */
	long long fails_from;  /* with label: the values from which it explains
				* a failure (HTTP: 400) */
};

struct job_kind {
	const char *name;        /* as in "[command NAME]" */
	const char *color;       /* the CSS color of its jobs' bars in the HTML
				  * report's timeline ("#4e79a7"); NULL: the
				  * color of a kind the report does not know */
	const char *const *keys; /* keys besides the common ones, NULL-terminated */
	/* Keys of its own that [settings] may also set, as the default for
	 * every section of the kind (each also in keys), NULL-terminated, or
	 * NULL. They say how a job runs (whom a download trusts), never what
	 * it makes, so they stay out of the fingerprint, in a section as in
	 * [settings]: the kind reads one with graph_kind_setting() when the
	 * section does not set it. */
	const char *const *settings_keys;
	const char *const *secret_keys; /* those of keys whose values are
				  * secrets (a token): they stay out of the
				  * job's fingerprint, where only the key's
				  * presence counts, so a rotated secret
				  * re-runs nothing; NULL-terminated, or NULL */
	bool env_keys;           /* accepts "env.NAME" keys */
	const char *key_prefix;  /* also accepts keys made of this and a
				  * name ("params." for params.NAME), or NULL */
	bool network;            /* mostly waits on the network: on the
				  * eventloop and auto backends an attempt takes
				  * a --net-jobs slot instead of a -j one */
	bool atomic_outputs;     /* run() replaces outputs atomically, so a
				  * failure leaves the previous copy in place
				  * (otherwise failed outputs are deleted) */
	bool folder_outputs;     /* may have folder outputs ("DIR/"): what
				  * run() starts writes the tree into the
				  * staging folder {output} names
				  * (engine/outtree.h) */
	bool batchable;          /* run() takes any number of inputs and
				  * outputs, so `batch = N` may hand it N
				  * foreach items at once */
	/* The facts and counts its attempts report (struct result), ending
	 * in a NULL name, or NULL for none. Every job in a report shows every
	 * kind's facts (null when it has none), so all jobs have the same
	 * keys; the report's head shows every kind's counts totalled over the
	 * run. */
	const struct kind_fact *facts;
	const char *const *counts;

	/* Optional: one-time set-up in the main thread before any worker
	 * starts (libxml2's xmlInitParser, curl_global_init), run by
	 * kinds_global_init() only for a graph with a section of this kind. */
	void (*global_init)(void);

	/* Validates a section's expanded keys (required keys, value syntax) and
	 * may keep a parsed form in sec->kpriv. Reports each problem in d with
	 * the key's line. Returns 0 or -1. */
	int (*check)(const struct graph *g, struct section *sec, struct diag *d);

	/* Optional: validates one expanded instance. */
	int (*check_job)(const struct graph *g, struct job *job, struct diag *d);

	/* Optional: a reason the job must run although its state says up to
	 * date (e.g. a download that asks the server), or NULL. */
	const char *(*stale)(const struct job *job);

	/* Runs one attempt in the calling thread, blocking, and fills a->res.
	 * Returns 0 (success) or -1 (failure, with a->res->error set).
	 * Must stop early when cancel_requested() or a->deadline passes. */
	int (*run)(struct attempt *a);

	/* Optional, for the event-loop backends: starts an attempt on a libuv
	 * loop without blocking it. Returns 0, and then calls aa->done exactly
	 * once, on the loop's thread, when the attempt has ended; or returns -1
	 * with aa->a.res filled, and never calls done (libuv's rule). Must
	 * honour aa->a.deadline itself. Kinds without it run blocking: inline
	 * on the eventloop backend (as asyncio would), on a pool with auto. */
	int (*start_async)(struct async_attempt *aa);
	/* Optional: whether job's attempts may take start_async(); false runs
	 * them as a kind without it would. For jobs the kind's event-loop path
	 * cannot carry (see the download kind's ftps). */
	bool (*async_ok)(const struct job *job);
	/* Optional: asks a started async attempt to stop (interrupt, -k off);
	 * done is still called, with the attempt RES_INTERRUPTED. */
	void (*cancel_async)(struct async_attempt *aa);
	/* Optional: frees what start_async() kept per loop in *loop_cache
	 * (a curl multi handle). Called once when the loop ends. */
	void (*loop_release)(void *loop_cache);

	/* Optional: the program an attempt of job runs, for backends that
	 * start programs elsewhere (slurm runs it under srun, not a shell).
	 * Kinds without it run there as `juggle exec-job`. */
	void (*program)(const struct job *job, struct job_program *out);

	/* Optional: the key of the persistent worker (engine/pworker.h) an
	 * attempt of job sends its request to, as pworker_key() makes it, or
	 * NULL when it uses none; the caller frees it. The processes backend
	 * routes a key's jobs with it, so that a key's workers stay within
	 * -j and the job's pools across its worker processes. */
	char *(*worker_key)(const struct job *job);

	/* Optional: appends a one-line description for -v and -n (the
	 * command line, the URL). */
	void (*describe)(const struct job *job, struct strbuf *out);

	/* Optional: frees sec->kpriv. */
	void (*release)(struct section *sec);

	/* Optional: frees what run() cached in worker->cache[slot]. */
	void (*worker_release)(void *cache);
};

/* Every kind, NULL-terminated; defined by jobs/kinds.c (or a test). */
extern const struct job_kind *const job_kinds[];

const struct job_kind *kind_by_name(const char *name);
/* Checks the table once: aborts when job_kinds[] holds more than
 * KIND_SLOTS kinds (a programming error: the caches indexed by
 * kind_slot() have KIND_SLOTS places). Initialises no library. */
void kinds_init(void);
/* Calls, once per process, the global_init of each kind that has a
 * section in g, so a graph without downloads never initialises libcurl
 * (nor one without cpu tasks libxml2). Call it in the main thread before
 * any worker carries a job of g. */
void kinds_global_init(const struct graph *g);
/* Index of a kind in job_kinds[], below KIND_SLOTS, for worker->cache
 * and the other per-kind arrays; 0 for a kind not in the table. */
int kind_slot(const struct job_kind *kind);

#endif
