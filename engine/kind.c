/* kind.c - the registry of job kinds (job_kinds[], defined in
 * jobs/kinds.c); see kind.h. */
#define _GNU_SOURCE
#include "engine/kind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/attempt.h"
#include "engine/expand.h"
#include "engine/graph.h"

const struct job_kind *kind_by_name(const char *name)
{
	for (size_t i = 0; job_kinds[i]; i++)
		if (strcmp(job_kinds[i]->name, name) == 0)
			return job_kinds[i];
	return NULL;
}

void kinds_init(void)
{
	static bool done;
	if (done)
		return;
	done = true;
	size_t n = 0;
	while (job_kinds[n])
		n++;
	if (n > KIND_SLOTS) {
		fprintf(stderr, "juggle: %zu job kinds, but KIND_SLOTS (engine/attempt.h) is %d\n",
			n, KIND_SLOTS);
		abort();
	}
}

void kinds_global_init(const struct graph *g)
{
	static bool done[KIND_SLOTS];
	for (size_t i = 0; i < g->sections.n; i++) {
		const struct job_kind *k = g->sections.v[i]->kind;
		int slot = kind_slot(k);
		if (k && k->global_init && !done[slot]) {
			done[slot] = true;
			k->global_init();
		}
	}
}

int kind_slot(const struct job_kind *kind)
{
	for (int i = 0; job_kinds[i] && i < KIND_SLOTS; i++)
		if (job_kinds[i] == kind)
			return i;
	return 0;
}

void job_program_release(struct job_program *p)
{
	free_words(p->argv);
	free_words(p->envp);
	free(p->cwd);
	memset(p, 0, sizeof(*p));
}
