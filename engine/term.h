/* term.h - text from untrusted places made safe to print on a terminal.
 *
 * File names, URLs, job names built from them, error messages that quote
 * them and the logs of jobs can hold bytes a terminal obeys: ESC and the
 * C1 controls (as raw bytes 0x80-0x9f, or as UTF-8 code points U+0080 to
 * U+009F) start sequences that move the cursor, retitle the window or
 * write to the clipboard; a newline or carriage return forges a line of
 * juggle's own; bidirectional overrides reorder what is shown. Everything
 * juggle prints on a terminal that it did not write itself goes through
 * term_escape(), which shows such bytes as visible escapes and keeps valid,
 * printable UTF-8 as it is.
 */
#ifndef JUGGLE_TERM_H
#define JUGGLE_TERM_H

#include <stdio.h>

#include "engine/util.h"

enum term_flags {
	/* Text of several lines (a log): a newline and a tab are kept, and a
	 * carriage return keeps what follows it on its line, as a terminal
	 * shows it. Without it the text is one line: every control shows. */
	TERM_LINES = 1 << 0,
};

/* Appends the n bytes at s to out with every C0 control, DEL, C1 control,
 * bidirectional control and invalid UTF-8 byte shown as an escape: \n, \t,
 * \r, \xHH for other bytes, \u{HHHH} for code points. */
void term_escape(struct strbuf *out, const char *s, size_t n, unsigned flags);

/* term_escape() of one line into a new string the caller frees. */
char *term_clean(const char *s, size_t n);
/* term_escape() with TERM_LINES into a new string the caller frees. */
char *term_clean_lines(const char *s, size_t n);
/* Prints s (NUL-terminated, may be NULL: nothing) escaped as one line. */
void term_fputs(const char *s, FILE *f);
/* The same with TERM_LINES, for messages of several lines. */
void term_fputs_lines(const char *s, FILE *f);

#endif
