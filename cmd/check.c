/* check.c - `juggle check`: parse and validate, and look at the files the
 * graph names, as far as that can be known before anything runs. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/cmd.h"

/* The line of a job's key, or its section's. */
static int key_line(const struct job *j, const char *key)
{
	const struct kv *kv = section_key(j->sec, key);
	return kv ? kv->line : j->sec->line;
}

/* Inputs that are not there and that no job makes: the run would fail
 * them, so check says so now. */
static size_t missing_inputs(const struct cli *c, const struct graph *g)
{
	size_t errors = 0;
	struct strmap seen = {0};
	for (size_t i = 0; i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		for (uint32_t k = 0; k < j->n_inputs; k++) {
			const char *in = j->inputs[k];
			struct stat st;
			if (strmap_get(&g->producer, in) || strmap_get(&seen, in) ||
			    stat(in, &st) == 0 || errno != ENOENT)
				continue;
			strmap_put(&seen, in, (void *)in);
			fprintf(stderr, "%s:%d: job '%s': input '%s' does not exist and no job makes it\n",
				c->file, key_line(j, j->match && k == 0 ? "foreach" : "input"),
				j->name, in);
			errors++;
		}
	}
	strmap_release(&seen);
	return errors;
}

/* Outputs whose folder cannot be made, because a file is in the way. */
static size_t blocked_outputs(const struct cli *c, const struct graph *g)
{
	size_t errors = 0;
	struct strbuf dir = {0};
	for (size_t i = 0; i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		for (uint32_t k = 0; k < j->n_outputs; k++) {
			const char *out = j->outputs[k];
			for (const char *s = strchr(out, '/'); s; s = strchr(s + 1, '/')) {
				sb_reset(&dir);
				sb_add(&dir, out, (size_t)(s - out));
				struct stat st;
				const struct job *maker = strmap_get(&g->producer, sb_str(&dir));
				bool file = maker || (stat(sb_str(&dir), &st) == 0 && !S_ISDIR(st.st_mode));
				if (!file)
					continue;
				if (maker)
					fprintf(stderr,
						"%s:%d: job '%s': output '%s' cannot be made: '%s' is an output of job '%s', not a folder\n",
						c->file, key_line(j, "output"), j->name, out,
						sb_str(&dir), maker->name);
				else
					fprintf(stderr,
						"%s:%d: job '%s': output '%s' cannot be made: '%s' is a file, not a folder\n",
						c->file, key_line(j, "output"), j->name, out,
						sb_str(&dir));
				errors++;
				break;
			}
		}
	}
	sb_release(&dir);
	return errors;
}

int cmd_check(struct cli *c)
{
	struct graph g;
	int rc = cli_load(c, &g);
	if (!rc) {
		size_t errors = missing_inputs(c, &g) + blocked_outputs(c, &g);
		if (errors) {
			error("%zu error%s in '%s'", errors, errors == 1 ? "" : "s", c->file);
			rc = EXIT_USAGE;
		}
	}
	if (!rc && !c->quiet)
		printf("%s: %zu job%s from %zu section%s, no errors\n", c->file, g.jobs.n,
		       g.jobs.n == 1 ? "" : "s", g.sections.n, g.sections.n == 1 ? "" : "s");
	graph_release(&g);
	return rc;
}
