/* owndir.h - juggle's own folder (.juggle) and the folders in it. */
#ifndef JUGGLE_OWNDIR_H
#define JUGGLE_OWNDIR_H

#include <stdbool.h>

#include "engine/util.h"

/* What the caller does with the folder. */
enum own_use {
	OWN_READ,   /* reads it (explain, -n): a real folder, anyone's */
	OWN_WRITE,  /* writes in it if it is there: a real folder of this user */
	OWN_CREATE, /* the same, creating what is missing */
};

/* Makes sure dir and its logs/, results/ and trees/ folders are real folders (not
 * symbolic links) and, unless only read, owned by this user; with
 * OWN_CREATE it creates those that are missing. Every file juggle keeps
 * there is then opened with O_NOFOLLOW, so nothing planted in the folder
 * redirects a write. Returns 1 when dir does not exist (and is not to be
 * created), 0 when all is well, -1 with err (naming the path and what to
 * do) otherwise. */
int own_dir_prepare(const char *dir, enum own_use use, struct strbuf *err);

/* Opens one of juggle's own files (flags as for open(2), close-on-exec
 * added) without following a symbolic link at its name and without
 * blocking on a FIFO planted there: a regular file, or -1 with errno
 * (ELOOP for a link, EINVAL for another kind of file). */
int own_file_open(const char *path, int flags, mode_t mode);

/* Reads one of juggle's own files without following a symbolic link at its
 * name; NULL with errno (ELOOP for a link, EINVAL for what is not a regular
 * file). *len gets its size; the buffer is NUL-terminated. */
char *own_file_read(const char *path, size_t *len);

#endif
