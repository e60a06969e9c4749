/* test_sched.c - unit tests of engine/sched.c, driven through a fake
 * backend: order, the jobs limit, failures, retries, pools, up-to-date jobs. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "engine/backends/backend.h"
#include "engine/graph.h"
#include "engine/sched.h"
#include "engine/state.h"

/* ---- the scheduler, through a fake backend ----
 * The fake runs nothing: it records the order of starts, fails the jobs
 * whose name is in fail_names, and finishes attempts in start order. */

static struct {
	VEC(struct job *) running;
	struct strbuf order;
	const char *fail_first; /* fails only its first attempt */
	const char *fail_always;
	int max_running;
	int capacity;       /* how many it runs at once (run_fake sets 1000) */
	int next_capacity;  /* if set, run_fake uses it instead */
	long can_start_calls;
	enum run_order run_order; /* of the next run_fake */
	bool always_make;     /* of the next run_fake: -B */
	int max_weight[4];  /* the most weight each of the graph's first pools held */
	double max_load;    /* run_opts' -l and load file for the next run */
	const char *load_file;
} fake;

static int fake_init(struct backend *b, struct strbuf *err)
{
	(void)b;
	(void)err;
	return 0;
}

static bool fake_can_start(struct backend *b, const struct job *job)
{
	(void)b;
	(void)job;
	fake.can_start_calls++;
	return (int)fake.running.n < fake.capacity;
}

static int fake_start(struct backend *b, struct job *job, int number, const char *prev,
		      struct strbuf *err)
{
	(void)b;
	(void)prev;
	(void)err;
	sb_addf(&fake.order, "%s#%d ", job->name, number);
	VEC_PUSH(&fake.running, job);
	if ((int)fake.running.n > fake.max_running)
		fake.max_running = (int)fake.running.n;
	int held[4] = {0};
	for (size_t i = 0; i < fake.running.n; i++) {
		const struct section *sec = fake.running.v[i]->sec;
		for (int k = 0; k < sec->n_pools; k++)
			if (sec->pools[k].pool->index < 4)
				held[sec->pools[k].pool->index] += sec->pools[k].weight;
	}
	for (int k = 0; k < 4; k++)
		if (held[k] > fake.max_weight[k])
			fake.max_weight[k] = held[k];
	return 0;
}

static int fake_wait(struct backend *b, struct job **job, struct result *res, double timeout)
{
	(void)b;
	(void)timeout;
	if (!fake.running.n)
		return 0;
	struct job *j = fake.running.v[0];
	memmove(fake.running.v, fake.running.v + 1, --fake.running.n * sizeof(*fake.running.v));
	result_init(res);
	res->started = res->finished = mono_now();
	res->worker = 0;
	bool fail = (fake.fail_always && strcmp(j->name, fake.fail_always) == 0) ||
		    (fake.fail_first && strcmp(j->name, fake.fail_first) == 0 &&
		     j->run.attempts == 1);
	if (fail) {
		result_fail(res, "fake failure");
		res->retryable = true;
	} else {
		res->status = RES_OK;
	}
	*job = j;
	return 1;
}

static int fake_running(struct backend *b)
{
	(void)b;
	return (int)fake.running.n;
}

static void fake_abort(struct backend *b)
{
	(void)b;
}

static void fake_release(struct backend *b)
{
	(void)b;
	free(fake.running.v);
	memset(&fake.running, 0, sizeof(fake.running));
}

static const struct backend_ops fake_backend = {
	.name = "fake",
	.init = fake_init,
	.can_start = fake_can_start,
	.start = fake_start,
	.wait = fake_wait,
	.running = fake_running,
	.abort = fake_abort,
	.release = fake_release,
};

static int reset_fake(void **state)
{
	fake.fail_first = fake.fail_always = NULL;
	fake.run_order = ORDER_FILE;
	fake.always_make = false;
	fake.max_load = 0;
	fake.load_file = NULL;
	return in_tmp(state);
}

