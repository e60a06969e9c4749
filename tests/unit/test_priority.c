/* test_priority.c - unit tests of engine/priority.c and the heap it
 * orders (engine/heap.c): expected seconds from a known history, the
 * longest chain from each job to the end, and the order ready jobs come
 * out in. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "engine/graph.h"
#include "engine/heap.h"
#include "engine/priority.h"
#include "engine/state.h"

/* Loads text into g (every job wanted) and writes a history in which the
 * job names[i] last succeeded in secs[i] seconds. */
static void load_with_history(struct graph *g, const char *text, const char *const *names,
			      const double *secs)
{
	struct diag d = {0};
	assert_int_equal(load_ini(g, text, &d, NULL), 0);
	diag_release(&d);
	struct strbuf err = {0}, warn = {0};
	assert_int_equal(graph_select(g, NULL, 0, &err), 0);
	struct state *st;
	assert_int_equal(state_open(&st, ".juggle", false, &warn, &err), 0);
	for (size_t i = 0; names && names[i]; i++) {
		struct job *j = graph_job(g, names[i]);
		assert_non_null(j);
		assert_int_equal(state_record_ok(st, j, NULL, 0, NULL, 0, 1, secs[i], "", true), 0);
	}
	state_close(st);
	sb_release(&err);
	sb_release(&warn);
}

static const struct state *open_ro(struct state **st)
{
	struct strbuf err = {0}, warn = {0};
	assert_int_equal(state_open(st, ".juggle", true, &warn, &err), 0);
	sb_release(&err);
	sb_release(&warn);
	return *st;
}

static double at(const struct graph *g, const double *v, const char *name)
{
	const struct job *j = graph_job(g, name);
	assert_non_null(j);
	return v[j->index];
}

#define assert_near(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static void test_priority_expected_from_history(void **state)
{
	(void)state;
	struct graph g;
	static const char *const names[] = {"a[x]", "a[y]", "b", NULL};
	static const double secs[] = {2, 4, 9};
	load_with_history(&g,
			  "[command a]\ncommand = true\nforeach = list:x y z\n"
			  "[command b]\ncommand = true\n"
			  "[command c]\ncommand = true\n"
			  "[cpu d]\ntask = sum_squares\nn = 10\n",
			  names, secs);
	struct state *st;
	double *e = priority_expected(&g, open_ro(&st));
	/* Its own history first. */
	assert_near(at(&g, e, "a[x]"), 2);
	assert_near(at(&g, e, "a[y]"), 4);
	assert_near(at(&g, e, "b"), 9);
	/* A new instance: the mean of its section's. */
	assert_near(at(&g, e, "a[z]"), 3);
	/* A new section: the mean of its kind's jobs (2, 4 and 9). */
	assert_near(at(&g, e, "c"), 5);
	/* A kind never seen: the default. */
	assert_near(at(&g, e, "d"), PRIORITY_DEFAULT_S);
	free(e);
	state_close(st);
	/* No history at all: the default everywhere. */
	e = priority_expected(&g, NULL);
	assert_near(at(&g, e, "a[x]"), PRIORITY_DEFAULT_S);
	free(e);
	graph_release(&g);
}

/* Many short jobs written first, a long chain (a download, then a report)
 * written last: the case file order leaves for the end. */
static const char *nightly = "[command short]\ncommand = true\nforeach = range:1..4\n"
			     "[command fetch]\ncommand = true\n"
			     "[command report]\ncommand = true\nafter = fetch\n"
			     "[command sum]\ncommand = true\nafter = short report\n";
static const char *const nightly_names[] = {"short[1]", "short[2]", "short[3]", "short[4]",
					    "fetch", "report", "sum", NULL};
static const double nightly_secs[] = {0.5, 0.5, 0.5, 0.5, 6, 3, 0.25};

static void test_priority_chains_to_the_end(void **state)
{
	(void)state;
	struct graph g;
	load_with_history(&g, nightly, nightly_names, nightly_secs);
	struct state *st;
	double *p = priority_compute(&g, open_ro(&st));
	state_close(st);
	assert_near(at(&g, p, "sum"), 0.25);
	assert_near(at(&g, p, "report"), 3.25);
	assert_near(at(&g, p, "fetch"), 9.25);
	assert_near(at(&g, p, "short[3]"), 0.75);
	free(p);

	/* Only wanted jobs count: without sum, report ends the chain, and
	 * the short jobs are not wanted at all. */
	for (size_t i = 0; i < g.jobs.n; i++)
		g.jobs.v[i]->run.wanted = false;
	struct strbuf err = {0};
	char *target[] = {"report"};
	assert_int_equal(graph_select(&g, target, 1, &err), 0);
	sb_release(&err);
	double e[16];
	for (size_t i = 0; i < g.jobs.n; i++)
		e[i] = 1;
	p = priority_chains(&g, e);
	assert_near(at(&g, p, "fetch"), 2);
	assert_near(at(&g, p, "report"), 1);
	assert_near(at(&g, p, "short[1]"), 0);
	free(p);
	graph_release(&g);
}

/* Pops every job of g pushed into a heap ordered by prio, names joined. */
static char *pop_all(struct graph *g, const double *prio)
{
	struct job_heap h = {.prio = prio};
	/* Pushed backwards, so the order out owes nothing to the order in. */
	for (size_t i = g->jobs.n; i-- > 0;)
		job_heap_push(&h, g->jobs.v[i]);
	struct strbuf sb = {0};
	struct job *j;
	while ((j = job_heap_pop(&h)))
		sb_addf(&sb, "%s ", j->name);
	job_heap_release(&h);
	return sb_detach(&sb);
}

static void test_priority_heap_order(void **state)
{
	(void)state;
	struct graph g;
	load_with_history(&g, nightly, nightly_names, nightly_secs);
	struct state *st;
	double *p = priority_compute(&g, open_ro(&st));
	state_close(st);
	/* The longest chain first; equal chains (the short jobs) in file
	 * order. */
	char *out = pop_all(&g, p);
	assert_string_equal(out, "fetch report short[1] short[2] short[3] short[4] sum ");
	free(out);
	/* Without priorities: file order. */
	out = pop_all(&g, NULL);
	assert_string_equal(out, "short[1] short[2] short[3] short[4] fetch report sum ");
	free(out);
	free(p);
	graph_release(&g);
}

static void test_priority_order_names(void **state)
{
	(void)state;
	enum run_order o = ORDER_FILE;
	assert_int_equal(run_order_parse("critical", &o), 0);
	assert_int_equal(o, ORDER_CRITICAL);
	assert_string_equal(run_order_name(o), "critical");
	assert_int_equal(run_order_parse("file", &o), 0);
	assert_int_equal(o, ORDER_FILE);
	assert_string_equal(run_order_name(o), "file");
	assert_int_equal(run_order_parse("fastest", &o), -1);
	assert_int_equal(run_order_parse("", &o), -1);
	assert_int_equal(o, ORDER_FILE);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_priority_expected_from_history, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_priority_chains_to_the_end, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_priority_heap_order, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_priority_order_names, in_tmp, out_of_tmp),
};
UNIT_GROUP(priority, tests, NULL, NULL);
