/* uptodate.h - the make-like rules: whether a job must run, and why.
 *
 * A job is out of date when -B or always = yes says so, it never
 * succeeded, its definition changed, an output or an input differs from
 * what the state log remembers, a dependency changed something since it
 * last ran, or its kind says so (a download asks the server).
 */
#ifndef JUGGLE_UPTODATE_H
#define JUGGLE_UPTODATE_H

#include <stdbool.h>

#include "engine/graph.h"
#include "engine/state.h"

/* Why job would run now, or NULL when it is up to date. The caller frees
 * the string. Used by the scheduler, list and explain. */
char *job_out_of_date(const struct job *job, struct state *st, bool always_make);
/* The same before a run, for a prediction: dependencies for which
 * pending(dep, ctx) is true have not run yet, so neither they nor the inputs they
 * make are a reason (whether they change anything is known only then). */
char *job_out_of_date_before(const struct job *job, struct state *st, bool always_make,
			     bool (*pending)(const struct job *dep, void *ctx), void *ctx);

#endif
