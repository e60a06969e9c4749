/* run.c - `juggle run`: bring the wanted jobs up to date. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "cmd/predict.h"
#include "engine/jobserver.h"
#include "engine/kind.h"
#include "engine/lock.h"
#include "engine/owndir.h"
#include "engine/pworker.h"
#include "engine/report/archive.h"
#include "engine/report/progress.h"
#include "engine/report/report.h"
#include "engine/safepath.h"
#include "engine/sig.h"
#include "engine/spawn.h"
#include "engine/stale.h"
#include "engine/state.h"
#include "engine/term.h"

/* Every file the run promises to write, checked before any job runs, so
 * a nightly run does not find out at the end. 0 or EXIT_CANNOT_START. */
static int probe_outputs(const struct settings *set)
{
	const char *files[][2] = {{"report", set->report},
				  {"HTML report", set->html},
				  {"trace", set->trace},
				  {"JUnit report", set->junit},
				  {"archive", set->archive}};
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		struct strbuf err = {0};
		if (files[i][1] && report_probe(files[i][0], files[i][1], &err) < 0) {
			error("%s; not starting", sb_str(&err));
			sb_release(&err);
			return EXIT_CANNOT_START;
		}
	}
	return 0;
}

/* Writes the reports and the archive of a finished run; report is the
 * tree, or NULL when no format needs it. Returns false when one could not
 * be written (said on stderr). */
/* Adds a round's allocations to the run's. */
static void allocs_add(struct backend_allocs *run, const struct backend_allocs *round)
{
	if (!round->used)
		return;
	run->used = true;
	run->allocations += round->allocations;
	if (!run->first_tasks)
		run->first_tasks = round->first_tasks;
	if (round->workers_peak > run->workers_peak)
		run->workers_peak = round->workers_peak;
	run->workers_lost += round->workers_lost;
}

static bool write_reports(const struct graph *g, const struct run_summary *sum,
			  const struct report_meta *meta, json_t *report, bool quiet)
{
	const struct settings *set = &g->settings;
	bool ok = true;
	struct strbuf err = {0};
	struct run_archive_blob blobs[4];
	size_t nblobs = 0;
	char *texts[4] = {NULL, NULL, NULL, NULL};

	/* From the tree when there is one, so every format says the same
	 * (CPU and memory figures are read when the header is built). */
	if ((report ? report_write(report, STATE_DIR "/last-report.json", &err)
		    : report_write_graph(g, sum, meta, STATE_DIR "/last-report.json", &err)) < 0)
		warning("%s", sb_str(&err));
	if (set->report) {
		sb_reset(&err);
		if ((report ? report_write(report, set->report, &err)
			    : report_write_graph(g, sum, meta, set->report, &err)) < 0) {
			error("%s", sb_str(&err));
			ok = false;
		}
	}
	size_t len;
	if (set->archive && (texts[0] = own_file_read(STATE_DIR "/last-report.json", &len)))
		blobs[nblobs++] = (struct run_archive_blob){"report.json", texts[0], len};
	static const struct {
		const char *what, *entry;
		char *(*render)(json_t *, size_t *, struct strbuf *);
	} formats[] = {
		{"HTML report", "report.html", report_render_html},
		{"trace", "trace.json", report_render_trace},
		{"JUnit report", "junit.xml", report_render_junit},
	};
	const char *paths[] = {set->html, set->trace, set->junit};
	for (size_t i = 0; i < ARRAY_SIZE(formats); i++) {
		if (!paths[i] || !report)
			continue;
		sb_reset(&err);
		char *text = formats[i].render(report, &len, &err);
		if (!text || report_save(formats[i].what, paths[i], text, len, &err) < 0) {
			error("%s", sb_str(&err));
			ok = false;
		}
		if (text) {
			texts[1 + i] = text;
			blobs[nblobs++] = (struct run_archive_blob){formats[i].entry, text, len};
		}
	}
	/* A run that did not succeed never replaces the archive of one that
	 * did: its archive, if any, goes beside it under another name. */
	bool failed = sum->counts[JS_FAILED] || sum->counts[JS_NOT_RUN];
	char *partial = set->archive ? run_archive_partial_path(set->archive) : NULL;
	if (set->archive && sum->interrupted) {
		warning("the run was interrupted; archive '%s' not written", set->archive);
	} else if (set->archive && failed && set->archive_on_failure_none) {
		if (!quiet)
			printf("juggle: the run failed; archive '%s' not written "
			       "(archive_on_failure = none)\n",
			       set->archive);
	} else if (set->archive) {
		const char *path = failed ? partial : set->archive;
		struct strbuf warn = {0};
		struct run_archive_stats stats;
		sb_reset(&err);
		int rc = run_archive_write(path, g, blobs, nblobs, sum->wall_start + sum->wall_s,
					   &stats, &warn, &err);
		term_fputs_lines(sb_str(&warn), stderr);
		sb_release(&warn);
		if (rc < 0) {
			error("%s", sb_str(&err));
			ok = false;
		} else {
			/* A good run's archive makes the partial one of an
			 * earlier failure stale. */
			if (!failed && unlink(partial) < 0 && errno != ENOENT)
				warning("cannot remove the stale partial archive '%s': %s", partial,
					strerror(errno));
			if (!quiet && failed)
				printf("juggle: the run failed; archived %zu files (%.1f MiB) in '%s', "
				       "not in '%s'\n",
				       stats.files, (double)stats.bytes / (1024 * 1024), path,
				       set->archive);
			else if (!quiet)
				printf("juggle: archived %zu files (%.1f MiB) in '%s'\n", stats.files,
				       (double)stats.bytes / (1024 * 1024), path);
		}
	}
	free(partial);
	for (size_t i = 0; i < ARRAY_SIZE(texts); i++)
		free(texts[i]);
	sb_release(&err);
	return ok;
}

