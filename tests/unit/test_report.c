/* test_report.c - unit tests of engine/report.c: JSON text from any bytes,
 * the critical path and the lower bound. */
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
#include "engine/load/load.h"
#include "engine/backends/backend.h"
#include "engine/report/report.h"
#include "engine/term.h"

static void test_json_text_keeps_any_bytes(void **state)
{
	(void)state;
	json_t *v = json_text("caf\xc3\xa9 \xff\xfe ok \xe2\x82");
	assert_non_null(v);
	assert_string_equal(json_string_value(v),
	                    "caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd ok \xef\xbf\xbd\xef\xbf\xbd");
	json_decref(v);
	const char *in = "a\x1b]52;c;x\x07z\nprogress 10%\rprogress 100%\r\nend\t!";
	char *t = term_clean_lines(in, strlen(in));
	assert_string_equal(t, "a\\x1b]52;c;x\\x07z\nprogress 100%\nend\t!");
	free(t);
}

/* Marks job name of g as run from start to end (seconds of the run). */
static void ran_at(struct graph *g, const char *name, double start, double end)
{
	for (size_t i = 0; i < g->jobs.n; i++) {
		struct job *j = g->jobs.v[i];
		if (strcmp(j->name, name) != 0)
			continue;
		j->run.status = JS_OK;
		j->run.started = true;
		j->run.started_at = start;
		j->run.finished = end;
		j->run.busy_s = end - start;
		j->run.worker = 0;
		return;
	}
	fail_msg("no job '%s'", name);
}

static double num(json_t *o, const char *key)
{
	return json_number_value(json_object_get(o, key));
}

/* The critical path follows dependency edges by duration, passing through
 * a job that did not run, whatever finished last; the lower bound is the
 * larger of it and the job seconds over the lanes. */
static void test_critical_path_and_lower_bound(void **state)
{
	(void)state;
	write_text("g.ini", "[command long]\ncommand = true\n[command q]\ncommand = true\n"
	                    "[command a]\ncommand = true\n[command b]\nafter = a\ncommand = true\n"
	                    "[command s]\nafter = long\ncommand = true\n"
	                    "[command t]\nafter = s\ncommand = true\n"
	                    "[command r]\ncommand = true\n");
	struct graph g;
	struct diag d = {0};
	struct load_opts o = {.file = "g.ini",
	                      .cli = {.jobs = -1, .net_jobs = -1, .keep_going = -1, .load = -1},
	                      .default_jobs = 1};
	assert_int_equal(graph_load(&g, &o, &d), 0);
	struct strbuf err = {0};
	assert_int_equal(graph_select(&g, NULL, 0, &err), 0);
	/* One lane, one job after another; s was up to date. */
	ran_at(&g, "long", 0, 5);
	ran_at(&g, "q", 5, 6);
	ran_at(&g, "a", 6, 7);
	ran_at(&g, "b", 7, 9.5);
	ran_at(&g, "t", 9.5, 10.5);
	ran_at(&g, "r", 10.5, 11);
	for (size_t i = 0; i < g.jobs.n; i++)
		if (strcmp(g.jobs.v[i]->name, "s") == 0)
			g.jobs.v[i]->run.status = JS_SKIPPED;

	size_t n;
	double len;
	struct job **path = critical_path(&g, &n, &len);
	assert_int_equal(n, 2);
	assert_string_equal(path[0]->name, "long");
	assert_string_equal(path[1]->name, "t");
	assert_true(fabs(len - 6) < 1e-9);
	free(path);

	struct run_summary sum = {.wall_s = 11.5};
	for (int lanes = 1; lanes <= 4; lanes += 3) {
		struct report_meta m = {"g.ini", "threads", lanes, NULL, 0, "critical"};
		json_t *r = report_build(&g, &sum, &m);
		assert_true(fabs(num(r, "critical_path_s") - 6) < 1e-9);
		assert_true(fabs(num(r, "job_s") - 11) < 1e-9);
		assert_int_equal(json_integer_value(json_object_get(r, "lanes")), lanes);
		assert_string_equal(json_string_value(json_object_get(r, "order")), "critical");
		/* 11 job seconds on one lane; on four, the chain of 6 s. */
		double bound = lanes == 1 ? 11 : 6;
		assert_true(fabs(num(r, "lower_bound_s") - bound) < 1e-9);
		assert_true(fabs(num(r, "wall_over_bound") - 11.5 / bound) < 1e-9);
		assert_true(fabs(num(r, "jobs_in_flight_avg") - 11 / 11.5) < 1e-9);
		json_t *cp = json_object_get(r, "critical_path");
		assert_int_equal(json_array_size(cp), 2);
		assert_string_equal(json_string_value(json_array_get(cp, 1)), "t");
		json_decref(r);
	}
	/* The serial backend has one lane whatever -j says. */
	struct report_meta m = {"g.ini", backend_serial.name, 4, NULL,
				backend_serial.max_lanes, "file"};
	json_t *r = report_build(&g, &sum, &m);
	assert_int_equal(json_integer_value(json_object_get(r, "lanes")), 1);
	json_decref(r);
	sb_release(&err);
	graph_release(&g);
	diag_release(&d);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_json_text_keeps_any_bytes),
	cmocka_unit_test_setup_teardown(test_critical_path_and_lower_bound, in_tmp, out_of_tmp),
};
UNIT_GROUP(report, tests, NULL, NULL);
