/* exec.h - running one attempt of one job, on whatever thread or process.
 *
 * Every backend but the event loop carries a job the same way: it calls
 * job_attempt() on a worker (the main thread, a pool thread, a forked
 * worker, or `juggle exec-job` on a Slurm node) and hands the filled
 * struct result back to the scheduler. job_attempt() prepares the output
 * folders and the log, runs the kind, removes the declared outputs of a
 * failed attempt and records the outputs' signatures of a successful one.
 */
#ifndef JUGGLE_EXEC_H
#define JUGGLE_EXEC_H

#include "graph.h"
#include "util.h"

#define KIND_SLOTS 8

/* A worker: one lane of a backend, with what job kinds cache there. */
struct worker {
	int id;
	void *cache[KIND_SLOTS]; /* e.g. the download kind's curl handle */
	/* Set by the scheduler's thread when it gave up on this worker's
	 * attempt (a task that would not stop): a kind that looks at it stops
	 * at once, and the attempt's result is thrown away. */
	_Atomic bool abandoned;
};
/* Frees the workers' caches through each kind's worker_release. */
void worker_release(struct worker *w);

/* A file as the state log remembers it. */
struct file_sig {
	const char *path;
	int64_t mtime_ns; /* -1: the file does not exist */
	int64_t size;
	unsigned char hash[16];
};

enum result_status { RES_OK, RES_FAILED, RES_INTERRUPTED };

/* What one attempt did. Strings are owned by the result. */
struct result {
	enum result_status status;
	bool retryable;      /* a failure worth another attempt */
	bool unchanged;      /* the kind left its outputs untouched (HTTP 304) */
	bool timed_out;
	bool not_started;    /* interrupted before it did anything: no log, no
			      * command, outputs untouched */
	double retry_after;  /* seconds the server asked us to wait, 0 = none */
	int exit_code;       /* -1 none */
	int signal;          /* 0 none */
	long http_status;    /* 0 none */
	long connections;    /* connections this attempt opened */
	int64_t bytes;       /* bytes transferred */
	double cpu_s;        /* user+system seconds of the attempt */
	double started, finished; /* monotonic */
	int worker;
	long slurm_job_id;   /* the cluster job that carried it, 0 none */
	char node[64];       /* the host it ran on, "" when not known */
	char *error;         /* why it failed, NULL on success */
	char *value;         /* a cpu task's result */
	char *extra;         /* kind state to remember for the next run (ETag) */
	struct file_sig *outs; /* signatures of the outputs after success */
	uint32_t n_outs;
};
void result_init(struct result *r);
void result_release(struct result *r);
/* Sets r->error (replacing any) from a format. */
void result_fail(struct result *r, const char *fmt, ...) PRINTF(2, 3);

/* One attempt as the kind sees it. */
struct attempt {
	const struct job *job;
	struct worker *worker;
	int number;             /* 1 for the first attempt */
	int log_fd;             /* the job's log, open for appending */
	double deadline;        /* monotonic seconds, 0 = no timeout */
	const char *prev_extra; /* what the last successful run stored, or NULL */
	bool verbose;
	struct result *res;
	double cpu0;            /* thread CPU time at the start (internal) */
	struct out_stamp *before; /* the outputs before the attempt (internal) */
};

/* Runs attempt `number` of job on worker w, blocking; fills res. This is
 * attempt_begin(), the kind's run(), then attempt_end(). */
void job_attempt(const struct job *job, struct worker *w, int number, const char *prev_extra,
		 struct result *res);

/* The two halves of job_attempt(), for backends that run the kind's part
 * elsewhere (the event loop). attempt_begin() fills a and res, creates the
 * outputs' folders and opens the log; it returns 0, or -1 when the attempt
 * already failed (res says why; call attempt_end() all the same).
 * attempt_end() takes the kind's return code (0 ok, -1 failed), removes
 * the outputs of a failure, records the outputs of a success, closes the
 * log and stamps the times. */
int attempt_begin(struct attempt *a, const struct job *job, struct worker *w, int number,
		  const char *prev_extra, struct result *res);
void attempt_end(struct attempt *a, int rc);

/* Fills sig for path: stat, and the content hash when want_hash. Returns 0,
 * or -1 when the file is missing (sig->mtime_ns = -1). */
int file_sig_read(const char *path, struct file_sig *sig, bool want_hash);
/* 128-bit content hash (truncated SHA-256) of a file; 0 or -1. */
int hash_file(const char *path, unsigned char out[16]);

/* Serialises a result as one line of JSON (no newline) and back; used by
 * the processes backend and exec-job. from_json returns 0 or -1; it sets
 * started to 0 and finished to the attempt's duration, since monotonic
 * clocks of other machines mean nothing here. */
char *result_to_json(const struct result *r);
int result_from_json(const char *s, struct result *r);

/* A result crosses from a Slurm node to the host as a file in the shared
 * .juggle/results/, where anyone who can write there could forge one. So
 * each run makes a random key (RESULT_KEY_PATH, 0600, never on a command
 * line), exec-job seals its result with an HMAC-SHA256 over the job's
 * name, the attempt's number and the JSON under that key, and the host
 * takes only a result with a valid seal. */
#define RESULT_KEY_LEN 32
#define RESULT_KEY_PATH STATE_DIR "/run-key"
/* Makes a fresh key and writes it to path (replacing what is there, 0600,
 * O_EXCL and O_NOFOLLOW). Returns 0, or -1 with errno. */
int result_key_create(const char *path, unsigned char key[RESULT_KEY_LEN]);
/* Reads the key at path: a regular file of this user's that no one else
 * can read. Returns 0, or -1 (errno set) when there is no such key. */
int result_key_read(const char *path, unsigned char key[RESULT_KEY_LEN]);
/* The sealed form of a result's JSON for this job and attempt: a line
 * "hmac-sha256 HEX", then the JSON. The caller frees it. */
char *result_seal(const char *json, const char *job, int number,
		  const unsigned char key[RESULT_KEY_LEN]);
/* Checks the seal of text and reads its result into r: 0; -1 when the
 * seal is missing or wrong (another attempt's, another run's, or not
 * juggle's; r is then untouched); -2 when the JSON is malformed. */
int result_unseal(const char *text, const char *job, int number,
		  const unsigned char key[RESULT_KEY_LEN], struct result *r);

/* Seconds juggle waits after SIGTERM before SIGKILL. */
#define KILL_GRACE_S 3.0

/* Seconds an attempt carried by a thread gets past its timeout, or after a
 * second signal, to stop by itself before juggle gives up on it: a task
 * stuck inside a library cannot be stopped from outside its thread. */
#define ABANDON_GRACE_S 1.0

#endif
