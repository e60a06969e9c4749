/* test_graph.c - unit tests of engine/graph.c: one name per path. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "helpers.h"
#include "engine/graph.h"

static void test_path_normalize(void **state)
{
	(void)state;
	const char *cases[][2] = {{"./a//b/", "a/b"}, {"a/./b", "a/b"}, {"/x//y", "/x/y"},
				  {".", "."},         {"./", "."},      {"a/../b", "b"},
				  /* One file, one name; a path never climbs less than it says. */
				  {"data/../data/x.txt", "data/x.txt"}, {"a/b/../../c", "c"},
				  {"a/..", "."}, {"a/../..", ".."}, {"a/../../b", "../b"},
				  {"../a/..", ".."}, {"../../a/../b", "../../b"}, {"/..", "/"},
				  {"/a/../../b", "/b"}, {"./../x", "../x"}, {"a/.../b", "a/.../b"},
				  {"..a/../b", "b"}};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *n = path_normalize(cases[i][0]);
		assert_string_equal(n, cases[i][1]);
		free(n);
	}
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_path_normalize),
};
UNIT_GROUP(graph, tests, NULL, NULL);
