/* glob.h - file name patterns with '**', as foreach and input use them.
 *
 * '*', '?' and '[...]' match within one path component (fnmatch), '**' as
 * a whole component matches any number of folders, including none. Names
 * starting with '.' are matched only by a pattern component that starts
 * with '.', so .juggle/ and .git/ stay out of '**'.
 */
#ifndef JUGGLE_GLOB_H
#define JUGGLE_GLOB_H

#include "engine/util.h"

/* Whether s contains *, ? or [. */
bool glob_has_magic(const char *s);
/* Whether a normalised relative path matches the pattern. */
bool glob_match(const char *pattern, const char *path);
/* Length of the leading components of pattern without magic, including
 * their '/' (e.g. "docs/" for docs/(**)/(*).xml). */
size_t glob_prefix_len(const char *pattern);
/* The most folder entries one glob_disk() reads before giving up. */
#define GLOB_MAX_ENTRIES 10000000

/* Adds to out the regular files on disk that match pattern (paths in the
 * pattern's form: relative stays relative). Returns 0, or -1 with err. */
int glob_disk(const char *pattern, struct strvec *out, struct strbuf *err);

#endif
