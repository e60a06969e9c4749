/* slurm-internal.h - what the slurm backend's files share; only
 * engine/backends/slurm.c, slurm-result.c and slurm-alloc.c (allocation
 * mode) include it (slurmctl, the Slurm client, knows nothing of steps).
 *
 * slurm.c is the backend: it starts each step's srun, watches it, stops
 * it on a timeout or an interrupt, and asks the controller for the job's
 * final state. slurm-result.c decides, once that state is known (or
 * cannot be), what the attempt's result is: for an exec-job step, from
 * the sealed result file the node left and the outputs seen on this host.
 *
 * Ownership: slurm.c allocates and frees each struct step; the functions
 * below fill and end st->res and close st->log_fd, never free st.
 * Errors: a failure of the attempt, or of this host in reading it,
 * becomes st->res's status and error, as for any attempt; only
 * slurm_open_exec_log() also returns -1. They print nothing.
 */
#ifndef JUGGLE_SLURM_INTERNAL_H
#define JUGGLE_SLURM_INTERNAL_H

#include <stdbool.h>
#include <sys/types.h>

#include "engine/attempt.h"
#include "engine/backends/backend.h"
#include "engine/backends/slurmctl.h"
#include "engine/result.h"

enum phase {
	PH_QUEUED,  /* waiting for a submission token (slurm_submit_rate) */
	PH_RUNNING, /* srun is running */
	PH_SETTLE,  /* srun ended; waiting for the job's final state */
	PH_DONE,    /* res is final; wait() hands it over */
};

enum why { WHY_NONE, WHY_TIMEOUT, WHY_INTERRUPT };

/* One attempt of one job on the cluster: one srun and its Slurm job. */
struct step {
	struct job *job;
	int number;
	int lane;
	bool exec;             /* runs `juggle exec-job`, not the job's argv */
	enum phase phase;
	struct slurmctl_step run; /* the srun and its Slurm job */
	struct attempt a;      /* command steps: attempt_begin()'s */
	struct result res;
	int log_fd;            /* exec steps: the log, for srun's own messages */
	off_t log_start;       /* where this attempt's part of the log begins */
	double deadline;       /* juggle's timeout, monotonic; 0: none */
	enum why killed;
	double next_kill;      /* when slurmctl_stop()'s next stage is due */
	double settle_until, next_check;
	struct out_stamp *before; /* exec steps: the outputs before the step */
	char *prev_extra;      /* PH_QUEUED: for attempt_begin() once it starts */
};

/* Opens the log of an exec-job step for srun's own messages (the node
 * writes the attempt's header and the kind's output itself), truncating
 * it for a first attempt. Returns the descriptor, which the caller keeps
 * in st->log_fd, or -1 with st->res failed. */
int slurm_open_exec_log(struct step *st);

/* Ends an exec-job step on this host: closes st->log_fd, removes the
 * result file, and sets st->res.finished and st->phase = PH_DONE.
 * host_decided: a failure is this host's finding (a timeout, no result),
 * so the log gets the reason and the outputs go; otherwise the node has
 * done both. */
void slurm_finish_exec(struct step *st, bool host_decided);

/* Decides how a step ended, once srun has ended and the job's final state
 * is in st->run (or st->run.state is "" when it cannot be known), and ends
 * the attempt: st->res is final and st->phase is PH_DONE. key is this
 * run's, which an exec-job result must be sealed with. */
void slurm_finalize(struct step *st, const unsigned char key[RESULT_KEY_LEN]);

/* The command line that runs this juggle on a node on the same graph, read
 * the same way (-f, -b, -j, --set), followed by tail (NULL-terminated):
 * exec-job's and `juggle worker`'s. Strings it makes go to owned; the
 * array is the caller's to free. */
char **slurm_juggle_argv(const struct graph *g, const char *exe, const char *graph_path,
			 char *const *tail, struct strvec *owned);

/* slurm_submit_rate: a token bucket of submissions (steps mode's sruns,
 * allocation mode's sbatches), rate a second up to a burst of max(1,
 * rate); rate 0: no limit. */
struct slurm_bucket {
	double rate, tokens, refilled;
};
/* Fills k from the setting's text (NULL or "": no limit). 0, or -1 with
 * err saying the value is not a rate. */
int slurm_bucket_init(struct slurm_bucket *k, const char *rate, struct strbuf *err);
/* Takes a token if there is one (always, without a rate). */
bool slurm_bucket_take(struct slurm_bucket *k, double now);
/* When the next token is due (monotonic); 0 without a rate. */
double slurm_bucket_next(const struct slurm_bucket *k);

/* Allocation mode (slurm-alloc.c): slurm_init() hands over to it when
 * [settings] slurm_mode = allocation; it replaces b->ops. */
int slurm_alloc_init(struct backend *b, struct strbuf *err);

#endif
