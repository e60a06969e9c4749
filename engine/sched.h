/* sched.h - the scheduler: brings the wanted jobs of a graph up to date.
 *
 * One loop, two phases as in ninja's Builder::Build: start as many ready
 * jobs as -j, pools and the backend allow, then wait for one to end.
 * Retries wait in a timed queue rather than on a worker, so a job waiting
 * out its retry_delay holds no worker.
 */
#ifndef JUGGLE_SCHED_H
#define JUGGLE_SCHED_H

#include "engine/backends/backend.h"
#include "engine/graph.h"
#include "engine/priority.h"
#include "engine/state.h"

enum progress_mode { PROGRESS_AUTO, PROGRESS_TTY, PROGRESS_PLAIN, PROGRESS_NONE };

struct run_opts {
	const struct backend_ops *backend;
	int jobs;         /* most attempts in flight */
	int net_jobs;     /* downloads in flight on top of jobs (eventloop, auto) */
	double max_load;  /* -l: no new start while another runs and the load
			   * average is above it; 0: no limit */
	const char *load_file; /* read the load from here, not getloadavg() (tests) */
	bool keep_going;
	enum run_order order; /* which ready job starts first (engine/priority.h) */
	bool always_make; /* -B */
	bool verbose;
	bool quiet;
	bool jobserver;   /* every attempt beyond the first takes a token
			   * (engine/jobserver.h, started by the caller) */
	enum progress_mode progress;
	/* A run in rounds (a foreach over another job's output, struct
	 * section.deferred): the jobs earlier rounds settled, name -> struct
	 * job_run, taken as they ended (the pointers moved, the rest copied)
	 * instead of run again; and the first round's summary, whose clock
	 * the run keeps. NULL: the first round. A deferred section's job
	 * never runs: it and the jobs after it stay not run, for the next
	 * round. */
	const struct strmap *prior;
	const struct run_summary *first;
};

/* What a run did, for the report. */
struct run_summary {
	double t0;         /* monotonic start */
	double wall_start; /* epoch seconds */
	double wall_s;
	/* process_cpu_s() when the run started: the report counts the CPU
	 * the run used, not the loading of the graph before it. */
	double cpu_user0, cpu_sys0;
	int counts[JS__COUNT];
	bool interrupted;
	int signal;        /* the signal that interrupted the run */
	struct backend_allocs allocs; /* the backend's, this round's */
};

/* Runs the wanted jobs (see graph_select()). Fills sum. Returns 0 when
 * every wanted job is up to date or succeeded, 1 when any failed, 130 when
 * interrupted; -1 with err when the backend could not start. */
int sched_run(struct graph *g, struct state *st, const struct run_opts *o,
	      struct run_summary *sum, struct strbuf *err);

#endif
