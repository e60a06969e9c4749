/* lock.c - see lock.h. */
#define _GNU_SOURCE
#include "lock.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int lock_acquire(const char *path, long *holder, struct strbuf *err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0) {
		*holder = -1;
		sb_addf(err, "cannot create lock '%s': %s", path, strerror(errno));
		return -1;
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
