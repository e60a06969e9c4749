/* jobserver.h - GNU make's jobserver, both ways.
 *
 * A jobserver is a pipe (or a named FIFO) holding one byte, a token, for
 * each job beyond the first that may run at once; whoever wants to run
 * another job reads a token and writes it back when the job ends. Make
 * names its jobserver in MAKEFLAGS: "--jobserver-auth=R,W" (pipe fds,
 * make 4.2 and later; "--jobserver-fds=R,W" before), or
 * "--jobserver-auth=fifo:PATH" (make 4.4 and later).
 *
 * Client: under `make -jN`, juggle takes a token from make's jobserver for
 * each job beyond its first. Server: otherwise it holds a pipe of its own
 * with -j minus one tokens, and takes its own jobs' tokens from it. Either
 * way, the command jobs it spawns get the jobserver in MAKEFLAGS (and its
 * fds as 3 and 4), so a `make`, or cargo, they run shares the same -j.
 *
 * One jobserver per process, as one set of signal pipes (engine/sig.h).
 * Only the thread that runs the scheduler calls these, except
 * jobserver_child_fds(), which any thread or forked worker may call.
 */
#ifndef JUGGLE_JOBSERVER_H
#define JUGGLE_JOBSERVER_H

#include <stdbool.h>

#include "engine/util.h"

/* Notes whether MAKEFLAGS names a jobserver and whether its fds are
 * open. Called first thing in main(), before juggle opens a file: make
 * closes the fds for a recipe line it does not know runs a make (no '+',
 * no $(MAKE)), and a number juggle opened later must not pass for them. */
void jobserver_probe(void);

enum jobserver_mode { JOBSERVER_NONE, JOBSERVER_CLIENT, JOBSERVER_SERVER };

/* Starts the jobserver for a run of at most *jobs jobs at once.
 * client: -j was not given, so make's jobserver, when MAKEFLAGS names one,
 * decides (*jobs becomes make's -j, or 1 when its jobserver cannot be
 * used, with a warning in warn as make gives it). Otherwise juggle serves
 * a jobserver of its own holding *jobs - 1 tokens. Sets MAKEFLAGS in
 * juggle's environment for the commands it spawns. Returns the mode, or
 * -1 with err when a pipe could not be made. */
int jobserver_start(int *jobs, bool client, struct strbuf *warn, struct strbuf *err);

/* Takes a token for one more job: 1 when taken, 0 when none is free now
 * (wait for jobserver_fd() to become readable and ask again). */
int jobserver_take(void);
/* Gives back tokens until at most keep are held. */
void jobserver_keep(int keep);
/* Tokens held now. */
int jobserver_held(void);
/* Readable when a token may be free; -1 when no jobserver runs. */
int jobserver_fd(void);

/* The fds a spawned command gets as 3 (read) and 4 (write); false when it
 * gets none. */
bool jobserver_child_fds(int *r, int *w);

/* Gives back every token held, restores MAKEFLAGS and closes the
 * jobserver. A server counts its tokens: when commands kept some, says how
 * many in warn. Safe to call when none runs. */
void jobserver_stop(struct strbuf *warn);

#endif
