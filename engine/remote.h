/* remote.h - the link between a run and the workers it starts inside
 * Slurm allocations (`juggle worker`, engine/backends/slurm-alloc.c), and
 * the one way a worker of any backend runs an attempt it was sent.
 *
 * The link is TCP, one JSON object per line:
 *   host -> worker: {"hello":"juggle-worker-1","nonce":HEX}
 *   worker -> host: {"proof":HEX,"host":NAME,"pid":N,"slurm_job":N}
 *   host -> worker: {"job":NAME,"attempt":N,"extra":HEX,"failed":HEX}
 *                   (extra and failed optional)
 *   worker -> host: result_to_json() of that attempt
 * The proof is an HMAC-SHA256 of the nonce under the run's key
 * (RESULT_KEY_PATH: random per run, 0600, reached by the nodes through the
 * shared filesystem); the key itself never crosses the link. The host
 * closes a connection whose first line is not a valid proof.
 *
 * Ownership: returned strings are the caller's to free. Errors: parsers
 * return -1 and leave their outputs unset; nothing here prints or exits.
 */
#ifndef JUGGLE_REMOTE_H
#define JUGGLE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>

#include "engine/attempt.h"
#include "engine/result.h"

#define REMOTE_HELLO     "juggle-worker-1"
#define REMOTE_NONCE_LEN 32 /* random bytes in a nonce */
/* The longest line either side reads from the other. */
#define REMOTE_MAX_LINE (16u << 20)

/* The host's first line for a new connection, with a fresh nonce, which
 * is also copied (hex, NUL-terminated) to nonce. */
char *remote_hello(char nonce[2 * REMOTE_NONCE_LEN + 1]);

/* The node this process runs on into out (size bytes): as Slurm names
 * it (SLURMD_NODENAME, which reports and squeue agree on), else the host
 * name, else "?". */
void remote_node_name(char *out, size_t size);

/* The worker's answer to a hello line: its proof of the key, its node
 * name (remote_node_name()) and pid. NULL when line is no hello. */
char *remote_answer(const char *hello, const unsigned char key[RESULT_KEY_LEN]);

/* Whether line proves knowledge of key for nonce (a constant-time
 * compare). *who gets "NODE pid N" for messages, the caller frees it; NULL
 * when false. */
bool remote_check(const char *line, const char *nonce, const unsigned char key[RESULT_KEY_LEN],
                  char **who);

/* The Slurm job (allocation) a worker's answer says it runs in; 0 when
 * it names none. */
long remote_slurm_job(const char *answer);

/* One attempt to run, as a line: extra is what the job's last success
 * stored (NULL: nothing), failed the jobs upstream that failed in this run,
 * one a line, for a job with a trigger rule (its JUGGLE_FAILED; NULL:
 * none given). */
char *remote_request(const char *job, int number, const char *extra, const char *failed);

/* A request as read; remote_request_release() frees its strings. */
struct remote_request {
	char *job;
	int number;
	char *extra;  /* NULL: none */
	char *failed; /* NULL: none */
};

/* Reads a request line into req: 0, or -1 with req empty. */
int remote_request_parse(const char *line, struct remote_request *req);
void remote_request_release(struct remote_request *req);

/* Runs the attempt on this worker (job_attempt(): logs, timeouts, process
 * groups, atomic outputs, as everywhere) and writes its result to fd as one
 * line of JSON. Returns 0, or -1 with errno when the write failed. The
 * processes backend's workers and `juggle worker` both run jobs so. */
int remote_run_attempt(const struct job *job, struct worker *w, int number, const char *extra,
                       int fd);

#endif
