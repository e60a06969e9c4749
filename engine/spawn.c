/* spawn.c - see spawn.h. */
#define _GNU_SOURCE
#include "engine/spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "engine/attempt.h"
#include "engine/jobserver.h"
#include "engine/sig.h"

extern char **environ;

/* Taken shared while a program is being started, exclusively by
 * spawn_quiet_begin(); a waiting exclusive taker goes before new shared
 * ones, so a stream of spawns never keeps it out. */
static pthread_rwlock_t starting = PTHREAD_RWLOCK_WRITER_NONRECURSIVE_INITIALIZER_NP;
static pthread_once_t starting_once = PTHREAD_ONCE_INIT;

/* fork() waits for the starts under way, and the child does not inherit a
 * lock some other thread held. */
static void starting_prepare(void)
{
	pthread_rwlock_wrlock(&starting);
}

static void starting_after(void)
{
	pthread_rwlock_unlock(&starting);
}

static void starting_init(void)
{
	pthread_atfork(starting_prepare, starting_after, starting_after);
}

void spawn_quiet_begin(void)
{
	pthread_once(&starting_once, starting_init);
	pthread_rwlock_wrlock(&starting);
}

void spawn_quiet_end(void)
{
	pthread_rwlock_unlock(&starting);
}

/* Finds prog in the colon-separated path list; NULL if absent. */
static char *search_path(const char *prog, const char *path)
{
	if (strchr(prog, '/'))
		return xstrdup(prog);
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path;;) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		char *cand = n ? xasprintf("%.*s/%s", (int)n, p, prog) : xasprintf("./%s", prog);
		struct stat st;
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0)
			return cand;
		free(cand);
		if (!colon)
			return NULL;
		p = colon + 1;
	}
}

pid_t spawn_start(const struct spawn_opts *o, struct strbuf *err)
{
	const char *path = o->path ? o->path : getenv("PATH");
	char *prog = search_path(o->argv[0], path);
	if (!prog) {
		sb_addf(err, "'%s' not found in PATH", o->argv[0]);
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);

	if (o->stdio) {
		for (int i = 0; i < 3; i++)
			posix_spawn_file_actions_adddup2(&fa, o->stdio[i], i);
	} else {
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	}
	if (o->stdio) {
		/* done above */
	} else if (o->out_fd >= 0) {
		posix_spawn_file_actions_adddup2(&fa, o->out_fd, 1);
		posix_spawn_file_actions_adddup2(&fa, o->out_fd, 2);
	} else {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		posix_spawn_file_actions_adddup2(&fa, 1, 2);
	}
	/* The jobserver, if one runs, as 3 and 4, where MAKEFLAGS says. */
	int jr, jw;
	if (jobserver_child_fds(&jr, &jw)) {
		posix_spawn_file_actions_adddup2(&fa, jr, 3);
		posix_spawn_file_actions_adddup2(&fa, jw, 4);
		posix_spawn_file_actions_addclosefrom_np(&fa, 5);
	} else {
		posix_spawn_file_actions_addclosefrom_np(&fa, 3);
	}
	if (o->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, o->cwd);

	sigset_t none, defaults;
	sigemptyset(&none);
	sigemptyset(&defaults);
	int reset[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2};
	for (size_t i = 0; i < ARRAY_SIZE(reset); i++)
		sigaddset(&defaults, reset[i]);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
						POSIX_SPAWN_SETSIGDEF);

	pid_t pid;
	pthread_once(&starting_once, starting_init);
	pthread_rwlock_rdlock(&starting);
	/* With CLONE_VFORK, this returns once the child has executed (or
	 * failed to): its copies of juggle's descriptors are gone by then. */
	int rc = posix_spawn(&pid, prog, &fa, &attr, o->argv, o->envp ? o->envp : environ);
	pthread_rwlock_unlock(&starting);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		if (rc == ENOENT && o->cwd)
			sb_addf(err, "cannot run '%s' in '%s': %s", prog, o->cwd, strerror(rc));
		else
			sb_addf(err, "cannot run '%s': %s", prog, strerror(rc));
		free(prog);
		return -1;
	}
	free(prog);
	return pid;
}