static int run_fake(const char *text, int jobs, bool keep_going, struct run_summary *sum,
		    struct graph *g)
{
	sb_release(&fake.order);
	fake.max_running = 0;
	fake.capacity = fake.next_capacity ? fake.next_capacity : 1000;
	fake.next_capacity = 0;
	fake.can_start_calls = 0;
	memset(fake.max_weight, 0, sizeof(fake.max_weight));
	struct diag d = {0};
	assert_int_equal(load_ini(g, text, &d, NULL), 0);
	diag_release(&d);
	struct strbuf err = {0};
	graph_select(g, NULL, 0, &err);
	struct state *st;
	struct strbuf warn = {0};
	assert_int_equal(state_open(&st, ".juggle", false, &warn, &err), 0);
	struct run_opts o = {.backend = &fake_backend,
			     .jobs = jobs,
			     .keep_going = keep_going,
			     .order = fake.run_order,
			     .always_make = fake.always_make,
			     .progress = PROGRESS_NONE,
			     .max_load = fake.max_load,
			     .load_file = fake.load_file,
			     .quiet = true};
	int rc = sched_run(g, st, &o, sum, &err);
	state_close(st);
	sb_release(&err);
	sb_release(&warn);
	return rc;
}

static const char *diamond = "[command top]\ncommand = true\n"
			     "[command left]\ncommand = true\nafter = top\n"
			     "[command right]\ncommand = true\nafter = top\n"
			     "[command bottom]\ncommand = true\nafter = left right\n"
			     "[command alone]\ncommand = true\n";

static void test_sched_order_and_jobs_limit(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	assert_int_equal(run_fake(diamond, 2, false, &sum, &g), 0);
	assert_string_equal(sb_str(&fake.order), "top#1 alone#1 left#1 right#1 bottom#1 ");
	assert_int_equal(fake.max_running, 2);
	assert_int_equal(sum.counts[JS_OK], 5);
	graph_release(&g);
}

static void test_sched_failure_without_keep_going(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	fake.fail_always = "left";
	assert_int_equal(run_fake(diamond, 1, false, &sum, &g), 1);
	/* Ready jobs start in file order; left fails, so nothing new starts. */
	assert_string_equal(sb_str(&fake.order), "top#1 left#1 ");
	assert_int_equal(graph_job(&g, "alone")->run.status, JS_NOT_RUN);
	assert_int_equal(graph_job(&g, "left")->run.status, JS_FAILED);
	assert_int_equal(graph_job(&g, "right")->run.status, JS_NOT_RUN);
	assert_int_equal(graph_job(&g, "bottom")->run.status, JS_NOT_RUN);
	graph_release(&g);
}

static void test_sched_keep_going(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	fake.fail_always = "left";
	assert_int_equal(run_fake(diamond, 1, true, &sum, &g), 1);
	assert_string_equal(sb_str(&fake.order), "top#1 left#1 right#1 alone#1 ");
	assert_int_equal(graph_job(&g, "right")->run.status, JS_OK);
	assert_int_equal(graph_job(&g, "bottom")->run.status, JS_NOT_RUN);
	assert_string_equal(graph_job(&g, "bottom")->run.error,
			    "dependency 'left' did not succeed");
	graph_release(&g);
}

static void test_sched_retry_and_pool(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	fake.fail_first = "p[1]";
	assert_int_equal(run_fake("[pool one]\ndepth = 1\n"
				  "[command p]\nforeach = range:1..3\npool = one\n"
				  "command = true\nretries = 1\nretry_delay = 0\n",
				  8, false, &sum, &g),
			 0);
	assert_int_equal(fake.max_running, 1);
	assert_int_equal(graph_job(&g, "p[1]")->run.attempts, 2);
	assert_int_equal(sum.counts[JS_OK], 3);
	graph_release(&g);
}

/* A backend that runs one job at a time (serial) in front of thousands of
 * ready jobs: once it says no, the scheduler waits for a job to end rather
 * than asking about every other ready job of the same kind. Asking each
 * time made a serial run of 100,000 jobs quadratic (hours). */
static void test_sched_full_backend_is_asked_once_per_round(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	fake.next_capacity = 1;
	assert_int_equal(run_fake("[command c]\nforeach = range:1..3000\ncommand = true\n"
				  "[cpu s]\nforeach = range:1..3000\ntask = sum_squares\nn = 1\n",
				  0, false, &sum, &g),
			 0);
	assert_int_equal(sum.counts[JS_OK], 6000);
	assert_int_equal(fake.max_running, 1);
	/* Per job: the yes that starts it, and at most one no per kind
	 * while it runs. */
	assert_in_range(fake.can_start_calls, 6000, 3 * 6000);
	graph_release(&g);
}

