/* lock.h - one run per graph folder at a time. */
#ifndef JUGGLE_LOCK_H
#define JUGGLE_LOCK_H

#include "engine/util.h"

/* Takes an exclusive flock on path (creating it) and writes our pid into
 * it. Returns the fd (kept open, close-on-exec, for the whole run); -1 with
 * err when another process holds it (*holder gets its pid, or 0 when
 * unknown) or the file cannot be created (*holder = -1). The kernel drops
 * the lock when the process dies, so a crashed run never blocks the next. */
int lock_acquire(const char *path, long *holder, struct strbuf *err);

#endif