/* -n: lists what a run would do, each job with its reason, and a count;
 * runs nothing and writes nothing. Nothing ran, so there is nothing to
 * time or to call ok. */
static int dry_run(struct cli *c, struct graph *g)
{
	int rc = 0;
	struct state *st = cli_state_readonly(&rc);
	if (!st)
		return rc;
	struct prediction *p = predict(g, st, c->always_make);
	size_t n, count[V_EXPANDS + 1] = {0};
	struct job **order = graph_order(g, &n);
	for (size_t i = 0; i < n; i++) {
		const struct job *j = order[i];
		const struct prediction *pj = &p[j->index];
		count[pj->v]++;
		if (pj->v == V_UP_TO_DATE)
			continue;
		if (pj->v == V_EXPANDS) {
			char *text = prediction_text(j, pj);
			term_fputs(j->name, stdout);
			putchar(' ');
			term_fputs(text, stdout);
			putchar('\n');
			free(text);
			continue;
		}
		static const char *const verb[] = {
			[V_RUNS] = "would run",   [V_MAY] = "may run",     [V_IF_CHANGED] = "may run",
			[V_FAILS] = "would fail", [V_BLOCKED] = "would not run",
			[V_NOT_TRIGGERED] = "would be skipped",
		};
		char *text = pj->v == V_BLOCKED	     ? xasprintf("'%s' would fail", pj->dep->name)
			     : pj->v == V_IF_CHANGED ? prediction_text(j, pj)
						     : xstrdup(j->run.reason);
		printf("%s ", verb[pj->v]);
		term_fputs(j->name, stdout);
		fputs(": ", stdout);
		term_fputs(text, stdout);
		putchar('\n');
		free(text);
		if (pj->v == V_RUNS || pj->v == V_MAY || pj->v == V_IF_CHANGED) {
			struct strbuf sb = {0};
			if (j->sec->kind->describe)
				j->sec->kind->describe(j, &sb);
			if (sb.len) {
				fputs("    ", stdout);
				term_fputs(sb_str(&sb), stdout);
				putchar('\n');
			}
			sb_release(&sb);
		}
	}
	if (!c->quiet) {
		struct strbuf sb = {0};
		static const char *const what[] = {
			[V_RUNS] = "would run", [V_MAY] = "may run (the run decides)",
			[V_IF_CHANGED] = "may run if a dependency changes its outputs",
			[V_FAILS] = "would fail", [V_BLOCKED] = "would not run (a dependency would fail)",
			[V_UP_TO_DATE] = "up to date",
			[V_NOT_TRIGGERED] = "would be skipped (nothing upstream would fail)",
			[V_EXPANDS] = "expand after a job (items not known yet)",
		};
		static const enum verdict shown[] = {V_RUNS,    V_MAY,           V_IF_CHANGED, V_FAILS,
						     V_BLOCKED, V_NOT_TRIGGERED, V_EXPANDS,    V_UP_TO_DATE};
		for (size_t i = 0; i < ARRAY_SIZE(shown); i++)
			if (count[shown[i]])
				sb_addf(&sb, "%s%zu %s", sb.len ? ", " : "", count[shown[i]],
					what[shown[i]]);
		printf("juggle: dry run, nothing ran: %s\n", sb.len ? sb_str(&sb) : "no jobs");
		sb_release(&sb);
	}
	free(order);
	free(p);
	state_close(st);
	return 0;
}

