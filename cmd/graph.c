/* graph.c - `juggle graph`: the graph in Graphviz dot. */
#include <stdio.h>

#include "../engine/kind.h"
#include "cmd.h"

static void dot_id(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			putchar('\\');
		if (*s == '\n')
			fputs("\\n", stdout);
		else
			putchar(*s);
	}
	putchar('"');
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
