/* owndir.c - see owndir.h.
 *
 * A symbolic link at .juggle, .juggle/logs or .juggle/results would send
 * every log, result and state write of the next run to wherever it leads;
 * one owned by another user lets that user plant such links. Both are
 * refused before anything is written there.
 */
#define _GNU_SOURCE
#include "engine/owndir.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int check_dir(const char *dir, enum own_use use, struct strbuf *err)
{
	bool create = use == OWN_CREATE;
	struct stat sb;
	if (lstat(dir, &sb) < 0) {
		if (errno != ENOENT || !create) {
			if (errno == ENOENT)
				return 1;
			sb_addf(err, "cannot use '%s': %s", dir, strerror(errno));
			return -1;
		}
		if (mkdir(dir, 0777) < 0 && errno != EEXIST) {
			sb_addf(err, "cannot create '%s': %s", dir, strerror(errno));
			return -1;
		}
		if (lstat(dir, &sb) < 0) {
			sb_addf(err, "cannot use '%s': %s", dir, strerror(errno));
			return -1;
		}
	}
	if (S_ISLNK(sb.st_mode)) {
		sb_addf(err, "'%s' is a symbolic link, not juggle's own folder; remove it "
			     "(juggle creates it again) and run again", dir);
		return -1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		sb_addf(err, "'%s' is not a folder; remove it (juggle creates it again) "
			     "and run again", dir);
		return -1;
	}
	if (use != OWN_READ && sb.st_uid != geteuid()) {
		sb_addf(err, "'%s' belongs to user %ld, not to you (%ld); run juggle as that "
			     "user, or remove the folder and run again",
			dir, (long)sb.st_uid, (long)geteuid());
		return -1;
	}
	return 0;
}

int own_dir_prepare(const char *dir, enum own_use use, struct strbuf *err)
{
	int rc = check_dir(dir, use, err);
	if (rc != 0)
		return rc;
	static const char *const sub[] = {"logs", "results", "trees"};
	for (size_t i = 0; i < ARRAY_SIZE(sub) && rc == 0; i++) {
		char *path = xasprintf("%s/%s", dir, sub[i]);
		rc = check_dir(path, use, err);
		free(path);
		if (rc == 1)
			rc = 0; /* made when first needed */
	}
	return rc;
}

int own_file_open(const char *path, int flags, mode_t mode)
{
	int fd = open(path, flags | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, mode);
	if (fd < 0)
		return -1;
	struct stat sb;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		errno = EINVAL;
		return -1;
	}
	/* Jobs inherit a log as their output: leave it an ordinary one. */
	int fl = fcntl(fd, F_GETFL);
	if (fl >= 0)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	return fd;
}

char *own_file_read(const char *path, size_t *len)
{
	return read_fd_close(own_file_open(path, O_RDONLY, 0), len);
}
