/* slurm-result.c - how a slurm step ended: the attempt's result, from
 * srun's status, the job's final state as the controller gives it, and,
 * for an exec-job step, the result file the node left and the outputs as
 * this host sees them (see slurm-internal.h, and slurm.c's top comment for
 * why srun's status alone is not trusted).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/backends/slurm-internal.h"
#include "engine/filesig.h"
#include "engine/graph.h"
#include "engine/owndir.h"
#include "engine/sig.h"
#include "engine/spawn.h"
#include "engine/util.h"

/* The last line of the job's log from offset on that starts with one of
 * the prefixes, without its newline; NULL when there is none. */
static char *log_line(const struct job *job, off_t from, const char *const *prefixes)
{
	char *path = job_log_path(job);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	free(path);
	if (fd < 0)
		return NULL;
	off_t end = lseek(fd, 0, SEEK_END);
	off_t start = end - from > 16384 ? end - 16384 : from;
	char *buf = NULL;
	if (start >= 0 && end > start) {
		buf = xmalloc((size_t)(end - start) + 1);
		ssize_t n = pread(fd, buf, (size_t)(end - start), start);
		buf[n > 0 ? n : 0] = '\0';
	}
	close(fd);
	char *found = NULL;
	for (char *line = buf; line && *line;) {
		char *nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		for (const char *const *p = prefixes; *p; p++) {
			if (strncmp(line, *p, strlen(*p)) == 0) {
				free(found);
				found = xstrdup(line);
			}
		}
		line = nl ? nl + 1 : NULL;
	}
	free(buf);
	return found;
}

int slurm_open_exec_log(struct step *st)
{
	char *path = job_log_path(st->job);
	mkdir_p(STATE_DIR "/logs", 0777);
	int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (st->number <= 1 ? O_TRUNC : 0);
	int fd = own_file_open(path, flags, 0666);
	if (fd < 0)
		result_fail(&st->res, "cannot open the log of '%s': %s", st->job->name,
			    strerror(errno));
	free(path);
	return fd;
}

void slurm_finish_exec(struct step *st, bool host_decided)
{
	struct result *res = &st->res;
	if (res->status != RES_OK && host_decided) {
		attempt_fail_end(st->job, st->before, res, st->log_fd);
	} else if (res->status != RES_OK) {
		/* the node has removed the outputs and noted the error itself */
		if (!res->error)
			res->error = xstrdup("failed");
		if (cancel_requested())
			res->status = RES_INTERRUPTED;
	}
	if (st->log_fd >= 0) {
		close(st->log_fd);
		res->logged = true;
	}
	st->log_fd = -1;
	char *path = job_result_path(st->job);
	unlink(path);
	free(path);
	res->finished = mono_now();
	st->phase = PH_DONE;
}

/* Reads what exec-job left; 0 when there was a result, -1 when there was
 * none, -2 when there was one this run's exec-job did not write (no seal,
 * or the seal of another attempt or key). */
static int read_exec_result(struct step *st, const unsigned char *key)
{
	char *path = job_result_path(st->job);
	size_t len;
	char *text = own_file_read(path, &len);
	free(path);
	if (!text)
		return -1;
	struct result r;
	int rc = result_unseal(text, st->job->name, st->number, key, &r);
	free(text);
	if (rc < 0)
		return rc == -1 ? -2 : -1;
	/* Keep this host's lane and clock; take the rest from the node. */
	r.worker = st->res.worker;
	r.started = st->res.started;
	result_release(&st->res);
	st->res = r;
	return 0;
}

/* For an exec-job step the node says ok: whether each declared output is
 * here, on the host that records it, as the node's result says. Returns
 * 0, or -1 with res failed. */
static int check_exec_outputs(struct step *st)
{
	struct result *res = &st->res;
	const struct job *job = st->job;
	for (uint32_t i = 0; i < job->n_outputs; i++) {
		bool named = false;
		for (uint32_t k = 0; k < res->n_outs && !named; k++)
			named = strcmp(res->outs[k].path, job->outputs[i]) == 0;
		struct file_sig here;
		if (!named || file_sig_read(job->outputs[i], &here, false) < 0) {
			result_fail(res, "Slurm job %ld reported success, but output '%s' is %s on "
					 "this host (is the folder shared with node %s?)",
				    st->run.jobid, job->outputs[i],
				    named ? "missing" : "not in its result",
				    st->run.node[0] ? st->run.node : "of the job");
			res->retryable = true;
			return -1;
		}
	}
	return 0;
}

