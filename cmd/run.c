/* run.c - `juggle run`: bring the wanted jobs up to date. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/lock.h"
#include "../engine/report.h"
#include "../engine/sig.h"
#include "../engine/state.h"
#include "cmd.h"

int cmd_run(struct cli *c)
{
	/* Signals first: a ^C while a big graph loads still ends in an orderly
	 * stop (the scheduler sees it before starting anything). */
	if (sig_install() < 0) {
		error("cannot install signal handlers: %s", strerror(errno));
		return EXIT_CANNOT_START;
	}
	struct graph g;
	int rc = cli_load_selected(c, &g);
	if (rc) {
		graph_release(&g);
		return rc;
	}
	struct run_opts o;
	if ((rc = cli_run_opts(c, &g, &o))) {
		graph_release(&g);
		return rc;
	}
	struct strbuf err = {0}, warn = {0};
	struct state *st = NULL;
	int lock_fd = -1;
	if (!o.dry_run) {
		if (mkdir_p(STATE_DIR, 0777) < 0) {
			error("cannot create '%s': %s", STATE_DIR, strerror(errno));
			rc = EXIT_CANNOT_START;
			goto out;
		}
		long holder;
		lock_fd = lock_acquire(STATE_DIR "/lock", &holder, &err);
		if (lock_fd < 0) {
			error("%s; not starting", sb_str(&err));
			rc = EXIT_CANNOT_START;
			goto out;
		}
	}
	if (state_open(&st, STATE_DIR, o.dry_run, &warn, &err) < 0) {
		error("%s", sb_str(&err));
		rc = EXIT_CANNOT_START;
		goto out;
	}
	fputs(sb_str(&warn), stderr);
	struct run_summary sum;
	rc = sched_run(&g, st, &o, &sum, &err);
	if (rc < 0) {
		error("%s", sb_str(&err));
		rc = EXIT_CANNOT_START;
		goto out;
	}
	struct report_meta meta = {c->file, o.backend->name, o.jobs, o.dry_run};
	if (!o.dry_run) {
		sb_reset(&err);
		if (report_write_graph(&g, &sum, &meta, STATE_DIR "/last-report.json", &err) < 0)
			warning("%s", sb_str(&err));
		if (g.settings.report) {
			sb_reset(&err);
			if (report_write_graph(&g, &sum, &meta, g.settings.report, &err) < 0) {
				error("%s", sb_str(&err));
				if (rc == 0)
					rc = EXIT_FAILED;
			}
		}
	}
	bool worked = sum.counts[JS_OK] || sum.counts[JS_FAILED] || sum.counts[JS_NOT_RUN] ||
		      sum.counts[JS_INTERRUPTED];
	if (!c->quiet && worked) {
		json_t *report = report_build(&g, &sum, &meta);
		report_print_summary(stdout, report);
		json_decref(report);
	} else if (!c->quiet && !o.dry_run) {
		printf("juggle: nothing to do, %d job%s up to date\n", sum.counts[JS_SKIPPED],
		       sum.counts[JS_SKIPPED] == 1 ? "" : "s");
	}
	if (sum.interrupted)
		error("interrupted by signal %d; unfinished jobs are marked interrupted",
		      sum.signal);
out:
	state_close(st);
	if (lock_fd >= 0)
		close(lock_fd);
	sb_release(&err);
	sb_release(&warn);
	graph_release(&g);
	return rc;
}
