/* attempt.h - running one attempt of one job, on whatever thread or process.
 *
 * Every backend but the event loop carries a job the same way: it calls
 * job_attempt() on a worker (the main thread, a pool thread, a forked
 * worker, or `juggle exec-job` on a Slurm node) and hands the filled
 * struct result back to the scheduler. job_attempt() prepares the output
 * folders and the log, runs the kind, removes the declared outputs of a
 * failed attempt and records the outputs' signatures of a successful one.
 */
#ifndef JUGGLE_ATTEMPT_H
#define JUGGLE_ATTEMPT_H

#include <sys/stat.h>

#include "engine/graph.h"
#include "engine/result.h"
#include "engine/util.h"

/* Most job kinds a build knows: the size of a worker's and an event loop's
 * per-kind caches and of the scheduler's per-kind counts. kinds_init()
 * refuses a longer job_kinds[], and jobs/kinds.c checks it at compile
 * time. */
#define KIND_SLOTS 8

/* A worker: one lane of a backend, with what job kinds cache there. */
struct worker {
	int id;
	void *cache[KIND_SLOTS]; /* e.g. the download kind's curl handle */
	/* Set by the scheduler's thread when it gave up on this worker's
	 * attempt (a task that would not stop): a kind that looks at it stops
	 * at once, and the attempt's result is thrown away. */
	_Atomic bool abandoned;
	/* Set by a backend whose thread carries many attempts at once (the
	 * event loop): attempt_begin() reads no CPU time, the backend sets
	 * the attempt's cpu0 itself before attempt_end(). */
	bool cpu_by_backend;
};
/* Frees the workers' caches through each kind's worker_release. */
void worker_release(struct worker *w);

/* One attempt as the kind sees it. */
struct attempt {
	const struct job *job;
	struct worker *worker;
	int number;             /* 1 for the first attempt */
	/* The job's log, open for appending, or -1 until something is
	 * written: a job that writes nothing has no log file. Kinds write
	 * with attempt_log_write(), or get the fd with attempt_log(). */
	int log_fd;
	double deadline;        /* monotonic seconds, 0 = no timeout */
	const char *prev_extra; /* what the last successful run stored, or NULL */
	struct result *res;
	double cpu0;            /* thread CPU time at the start (internal) */
	struct out_stamp *before; /* the outputs before the attempt (internal) */
	struct output_hash {    /* attempt_output_hashed() (internal) */
		bool set;
		uint32_t index;
		dev_t dev;
		ino_t ino;
		int64_t size, mtime_ns;
		unsigned char hash[16];
	} hashed;
};

/* Set when the log is not this process's to remove: `juggle exec-job` on
 * a Slurm node, whose host made the log for srun's messages. Then every
 * attempt opens it at once, as when nothing was written lazily. */
extern bool attempt_log_eager;

/* Set by -v. A kind whose log would only trace a success (a download's
 * request and response headers) writes it then too; without -v only a
 * failed attempt's log holds the trace, and a successful download leaves
 * no log file: on an ext4 file system that has deleted many files, making
 * the log's inode cost more than the download itself. */
extern bool attempt_verbose;

/* Closes and removes the calling thread's spare log (what a silent
 * program's log is kept as, for the next attempt on that thread): every
 * thread that ran attempts calls it before it ends, the main thread
 * before juggle exits. Nothing when there is none. */
void attempt_spare_release(void);

/* The attempt's log, opened (and created) at the first call; -1 with
 * res failed ("cannot open the log") when it cannot be. */
int attempt_log(struct attempt *a);
/* Appends n bytes to the attempt's log, opening it first; nothing for 0
 * bytes. A failure to open fails the attempt (attempt_log()). */
void attempt_log_write(struct attempt *a, const char *s, size_t n);

/* For a kind that wrote output `index` itself and hashed the bytes as it
 * wrote them (a download): hash is the first 16 bytes of their SHA-256,
 * the output's content hash, and st the output's stat once in place.
 * attempt_end() then takes that hash instead of reading the file back,
 * as long as the file still has st's device, inode, size and modification
 * time; otherwise it reads it as for any output. One output per attempt:
 * a second call replaces the first. */
void attempt_output_hashed(struct attempt *a, uint32_t index, const struct stat *st,
			   const unsigned char hash[16]);

/* Runs attempt `number` of job on worker w, blocking; fills res. This is
 * attempt_begin(), the kind's run(), then attempt_end(). */
void job_attempt(const struct job *job, struct worker *w, int number, const char *prev_extra,
		 struct result *res);

/* The two halves of job_attempt(), for backends that run the kind's part
 * elsewhere (the event loop). attempt_begin() fills a and res, creates the
 * outputs' folders and, for attempt 1, removes the log an earlier run left
 * (a later attempt opens it and appends a "--- attempt N ---" line); it
 * returns 0, or -1 when the attempt
 * already failed (res says why; call attempt_end() all the same).
 * attempt_end() takes the kind's return code (0 ok, -1 failed), removes
 * the outputs of a failure, records the outputs of a success, closes the
 * log (removing it when the first attempt opened it and wrote nothing:
 * a silent command) and stamps the times. */
int attempt_begin(struct attempt *a, const struct job *job, struct worker *w, int number,
		  const char *prev_extra, struct result *res);
void attempt_end(struct attempt *a, int rc);

/* The end of a failed attempt, wherever it ran: marks res failed (with
 * "failed" when it says nothing) or interrupted when a cancel was
 * requested, drops res->outs, removes the outputs the attempt created or
 * changed since `before` (out_stamps_take()), and notes res->error in the
 * job's log when log_fd >= 0. The caller keeps log_fd and closes it. An
 * attempt that never started (res->not_started) must not come here: it
 * changed nothing. */
void attempt_fail_end(const struct job *job, const struct out_stamp *before, struct result *res,
		      int log_fd);

/* Seconds juggle waits after SIGTERM before SIGKILL. */
#define KILL_GRACE_S 3.0

/* Seconds an attempt carried by a thread gets past its timeout, or after a
 * second signal, to stop by itself before juggle gives up on it: a task
 * stuck inside a library cannot be stopped from outside its thread. */
#define ABANDON_GRACE_S 1.0

#endif
