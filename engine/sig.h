/* sig.h - SIGINT/SIGTERM as file descriptors and flags.
 *
 * The handlers only bump a counter and write a byte to a self-pipe, as in
 * samurai: everything else happens in ordinary code that polls the fds or
 * checks the flags. The first signal asks for an orderly stop (cancel); the
 * second for an immediate one (kill).
 */
#ifndef JUGGLE_SIG_H
#define JUGGLE_SIG_H

#include <stdbool.h>

/* Installs the handlers, ignores SIGPIPE. 0 or -1. */
int sig_install(void);
/* Creates fresh pipes in a forked child, so its signals stay its own. */
int sig_reinit(void);
/* Readable from the first signal (or cancel_request()) on. */
int sig_cancel_fd(void);
/* Readable from the second signal on. */
int sig_kill_fd(void);
/* Whether a stop was asked for; safe from any thread. */
bool cancel_requested(void);
/* Whether an immediate stop was asked for (second signal). */
bool kill_requested(void);
/* The first signal received, or 0. */
int sig_received(void);
/* Asks for an orderly stop as if a signal had come (sig 0: no signal). */
void cancel_request(int sig);

#endif
