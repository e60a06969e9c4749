/* check.c - `juggle check`: parse and validate only. */
#include <stdio.h>

#include "cmd.h"

int cmd_check(struct cli *c)
{
	struct graph g;
	int rc = cli_load(c, &g);
	if (!rc && !c->quiet)
		printf("%s: %zu job%s from %zu section%s, no errors\n", c->file, g.jobs.n,
		       g.jobs.n == 1 ? "" : "s", g.sections.n, g.sections.n == 1 ? "" : "s");
	graph_release(&g);
	return rc;
}