/* A pool of depth 1 in front of thousands of jobs: they wait in the pool,
 * in file order, each released when the one before it ends. */
static void test_sched_long_pool_queue_keeps_order(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	assert_int_equal(run_fake("[pool one]\ndepth = 1\n"
				  "[command p]\nforeach = range:1..5000\npool = one\ncommand = true\n"
				  "[command free]\ncommand = true\n",
				  8, false, &sum, &g),
			 0);
	assert_int_equal(sum.counts[JS_OK], 5001);
	assert_int_equal(fake.max_running, 2);
	const char *o = sb_str(&fake.order);
	assert_true(strncmp(o, "p[1]#1 p[2]#1 ", 14) != 0); /* free started beside p[1] */
	assert_non_null(strstr(o, "p[4999]#1 p[5000]#1 "));
	graph_release(&g);
}

/* Weights in several pools: java (depth 1) and mem (depth 6) are never
 * overdrawn, and mem is filled when the jobs allow it. */
static void test_sched_pool_weights(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	assert_int_equal(run_fake("[pool java]\ndepth = 1\n[pool mem]\ndepth = 6\n"
				  "[command m]\nforeach = range:1..40\npools = mem:2\n"
				  "command = true\n"
				  "[command j]\nforeach = range:1..20\npools = java mem:4\n"
				  "command = true\n",
				  8, false, &sum, &g),
			 0);
	assert_int_equal(sum.counts[JS_OK], 60);
	assert_int_equal(fake.max_weight[0], 1);
	assert_int_equal(fake.max_weight[1], 6);
	graph_release(&g);
}

/* A job waiting for room is not passed by later jobs of the same pool
 * that would fit beside the running one. */
static void test_sched_heavy_job_keeps_its_turn(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	assert_int_equal(run_fake("[pool mem]\ndepth = 2\n"
				  "[command l1]\npools = mem:1\ncommand = true\n"
				  "[command h]\npools = mem:2\ncommand = true\n"
				  "[command l2]\npool = mem\ncommand = true\n"
				  "[command l3]\npool = mem\ncommand = true\n",
				  8, false, &sum, &g),
			 0);
	assert_string_equal(sb_str(&fake.order), "l1#1 h#1 l2#1 l3#1 ");
	assert_int_equal(fake.max_weight[0], 2);
	graph_release(&g);
}

/* -l: above the limit, one job at a time (the first is never held);
 * below it, as many as -j. */
static void test_sched_load_limit(void **state)
{
	(void)state;
	const char *three = "[command a]\ncommand = true\n[command b]\ncommand = true\n"
			    "[command c]\ncommand = true\n";
	struct graph g;
	struct run_summary sum;
	FILE *f = fopen("loadavg", "w");
	assert_non_null(f);
	fputs("50.00 40.00 30.00 1/100 1\n", f);
	fclose(f);
	fake.max_load = 4;
	fake.load_file = "loadavg";
	assert_int_equal(run_fake(three, 8, false, &sum, &g), 0);
	assert_int_equal(sum.counts[JS_OK], 3);
	assert_int_equal(fake.max_running, 1);
	graph_release(&g);
	fake.max_load = 60;
	assert_int_equal(run_fake("[command x]\ncommand = true\n[command y]\ncommand = true\n"
				  "[command z]\ncommand = true\n",
				  8, false, &sum, &g),
			 0);
	assert_int_equal(sum.counts[JS_OK], 3);
	assert_int_equal(fake.max_running, 3);
	graph_release(&g);
}

static void test_sched_up_to_date_second_time(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	assert_int_equal(run_fake(diamond, 4, false, &sum, &g), 0);
	graph_release(&g);
	assert_int_equal(run_fake(diamond, 4, false, &sum, &g), 0);
	assert_string_equal(sb_str(&fake.order), "");
	assert_int_equal(sum.counts[JS_SKIPPED], 5);
	graph_release(&g);
}

/* Writes a history in which each job of text named in names last took
 * secs seconds. Runs after it need -B (fake.always_make) to run at all. */
