/* link.c - the edges between jobs (after-jobs and the producers of
 * inputs), and cycle detection. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/graph.h"
#include "engine/load/load-internal.h"

struct depvec {
	struct job **v;
	size_t n, cap;
};

static void add_dep(struct depvec *deps, struct job *dep)
{
	for (size_t i = 0; i < deps->n; i++)
		if (deps->v[i] == dep)
			return;
	VEC_PUSH(deps, dep);
}

/* Which of p's folder outputs holds path. */
static const char *tree_holding(const struct job *p, const char *path)
{
	for (uint32_t i = 0; i < p->n_outputs; i++)
		if (job_output_is_dir(p, i) && path_inside(path, p->outputs[i]))
			return p->outputs[i];
	return "";
}

/* The list of a job without dependencies (or dependents), shared: never
 * written, as its count is 0. */
static struct job *no_jobs[1];

void link_deps(struct loader *L)
{
	struct graph *g = L->g;
	struct depvec deps = {0};
	const char **names = xmalloc(sizeof(*names) * (g->sections.n + 1));
	for (size_t i = 0; i < g->sections.n; i++)
		names[i] = g->sections.v[i]->name;
	for (size_t j = 0; j < g->jobs.n; j++) {
		struct job *job = g->jobs.v[j];
		deps.n = 0;
		const struct kv *after = section_key(job->sec, "after");
		struct strvec words = {0};
		if (job->members)
			for (uint32_t m = 0; m < job->n_members; m++)
				instance_words(L, job->members[m], after, &words);
		else
			instance_words(L, job, after, &words);
		for (size_t k = 0; k < words.n; k++) {
			const char *w = words.v[k];
			struct section *sec = strmap_get(&g->section_by_name, w);
			struct job *one = graph_job(g, w);
			if (sec) {
				for (size_t m = 0; m < sec->n_jobs; m++)
					add_dep(&deps, g->jobs.v[sec->first_job + m]);
			} else if (one) {
				add_dep(&deps, one);
			} else {
				const char *near = closest_word(w, names, g->sections.n);
				if (near)
					jerr(L, after->line, job->name,
					     "after: no job is called '%s' (did you mean '%s'?)", w,
					     near);
				else
					jerr(L, after->line, job->name, "after: no job is called '%s'",
					     w);
			}
		}
		strvec_release(&words);
		/* The items of a foreach over another job's output are known
		 * once that job ended: it comes first, but is not an input, so
		 * a changed list reruns only its new items. */
		struct job *maker = job->sec->dyn_source && !job->sec->deferred
		                        ? strmap_get(&g->producer, job->sec->dyn_source)
		                        : NULL;
		if (maker)
			add_dep(&deps, maker);
		for (uint32_t k = 0; k < job->n_inputs; k++) {
			struct job *p = strmap_get(&g->producer, job->inputs[k]);
			if (!p && L->tree_outputs)
				p = graph_tree_producer(g, job->inputs[k]);
			if (p == job) {
				const struct kv *in = section_key(job->sec, "input");
				jerr(L, in ? in->line : job->sec->line, job->name,
				     "input '%s' is also its own output", job->inputs[k]);
			} else if (p) {
				add_dep(&deps, p);
			}
		}
		for (uint32_t k = 0; L->tree_outputs && k < job->n_outputs; k++) {
			/* The tree's commit would replace what another job wrote
			 * there. */
			struct job *p = graph_tree_producer(g, job->outputs[k]);
			if (p)
				jerr(L, section_key(job->sec, "output")->line, job->name,
				     "output '%s' is inside the folder output '%s/' of job '%s'; "
				     "a folder output holds only what its own job writes",
				     job->outputs[k], tree_holding(p, job->outputs[k]), p->name);
		}
		for (size_t k = 0; k < deps.n; k++) {
			if (deps.v[k] == job) {
				jerr(L, after->line, job->name, "after: a job cannot wait for itself");
				deps.v[k--] = deps.v[--deps.n];
			}
		}
		job->n_deps = (uint32_t)deps.n;
		job->deps = deps.n ? arena_alloc(&g->arena, sizeof(*job->deps) * deps.n) : no_jobs;
		if (deps.n)
			memcpy(job->deps, deps.v, sizeof(*job->deps) * deps.n);
		for (size_t k = 0; k < deps.n; k++)
			deps.v[k]->n_rdeps++;
	}
	for (size_t j = 0; j < g->jobs.n; j++) {
		struct job *job = g->jobs.v[j];
		job->rdeps = job->n_rdeps ? arena_alloc(&g->arena, sizeof(*job->rdeps) * job->n_rdeps)
					  : no_jobs;
		job->n_rdeps = 0;
	}
	for (size_t j = 0; j < g->jobs.n; j++) {
		struct job *job = g->jobs.v[j];
		for (uint32_t k = 0; k < job->n_deps; k++) {
			struct job *d = job->deps[k];
			d->rdeps[d->n_rdeps++] = job;
		}
	}
	free(deps.v);
	free(names);
}

/* Finds a cycle by depth-first search without recursion (graphs of 100,000
 * jobs would overflow the stack); reports the jobs on it. */
void find_cycles(struct loader *L)
{
	struct graph *g = L->g;
	size_t n = g->jobs.n;
	unsigned char *color = xcalloc(n + 1, 1); /* 0 new, 1 on stack, 2 done */
	uint32_t *edge = xcalloc(n + 1, sizeof(*edge));
	struct job **stack = xmalloc(sizeof(*stack) * (n + 1));
	for (size_t s = 0; s < n; s++) {
		if (color[s])
			continue;
		size_t top = 0;
		stack[top++] = g->jobs.v[s];
		color[s] = 1;
		while (top) {
			struct job *j = stack[top - 1];
			if (edge[j->index] == j->n_deps) {
				color[j->index] = 2;
				top--;
				continue;
			}
			struct job *d = j->deps[edge[j->index]++];
			if (color[d->index] == 0) {
				color[d->index] = 1;
				stack[top++] = d;
			} else if (color[d->index] == 1) {
				struct strbuf sb = {0};
				size_t from = top;
				while (from > 0 && stack[from - 1] != d)
					from--;
				for (size_t k = from - 1; k < top; k++)
					sb_addf(&sb, "%s -> ", stack[k]->name);
				sb_adds(&sb, d->name);
				diag_add(L->d, L->file, d->sec->line, "dependency cycle: %s",
					 sb_str(&sb));
				sb_release(&sb);
				goto out;
			}
		}
	}
out:
	free(color);
	free(edge);
	free(stack);
}
