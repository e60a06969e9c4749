/* backend.h - how jobs are carried: the contract between the scheduler and
 * a concurrency backend (ninja's CommandRunner, in C).
 *
 * The scheduler never knows which backend it drives. It asks can_start()
 * before each start(), and collects finished attempts with wait(). An
 * attempt that start() refused (returned -1) is never reported by wait().
 *
 * Lifecycle: init -> (can_start/start/wait)* -> [abort -> wait until idle]
 * -> release. Only the scheduler thread calls these functions.
 */
#ifndef JUGGLE_BACKEND_H
#define JUGGLE_BACKEND_H

#include "engine/attempt.h"
#include "engine/graph.h"

/* What a backend is told about the run: all it may depend on besides the
 * graph. The scheduler fills it from the command line. */
struct backend_config {
	int jobs;     /* most attempts in flight (-j), at least 1 */
	int net_jobs; /* downloads in flight beyond jobs (--net-jobs), at least 1 */
};

/* What a backend that asks a cluster for its workers as it goes (the
 * slurm backend's allocation mode) tells the report; all 0 elsewhere. */
struct backend_allocs {
	bool used;                  /* the run went this way */
	int allocations;            /* allocations submitted */
	int first_tasks;            /* workers the first one asked for */
	int workers_peak;           /* most workers connected at once */
	int workers_lost;           /* connections that ended under a worker */
};

struct backend {
	const struct backend_ops *ops;
	struct backend_config cfg;
	struct graph *graph;
	/* When >= 0, wait() also returns 0 once this fd is readable (the
	 * jobserver's, while a job waits for a token: engine/jobserver.h).
	 * The scheduler sets it before each wait(); a backend that never
	 * runs two attempts at once may ignore it. */
	int wake_fd;
	void *priv; /* the backend's own state */
	struct backend_allocs allocs; /* the backend fills it; the scheduler
	                                 copies it to the run's summary */
};

struct backend_ops {
	const char *name;
	/* What the report should tell about this backend's numbers, or NULL. */
	const char *notes;
	/* True when it runs on this machine alone (no cluster to submit to):
	 * `juggle compare` runs these by default, and the tests run on them. */
	bool local;
	/* The most attempts it carries at once whatever -j says (serial: 1);
	 * 0: as many as -j. The report counts its lanes from this. */
	int max_lanes;
	/* File descriptors juggle holds for one attempt in flight (its log, a
	 * pidfd or a worker's pipes, a temporary output, a pipe of libuv's). */
	int fds_per_job;
	/* File descriptors for one download it runs beyond -j under
	 * --net-jobs (its socket or two, temporary file and log); 0 when
	 * every download takes one of the -j slots. */
	int fds_per_net_job;
	/* Sets up workers; 0, or -1 with err. */
	int (*init)(struct backend *b, struct strbuf *err);
	/* True when an attempt of job could start now. The scheduler has
	 * already checked -j and pools. The answer may depend only on the
	 * backend's state and the job's kind, and starting an attempt never
	 * turns a false into a true: the scheduler stops looking at a kind
	 * for the rest of a pass once it was refused. */
	bool (*can_start)(struct backend *b, const struct job *job);
	/* Optional: false when an attempt of job does not count against -j
	 * because the backend caps such attempts itself (downloads on the
	 * event loop, under --net-jobs). NULL: every attempt counts. */
	bool (*takes_slot)(struct backend *b, const struct job *job);
	/* Starts an attempt (number, prev_extra: see job_attempt()). */
	int (*start)(struct backend *b, struct job *job, int number, const char *prev_extra,
		     struct strbuf *err);
	/* Waits at most timeout seconds (< 0: no limit) for an attempt to end.
	 * Returns 1 with *job and res filled; 0 when the time ran out or a
	 * signal arrived (check cancel_requested()). */
	int (*wait)(struct backend *b, struct job **job, struct result *res, double timeout);
	/* Number of attempts started and not yet returned by wait(). */
	int (*running)(struct backend *b);
	/* Asks every running attempt to stop; each then ends through wait()
	 * as RES_INTERRUPTED. Called at most once per run. */
	void (*abort)(struct backend *b);
	/* Frees everything; no attempt may be running. */
	void (*release)(struct backend *b);
};

extern const struct backend_ops backend_serial;
extern const struct backend_ops backend_threads;
extern const struct backend_ops backend_processes;
extern const struct backend_ops backend_eventloop;
extern const struct backend_ops backend_auto;
extern const struct backend_ops backend_slurm;

/* The one table of backends --backend can name, in the order help and
 * completion list them, ending in NULL. */
extern const struct backend_ops *const backends[];

/* The backend a graph runs on when neither it nor -b names one. */
extern const struct backend_ops *const backend_default;

/* The backend named name, or NULL. */
const struct backend_ops *backend_by_name(const char *name);
/* The backend name closest to name (a likely typo), or NULL. */
const char *backend_closest_name(const char *name);
/* Appends the names of the backends, joined by sep ("serial, threads,
 * ..."), for messages and help; only_local: just the local ones. */
void backend_names_join(struct strbuf *sb, const char *sep, bool only_local);

/* Lanes 0..n-1 of a backend, for the report's worker ids: an attempt takes
 * the lowest free lane, so ids stay small and a timeline drawn one row per
 * lane never overlaps two bars. */
struct lanes {
	bool *used;
	int n, in_use;
};
void lanes_init(struct lanes *l, int n);
/* The lowest free lane, now taken; -1 when all are taken. */
int lanes_take(struct lanes *l);
/* Takes lane, which must be free. */
void lanes_take_at(struct lanes *l, int lane);
void lanes_put(struct lanes *l, int lane);
void lanes_release(struct lanes *l);

/* Waits up to timeout seconds (< 0: no limit) for fd to become readable,
 * also waking at a signal (until one has been seen: the signal fd stays
 * readable after it). Returns 1 when fd is readable, 0 otherwise. */
int backend_poll_fd(int fd, double timeout);

/* For a backend with nothing running: waits up to timeout seconds (< 0: no
 * limit) or until a signal arrives. */
void backend_idle_wait(double timeout);

#endif
