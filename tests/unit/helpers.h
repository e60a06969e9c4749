/* helpers.h - what the unit test files share: how a file hands its tests
 * to the runner (UNIT_GROUP), a fresh temporary folder per test, writing
 * small files, and loading a graph from text. */
#ifndef JUGGLE_TEST_HELPERS_H
#define JUGGLE_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

struct diag;
struct graph;

/* One file's tests: tests/unit/test_MODULE.c ends with
 *
 *	static const struct CMUnitTest tests[] = { cmocka_unit_test(...), ... };
 *	UNIT_GROUP(MODULE, tests, group_setup, group_teardown);
 *
 * which defines unit_group_MODULE. The runner (main.c) runs the groups in
 * the order of its list, each test named "MODULE.test_function"; a group
 * none of whose tests is selected is skipped, its setup included. */
struct unit_group {
	const char *name;
	const struct CMUnitTest *tests;
	size_t n;
	CMFixtureFunction setup, teardown;
};

#define UNIT_GROUP(module, list, group_setup, group_teardown)                          \
	extern const struct unit_group unit_group_##module;                            \
	const struct unit_group unit_group_##module = {                                \
		#module, list, sizeof(list) / sizeof((list)[0]), group_setup, group_teardown}

/* cmocka setup/teardown: chdir into a new temporary folder, and back out
 * of it (removing it). */
int in_tmp(void **state);
int out_of_tmp(void **state);
/* Writes text to path, creating its folders; fails the test on error. */
void write_text(const char *path, const char *text);
/* Writes text to g.ini and loads it into g with -s settings set (NULL for
 * none), 2 jobs by default; returns graph_load's result, messages in d. */
int load_ini(struct graph *g, const char *text, struct diag *d, const char *const *set);

#endif
