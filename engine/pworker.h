/* pworker.h - persistent workers on Bazel's JSON worker protocol.
 *
 * A persistent worker is a program started once with --persistent_worker
 * appended to its command, in the graph's folder and its own process
 * group, that then serves one job after another: juggle writes one
 * WorkRequest per job as a line of JSON on its stdin,
 *   {"arguments": [...], "inputs": [{"path": P, "digest": D}], "requestId": 0}
 * and reads one WorkResponse line from its stdout,
 *   {"exitCode": N, "output": "...", "requestId": 0}
 * Its stderr goes to its own log, .juggle/workers/PID-N.log (PID: the
 * juggle process that started it); the logs of the last run are kept.
 *
 * The table: every process keeps one table of workers, keyed by their
 * start-up command (and environment); a request takes an idle worker of
 * its key or starts a new one, and gives it back when answered, so a key
 * never has more workers than it had requests in flight at once (which
 * the scheduler caps by -j and by the job's pools; on the processes
 * backend each lane process keeps a table, and the backend routes a key's
 * jobs so that pworker_key() caps it across them). The table is safe to
 * use from several threads at once.
 *
 * Idle workers: a worker idle for its request's idle_s seconds is stopped
 * then, whatever else the run is doing, by the table's reaper: a thread
 * the process starts with its first worker, which sleeps on a condition
 * variable until the earliest idle expiry, or until a worker is given
 * back or the table shuts down. pworker_shutdown() stops the reaper and
 * every idle worker at the end of a run. A process that forks while it
 * has a table: the child starts with an empty one (the parent's workers
 * stay the parent's).
 *
 * A worker that dies, answers with something that is not a WorkResponse
 * or with another requestId, or does not answer before the attempt's
 * deadline, fails that one request: it is killed (its whole process
 * group) and dropped, and the next request of its key starts a new one.
 *
 * CPU time: juggle reads the worker's CPU seconds (its own and its waited-
 * for children's, from /proc/PID/stat) when it answers, and charges each
 * request what the worker used since the previous answer (since its start
 * for the first: the first job pays the start-up).
 */
#ifndef JUGGLE_PWORKER_H
#define JUGGLE_PWORKER_H

#include <stdbool.h>

#include "engine/attempt.h"

/* The default of worker_idle: seconds a worker may stay idle before it
 * is stopped. */
#define PWORKER_IDLE_S 60.0

/* The folder, under the state's, of the workers' logs. */
#define PWORKER_LOG_DIR ".juggle/workers"

/* Before a run, in the graph's folder: whether jobs with a worker use
 * persistent workers (true unless --no-workers said otherwise; a job whose
 * worker cannot be persistent runs one-shot, the worker's command followed
 * by the request's arguments), and, when they do, removes the last run's
 * worker logs. */
void pworker_start_run(bool on);
bool pworker_enabled(void);

/* What one request needs. The strings stay the caller's. */
struct pworker_request {
	char *const *start;     /* the worker's command, without --persistent_worker */
	char *const *envp;      /* its environment; NULL: juggle's */
	const char *path;       /* the PATH to find start[0] in; NULL: juggle's */
	char *const *arguments; /* the request's arguments */
	double idle_s;          /* > 0: seconds the worker may then stay idle */
};

/* The key that tells rq's workers apart (its start command and
 * environment) as a printable string; the caller frees it. Requests with
 * the same key share workers. */
char *pworker_key(const struct pworker_request *rq);

/* Runs one request for attempt a, blocking until the worker answers, the
 * attempt's deadline passes or a stop is requested. The response's output
 * goes to the job's log (attempt_log_write()); a->res gets the exit code
 * and CPU seconds. Returns 0 when the worker answered with exit code 0;
 * -1 otherwise, with a->res failed: a non-zero exit code, a fault of the worker (named with its log,
 * whose tail then goes to the job's log too), a timeout (res->timed_out)
 * or an interrupt (RES_INTERRUPTED). */
int pworker_run(struct attempt *a, const struct pworker_request *rq);

/* Stops the reaper and every idle worker of this process (closes its
 * stdin, then kills its process group after a short grace), and forgets
 * them. Call it when no request is in flight: at the end of a run. A
 * later request starts afresh. */
void pworker_shutdown(void);

#endif
