/* heap.c - a heap of ready jobs (heap.h). */
#include "engine/heap.h"

#include <stdlib.h>

#include "engine/graph.h"
#include "engine/util.h"

/* Whether a comes out before b. */
static bool before(const struct job_heap_entry *a, const struct job_heap_entry *b)
{
	if (a->prio != b->prio)
		return a->prio > b->prio;
	return a->index < b->index;
}

void job_heap_push(struct job_heap *h, struct job *j)
{
	VEC_GROW(h, 1);
	size_t i = h->n++;
	struct job_heap_entry e = {h->prio ? h->prio[j->index] : 0, j->index, j};
	while (i && before(&e, &h->v[(i - 1) / 2])) {
		h->v[i] = h->v[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	h->v[i] = e;
}

struct job *job_heap_pop(struct job_heap *h)
{
	if (!h->n)
		return NULL;
	struct job *top = h->v[0].job;
	struct job_heap_entry e = h->v[--h->n];
	size_t i = 0;
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = l;
		if (l >= h->n)
			break;
		if (r < h->n && before(&h->v[r], &h->v[l]))
			m = r;
		if (!before(&h->v[m], &e))
			break;
		h->v[i] = h->v[m];
		i = m;
	}
	if (h->n)
		h->v[i] = e;
	return top;
}

void job_heap_release(struct job_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
