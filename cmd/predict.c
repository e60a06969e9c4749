/* predict.c - what a run would do, without running: for -n, list and
 * explain. The scheduler's rules, applied in dependency order; where the
 * outcome depends on what only the run can know (whether a re-run writes
 * different outputs, what a server answers), the prediction says so
 * rather than claiming a change. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/cmd.h"
#include "cmd/predict.h"
#include "engine/kind.h"
#include "engine/sched.h"
#include "engine/state.h"
#include "engine/uptodate.h"

static bool pending(const struct job *dep, void *ctx)
{
	const struct prediction *p = ctx;
	enum verdict v = p[dep->index].v;
	return v == V_RUNS || v == V_MAY || v == V_IF_CHANGED || v == V_EXPANDS;
}

/* For a job with when = all_done or any_failed: what its dependencies'
 * verdicts say of everything upstream of it. */
static void look_upstream(const struct job *j, struct prediction *p)
{
	struct prediction *me = &p[j->index];
	for (uint32_t k = 0; k < j->n_deps; k++) {
		const struct job *d = j->deps[k];
		const struct prediction *pd = &p[d->index];
		if (!d->run.wanted)
			continue;
		if (!me->fails_upstream)
			me->fails_upstream = pd->v == V_FAILS ? d : pd->fails_upstream;
		me->runs_upstream =
		    me->runs_upstream || pd->runs_upstream || pending(d, p) || pd->v == V_FAILS;
	}
}

/* An input that is not there and that no wanted job will make. */
static char *missing_input(const struct graph *g, const struct job *j)
{
	for (uint32_t i = 0; i < j->n_inputs; i++) {
		const struct job *maker = strmap_get(&g->producer, j->inputs[i]);
		struct stat st;
		if ((maker && maker->run.wanted) || stat(j->inputs[i], &st) == 0 || errno != ENOENT)
			continue;
		if (maker)
			return xasprintf("input '%s' is missing and job '%s' is not among the targets",
					 j->inputs[i], maker->name);
		return xasprintf("input '%s' does not exist and no job makes it", j->inputs[i]);
	}
	return NULL;
}

struct prediction *predict(struct graph *g, struct state *st, bool always_make)
{
	size_t n;
	struct job **order = graph_order(g, &n);
	struct prediction *p = xcalloc(g->jobs.n + 1, sizeof(*p));
	for (size_t i = 0; i < n; i++) {
		struct job *j = order[i];
		struct prediction *me = &p[j->index];
		free(j->run.reason);
		j->run.reason = NULL;
		look_upstream(j, p);
		for (uint32_t k = 0; k < j->n_deps && !me->dep && j->sec->when == WHEN_SUCCESS;
		     k++) {
			enum verdict v = p[j->deps[k]->index].v;
			if (j->deps[k]->run.wanted && (v == V_FAILS || v == V_BLOCKED)) {
				me->v = V_BLOCKED;
				me->dep = j->deps[k];
			}
		}
		if (me->v == V_BLOCKED)
			continue;
		if (j->sec->deferred) {
			/* Not a guess at the items: they are read when it ends. */
			me->v = V_EXPANDS;
			me->dep = strmap_get(&g->producer, j->sec->dyn_source);
			continue;
		}
		if (j->sec->when != WHEN_SUCCESS) {
			const char *when =
			    j->sec->when == WHEN_ALL_DONE ? "all_done" : "any_failed";
			if (me->fails_upstream) {
				j->run.reason = xasprintf("'%s' would fail upstream (when = %s)",
				                          me->fails_upstream->name, when);
				me->v = V_RUNS;
				continue;
			}
			if (j->sec->when == WHEN_ANY_FAILED) {
				if (me->runs_upstream) {
					j->run.reason = xstrdup(
					    "only if a job upstream fails (when = any_failed)");
					me->v = V_MAY;
				} else {
					j->run.reason = xstrdup(
					    "nothing upstream would run, so nothing would fail "
					    "(when = any_failed)");
					me->v = V_NOT_TRIGGERED;
				}
				continue;
			}
		}
		if ((j->run.reason = missing_input(g, j))) {
			me->v = V_FAILS;
			continue;
		}
		j->run.reason = job_out_of_date_before(j, st, always_make, pending, p);
		if (j->run.reason) {
			const char *stale = j->sec->kind->stale ? j->sec->kind->stale(j) : NULL;
			bool asks = !always_make && stale && strcmp(stale, j->run.reason) == 0;
			me->v = asks ? V_MAY : V_RUNS;
			continue;
		}
		for (uint32_t k = 0; k < j->n_deps && !me->dep; k++) {
			if (j->deps[k]->run.wanted && pending(j->deps[k], p)) {
				me->v = V_IF_CHANGED;
				me->dep = j->deps[k];
			}
		}
	}
	free(order);
	return p;
}

char *prediction_text(const struct job *j, const struct prediction *p)
{
	switch (p->v) {
	case V_RUNS:
		return xasprintf("would run: %s", j->run.reason);
	case V_MAY:
		return xasprintf("may run: %s", j->run.reason);
	case V_IF_CHANGED:
		return xasprintf("runs if '%s' changes its outputs", p->dep->name);
	case V_FAILS:
		return xasprintf("would fail: %s", j->run.reason);
	case V_BLOCKED:
		return xasprintf("would not run: '%s' would fail", p->dep->name);
	case V_NOT_TRIGGERED:
		return xasprintf("would be skipped: %s", j->run.reason);
	case V_EXPANDS:
		if (!p->dep) /* made by an item of a section itself deferred */
			return xasprintf("expands once '%s' is made", j->sec->dyn_source);
		return xasprintf("expands after %s (foreach over '%s')", p->dep->name,
				 j->sec->dyn_source);
	case V_UP_TO_DATE:
		break;
	}
	return xstrdup("up to date");
}
