/* result.h - what one attempt of a job did, as a worker hands it back to
 * the scheduler; and its forms for crossing processes and machines: one
 * line of JSON (the processes backend, exec-job) and a sealed file (Slurm).
 */
#ifndef JUGGLE_RESULT_H
#define JUGGLE_RESULT_H

#include <jansson.h>

#include "engine/filesig.h"
#include "engine/graph.h"
#include "engine/util.h"

enum result_status { RES_OK, RES_FAILED, RES_INTERRUPTED };

/* What one attempt did. Strings are owned by the result. */
struct result {
	enum result_status status;
	bool retryable;      /* a failure worth another attempt */
	bool unchanged;      /* the kind left its outputs untouched (HTTP 304) */
	bool timed_out;
	bool not_started;    /* interrupted before it did anything: no log, no
			      * command, outputs untouched */
	bool logged;         /* it wrote to the job's log, which is there */
	double retry_after;  /* seconds the server asked us to wait, 0 = none */
	int exit_code;       /* -1 none */
	int signal;          /* 0 none */
	int64_t bytes;       /* bytes transferred */
	double cpu_s;        /* user+system seconds of the attempt */
	double started, finished; /* monotonic */
	int worker;
	/* What only its kind or backend knows, by name, for the reports to
	 * print without knowing them (see struct job_kind's facts and
	 * counts). facts: a download's "http_status", the "slurm_job_id" and
	 * "node" that carried it; integers or strings, a job keeping its last
	 * attempt's. counts: integers that add up over the run, as a
	 * download's "connections". Each NULL when empty. */
	json_t *facts, *counts;
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
/* Sets the fact name (replacing any) to an integer or a copy of a string. */
void result_fact_int(struct result *r, const char *name, long long v);
void result_fact_str(struct result *r, const char *name, const char *v);
/* Adds v to the count name. */
void result_count(struct result *r, const char *name, long long v);
/* The same on a job's own objects (made when NULL): facts_update()
 * replaces facts by newer ones, counts_add() adds v to one count and
 * counts_add_all() adds every count of more. */
void facts_update(json_t **facts, json_t *newer);
void counts_add(json_t **counts, const char *name, long long v);
void counts_add_all(json_t **counts, json_t *more);
/* The integer fact or count name of r; 0 when it has none. */
long long result_fact_get(const struct result *r, const char *name);
long long result_count_get(const struct result *r, const char *name);

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
#endif