static void write_history(const char *text, const char *const *names, const double *secs)
{
	struct graph g;
	struct diag d = {0};
	assert_int_equal(load_ini(&g, text, &d, NULL), 0);
	diag_release(&d);
	struct strbuf err = {0}, warn = {0};
	struct state *st;
	assert_int_equal(state_open(&st, ".juggle", false, &warn, &err), 0);
	for (size_t i = 0; names[i]; i++)
		assert_int_equal(state_record_ok(st, graph_job(&g, names[i]), NULL, 0, NULL, 0, 1,
						 secs[i], "", true),
				 0);
	state_close(st);
	sb_release(&err);
	sb_release(&warn);
	graph_release(&g);
}

/* Short jobs written first, a long chain (fetch, then report) last. */
static const char *nightly = "[command short]\ncommand = true\nforeach = range:1..3\n"
			     "[command fetch]\ncommand = true\n"
			     "[command report]\ncommand = true\nafter = fetch\n";
static const char *const nightly_names[] = {"short[1]", "short[2]", "short[3]", "fetch",
					    "report", NULL};
static const double nightly_secs[] = {0.5, 0.5, 0.5, 6, 3};

static void test_sched_critical_order_starts_the_long_chain_first(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	write_history(nightly, nightly_names, nightly_secs);
	fake.always_make = true;
	fake.run_order = ORDER_CRITICAL;
	assert_int_equal(run_fake(nightly, 1, false, &sum, &g), 0);
	assert_string_equal(sb_str(&fake.order),
			    "fetch#1 report#1 short[1]#1 short[2]#1 short[3]#1 ");
	graph_release(&g);
	/* Two at once: fetch and the first short job; when fetch ends,
	 * report goes before the short jobs still waiting. (The fake's runs
	 * take no time: the history is written again.) */
	write_history(nightly, nightly_names, nightly_secs);
	fake.always_make = true;
	fake.run_order = ORDER_CRITICAL;
	assert_int_equal(run_fake(nightly, 2, false, &sum, &g), 0);
	assert_string_equal(sb_str(&fake.order),
			    "fetch#1 short[1]#1 report#1 short[2]#1 short[3]#1 ");
	graph_release(&g);
	/* --order file: as written. */
	write_history(nightly, nightly_names, nightly_secs);
	fake.always_make = true;
	fake.run_order = ORDER_FILE;
	assert_int_equal(run_fake(nightly, 1, false, &sum, &g), 0);
	assert_string_equal(sb_str(&fake.order),
			    "short[1]#1 short[2]#1 short[3]#1 fetch#1 report#1 ");
	graph_release(&g);
}

static void test_sched_critical_order_in_a_pool(void **state)
{
	(void)state;
	/* Jobs waiting for a pool come out of it longest chain first too. */
	static const char *text = "[pool one]\ndepth = 1\n"
				  "[command a]\ncommand = true\npool = one\n"
				  "[command b]\ncommand = true\npool = one\n"
				  "[command c]\ncommand = true\npool = one\n";
	static const char *const names[] = {"a", "b", "c", NULL};
	static const double secs[] = {1, 2, 3};
	struct graph g;
	struct run_summary sum;
	write_history(text, names, secs);
	fake.always_make = true;
	fake.run_order = ORDER_CRITICAL;
	assert_int_equal(run_fake(text, 4, false, &sum, &g), 0);
	assert_string_equal(sb_str(&fake.order), "c#1 b#1 a#1 ");
	assert_int_equal(fake.max_running, 1);
	graph_release(&g);
}

/* The fake's log of starts lives across the tests; freed once at the end. */
static int release_fake(void **state)
{
	(void)state;
	sb_release(&fake.order);
	return 0;
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_sched_order_and_jobs_limit, reset_fake, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_sched_failure_without_keep_going, reset_fake, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_sched_keep_going, reset_fake, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_sched_retry_and_pool, reset_fake, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_sched_full_backend_is_asked_once_per_round, reset_fake, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_sched_long_pool_queue_keeps_order, reset_fake, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_sched_pool_weights, reset_fake, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_sched_heavy_job_keeps_its_turn, reset_fake, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_sched_load_limit, reset_fake, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_sched_up_to_date_second_time, reset_fake, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_sched_critical_order_starts_the_long_chain_first, reset_fake, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_sched_critical_order_in_a_pool, reset_fake, out_of_tmp),
};
UNIT_GROUP(sched, tests, NULL, release_fake);
