/* helpers.c - see helpers.h. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "engine/graph.h"
#include "engine/load/load.h"
#include "engine/util.h"
#include "helpers.h"

static char *tmpdir;

int in_tmp(void **state)
{
	(void)state;
	char tmpl[] = "/tmp/juggle-unit-XXXXXX";
	tmpdir = xstrdup(mkdtemp(tmpl));
	return chdir(tmpdir);
}

int out_of_tmp(void **state)
{
	(void)state;
	if (chdir("/") < 0)
		return -1;
	remove_tree(tmpdir);
	free(tmpdir);
	tmpdir = NULL;
	return 0;
}

void write_text(const char *path, const char *text)
{
	mkdir_parents(path);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

int load_ini(struct graph *g, const char *text, struct diag *d, const char *const *set)
{
	write_text("g.ini", text);
	struct load_opts o = {.file = "g.ini",
			      .cli = {.jobs = -1, .net_jobs = -1, .keep_going = -1, .load = -1},
			      .set = set,
			      .default_jobs = 2};
	return graph_load(g, &o, d);
}
