/* test_progress.c - unit tests of engine/progress.c: a log's tail, and the
 * estimate of the time left. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "engine/graph.h"
#include "engine/report/progress.h"

static void test_file_tail_reads_the_end(void **state)
{
	(void)state;
	FILE *f = fopen("big.log", "w");
	for (int i = 0; i < 200000; i++)
		fprintf(f, "line %d\n", i);
	fclose(f);
	char *t = file_tail("big.log", 3);
	assert_string_equal(t, "line 199997\nline 199998\nline 199999\n");
	free(t);
	assert_null(file_tail("missing.log", 3));
}

/* The estimate: expected work of the jobs left over the lanes in use. */
static void test_progress_estimate(void **state)
{
	(void)state;
	struct section sec = {.name = "s"};
	struct job jobs[4];
	memset(jobs, 0, sizeof(jobs));
	for (uint32_t i = 0; i < 4; i++) {
		jobs[i].name = "j";
		jobs[i].sec = &sec;
		jobs[i].index = i;
	}
	struct progress *p = progress_new(stdout, PROGRESS_NONE, false, false, 4, mono_now());
	assert_true(progress_eta(p) < 0); /* nothing known yet */
	for (int i = 0; i < 4; i++)
		progress_expect(p, &jobs[i], 100);
	double e = progress_eta(p);
	assert_true(e > 399 && e <= 400); /* one lane seen so far, nothing running */
	/* A running job's elapsed time counts against its estimate, so each
	 * estimate below lies within the time the test itself took (however
	 * slowly it ran) of the figure it checks. */
	double t0 = mono_now();
	progress_started(p, &jobs[0], NULL);
	progress_started(p, &jobs[1], NULL);
	e = progress_eta(p);
	double took = mono_now() - t0;
	assert_true(e <= 200 && e >= 200 - took); /* two lanes now: (400 - 2 elapsed) / 2 */
	jobs[0].run.status = JS_OK;
	progress_finished(p, &jobs[0]);
	e = progress_eta(p);
	took = mono_now() - t0;
	assert_true(e <= 150 && e >= 150 - took / 2); /* 300 s of work over two lanes */
	progress_expect(p, &jobs[3], -1);
	assert_true(progress_eta(p) < 0); /* a job without an estimate */
	progress_done(p);
	progress_free(p);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_file_tail_reads_the_end, in_tmp, out_of_tmp),
	cmocka_unit_test(test_progress_estimate),
};
UNIT_GROUP(progress, tests, NULL, NULL);
