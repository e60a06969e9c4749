/* slurmctl.h - a small client of a Slurm cluster through its command-line
 * tools (srun, squeue, scancel, scontrol), for the slurm backend.
 *
 * Each call runs one tool, never through a shell, with its stdout and
 * stderr collected, for at most a few seconds: a controller that hangs
 * makes the call fail instead of juggle. The client never prints, never
 * exits, and keeps no state but the tools' paths; what the tools say is
 * parsed here (squeue's lines, Slurm's job states), what juggle makes of
 * it is the backend's.
 *
 * Errors: functions that can fail return 0 or -1 and, where they take a
 * struct strbuf *err, append a message without a "backend slurm: " prefix
 * (the caller adds its own).
 *
 * Lifecycle: slurmctl_init -> slurmctl_ping -> (slurmctl_srun_argv,
 * slurmctl_jobs, slurmctl_cancel)* -> slurmctl_release.
 */
#ifndef JUGGLE_SLURMCTL_H
#define JUGGLE_SLURMCTL_H

#include <stdbool.h>
#include <stddef.h>

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
	const char *comment;   /* --comment=, which tells this step apart in squeue */
	const char *partition; /* --partition=; NULL: the cluster's default */
	double time_limit_s;   /* > 0: --time= in whole minutes, rounded up */
	char *const *args;     /* more srun options (NULL-terminated, or NULL), after
	                          the above so that a --time among them wins */
	const char *chdir;     /* --chdir=, an absolute path; NULL: srun's own folder */
	char *const *argv;     /* the program and its arguments, NULL-terminated */
};

/* The srun command line for o, one job with one task on one node
 * (`srun --job-name=... --comment=... --quit-on-interrupt -Q -N1 -n1 ...
 * argv...`), NULL-terminated. The caller frees the array (not its
 * strings); the strings made here are pushed to owned, the others point
 * into c and o. */
char **slurmctl_srun_argv(const struct slurmctl *c, const struct slurmctl_srun *o,
			  struct strvec *owned);

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

/* Runs squeue once for every job of this user, in any state the
 * controller still remembers, and calls fn for each line parsed. Returns
 * 0, or -1 when squeue could not run, took too long or failed; fn is then
 * never called. */
int slurmctl_jobs(const struct slurmctl *c, void (*fn)(const struct slurmctl_job *, void *arg),
		  void *arg);

/* Runs `scancel [opt] ids...`; opt is NULL for a full cancel, or
 * "--signal=TERM" (KILL...) to only signal the tasks. Nothing runs when n
 * is 0. Returns 0, or -1 when scancel could not run, took too long or
 * failed (a job that has ended already is one reason). */
int slurmctl_cancel(const struct slurmctl *c, const long *ids, size_t n, const char *opt);

/* Whether a job in this state has ended for good (COMPLETED, FAILED,
 * CANCELLED, TIMEOUT...), as opposed to pending, running or completing. */
bool slurmctl_state_final(const char *state);

/* Why a job in this final state did not complete, as words that follow
 * "Slurm job 12 " ("was preempted"); NULL for a state that says nothing
 * beyond the exit code (COMPLETED, FAILED) or is not final. */
const char *slurmctl_state_reason(const char *state);

#endif
