/* test_glob.c - unit tests of engine/glob.c: matching, '**', the literal
 * prefix. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "helpers.h"
#include "engine/glob.h"

static void test_glob_match(void **state)
{
	(void)state;
	assert_true(glob_match("docs/**/*.xml", "docs/a.xml"));
	assert_true(glob_match("docs/**/*.xml", "docs/a/b/c.xml"));
	assert_false(glob_match("docs/**/*.xml", "docs/.git/c.xml"));
	assert_false(glob_match("docs/*.xml", "docs/a/c.xml"));
	assert_false(glob_match("*.xml", ".hidden.xml"));
	assert_true(glob_match("**", "a/b"));
	assert_true(glob_match("d?c/[ab].txt", "doc/a.txt"));
	/* Several '**': each takes any number of folders, none hidden. */
	assert_true(glob_match("**/**/x", "x"));
	assert_true(glob_match("a/**/b/**/c", "a/b/c"));
	assert_true(glob_match("a/**/b/**/c", "a/z/b/y/b/c"));
	assert_false(glob_match("a/**/b/**/c", "a/c"));
	assert_false(glob_match("**/**/x", "a/.h/x"));
	assert_true(glob_match("**/.h/x", "a/.h/x"));
	assert_false(glob_match("**/**/**/**/**/**/**/**/**/**/*.no",
				"d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/x.txt"));
	assert_int_equal(glob_prefix_len("docs/x/**/*.xml"), strlen("docs/x/"));
	assert_int_equal(glob_prefix_len("*.xml"), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_glob_match),
};
UNIT_GROUP(glob, tests, NULL, NULL);
