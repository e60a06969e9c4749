/* predict.h - see predict.c. */
#ifndef JUGGLE_PREDICT_H
#define JUGGLE_PREDICT_H

#include "engine/graph.h"
#include "engine/state.h"

/* What a run would do with one job, as far as can be known before it. */
enum verdict {
	V_UP_TO_DATE,    /* will not run */
	V_RUNS,          /* will run, for run.reason */
	V_MAY,           /* the run decides (a download's refresh check): run.reason */
	V_IF_CHANGED,    /* runs only if dep changes its outputs, known only then */
	V_FAILS,         /* will fail: run.reason (an input no job makes is missing) */
	V_BLOCKED,       /* will not run: dep will fail */
	V_NOT_TRIGGERED, /* when = any_failed, and nothing upstream will run */
	V_EXPANDS,       /* a foreach over dep's output: its items are known once
	                  * dep ended (struct section.deferred) */
};

struct prediction {
	enum verdict v;
	const struct job *dep; /* for V_IF_CHANGED and V_BLOCKED */
	/* when = all_done or any_failed: a job upstream that would fail, or
	 * NULL; and whether any upstream runs (and so might fail). */
	const struct job *fails_upstream;
	bool runs_upstream;
};

/* Predicts every wanted job, setting its run.reason (NULL when there is
 * none to give). Returns an array indexed by job index; the caller frees
 * it. */
struct prediction *predict(struct graph *g, struct state *st, bool always_make);

/* The verdict in words, for list and explain: "would run: REASON",
 * "runs if 'DEP' changes its outputs", "up to date", ... Caller frees. */
char *prediction_text(const struct job *j, const struct prediction *p);

#endif