void slurm_finalize(struct step *st, const unsigned char key[RESULT_KEY_LEN])
{
	struct result *res = &st->res;
	const struct job *job = st->job;
	const char *state = st->run.state;
	bool srun_ok = WIFEXITED(st->run.status) && WEXITSTATUS(st->run.status) == 0;
	/* COMPLETED is the controller's word that the task exited 0 (and its
	 * exit code, when known, must say so too). Without a word (no squeue,
	 * a job purged already) srun's status stands. */
	bool completed = srun_ok && ((strcmp(state, "COMPLETED") == 0 && st->run.wstatus <= 0) ||
				     (!*state && st->killed == WHY_NONE));
	struct strbuf why = {0};
	if (st->run.jobid)
		sb_addf(&why, "Slurm job %ld", st->run.jobid);
	else
		sb_adds(&why, "its Slurm job");
	int rc = -1;
	bool host_decided = true;

	if (!completed && st->killed == WHY_TIMEOUT && st->exec && read_exec_result(st, key) == 0 &&
	    st->res.timed_out) {
		/* The node's own clock ran out too, and it has said so in the
		 * log and its result: one "timed out" per attempt, not two. */
		res = &st->res;
		host_decided = false;
	} else if (!completed && st->killed == WHY_TIMEOUT) {
		res->timed_out = true;
		res->retryable = true;
		result_fail(res, "timed out after %g s (%s cancelled)", job->sec->timeout,
			    sb_str(&why));
	} else if (!completed && st->killed == WHY_INTERRUPT) {
		result_fail(res, "interrupted (%s cancelled)", sb_str(&why));
		res->status = RES_INTERRUPTED;
	} else if (*state && slurmctl_state_reason(state)) {
		res->retryable = true;
		result_fail(res, "%s %s%s%s", sb_str(&why), slurmctl_state_reason(state),
			    st->run.node[0] ? " on node " : "", st->run.node);
	} else if (*state && !slurmctl_state_final(state)) {
		res->retryable = true;
		result_fail(res, "%s was still %s when juggle stopped watching it", sb_str(&why),
			    state);
	} else if (st->exec) {
		int got = read_exec_result(st, key);
		if (got == 0 && st->res.status == RES_OK && !completed) {
			/* The node's word against Slurm's: Slurm's wins. */
			struct strbuf d = {0};
			describe_status(st->run.wstatus >= 0 && st->run.jobid ? st->run.wstatus
									  : st->run.status,
					&d);
			result_fail(res, "%s ended %s (%s) although its result says ok", sb_str(&why),
				    *state ? state : "without a final state", sb_str(&d));
			res->retryable = true;
			sb_release(&d);
		} else if (got == 0) {
			res = &st->res;
			host_decided = res->status == RES_OK;
			rc = res->status == RES_OK ? check_exec_outputs(st) : -1;
		} else if (got == -2) {
			result_fail(res, "the result of %s in '%s' was not written by this run's "
					 "juggle exec-job (its seal is missing or wrong); rejected",
				    sb_str(&why), STATE_DIR "/results/");
			res->retryable = false;
		} else {
			static const char *const pre[] = {"juggle: ", "srun: error: ", NULL};
			char *line = log_line(job, st->log_start, pre);
			struct strbuf d = {0};
			describe_status(st->run.status, &d);
			res->retryable = true;
			result_fail(res, "juggle exec-job left no result (srun %s%s%s)%s%s", sb_str(&d),
				    st->run.node[0] ? " on node " : "", st->run.node, line ? ": " : "",
				    line ? line : "");
			free(line);
			sb_release(&d);
		}
	} else if (completed) {
		rc = 0;
	} else {
		/* The task's own status, as Slurm saw it, else srun's. */
		int ws = st->run.wstatus >= 0 && st->run.jobid ? st->run.wstatus : st->run.status;
		if (WIFEXITED(ws))
			res->exit_code = WEXITSTATUS(ws);
		else if (WIFSIGNALED(ws))
			res->signal = WTERMSIG(ws);
		res->retryable = true;
		if (!st->run.jobid && !srun_ok) {
			/* No job: the controller refused it, or srun failed early. */
			static const char *const pre[] = {"srun: error: ", "srun: fatal: ", NULL};
			char *line = log_line(job, st->log_start, pre);
			struct strbuf d = {0};
			describe_status(st->run.status, &d);
			result_fail(res, "srun %s before a job started%s%s", sb_str(&d),
				    line ? ": " : "", line ? line + 6 : "");
			res->exit_code = -1;
			free(line);
			sb_release(&d);
		} else {
			struct strbuf d = {0};
			describe_status(ws, &d);
			result_fail(res, "%s%s%s", sb_str(&d), st->run.node[0] ? " on node " : "",
				    st->run.node);
			sb_release(&d);
		}
	}
	sb_release(&why);
	if (st->run.jobid > 0)
		result_fact_int(res, "slurm_job_id", st->run.jobid);
	if (st->run.node[0])
		result_fact_str(res, "node", st->run.node);
	if (rc == 0) {
		res->status = RES_OK;
		free(res->error);
		res->error = NULL;
	}
	if (st->exec) {
		if (rc != 0 && res->status == RES_OK)
			res->status = RES_FAILED;
		slurm_finish_exec(st, host_decided && rc != 0);
	} else {
		attempt_end(&st->a, rc);
		/* attempt_end() counts this thread's CPU time, which here is
		 * the scheduler's; the task's is not known without accounting. */
		res->cpu_s = 0;
		st->phase = PH_DONE;
	}
}
