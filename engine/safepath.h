/* safepath.h - reaching outputs without leaving the graph's folder.
 *
 * Outputs are relative paths under the graph's folder, which is the
 * current directory of juggle and of its workers. Every write and every
 * removal of an output by juggle itself goes through here, so the rule is
 * written once:
 *
 * 1. The output's folder is opened once, one component at a time with
 *    O_NOFOLLOW from the graph's folder; missing folders are made with
 *    mkdirat() inside folders already opened, so nothing is created
 *    outside.
 * 2. A component that is a symbolic link is followed only when the folder
 *    it leads to lies inside the graph's folder, checked on the opened
 *    descriptor itself (walking up through ".."), not on a path that
 *    could change afterwards.
 * 3. The file is then created, renamed or removed relative to that
 *    folder's descriptor, so a folder swapped for a symbolic link during
 *    the run cannot carry the write elsewhere.
 */
#ifndef JUGGLE_SAFEPATH_H
#define JUGGLE_SAFEPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/graph.h"

/* Opens the folder holding output path and sets *base to path's last
 * component. With create, missing folders are made (mode 0777 less the
 * umask). Returns a descriptor (O_DIRECTORY, close-on-exec), or -1 with
 * errno: EXDEV when a symbolic link leads outside the graph's folder,
 * ENOENT when a folder is missing and !create, others from the system. */
int out_dir_open(const char *path, bool create, const char **base);

/* What to say for out_dir_open()'s errno e. */
const char *out_dir_strerror(int e);

/* Whether the folders of path that exist lead outside the graph's folder
 * through a symbolic link. For the load-time check; folders still missing
 * will be made inside. */
bool out_dir_leaves(const char *path);

struct out_stamp;
/* Prepares output path for a job about to start: makes its folder,
 * removes a symbolic link standing at its name (the link, never what it
 * points to) and fills *before with what is left there. Returns 0, or -1
 * with errno as out_dir_open(). */
int out_prepare(const char *path, struct out_stamp *before);

/* Whether output path, as the job left it, is a symbolic link leading
 * outside the graph's folder (or one that cannot be resolved from it). */
bool out_link_leaves(const char *path);

/* An output being written through a temporary file beside it. */
struct out_file {
	int dir;          /* the output's folder, -1 when none */
	const char *base; /* the output's name in dir (points into the path) */
	char *tmp;        /* the temporary file's name in dir, NULL when none */
	int fd;           /* the temporary file, open for writing, -1 when none */
};
/* Opens the folder of path (making it) and a new temporary file there,
 * created exclusively under an unpredictable name. Returns 0, or -1 with
 * errno (f is then empty and needs no abort). */
int out_file_begin(struct out_file *f, const char *path);
/* Closes the temporary file and renames it over the output; 0 or -1 with
 * errno. Either way f is released. */
int out_file_commit(struct out_file *f);
/* Closes and removes the temporary file and releases f; harmless on an
 * empty f. */
void out_file_abort(struct out_file *f);
/* Writes data as output path through out_file_*; 0 or -1 with errno. */
int out_write(const char *path, const void *data, size_t len);

/* Removes output path, relative to its folder opened as above: a path
 * whose folder leads outside is left alone (EXDEV). Returns 0, or -1 with
 * errno as unlink() (ENOENT: it was not there) or out_dir_open(). */
int out_unlink(const char *path);

/* What an output was before an attempt, to tell whether the attempt
 * created or changed it (make's .DELETE_ON_ERROR, limited to what the
 * attempt touched). */
struct out_stamp {
	bool exists;
	dev_t dev;
	ino_t ino;
	int64_t mtime_ns, ctime_ns, size;
	mode_t mode;
};
/* Stamps of the job's outputs, one per output, as they are now; the
 * caller frees the array. Kinds that write atomically too: a worker in
 * another process can rename a finished output into place and die
 * before its result arrives, and that job is then failed like any other. */
struct out_stamp *out_stamps_take(const struct job *job);
/* Removes each of the job's outputs that exists and differs from its
 * stamp in before (created or changed since); with before NULL, removes
 * none. A kind that writes atomically changes nothing when it fails in
 * this process, so there this removes nothing. */
void out_discard_changed(const struct job *job, const struct out_stamp *before);

/* Removes the temporary files of the graph's outputs that a killed run
 * left behind: regular files of ours named after a declared output
 * (".NAME.juggle-tmp-" and 16 hex digits) in the outputs' folders, and
 * the staging folders of folder outputs (engine/outtree.h). Call it
 * holding the state lock, before any job starts; never in a dry run. */
void out_sweep_temps(const struct graph *g);
/* Removes the temporary files of job's outputs alone: for a job whose
 * process died mid-write, when nothing else can be writing them. */
void out_sweep_job_temps(const struct job *job);

#endif
