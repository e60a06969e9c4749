/* lock.c - see lock.h. */
#define _GNU_SOURCE
#include "engine/lock.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* Whether a process with this pid exists (EPERM: it does, as someone else). */
static bool pid_alive(long pid)
{
	return pid > 0 && pid <= INT32_MAX && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

int lock_acquire(const char *path, long *holder, struct strbuf *err)
{
	/* 0600: a lock others can open, they can flock too, and block every
	 * run. O_NOFOLLOW: a link planted here must not get our pid written
	 * into its target. */
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0600);
	struct stat sb;
	if (fd >= 0 && fstat(fd, &sb) == 0 && (!S_ISREG(sb.st_mode) || sb.st_uid != geteuid())) {
		close(fd);
		fd = -1;
		errno = S_ISREG(sb.st_mode) ? EPERM : EINVAL;
	}
	if (fd < 0) {
		*holder = -1;
		if (errno == ELOOP || errno == EINVAL || errno == EPERM)
			sb_addf(err, "lock '%s' is not a file of yours (a symbolic link, another "
				     "kind of file or another user's); remove it and run again",
				path);
		else
			sb_addf(err, "cannot create lock '%s': %s", path, strerror(errno));
		return -1;
	}
	/* A lock left by an older juggle was created readable by all. */
	if ((sb.st_mode & 077) && fchmod(fd, 0600) < 0) {
		/* Ours, so this does not fail; the lock holds either way. */
	}
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK) {
			*holder = -1;
			sb_addf(err, "cannot lock '%s': %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		char buf[32] = {0};
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		*holder = n > 0 ? strtol(buf, NULL, 10) : 0;
		/* The pid left by a run that has ended is not who holds it now. */
		if (!pid_alive(*holder))
			*holder = 0;
		if (*holder > 0)
			sb_addf(err, "another juggle run (pid %ld) holds '%s'", *holder, path);
		else
			sb_addf(err, "another juggle run holds '%s'", path);
		close(fd);
		return -1;
	}
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)n, 0) < 0) {
		/* The pid is a courtesy for the message above; the lock holds. */
	}
	return fd;
}
