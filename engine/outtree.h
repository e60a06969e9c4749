/* outtree.h - folder outputs: an output written with a trailing '/'
 * ("output = site/") is a whole tree the job makes (an unpacked archive, a
 * generated site), tracked as one output.
 *
 * The job never writes the folder itself: it writes a staging folder
 * beside it, ".NAME.juggle-tree" in the same folder, which {output} and
 * {outputs} name. Only when the attempt succeeds does the staging folder
 * replace the folder (one rename, or an exchange of the two and the old
 * tree removed); a failed attempt removes the staging folder and leaves
 * the previous tree as it was.
 *
 * juggle replaces or removes a folder only if it wrote it: each commit
 * records the folder's device and inode in .juggle/trees/, and a folder
 * that does not match its record is left alone (the job fails, clean
 * skips it). Everything goes through the folder's parent opened by
 * out_dir_open() (engine/safepath.h), and walking the tree never follows a
 * symbolic link, so a link inside the tree pointing elsewhere is signed,
 * moved and removed as a link.
 *
 * Functions return 0 or -1 with errno; none prints anything.
 */
#ifndef JUGGLE_OUTTREE_H
#define JUGGLE_OUTTREE_H

#include <stdbool.h>

#include "engine/filesig.h"

/* The staging folder of folder output path: "DIR/.NAME.juggle-tree" for
 * "DIR/NAME". The caller frees the string. */
char *tree_stage_path(const char *path);

/* The tree's signature: a SHA-256 (truncated to 128 bits) over the sorted
 * relative paths of everything in it, each with its type, and for a file
 * its size and modification time (ns), for a symbolic link its target
 * (never followed). sig->mtime_ns gets the newest modification time,
 * sig->size the bytes of its files; sig->path is left alone. Returns 0,
 * or -1 with errno (ENOENT: nothing there; ELOOP or ENOTDIR: not a real
 * folder), sig->mtime_ns then -1. */
int tree_sig_read(const char *path, struct file_sig *sig);

/* Before an attempt: makes the folder output's parent and an empty
 * staging folder (removing one a killed run left). Fails with EEXIST when
 * something juggle did not write stands at path, others as out_dir_open(). */
int tree_prepare(const char *path);

/* After a successful attempt: the staging folder replaces path (the old
 * tree, juggle's, is removed) and the new tree is recorded as juggle's.
 * ENOTDIR: the staging folder is not a real folder any more; EEXIST: what
 * stands at path is not juggle's. */
int tree_commit(const char *path);

/* After a failed attempt: removes the staging folder, nothing else. */
void tree_abort(const char *path);

/* Whether the folder at path is one juggle wrote (its record matches). */
bool tree_owned(const char *path);

/* Removes the folder at path and its record when juggle wrote it; EPERM
 * when it did not, ENOENT when nothing is there. */
int tree_remove(const char *path);

/* What to say for errno e of the functions above. */
const char *tree_strerror(int e);

#endif
