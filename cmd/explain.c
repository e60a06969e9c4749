/* explain.c - `juggle explain TARGET...`: why each job would run. */
#include <stdlib.h>
#include <stdio.h>

#include "cmd/cmd.h"
#include "cmd/predict.h"
#include "engine/term.h"

int cmd_explain(struct cli *c)
{
	struct graph g;
	int rc = cli_load_selected(c, &g);
	struct state *st = rc ? NULL : cli_state_readonly(&rc);
	if (st) {
		struct prediction *p = predict(&g, st, c->always_make);
		size_t n;
		struct job **order = graph_order(&g, &n);
		for (size_t i = 0; i < n; i++) {
			const struct job *j = order[i];
			char *text = prediction_text(j, &p[j->index]);
			term_fputs(j->name, stdout);
			fputs(": ", stdout);
			term_fputs(text, stdout);
			putchar('\n');
			free(text);
		}
		free(order);
		free(p);
		state_close(st);
	}
	graph_release(&g);
	return rc;
}