/* What the rounds of one run share (a foreach over another job's output
 * is read in the round after its producer ended): the outputs of the
 * jobs that ended well (struct load_opts.settled) and every job's record
 * of how it ended (struct run_opts.prior). */
/* A glob foreach that takes a stale output (stale.h) works on a file no
 * job makes any more: says so once per job of the run, naming the file
 * and the job that wrote it. warned holds the jobs already named. */
static void warn_stale_globs(const struct graph *g, struct state *st, struct strvec *warned)
{
	bool globs = false;
	for (size_t i = 0; i < g->sections.n && !globs; i++)
		globs = g->sections.v[i]->foreach == FE_GLOB && !g->sections.v[i]->deferred;
	if (!globs)
		return;
	size_t n;
	struct stale *v = stale_find(g, st, &n);
	struct strmap by_path = {0};
	for (size_t i = 0; i < n; i++)
		strmap_put(&by_path, v[i].path, &v[i]);
	for (size_t i = 0; n && i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		const struct stale *s = j->match ? strmap_get(&by_path, j->match) : NULL;
		bool seen = false;
		for (size_t k = 0; s && k < warned->n && !seen; k++)
			seen = strcmp(warned->v[k], j->name) == 0;
		if (!s || !j->run.wanted || seen)
			continue;
		warning("job '%s': its foreach glob takes '%s', which '%s' wrote and which is "
			"no longer in the graph; `juggle clean --stale` removes it",
			j->name, s->path, s->job);
		VEC_PUSH(warned, xstrdup(j->name));
	}
	strmap_release(&by_path);
	free(v);
}

/* stale = remove, after a run that succeeded: what `juggle clean --stale`
 * removes. A file that cannot be removed is a warning: the run's own
 * work is done. */
static void remove_stale(const struct graph *g, struct state *st, const struct cli *c)
{
	size_t n, removed = 0;
	struct stale *v = stale_find(g, st, &n);
	for (size_t i = 0; i < n; i++) {
		if (stale_remove(&v[i]) == 0)
			removed++;
		else if (errno != ENOENT)
			warning("stale = remove: cannot remove '%s': %s", v[i].path,
				out_dir_strerror(errno));
	}
	free(v);
	stale_forget_gone(g, st);
	if (removed && !c->quiet)
		printf("juggle: removed %zu stale output%s (stale = remove)\n", removed,
		       removed == 1 ? "" : "s");
}

struct rounds {
	struct strmap settled, prior;
	struct strvec keys; /* the maps' keys, owned */
};

/* Whether a job's end in this round is kept for the next: not a job
 * that did not run because a deferred section held it back. */
