/* list.c - `juggle list`: the jobs after expansion, with their state. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "cmd/predict.h"
#include "engine/kind.h"
#include "engine/stale.h"
#include "engine/term.h"

/* --stale: each output of a job gone from the graph, with that job. */
static int list_stale(struct cli *c)
{
	struct graph g;
	c->settled_if_exists = true; /* items of lists already made are not gone */
	int rc = cli_load_selected(c, &g);
	struct state *st = rc ? NULL : cli_state_readonly(&rc);
	if (st) {
		size_t n;
		struct stale *v = stale_find(&g, st, &n);
		for (size_t i = 0; i < n; i++) {
			term_fputs(v[i].path, stdout);
			putchar('\t');
			term_fputs(v[i].job, stdout);
			putchar('\n');
		}
		free(v);
		state_close(st);
	}
	graph_release(&g);
	return rc;
}

int cmd_list(struct cli *c)
{
	if (c->stale)
		return list_stale(c);
	struct graph g;
	int rc = cli_load_selected(c, &g);
	struct state *st = rc ? NULL : cli_state_readonly(&rc);
	if (st) {
		struct prediction *p = predict(&g, st, c->always_make);
		for (size_t i = 0; i < g.jobs.n; i++) {
			const struct job *j = g.jobs.v[i];
			if (!j->run.wanted)
				continue;
			term_fputs(j->name, stdout);
			printf("\t%s\t", j->sec->kind->name);
			for (uint32_t k = 0; k < j->n_deps; k++) {
				fputs(k ? "," : "", stdout);
				term_fputs(j->deps[k]->name, stdout);
			}
			if (!j->n_deps)
				printf("-");
			putchar('\t');
			/* A certain reason alone, as it always was; the rest in words. */
			char *text = p[j->index].v == V_RUNS ? NULL : prediction_text(j, &p[j->index]);
			term_fputs(text ? text : j->run.reason, stdout);
			/* -v: each output in a field of its own, for completion and
			 * scripts (an output names its job on the command line). */
			for (uint32_t k = 0; c->verbose && k < j->n_outputs; k++) {
				putchar('\t');
				term_fputs(j->outputs[k], stdout);
			}
			putchar('\n');
			free(text);
		}
		free(p);
		state_close(st);
	}
	graph_release(&g);
	return rc;
}
