/* spawn.h - starting and waiting for external programs, never via a shell.
 *
 * Each program runs in its own process group, so a timeout or an interrupt
 * reaches everything it started (kill(-pgid)), and the terminal's ^C
 * reaches juggle first, which then decides (as ninja does).
 */
#ifndef JUGGLE_SPAWN_H
#define JUGGLE_SPAWN_H

#include <stdbool.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "engine/util.h"

struct spawn_opts {
	char *const *argv;  /* argv[0] is looked up in PATH unless it has a '/' */
	char *const *envp;  /* NULL: juggle's own environment */
	const char *cwd;    /* NULL: juggle's */
	int out_fd;         /* stdout and stderr; -1: /dev/null */
	const char *path;   /* PATH to search argv[0] in; NULL: juggle's */
	const int *stdio;   /* NULL: as above; else the fds that become the
			     * child's 0, 1 and 2 (out_fd is then unused) */
};

/* Starts the program. Returns its pid (also its process group id), or -1
 * with err saying why (e.g. "'javaa' not found in PATH"). */
pid_t spawn_start(const struct spawn_opts *o, struct strbuf *err);

/* Between its clone and its exec, a program being started holds a copy of
 * every descriptor juggle has open, so a file another thread just closed
 * is still open in it (for a hundred microseconds or so). While between
 * spawn_quiet_begin() and spawn_quiet_end(), no program is being started
 * by any thread: what is open then is open for real (the spare logs'
 * write-lease check in attempt.c relies on it). Held briefly; fork()
 * waits for it too. */
void spawn_quiet_begin(void);
void spawn_quiet_end(void);

struct spawn_status {
	int status;        /* as from waitpid */
	struct rusage ru;  /* of the child and the children it waited for */
	bool timed_out;    /* the deadline passed and we killed it */
	bool cancelled;    /* a stop was requested and we killed it */
};

/* Waits for pid to exit. When the monotonic deadline (0: none) passes or a
 * stop is requested, sends SIGTERM to its process group and, after
 * KILL_GRACE_S or at a second signal, SIGKILL. Always reaps the child.
 * Returns 0, or -1 if the child could not be waited for. */
int spawn_wait(pid_t pid, double deadline, struct spawn_status *st);

/* Sends sig to the whole process group of a spawned program. */
void spawn_kill_group(pid_t pid, int sig);

/* Describes a wait status: "exited with status 3", "killed by SIGKILL"
 * (signals are named as signal_name() names them, everywhere). */
void describe_status(int status, struct strbuf *out);

/* "SIGKILL" for 9, "signal 99" for an unknown one. */
const char *signal_name(int sig, char buf[16]);

#endif
