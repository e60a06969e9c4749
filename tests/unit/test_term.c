/* test_term.c - unit tests of engine/term.c: what reaches a terminal
 * shows every control character. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "engine/term.h"

static void check_term(const char *in, size_t n, unsigned flags, const char *want)
{
	struct strbuf sb = {0};
	term_escape(&sb, in, n, flags);
	if (strcmp(sb_str(&sb), want) != 0)
		fail_msg("got '%s', want '%s'", sb_str(&sb), want);
	sb_release(&sb);
}

static void test_term_escape(void **state)
{
	(void)state;
	/* Printable UTF-8 stays; every control shows. */
	check_term("caf\xc3\xa9 \xe2\x82\xac ok", 12, 0, "caf\xc3\xa9 \xe2\x82\xac ok");
	check_term("a\x1b]0;t\x07\n\r\tz\x7f", 12, 0, "a\\x1b]0;t\\x07\\n\\r\\tz\\x7f");
	/* C1 as UTF-8 code points and as raw bytes; bidi overrides. */
	check_term("\xc2\x9b"
	           "1m\xc2\x9d\xc2\x85",
	           8, 0, "\\u{9b}1m\\u{9d}\\u{85}");
	check_term("\x9b"
	           "1m\x9d\x80",
	           5, 0, "\\x9b1m\\x9d\\x80");
	check_term("a\xe2\x80\xae"
	           "b\xe2\x81\xa6",
	           8, 0, "a\\u{202e}b\\u{2066}");
	/* Invalid UTF-8: cut, overlong, surrogate, too large. */
	check_term("\xe2\x82", 2, 0, "\\xe2\\x82");
	check_term("\xc0\xaf", 2, 0, "\\xc0\\xaf");
	check_term("\xed\xa0\x80", 3, 0, "\\xed\\xa0\\x80");
	check_term("\xf4\x90\x80\x80", 4, 0, "\\xf4\\x90\\x80\\x80");
	/* A NUL inside the bytes given. */
	check_term("a\0b", 3, 0, "a\\x00b");
	/* Lines: newline and tab kept, a carriage return keeps what follows. */
	check_term("x\r\n10%\r100%\ty\n\x1b[2J", 18, TERM_LINES, "x\n100%\ty\n\\x1b[2J");
	char *c = term_clean("n\nm", 3);
	assert_string_equal(c, "n\\nm");
	free(c);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_term_escape),
};
UNIT_GROUP(term, tests, NULL, NULL);
