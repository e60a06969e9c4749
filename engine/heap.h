/* heap.h - a min-heap of jobs by file position.
 *
 * Jobs come out by job->index, their place in the graph file; indices are
 * unique, so there are no ties and the order out is exactly file order.
 * That is what makes ready jobs start, and a dry run list them, in the
 * order they are written.
 *
 * The heap holds pointers to jobs it does not own. A zeroed struct is an
 * empty heap; job_heap_release() frees its array, not the jobs.
 */
#ifndef JUGGLE_HEAP_H
#define JUGGLE_HEAP_H

#include <stddef.h>

struct job;

struct job_heap {
	struct job **v;
	size_t n, cap;
};

/* Adds j. */
void job_heap_push(struct job_heap *h, struct job *j);
/* Takes out the job first in file order, or returns NULL when h is empty. */
struct job *job_heap_pop(struct job_heap *h);
/* Frees the array; h is then an empty heap again. */
void job_heap_release(struct job_heap *h);

#endif
