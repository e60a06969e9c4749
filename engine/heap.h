/* heap.h - a heap of ready jobs: by priority, then by file position.
 *
 * Without priorities (prio NULL, as in a zeroed struct) jobs come out by
 * job->index, their place in the graph file; indices are unique, so there
 * are no ties and the order out is exactly file order. That is what makes
 * a dry run list jobs, and a run under --order file start them, in the
 * order they are written. With priorities, the job whose prio[index] is
 * highest comes out first, and equal priorities come out in file order,
 * so the order out is still fully determined (engine/priority.h).
 *
 * The heap holds pointers to jobs it does not own, and reads prio without
 * owning it. A zeroed struct is an empty heap; job_heap_release() frees
 * its array, not the jobs, and keeps prio.
 */
#ifndef JUGGLE_HEAP_H
#define JUGGLE_HEAP_H

#include <stddef.h>
#include <stdint.h>

struct job;

/* An entry carries its keys, so ordering reads no job: a heap of 100,000
 * ready jobs is sifted without a cache miss per comparison. */
struct job_heap_entry {
	double prio;
	uint32_t index;
	struct job *job;
};

struct job_heap {
	struct job_heap_entry *v;
	size_t n, cap;
	const double *prio; /* by job index, higher first; NULL: file order.
			     * Set only while the heap is empty. */
};

/* Adds j. */
void job_heap_push(struct job_heap *h, struct job *j);
/* Takes out the job first in order, or returns NULL when h is empty. */
struct job *job_heap_pop(struct job_heap *h);
/* Frees the array; h is then an empty heap again. */
void job_heap_release(struct job_heap *h);

#endif
