/* heap.c - a heap of ready jobs (heap.h). */
#include "engine/heap.h"

#include <stdlib.h>

#include "engine/graph.h"
#include "engine/util.h"

/* Whether a comes out before b. */
static bool before(const struct job_heap *h, const struct job *a, const struct job *b)
{
	if (h->prio) {
		double pa = h->prio[a->index], pb = h->prio[b->index];
		if (pa != pb)
			return pa > pb;
	}
	return a->index < b->index;
}

void job_heap_push(struct job_heap *h, struct job *j)
{
	VEC_GROW(h, 1);
	size_t i = h->n++;
	h->v[i] = j;
	while (i && before(h, h->v[i], h->v[(i - 1) / 2])) {
		struct job *t = h->v[i];
		h->v[i] = h->v[(i - 1) / 2];
		h->v[(i - 1) / 2] = t;
		i = (i - 1) / 2;
	}
}

struct job *job_heap_pop(struct job_heap *h)
{
	if (!h->n)
		return NULL;
	struct job *top = h->v[0];
	h->v[0] = h->v[--h->n];
	for (size_t i = 0;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < h->n && before(h, h->v[l], h->v[m]))
			m = l;
		if (r < h->n && before(h, h->v[r], h->v[m]))
			m = r;
		if (m == i)
			break;
		struct job *t = h->v[i];
		h->v[i] = h->v[m];
		h->v[m] = t;
		i = m;
	}
	return top;
}

void job_heap_release(struct job_heap *h)
{
	free(h->v);
	h->v = NULL;
	h->n = h->cap = 0;
}
