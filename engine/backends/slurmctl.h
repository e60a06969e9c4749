/* slurmctl.h - a small client of a Slurm cluster through its command-line
 * tools (srun, squeue, scancel, scontrol), for the slurm backend.
 *
 * The tools run without a shell. scontrol, squeue and scancel run to
 * the end inside the call, with their output collected, for at most a few
 * seconds: a controller that hangs makes the call fail instead of juggle.
 * srun runs as long as its job, one per step, in its own process group;
 * the caller watches it through the step's pidfd. The client never
 * prints, never exits, and keeps no state but the tools' paths and the
 * caller's steps; what the tools say is parsed here (squeue's lines,
 * Slurm's job states), what juggle makes of it is the backend's.
 *
 * Errors: functions that can fail return 0 or -1 and, where they take a
 * struct strbuf *err, append a message without a "backend slurm: " prefix
 * (the caller adds its own).
 *
 * Lifecycle: slurmctl_init -> slurmctl_ping -> steps -> slurmctl_release.
 * A step is one srun and the Slurm job it makes: slurmctl_step_init ->
 * slurmctl_step_start -> (slurmctl_query, slurmctl_stop)* ->
 * slurmctl_step_reap, which says when srun has ended; then
 * slurmctl_query until the job's state is final (srun can end before
 * the cluster has finished with the job) -> slurmctl_step_release.
 */
#ifndef JUGGLE_SLURMCTL_H
#define JUGGLE_SLURMCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "engine/util.h"

struct slurmctl {
	char *srun, *squeue, *scancel, *scontrol; /* absolute paths, owned */
};

/* Fills c with the absolute paths of the tools, found in PATH. Returns 0,
 * or -1 with err naming the first tool not found (c is then released). */
int slurmctl_init(struct slurmctl *c, struct strbuf *err);

/* Frees the paths; c can be initialised again. */
void slurmctl_release(struct slurmctl *c);

/* Runs `scontrol ping`: 0 when it says the controller is UP, else -1 with
 * err quoting the first line of its answer ("cannot reach slurmctld
 * (scontrol ping: ...)"). A controller that is down makes srun retry for
 * a long time; this finds out in bounded time. */
int slurmctl_ping(const struct slurmctl *c, struct strbuf *err);

/* What one srun runs, and how. */
struct slurmctl_srun {
	const char *job_name;  /* --job-name= */
	const char *partition; /* --partition=; NULL: the cluster's default */
	double time_limit_s;   /* > 0: --time= in whole minutes, rounded up */
	char *const *args;     /* more srun options (NULL-terminated, or NULL), after
	                          the above so that a --time among them wins */
	const char *chdir;     /* --chdir=, an absolute path; NULL: srun's own folder */
	char *const *argv;     /* the program and its arguments, NULL-terminated */
	char *const *envp;     /* srun's environment, which it exports to the task;
	                          NULL: juggle's. srun itself is found in juggle's PATH */
	int out_fd;            /* srun's stdout and stderr (and so the task's) */
};

/* One srun and the Slurm job it makes. */
struct slurmctl_step {
	char comment[64]; /* srun --comment, unique among the caller's steps: how
	                     squeue tells their jobs apart; the caller sets it */
	pid_t pid;        /* srun (and its process group) until reaped; then 0 */
	int pidfd;        /* readable once srun has ended; -1 without one (an old
	                     kernel): call slurmctl_step_reap() now and then */
	int status;       /* srun's wait status, once reaped */
	bool cancel;      /* how slurmctl_stop() begins: see there */
	int kill_stage;   /* how far slurmctl_stop() has gone, 0 to 3 */
	/* What squeue said, filled by slurmctl_query(): */
	long jobid;       /* the Slurm job id, 0 until squeue has shown it */
	char node[64];    /* the node it runs on, "" unknown */
	char state[32];   /* its state ("RUNNING", "COMPLETED"), "" unknown */
	int wstatus;      /* its exit code, a wait status; -1 unknown */
};

/* Fills st for a step not started yet (comment empty). */
void slurmctl_step_init(struct slurmctl_step *st);

