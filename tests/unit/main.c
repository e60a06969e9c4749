/* main.c - the unit test runner: runs every group of tests/unit/test_*.c.
 * The list of groups, unit-groups.h in the build folder, is made by the
 * Makefile from the files' UNIT_GROUP(name, ...) lines, one
 * UNIT_GROUP_ENTRY(name) per file, in file name order. */
#define _GNU_SOURCE
#include "helpers.h"
#include "../../engine/kind.h"

#define UNIT_GROUP_ENTRY(name) extern const struct unit_group unit_group_##name;
#include "unit-groups.h"
#undef UNIT_GROUP_ENTRY

static const struct unit_group *const groups[] = {
#define UNIT_GROUP_ENTRY(name) &unit_group_##name,
#include "unit-groups.h"
#undef UNIT_GROUP_ENTRY
};

int main(void)
{
	kinds_init();
	int failed = 0;
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		const struct unit_group *g = groups[i];
		failed |= _cmocka_run_group_tests(g->name, g->tests, g->n, g->setup, g->teardown);
	}
	return failed ? 1 : 0;
}
