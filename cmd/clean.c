/* clean.c - `juggle clean [TARGET...]`: remove declared outputs; without
 * targets also the state folder. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "engine/lock.h"
#include "engine/outtree.h"
#include "engine/owndir.h"
#include "engine/safepath.h"
#include "engine/stale.h"
#include "engine/state.h"
#include "engine/term.h"

/* -n: says what clean would remove, and touches nothing (not even the
 * lock, which would create the state folder's lock file). */
static int clean_dry(struct cli *c, struct graph *g)
{
	size_t n = 0;
	for (size_t i = 0; i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		for (uint32_t k = 0; j->run.wanted && k < j->n_outputs; k++) {
			struct stat st;
			if (lstat(j->outputs[k], &st) < 0)
				continue;
			if (job_output_is_dir(j, k) && !tree_owned(j->outputs[k]))
				continue; /* not juggle's: clean leaves it */
			n++;
			if (!c->quiet) {
				fputs("would remove ", stdout);
				term_fputs(j->outputs[k], stdout);
				putchar('\n');
			}
		}
	}
	bool state = c->nargs == 0 && access(STATE_DIR, F_OK) == 0;
	if (state && !c->quiet)
		printf("would remove %s/\n", STATE_DIR);
	else if (c->nargs && access(STATE_DIR, F_OK) == 0 && !c->quiet)
		printf("would forget the selected jobs in %s\n", STATE_LOG);
	if (!c->quiet)
		printf("juggle: would remove %zu output%s%s (dry run, nothing removed)\n", n,
		       n == 1 ? "" : "s", state ? " and " STATE_DIR "/" : "");
	graph_release(g);
	return 0;
}

/* --stale: removes what jobs gone from the graph left (stale.h), and
 * forgets those jobs; -n says what it would remove. */
static int clean_stale(struct cli *c, struct graph *g, int own)
{
	struct state *st;
	struct strbuf warn = {0}, err = {0};
	int rc = 0;
	if (own > 0 || state_open(&st, STATE_DIR, c->dry_run, &warn, &err) < 0) {
		if (own <= 0)
			error("%s", sb_str(&err));
		else if (!c->quiet)
			printf("juggle: no stale outputs (juggle has not run here)\n");
		sb_release(&warn);
		sb_release(&err);
		return own > 0 ? 0 : EXIT_CANNOT_START;
	}
	term_fputs_lines(sb_str(&warn), stderr);
	size_t n, removed = 0;
	struct stale *v = stale_find(g, st, &n);
	for (size_t i = 0; i < n; i++) {
		if (c->dry_run) {
			if (!c->quiet) {
				fputs("would remove ", stdout);
				term_fputs(v[i].path, stdout);
				fputs(" (written by '", stdout);
				term_fputs(v[i].job, stdout);
				fputs("', no longer in the graph)\n", stdout);
			}
			continue;
		}
		if (stale_remove(&v[i]) < 0) {
			if (errno == ENOENT)
				continue;
			error("cannot remove '%s': %s", v[i].path, out_dir_strerror(errno));
			rc = EXIT_FAILED;
			continue;
		}
		removed++;
		if (c->verbose) {
			fputs("removed ", stdout);
			term_fputs(v[i].path, stdout);
			putchar('\n');
		}
	}
	free(v);
	if (!c->dry_run)
		stale_forget_gone(g, st);
	state_close(st);
	if (c->quiet)
		;
	else if (c->dry_run)
		printf("juggle: would remove %zu stale output%s (dry run, nothing removed)\n", n,
		       n == 1 ? "" : "s");
	else if (removed)
		printf("juggle: removed %zu stale output%s\n", removed, removed == 1 ? "" : "s");
	else
		printf("juggle: no stale outputs\n");
	sb_release(&warn);
	sb_release(&err);
	return rc;
}

int cmd_clean(struct cli *c)
{
	struct graph g;
	c->settled_if_exists = true; /* the outputs of items already made */
	if (c->stale && c->nargs) {
		error("clean --stale takes no targets: it removes the outputs of jobs no longer "
		      "in the graph");
		return EXIT_USAGE;
	}
	int rc = cli_load_selected(c, &g);
	if (rc) {
		graph_release(&g);
		return rc;
	}
	if (c->dry_run && !c->stale)
		return clean_dry(c, &g);
	struct strbuf err = {0};
	int lock_fd = -1;
	int own = own_dir_prepare(STATE_DIR, c->dry_run ? OWN_READ : OWN_WRITE, &err);
	if (own < 0) {
		error("%s; not cleaning", sb_str(&err));
		sb_release(&err);
		graph_release(&g);
		return EXIT_CANNOT_START;
	}
	if (own == 0 && !c->dry_run) {
		long holder;
		lock_fd = lock_acquire(STATE_DIR "/lock", &holder, &err);
		if (lock_fd < 0) {
			error("%s; not cleaning", sb_str(&err));
			sb_release(&err);
			graph_release(&g);
			return EXIT_CANNOT_START;
		}
	}
	if (c->stale) {
		rc = clean_stale(c, &g, own);
		if (lock_fd >= 0)
			close(lock_fd);
		sb_release(&err);
		graph_release(&g);
		return rc;
	}
	size_t removed = 0;
	for (size_t i = 0; i < g.jobs.n; i++) {
		const struct job *j = g.jobs.v[i];
		for (uint32_t k = 0; j->run.wanted && k < j->n_outputs; k++) {
			bool dir = job_output_is_dir(j, k);
			if ((dir ? tree_remove(j->outputs[k]) : out_unlink(j->outputs[k])) == 0) {
				removed++;
				if (c->verbose) {
					fputs("removed ", stdout);
					term_fputs(j->outputs[k], stdout);
					putchar('\n');
				}
			} else if (dir && errno == EPERM) {
				warning("left the folder '%s' alone: juggle did not write it",
					j->outputs[k]);
			} else if (errno != ENOENT) {
				error("cannot remove '%s': %s", j->outputs[k], out_dir_strerror(errno));
				rc = EXIT_FAILED;
			}
		}
	}
	if (c->nargs == 0) {
		if (remove_tree(STATE_DIR) < 0) {
			error("cannot remove '%s': %s", STATE_DIR, strerror(errno));
			rc = EXIT_FAILED;
		}
	} else if (lock_fd >= 0) {
		/* Forget the named jobs so they run again. */
		struct state *st;
		struct strbuf warn = {0};
		if (state_open(&st, STATE_DIR, false, &warn, &err) == 0) {
			for (size_t i = 0; i < g.jobs.n; i++)
				if (g.jobs.v[i]->run.wanted)
					state_record_fail(st, g.jobs.v[i]);
			state_close(st);
		}
		sb_release(&warn);
	}
	/* Says only what was there to remove. */
	bool state_gone = c->nargs == 0 && own == 0;
	if (c->quiet)
		;
	else if (removed)
		printf("juggle: removed %zu output%s%s\n", removed, removed == 1 ? "" : "s",
		       state_gone ? " and " STATE_DIR "/" : "");
	else if (state_gone)
		printf("juggle: removed %s/ (no outputs were there)\n", STATE_DIR);
	else
		printf("juggle: nothing to remove\n");
	if (lock_fd >= 0)
		close(lock_fd);
	sb_release(&err);
	graph_release(&g);
	return rc;
}
