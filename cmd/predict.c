/* predict.c - what a run would do, without running: for list and explain.
 * The same rules as the scheduler's, taking every job that would run as
 * changing its outputs (as a dry run does). */
#include <stdlib.h>

#include "../engine/state.h"
#include "cmd.h"
#include "predict.h"

void predict(struct graph *g, struct state *st, bool always_make)
{
	size_t n;
	struct job **order = graph_order(g, &n);
	for (size_t i = 0; i < n; i++) {
		struct job *j = order[i];
		free(j->run.reason);
		j->run.reason = job_out_of_date(j, st, always_make);
		j->run.changed = j->run.reason != NULL;
	}
	free(order);
}
