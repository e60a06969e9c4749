/* shellcheck.h - where a command's placeholders may stand.
 *
 * juggle substitutes placeholders after splitting a command into words,
 * and with shell = yes inserts each value as one single-quoted word; both
 * keep a value inert only where no shell parses it again. This module
 * reads a command's quoting to find the places where one would.
 */
#ifndef JUGGLE_SHELLCHECK_H
#define JUGGLE_SHELLCHECK_H

#include <stdbool.h>

#include "engine/util.h"

/* Checks that the placeholders of a command stand where no shell reads
 * their values as code. With shell (shell = yes) they must be outside
 * quotes, `...`, ${...}, $((...)) and here-documents; with or without it,
 * not in the script of `sh -c` (any shell) or eval. Returns 0, or -1 with
 * what is wrong and the safe way to write it in err. */
int check_command_placeholders(const char *text, bool shell, struct strbuf *err);

#endif