static bool ended(const struct job *j)
{
	const struct job_run *run = &j->run;
	return !j->sec->deferred && run->wanted && run->status != JS_PENDING &&
	       (run->status != JS_NOT_RUN || run->error);
}

/* Adds the outputs this round made or found up to date to the settled
 * ones; returns whether another round would expand a deferred section. */
static bool settle_round(struct rounds *r, const struct graph *g)
{
	bool deferred = false;
	for (size_t i = 0; i < g->jobs.n && !deferred; i++)
		deferred = g->jobs.v[i]->sec->deferred && g->jobs.v[i]->run.wanted;
	if (!deferred)
		return false; /* the last round: nothing to settle for another */
	for (size_t i = 0; i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		if (!ended(j) || (j->run.status != JS_OK && j->run.status != JS_SKIPPED))
			continue;
		for (uint32_t k = 0; k < j->n_outputs; k++)
			if (!strmap_get(&r->settled, j->outputs[k])) {
				VEC_PUSH(&r->keys, xstrdup(j->outputs[k]));
				strmap_put(&r->settled, r->keys.v[r->keys.n - 1], r);
			}
	}
	for (size_t i = 0; i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		if (j->sec->deferred && j->run.wanted &&
		    strmap_get(&r->settled, j->sec->dyn_source))
			return true;
	}
	return false;
}

/* Moves the records of the jobs that ended in this round out of its graph,
 * for the next round to take (struct run_opts.prior). */
static void keep_round(struct rounds *r, struct graph *g)
{
	for (size_t i = 0; i < g->jobs.n; i++) {
		struct job *j = g->jobs.v[i];
		struct job_run *run = &j->run;
		if (!ended(j))
			continue;
		struct job_run *keep = strmap_get(&r->prior, j->name);
		if (!keep) {
			keep = xcalloc(1, sizeof(*keep));
			VEC_PUSH(&r->keys, xstrdup(j->name));
			strmap_put(&r->prior, r->keys.v[r->keys.n - 1], keep);
		}
		*keep = *run; /* its pointers were moved into this round's graph */
		run->facts = run->counts = NULL;
		run->reason = run->error = run->value = run->failed_upstream = NULL;
	}
}

static void rounds_release(struct rounds *r)
{
	const char *key;
	void *val;
	for (size_t i = 0; strmap_next(&r->prior, &i, &key, &val);) {
		struct job_run *run = val;
		json_decref(run->facts);
		json_decref(run->counts);
		free(run->reason);
		free(run->error);
		free(run->value);
		free(run->failed_upstream);
		free(run);
	}
	strmap_release(&r->prior);
	strmap_release(&r->settled);
	strvec_release(&r->keys);
}

