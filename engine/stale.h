/* stale.h - outputs juggle wrote for jobs the graph no longer has.
 *
 * The state log keeps the last success of every job it has seen, with the
 * signature of each output that success left. When a job or a foreach item
 * leaves the graph (an article deleted or renamed), what it wrote stays on
 * disk: stale. An output is stale when
 *   - the job that wrote it is not in the graph (a section still waiting
 *     to expand, a foreach over another job's output, has all its items:
 *     its list is not read yet);
 *   - no job of the graph declares that path now;
 *   - it is still there as juggle left it: a regular file with the
 *     recorded content, or a folder output juggle's record says it wrote.
 * A file changed since is the user's, and never stale. `juggle clean
 * --stale` and `stale = remove` remove them through stale_remove().
 *
 * Ownership: the array belongs to the caller (free()); its strings to the
 * state, valid until state_close(). No errors: an output that cannot be
 * looked at is not listed.
 */
#ifndef JUGGLE_STALE_H
#define JUGGLE_STALE_H

#include "engine/graph.h"
#include "engine/state.h"

struct stale {
	const char *path; /* the output, as recorded */
	const char *job;  /* the gone job that wrote it */
	bool tree;        /* a folder output */
};

/* The stale outputs, sorted by path; *n gets their count. */
struct stale *stale_find(const struct graph *g, struct state *st, size_t *n);

/* Removes one stale output, through safepath (a file) or outtree (a
 * folder output), so never through a link out of the graph's folder.
 * 0, or -1 with errno (ENOENT: it was gone already). */
int stale_remove(const struct stale *s);

/* Forgets the records of jobs gone from g that left nothing on disk (after
 * clean --stale, or outputs removed by hand), so the log stops carrying
 * them. Returns how many it forgot. */
size_t stale_forget_gone(const struct graph *g, struct state *st);

#endif
