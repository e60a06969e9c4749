/* main.c - the unit test runner: runs every group of tests/unit/test_*.c,
 * in the order of the list below. */
#define _GNU_SOURCE
#include "helpers.h"
#include "../../engine/kind.h"

extern const struct unit_group unit_group_archive, unit_group_download, unit_group_expand,
    unit_group_glob, unit_group_graph, unit_group_load, unit_group_owndir, unit_group_progress,
    unit_group_report, unit_group_report_html, unit_group_result, unit_group_safepath,
    unit_group_sched, unit_group_shellcheck, unit_group_state, unit_group_term;

static const struct unit_group *const groups[] = {
	&unit_group_archive, &unit_group_download, &unit_group_expand, &unit_group_glob,
	&unit_group_graph, &unit_group_load, &unit_group_owndir, &unit_group_progress,
	&unit_group_report, &unit_group_report_html, &unit_group_result, &unit_group_safepath,
	&unit_group_sched, &unit_group_shellcheck, &unit_group_state, &unit_group_term,
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
