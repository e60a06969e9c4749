/* diag.h - error messages collected while loading a graph.
 *
 * Every message has the form "FILE:LINE: job 'NAME': what is wrong", the
 * file and job parts left out where they do not apply. Loading goes on after
 * an error so that one run reports many mistakes, as a compiler does.
 * Warnings are collected apart and never make a load fail.
 */
#ifndef JUGGLE_DIAG_H
#define JUGGLE_DIAG_H

#include "engine/util.h"

struct diag {
	VEC(char *) msgs; /* owned, in the order found */
	size_t limit;     /* stop collecting after this many; 0 = 50 */
	VEC(char *) warnings; /* owned: what is suspect but does not stop a run */
};

/* Adds "file:line: " (line 0 leaves it out) and the formatted message. */
void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...) PRINTF(4, 5);
void diag_vadd(struct diag *d, const char *file, int line, const char *fmt, va_list ap);
/* Adds a warning, in the form of an error; warnings are not counted. */
void diag_warn(struct diag *d, const char *file, int line, const char *fmt, ...) PRINTF(4, 5);
/* Number of errors so far. */
size_t diag_count(const struct diag *d);
void diag_release(struct diag *d);

#endif