/* Starts `srun --job-name=... --comment=... --quit-on-interrupt -Q -N1
 * -n1 [--partition=...] [--time=...] args... [--chdir=...] argv...`, one
 * job with one task on one node, tagged with st->comment. Returns 0 with
 * st->pid and st->pidfd set, or -1 with err saying why srun could not
 * start. */
int slurmctl_step_start(const struct slurmctl *c, struct slurmctl_step *st,
			const struct slurmctl_srun *o, struct strbuf *err);

/* Whether srun has ended, without waiting: true once it is reaped (then
 * st->status is its wait status and pid and pidfd are gone). */
bool slurmctl_step_reap(struct slurmctl_step *st);

/* Runs squeue once and fills jobid, state, wstatus and node (when squeue
 * names one) of each of the n steps it shows. Returns 0, or -1 when squeue
 * could not run, took too long or failed; the steps are then unchanged. */
int slurmctl_query(const struct slurmctl *c, struct slurmctl_step *const *steps, size_t n);

/* Moves each of the n steps one stage further in stopping it (straight
 * to stage 3 when hard), sending the signals and running one scancel per
 * kind of signal for all of them:
 *   1. a step whose jobid is not known yet is waiting for an allocation:
 *      SIGTERM to srun withdraws the request. Else with st->cancel, a
 *      full scancel, so the cluster records the job as CANCELLED (Slurm
 *      then gives the task its KillWait before SIGKILL); without, SIGTERM
 *      to the task (scancel --signal=TERM), and srun, still attached,
 *      returns when the task ends;
 *   2. SIGTERM to srun, which SIGKILLs the step, and scancel --signal=KILL;
 *   3. SIGKILL to srun and a full scancel, for Slurm to clean up alone.
 * The caller decides when the next stage is due; a step at stage 3 has
 * nothing more to do. */
void slurmctl_stop(const struct slurmctl *c, struct slurmctl_step *const *steps, size_t n,
		   bool hard);

/* Kills and reaps srun if it still runs, and closes the pidfd. */
void slurmctl_step_release(struct slurmctl_step *st);

/* One job as squeue shows it. The strings point into the line parsed. */
struct slurmctl_job {
	long id;             /* the Slurm job id, 0 when not a number */
	const char *state;   /* its state: "PENDING", "RUNNING", "COMPLETED"... */
	int wstatus;         /* its exit code, a wait status; -1 unknown */
	const char *node;    /* the node it runs on; "" unknown or none yet */
	const char *comment; /* its --comment, comment_len bytes */
	size_t comment_len;
};

/* Parses one line of `squeue -h -O JobID:|,State:|,exit_code:|,NodeList:|,
 * Comment:|` ("12|COMPLETED|0|node1|juggle-...-3|"), cutting it in place.
 * Returns 0, or -1 when the line does not have the five fields. */
int slurmctl_parse_job(char *line, struct slurmctl_job *job);

/* Whether a job in this state has ended for good (COMPLETED, FAILED,
 * CANCELLED, TIMEOUT...), as opposed to pending, running or completing. */
bool slurmctl_state_final(const char *state);

/* Why a job in this final state did not complete, as words that follow
 * "Slurm job 12 " ("was preempted"); NULL for a state that says nothing
 * beyond the exit code (COMPLETED, FAILED) or is not final. */
const char *slurmctl_state_reason(const char *state);

/* Submits a batch script: `sbatch --parsable opts... script`. Returns 0
 * with *jobid, or -1 with err quoting sbatch. */
int slurmctl_sbatch(const struct slurmctl *c, char *const *opts, const char *script, long *jobid,
		    struct strbuf *err);

/* scancel [opt] jobid (opt NULL: a full cancel; "--signal=TERM": only
 * the job's steps' tasks get SIGTERM). Its failure is no news. */
void slurmctl_cancel_job(const struct slurmctl *c, long jobid, const char *opt);

/* The same for the jobs of n steps at once, in one scancel (steps whose
 * jobid is not known are left out; none known: no call). */
void slurmctl_cancel_jobs(const struct slurmctl *c, struct slurmctl_step *const *steps, size_t n,
			  const char *opt);

#endif
