/* graph.c - `juggle graph`: the graph in Graphviz dot. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd/cmd.h"
#include "engine/kind.h"
#include "engine/term.h"

/* A name as a dot string: what a terminal would obey shown as escapes
 * first (the output is often read on one), then dot's own quoting, so
 * the escapes' backslashes stay visible text. */
static void dot_id(const char *s)
{
	char *clean = term_clean(s, strlen(s));
	putchar('"');
	for (const char *p = clean; *p; p++) {
		if (*p == '"' || *p == '\\')
			putchar('\\');
		putchar(*p);
	}
	putchar('"');
	free(clean);
}

int cmd_graph(struct cli *c)
{
	struct graph g;
	int rc = cli_load_selected(c, &g);
	if (!rc) {
		printf("digraph juggle {\n  rankdir=LR;\n  node [fontname=\"sans-serif\"];\n");
		for (size_t i = 0; i < g.jobs.n; i++) {
			const struct job *j = g.jobs.v[i];
			if (!j->run.wanted)
				continue;
			const char *kind = j->sec->kind->name;
			const char *shape = kind[0] == 'd' ? "note" : kind[0] == 'c' && kind[1] == 'p'
									? "box3d"
									: "box";
			printf("  ");
			dot_id(j->name);
			printf(" [shape=%s, tooltip=", shape);
			dot_id(kind);
			if (j->sec->deferred) {
				/* Its items are read once its producer ended. */
				const struct job *maker =
				    strmap_get(&g.producer, j->sec->dyn_source);
				char *label = maker ? xasprintf("%s (expands after %s)", j->name,
								maker->name)
						    : xasprintf("%s (expands once %s is made)",
								j->name, j->sec->dyn_source);
				printf(", style=dashed, label=");
				dot_id(label);
				free(label);
			}
			printf("];\n");
		}
		for (size_t i = 0; i < g.jobs.n; i++) {
			const struct job *j = g.jobs.v[i];
			for (uint32_t k = 0; j->run.wanted && k < j->n_deps; k++) {
				printf("  ");
				dot_id(j->deps[k]->name);
				printf(" -> ");
				dot_id(j->name);
				printf(";\n");
			}
		}
		printf("}\n");
	}
	graph_release(&g);
	return rc;
}