/* Each line of w as a warning; empties w. */
static void warn_lines(struct strbuf *w)
{
	const char *p = sb_str(w);
	while (*p) {
		const char *nl = strchr(p, '\n');
		int n = nl ? (int)(nl - p) : (int)strlen(p);
		warning("%.*s", n, p);
		p += n + (nl != NULL);
	}
	sb_reset(w);
}

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
	if (c->dry_run) {
		rc = dry_run(c, &g);
		graph_release(&g);
		return rc;
	}
	struct strbuf err = {0}, warn = {0};
	struct rounds R = {0};
	struct state *st = NULL;
	int lock_fd = -1;
	/* make's jobserver (or one of juggle's own for the commands), on this
	 * machine only: a Slurm step runs elsewhere. */
	if (g.settings.jobserver && o.backend->local) {
		int mode = jobserver_start(&o.jobs, !g.settings.jobs_given, &warn, &err);
		warn_lines(&warn);
		if (mode < 0) {
			error("%s; not starting", sb_str(&err));
			rc = EXIT_CANNOT_START;
			goto out;
		}
		o.jobserver = true;
	}
	fd_budget(&g, &o);
	if (own_dir_prepare(STATE_DIR, OWN_CREATE, &err) < 0) {
		error("%s; not starting", sb_str(&err));
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
	if ((rc = probe_outputs(&g.settings)))
		goto out;
	out_sweep_temps(&g);
	if (state_open(&st, STATE_DIR, false, &warn, &err) < 0) {
		error("%s", sb_str(&err));
		rc = EXIT_CANNOT_START;
		goto out;
	}
	term_fputs_lines(sb_str(&warn), stderr);
	struct run_summary sum, first;
	struct backend_allocs allocs = {0}; /* every round's, for the report */
	struct strvec stale_warned = {0};
	pworker_start_run(!c->no_workers);
	for (;;) {
		warn_stale_globs(&g, st, &stale_warned);
		rc = sched_run(&g, st, &o, &sum, &err);
		allocs_add(&allocs, &sum.allocs);
		sum.allocs = allocs;
		if (rc < 0 || rc == EXIT_INTERRUPTED || (rc && !o.keep_going))
			break;
		if (!o.first) {
			first = sum;
			o.first = &first;
		}
		if (!settle_round(&R, &g))
			break;
		keep_round(&R, &g);
		/* The next round: the graph again, with the sections whose
		 * source is now made expanded. */
		graph_release(&g);
		c->settled = &R.settled;
		o.prior = &R.prior;
		if ((rc = cli_load_selected(c, &g))) {
			pworker_shutdown();
			strvec_release(&stale_warned);
			goto out;
		}
	}
	pworker_shutdown();
	strvec_release(&stale_warned);
	jobserver_stop(&warn);
	warn_lines(&warn);
	if (rc < 0) {
		error("%s", sb_str(&err));
		rc = EXIT_CANNOT_START;
		goto out;
	}
	struct report_meta meta = {c->file, o.backend->name, o.jobs, o.backend->notes,
				   o.backend->max_lanes, run_order_name(o.order)};
	bool worked = sum.counts[JS_OK] || sum.counts[JS_FAILED] || sum.counts[JS_NOT_RUN] ||
		      sum.counts[JS_INTERRUPTED];
	/* The report as a tree only when something reads it: a no-op run of a
	 * big graph streams the JSON report and builds nothing. */
	json_t *report = NULL;
	if ((g.settings.html || g.settings.trace || g.settings.junit))
		report = report_build(&g, &sum, &meta);
	if (!write_reports(&g, &sum, &meta, report, c->quiet) && rc == 0)
		rc = EXIT_FAILED;
	bool failures = sum.counts[JS_FAILED] || sum.counts[JS_INTERRUPTED];
	if ((!c->quiet && worked) || failures) {
		/* The summary needs a few jobs, not a tree of them all. With -q
		 * only the failures, on stderr, where cron's mail looks. */
		json_t *summary = report ? json_incref(report) : report_build_summary(&g, &sum, &meta);
		if (c->quiet)
			report_print_failures(stderr, summary, progress_columns(stderr));
		else
			report_print_summary(stdout, summary, progress_columns(stdout));
		json_decref(summary);
	} else if (!c->quiet) {
		printf("juggle: nothing to do, %d job%s up to date\n", sum.counts[JS_SKIPPED],
		       sum.counts[JS_SKIPPED] == 1 ? "" : "s");
	}
	int state_errno = 0;
	size_t lost = st ? state_write_failures(st, &state_errno) : 0;
	if (lost) {
		error("cannot record the result of %zu job%s in '%s': %s; they will run again next time",
		      lost, lost == 1 ? "" : "s", STATE_LOG, strerror(state_errno));
		if (rc == 0)
			rc = EXIT_FAILED;
	}
	if (sum.interrupted) {
		char name[16];
		error("interrupted by %s; unfinished jobs are marked interrupted",
		      signal_name(sum.signal, name));
	}
	if (g.settings.stale_remove && rc == 0 && !sum.interrupted)
		remove_stale(&g, st, c);
	json_decref(report);
out:
	jobserver_stop(NULL);
	state_close(st);
	if (lock_fd >= 0)
		close(lock_fd);
	sb_release(&err);
	sb_release(&warn);
	graph_release(&g);
	rounds_release(&R);
	return rc;
}