void spawn_kill_group(pid_t pid, int sig)
{
	if (kill(-pid, sig) < 0 && errno == ESRCH)
		kill(pid, sig);
}

/* Whether the child has exited, without reaping it (wait4 does that, for
 * its rusage). */
static bool child_exited(pid_t pid)
{
	siginfo_t info;
	info.si_pid = 0;
	int r;
	while ((r = waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT)) < 0 &&
	       errno == EINTR) {
	}
	return r < 0 || info.si_pid == pid; /* an error: wait4 will say */
}

/* How often the child is looked at when there is no pidfd to poll. */
#define NO_PIDFD_STEP_S 0.02

/* Polls the child's pidfd together with fd_extra until timeout_s (< 0:
 * no limit). Without a pidfd (pidfd < 0: pidfd_open is ENOSYS before
 * Linux 5.3, and under valgrind 3.19) the child is looked at with waitid()
 * every NO_PIDFD_STEP_S instead. Returns 1 when the child exited, 2 when
 * fd_extra became readable, 0 on time out. */
static int poll_child(pid_t pid, int pidfd, int fd_extra, double timeout_s)
{
	double end = timeout_s < 0 ? -1 : mono_now() + timeout_s;
	for (;;) {
		double left = end < 0 ? -1 : end - mono_now();
		if (pidfd < 0) {
			if (child_exited(pid))
				return 1;
			if (end >= 0 && left <= 0)
				return 0;
			if (left < 0 || left > NO_PIDFD_STEP_S)
				left = NO_PIDFD_STEP_S;
		}
		struct pollfd p[2] = {{fd_extra, POLLIN, 0}, {pidfd, POLLIN, 0}};
		int ms = left < 0 ? -1 : (int)(left * 1000 + 1);
		int n = poll(p, pidfd >= 0 ? 2 : 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 0;
		if (pidfd >= 0 && p[1].revents)
			return 1;
		if (n > 0 && p[0].revents)
			return 2;
		if (pidfd >= 0 && n == 0)
			return 0;
	}
}

int spawn_wait(pid_t pid, double deadline, struct spawn_status *st)
{
	memset(st, 0, sizeof(*st));
	int pidfd = (int)pidfd_open(pid, 0);
	for (;;) {
		double left = deadline > 0 ? deadline - mono_now() : -1;
		if (deadline > 0 && left <= 0) {
			st->timed_out = true;
			break;
		}
		int r = poll_child(pid, pidfd, sig_cancel_fd(), left);
		if (r == 1)
			break;
		if (r == 2) {
			st->cancelled = true;
			break;
		}
	}
	if (st->timed_out || st->cancelled) {
		spawn_kill_group(pid, SIGTERM);
		double until = mono_now() + KILL_GRACE_S;
		int r = 0;
		while (!kill_requested()) {
			double left = until - mono_now();
			r = poll_child(pid, pidfd, sig_kill_fd(), left > 0 ? left : 0);
			if (r != 2)
				break;
		}
		if (r != 1)
			spawn_kill_group(pid, SIGKILL);
	}
	if (pidfd >= 0)
		close(pidfd);
	for (;;) {
		pid_t w = wait4(pid, &st->status, 0, &st->ru);
		if (w == pid)
			break;
		if (w < 0 && errno == EINTR)
			continue;
		return -1;
	}
	/* Whatever the program left running in its group goes with it. */
	if (st->timed_out || st->cancelled)
		spawn_kill_group(pid, SIGKILL);
	return 0;
}

const char *signal_name(int sig, char buf[16])
{
	const char *abbrev = sigabbrev_np(sig);
	if (abbrev)
		snprintf(buf, 16, "SIG%s", abbrev);
	else
		snprintf(buf, 16, "signal %d", sig);
	return buf;
}

void describe_status(int status, struct strbuf *out)
{
	char buf[16];
	if (WIFEXITED(status))
		sb_addf(out, "exited with status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		sb_addf(out, "killed by %s", signal_name(WTERMSIG(status), buf));
	else
		sb_addf(out, "ended with wait status %#x", status);
}
