/* priority.c - the order ready jobs start in; see priority.h. */
#include "engine/priority.h"

#include <stdlib.h>
#include <string.h>

#include "engine/kind.h"
#include "engine/util.h"

static const char *const order_names[] = {[ORDER_FILE] = "file", [ORDER_CRITICAL] = "critical"};

const char *run_order_name(enum run_order o)
{
	return order_names[o];
}

int run_order_parse(const char *name, enum run_order *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(order_names); i++)
		if (strcmp(name, order_names[i]) == 0) {
			*out = (enum run_order)i;
			return 0;
		}
	return -1;
}

double *priority_expected(const struct graph *g, const struct state *st)
{
	size_t n = g->jobs.n;
	double *exp = xcalloc(n + 1, sizeof(*exp));
	bool *known = xcalloc(n + 1, sizeof(*known));
	double kind_sum[KIND_SLOTS] = {0};
	size_t kind_n[KIND_SLOTS] = {0};
	for (size_t i = 0; i < n; i++) {
		const struct job *j = g->jobs.v[i];
		const struct state_rec *rec = st ? state_find(st, j->name) : NULL;
		if (!rec || !(rec->duration >= 0))
			continue;
		exp[i] = rec->duration;
		known[i] = true;
		int k = kind_slot(j->sec->kind);
		kind_sum[k] += rec->duration;
		kind_n[k]++;
	}
	/* A section's instances are one command over different items: the
	 * closest guess for a new item is what its siblings took. */
	for (size_t s = 0; s < g->sections.n; s++) {
		const struct section *sec = g->sections.v[s];
		double sum = 0;
		size_t cnt = 0;
		for (size_t i = sec->first_job; i < sec->first_job + sec->n_jobs; i++)
			if (known[i]) {
				sum += exp[i];
				cnt++;
			}
		int k = kind_slot(sec->kind);
		double guess = cnt ? sum / (double)cnt
			     : kind_n[k] ? kind_sum[k] / (double)kind_n[k]
					 : PRIORITY_DEFAULT_S;
		for (size_t i = sec->first_job; i < sec->first_job + sec->n_jobs; i++)
			if (!known[i])
				exp[i] = guess;
	}
	free(known);
	return exp;
}

double *priority_chains(const struct graph *g, const double *expected)
{
	/* Kahn's algorithm backwards, over plain arrays rather than a heap:
	 * a job is done once every wanted job that depends on it is, so each
	 * job and each edge is looked at once. */
	size_t n = g->jobs.n;
	double *chain = xcalloc(n + 1, sizeof(*chain));
	uint32_t *left = xcalloc(n + 1, sizeof(*left)); /* wanted rdeps not done */
	struct job **todo = xmalloc((n + 1) * sizeof(*todo));
	size_t top = 0;
	for (size_t i = 0; i < n; i++) {
		const struct job *j = g->jobs.v[i];
		if (!j->run.wanted)
			continue;
		for (uint32_t k = 0; k < j->n_rdeps; k++)
			left[i] += j->rdeps[k]->run.wanted;
		if (!left[i])
			todo[top++] = g->jobs.v[i];
	}
	while (top) {
		const struct job *j = todo[--top];
		double best = 0;
		for (uint32_t k = 0; k < j->n_rdeps; k++) {
			const struct job *r = j->rdeps[k];
			if (r->run.wanted && chain[r->index] > best)
				best = chain[r->index];
		}
		chain[j->index] = expected[j->index] + best;
		for (uint32_t k = 0; k < j->n_deps; k++) {
			struct job *d = j->deps[k];
			if (d->run.wanted && --left[d->index] == 0)
				todo[top++] = d;
		}
	}
	free(todo);
	free(left);
	return chain;
}

double *priority_compute(const struct graph *g, const struct state *st)
{
	double *exp = priority_expected(g, st);
	double *chain = priority_chains(g, exp);
	free(exp);
	return chain;
}
