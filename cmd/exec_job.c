/* exec_job.c - `juggle exec-job NAME`: run exactly one attempt of one job
 * in this process, as a Slurm step or a remote worker does. The result
 * goes to .juggle/results/ as JSON (read back by the backend that asked),
 * sealed with the run's key when a run left one (RESULT_KEY_PATH), and the
 * exit status says ok (0), failed (1) or interrupted (130). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "engine/attempt.h"
#include "engine/kind.h"
#include "engine/owndir.h"
#include "engine/sig.h"
#include "engine/state.h"
#include "engine/term.h"

int cmd_exec_job(struct cli *c)
{
	if (c->nargs < 1 || c->nargs > 2) {
		error("exec-job takes one job name (and an optional attempt number)");
		return EXIT_USAGE;
	}
	const char *name = c->args[0];
	int number = c->nargs == 2 ? atoi(c->args[1]) : 1;
	c->nargs = 0;
	c->load_warned = true;       /* the run that started this step did */
	c->settled_if_exists = true; /* its round expanded what it could */
	struct graph g;
	int rc = cli_load(c, &g);
	if (rc) {
		graph_release(&g);
		return rc;
	}
	struct job *job = graph_job(&g, name);
	if (!job) {
		error("no job is called '%s'", name);
		graph_release(&g);
		return EXIT_USAGE;
	}
	if (c->dry_run) { /* -n writes nothing, here neither */
		char *path = job_result_path(job);
		fputs("would run ", stdout);
		term_fputs(job->name, stdout);
		fputs(" once and write its result to ", stdout);
		term_fputs(path, stdout);
		putchar('\n');
		free(path);
		graph_release(&g);
		return EXIT_OK;
	}
	struct strbuf err = {0};
	if (own_dir_prepare(STATE_DIR, OWN_CREATE, &err) < 0) {
		error("%s; not starting", sb_str(&err));
		sb_release(&err);
		graph_release(&g);
		return EXIT_CANNOT_START;
	}
	sb_release(&err);
	sig_install();
	struct state *st = cli_state_readonly(&rc);
	const struct state_rec *rec = st ? state_find(st, job->name) : NULL;
	struct worker w = {.id = 0};
	struct result res;
	kinds_global_init(&g);
	attempt_log_eager = true;
	job_attempt(job, &w, number > 0 ? number : 1, rec ? rec->extra : NULL, &res);
	worker_release(&w);
	char *json = result_to_json(&res);
	unsigned char key[RESULT_KEY_LEN];
	if (result_key_read(RESULT_KEY_PATH, key) == 0) {
		char *sealed = result_seal(json, job->name, number > 0 ? number : 1, key);
		free(json);
		json = sealed;
	}
	char *path = job_result_path(job);
	if (mkdir_parents(path) < 0 || write_file_atomic(path, json, strlen(json)) < 0) {
		error("cannot write '%s': %s", path, strerror(errno));
		rc = EXIT_CANNOT_START;
	} else {
		rc = res.status == RES_OK ? EXIT_OK
		     : res.status == RES_INTERRUPTED ? EXIT_INTERRUPTED
						     : EXIT_FAILED;
	}
	/* -q: the backend that asked reads the result; the log has the error. */
	if (res.status != RES_OK && res.error && !c->quiet)
		error("%s: %s", job->name, res.error);
	free(path);
	free(json);
	result_release(&res);
	state_close(st);
	graph_release(&g);
	return rc;
}
