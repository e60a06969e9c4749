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
	struct graph g;
	struct diag d = {0};
	assert_int_equal(
	    load_ini(&g,
	             "[command long]\ncommand = true\n[command q]\ncommand = true\n"
	             "[command a]\ncommand = true\n[command b]\nafter = a\ncommand = true\n"
	             "[command s]\nafter = long\ncommand = true\n"
	             "[command t]\nafter = s\ncommand = true\n"
	             "[command r]\ncommand = true\n",
	             &d, NULL),
	    0);
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
	struct report_meta m = {"g.ini", backend_serial.name,      4,
	                        NULL,    backend_serial.max_lanes, "file"};
	json_t *r = report_build(&g, &sum, &m);
	assert_int_equal(json_integer_value(json_object_get(r, "lanes")), 1);
	json_decref(r);
	sb_release(&err);
	graph_release(&g);
	diag_release(&d);
}

/* The report written a job at a time says, byte for byte, what jansson
 * writes for the same job in the tree: odd strings, numbers of every
 * size, facts, the tail of a failure's log. */
static void test_streamed_report_is_the_tree(void **state)
{
	(void)state;
	struct graph g;
	struct diag d = {0};
	assert_int_equal(
	    load_ini(&g,
	             "[command a]\ncommand = true\noutput = o/a\n"
	             "[command b]\ncommand = true\ndescription = say \"hi\" \\ caf\xc3\xa9\n"
	             "[command c]\ncommand = true\n"
	             "[cpu d]\ntask = sum_squares\nn = 3\n",
	             &d, NULL),
	    0);
	struct strbuf err = {0};
	assert_int_equal(graph_select(&g, NULL, 0, &err), 0);
	ran_at(&g, "a", 0, 1e-7);
	ran_at(&g, "b", 123456.5, 1e21);
	ran_at(&g, "c", 2, 3);
	for (size_t i = 0; i < g.jobs.n; i++) {
		struct job_run *r = &g.jobs.v[i]->run;
		r->attempts = (int)i + 1;
		r->cpu_s = 0.1 * (double)i + 1e-9;
		r->queued = 1.0 / 3;
		r->logged = i != 0; /* a said nothing: no log */
		if (i == 1) {
			r->status = JS_FAILED;
			r->exit_code = 2;
			r->error = xstrdup("tab\there \x01 \xff end");
			r->reason = xstrdup("\"quoted\" / slash");
			r->facts = json_pack("{s:i, s:s, s:[i,f]}", "http_status", 404, "slurm_job",
			                     "12", "extra", 1, 2.5);
		}
		if (i == 2) {
			r->status = JS_INTERRUPTED;
			r->signal = 9;
			r->bytes = 1LL << 40;
		}
		if (i == 3) {
			r->status = JS_SKIPPED;
			r->value = xstrdup("14");
		}
	}
	mkdir_p(".juggle/logs", 0777);
	write_text(".juggle/logs/b.log", "line 1\n\x1b[31mred\x1b[0m\nlast \xc3\xa9\n");
	struct run_summary sum = {.wall_s = 3};
	struct report_meta m = {"g.ini", "threads", 2, NULL, 0, "file"};
	assert_int_equal(report_write_graph(&g, &sum, &m, "r.json", &err), 0);
	json_t *tree = report_build(&g, &sum, &m);
	size_t len;
	char *text = read_file("r.json", &len);
	assert_non_null(text);
	const char *at = strstr(text, "\"jobs\": [\n");
	assert_non_null(at);
	at += strlen("\"jobs\": [\n");
	size_t i;
	json_t *j;
	json_array_foreach(json_object_get(tree, "jobs"), i, j)
	{
		char *want = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(10));
		assert_memory_equal(at, "  ", 2);
		at += 2;
		const char *eol = strchr(at, '\n');
		size_t n = (size_t)(eol - at) - (eol[-1] == ',');
		char *got = xstrndup(at, n);
		assert_string_equal(got, want);
		free(got);
		free(want);
		at = eol + 1;
	}
	assert_int_equal(i, 4);
	assert_string_equal(at, " ]\n}\n");
	/* And the whole file is JSON. */
	json_t *back = json_loads(text, 0, NULL);
	assert_non_null(back);
	assert_int_equal(json_array_size(json_object_get(back, "jobs")), 4);
	json_decref(back);
	json_decref(tree);
	free(text);
	sb_release(&err);
	graph_release(&g);
	diag_release(&d);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_json_text_keeps_any_bytes),
    cmocka_unit_test_setup_teardown(test_critical_path_and_lower_bound, in_tmp, out_of_tmp),
    cmocka_unit_test_setup_teardown(test_streamed_report_is_the_tree, in_tmp, out_of_tmp),
};
UNIT_GROUP(report, tests, NULL, NULL);
