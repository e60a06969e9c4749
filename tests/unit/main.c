/* main.c - the unit test runner: runs the tests of every group of
 * tests/unit/test_*.c whose name, "group.test_function", contains one of
 * the patterns given (all of them without one), or whose group is named by
 * a pattern (load: the load group, not download). A group none of whose tests
 * is selected is skipped, its setup too: the download tests' nginx starts
 * only when one of them runs.
 *
 * The list of groups, unit-groups.h in the build folder, is made by the
 * Makefile from the files' UNIT_GROUP(name, ...) lines, one
 * UNIT_GROUP_ENTRY(name) per file, in file name order. */
#define _GNU_SOURCE
#include "helpers.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/kind.h"
#include "engine/util.h"

#define UNIT_GROUP_ENTRY(name) extern const struct unit_group unit_group_##name;
#include "unit-groups.h"
#undef UNIT_GROUP_ENTRY

static const struct unit_group *const groups[] = {
#define UNIT_GROUP_ENTRY(name) &unit_group_##name,
#include "unit-groups.h"
#undef UNIT_GROUP_ENTRY
};

static void usage(FILE *f)
{
	fputs("usage: unit-tests [--list] [PATTERN...]\n"
	      "Runs the unit tests whose name (group.test, e.g. term.test_term_escape)\n"
	      "contains one of the PATTERNs, all of them without one; a PATTERN that is\n"
	      "a group's name (load) selects that group only (not download). --list\n"
	      "prints the names it would run instead. CMOCKA_MESSAGE_OUTPUT=TAP: TAP\n"
	      "output.\n",
	      f);
}

static bool is_group(const char *name)
{
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (strcmp(groups[i]->name, name) == 0)
			return true;
	return false;
}

/* Whether test name (group.test) of group is selected: a pattern that is a
 * group's name selects that group ("load", not "download" too); any other
 * pattern, the tests whose name contains it. */
static bool selected(const char *group, const char *name, char *const *pats, int n_pats)
{
	if (!n_pats)
		return true;
	for (int i = 0; i < n_pats; i++)
		if (is_group(pats[i]) ? strcmp(group, pats[i]) == 0 : strstr(name, pats[i]) != NULL)
			return true;
	return false;
}

int main(int argc, char **argv)
{
	bool list = false, options = true;
	int n_pats = 0;
	/* The patterns are gathered at the front of argv, past argv[0]. */
	char **pats = argv + 1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (options && strcmp(a, "--") == 0) {
			options = false;
		} else if (options && strcmp(a, "--list") == 0) {
			list = true;
		} else if (options && (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0)) {
			usage(stdout);
			return 0;
		} else if (options && a[0] == '-') {
			fprintf(stderr, "unit-tests: unknown option '%s'\n", a);
			usage(stderr);
			return 2;
		} else {
			pats[n_pats++] = argv[i];
		}
	}

	kinds_init();
	int failed = 0;
	size_t matched = 0;
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++) {
		const struct unit_group *g = groups[i];
		struct CMUnitTest *run = xcalloc(g->n ? g->n : 1, sizeof(*run));
		size_t n = 0;
		for (size_t k = 0; k < g->n; k++) {
			char *name = xasprintf("%s.%s", g->name, g->tests[k].name);
			if (!selected(g->name, name, pats, n_pats)) {
				free(name);
				continue;
			}
			run[n] = g->tests[k];
			run[n++].name = name;
		}
		matched += n;
		if (list)
			for (size_t k = 0; k < n; k++)
				printf("%s\n", run[k].name);
		else if (n)
			failed |= _cmocka_run_group_tests(g->name, run, n, g->setup, g->teardown);
		for (size_t k = 0; k < n; k++)
			free((char *)run[k].name);
		free(run);
	}
	if (!matched && n_pats) {
		fprintf(stderr, "unit-tests: no test name contains %s%s (--list prints them)\n",
			n_pats > 1 ? "any of the patterns, e.g. " : "", pats[0]);
		return 1;
	}
	return failed ? 1 : 0;
}
