/* predict.h - see predict.c. */
#ifndef JUGGLE_PREDICT_H
#define JUGGLE_PREDICT_H

#include "../engine/graph.h"
#include "../engine/state.h"

/* Sets run.reason (NULL: up to date) of every wanted job. */
void predict(struct graph *g, struct state *st, bool always_make);

#endif
