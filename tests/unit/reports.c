/* reports.c - unit tests of the reports, the archive writer and the
 * progress estimate. Run from unit.c's main through report_unit_tests(). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "helpers.h"
#include "engine/graph.h"
#include "engine/load/load.h"
#include "engine/report/archive.h"
#include "engine/report/progress.h"
#include "engine/report/report.h"

int report_unit_tests(void);


static size_t count(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static json_t *tiny_report(const char *job_name)
{
	json_error_t e;
	json_t *r = json_loads(
	    "{\"juggle\":\"0.1.0\",\"graph\":\"g.ini\",\"backend\":\"threads\",\"jobs_limit\":2,"
	    "\"host\":\"h\",\"started\":\"2026-01-01T00:00:00Z\",\"wall_s\":2.0,"
	    "\"cpu_user_s\":1,\"cpu_sys_s\":0.5,\"peak_rss_kib\":1024,\"connections\":0,"
	    "\"jobs_in_flight_avg\":1.5,\"counts\":{\"ok\":1,\"failed\":1},"
	    "\"critical_path\":[],\"jobs\":[]}",
	    0, &e);
	assert_non_null(r);
	json_t *jobs = json_object_get(r, "jobs");
	json_array_append_new(jobs, json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:i, s:i}",
	                                      "name", job_name, "kind", "command", "status", "ok",
	                                      "queued_s", 0.0, "started_s", 0.0, "finished_s", 1.0,
	                                      "duration_s", 1.0, "worker", 0, "attempts", 1));
	json_array_append_new(jobs, json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:f, s:i, s:i, "
	                                      "s:s, s:s, s:i}",
	                                      "name", "second", "kind", "cpu", "status", "failed",
	                                      "queued_s", 0.0, "started_s", 0.5, "finished_s", 2.0,
	                                      "duration_s", 1.5, "worker", 1, "attempts", 1,
	                                      "error", "boom & <b>bust</b>", "log_tail",
	                                      "</pre><script>alert(3)</script>\n", "exit_code", 3));
	json_array_append_new(json_object_get(r, "critical_path"), json_string(job_name));
	return r;
}

/* A name that tries every way out of the HTML and the script. */
static const char hostile[] = "x</script><script>alert(1)</script>\xe2\x80\xa8&amp;\"'<!--";

static void test_html_escapes_everything(void **state)
{
	(void)state;
	json_t *r = tiny_report(hostile);
	struct strbuf err = {0};
	size_t len;
	char *html = report_render_html(r, &len, &err);
	assert_non_null(html);
	assert_int_equal(strlen(html), len);
	/* Our two script elements and nothing else can open or close one. */
	assert_int_equal(count(html, "<script"), 2);
	assert_int_equal(count(html, "</script"), 2);
	assert_int_equal(count(html, "<b>"), 0);
	assert_int_equal(count(html, "<!--"), 0);
	assert_non_null(strstr(html, "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;"));
	assert_non_null(strstr(html, "boom &amp; &lt;b&gt;bust&lt;/b&gt;"));
	/* In the embedded JSON: markup characters and U+2028 as \u escapes. */
	assert_non_null(strstr(html, "\\u003c/script\\u003e\\u003cscript\\u003ealert(1)"));
	assert_non_null(strstr(html, "\\u2028"));
	assert_null(strstr(html, "\xe2\x80\xa8\\u0026"));
	/* The timeline: one lane per worker, a bar per job, the failure marked. */
	assert_int_equal(count(html, "class=\"lane\""), 2);
	assert_int_equal(count(html, "class=\"bar "), 2);
	assert_int_equal(count(html, "class=\"bar k-cpu s-failed\""), 1);
	assert_int_equal(count(html, "class=\"bar k-command s-ok cp\""), 1);
	free(html);
	json_decref(r);
	sb_release(&err);
}

static void test_html_compare_draws_every_backend(void **state)
{
	(void)state;
	json_t *rep = tiny_report("a");
	json_t *cmp =
	    json_pack("{s:s, s:i, s:[{s:s, s:f, s:f, s:i, s:i, s:i, s:i}, "
	              "{s:s, s:f, s:f, s:i, s:i, s:i, s:i, s:O}]}",
	              "graph", "g.ini", "repeat", 3, "runs", "backend", "serial", "wall_s", 4.0,
	              "cpu_s", 1.0, "peak_rss_kib", 2048, "connections", 1, "ok", 2, "failed", 0,
	              "backend", hostile, "wall_s", 2.0, "cpu_s", 1.5, "peak_rss_kib", 4096,
	              "connections", 1, "ok", 2, "failed", 0, "report", rep);
	assert_non_null(cmp);
	struct strbuf err = {0};
	assert_int_equal(report_html_compare(cmp, "out/compare.html", &err), 0);
	size_t len;
	char *html = read_file("out/compare.html", &len);
	assert_non_null(html);
	assert_int_equal(count(html, "class=\"b wall\""), 2);
	assert_int_equal(count(html, "class=\"b cpu\""), 2);
	/* The speedup against the first run, the median note, one timeline. */
	assert_non_null(strstr(html, "2.00x"));
	assert_non_null(strstr(html, "median of 3 runs"));
	assert_int_equal(count(html, "id=\"details-1\""), 1);
	assert_int_equal(count(html, "<script"), 2);
	assert_int_equal(count(html, "</script"), 2);
	free(html);
	json_decref(cmp);
	json_decref(rep);
	sb_release(&err);
}

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

static void test_archive_format_by_extension(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		int fmt;
	} cases[] = {{"a.tar.gz", RA_TAR_GZ},
	             {"x/b.TGZ", RA_TAR_GZ},
	             {"c.tar.xz", RA_TAR_XZ},
	             {"d.tar.zst", RA_TAR_ZST},
	             {"e.tar", RA_TAR},
	             {"f.zip", RA_ZIP},
	             {"g.rar", -1},
	             {"h.gz", -1},
	             {".tar", -1},
	             {"dir/.zip", -1}};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		enum run_archive_format fmt;
		struct strbuf err = {0};
		int rc = run_archive_format(cases[i].name, &fmt, &err);
		if (cases[i].fmt < 0) {
			assert_int_equal(rc, -1);
			assert_non_null(strstr(sb_str(&err), ".tar.zst"));
		} else {
			assert_int_equal(rc, 0);
			assert_int_equal((int)fmt, cases[i].fmt);
		}
		sb_release(&err);
	}
}

static void set_mtime(const char *path, long sec)
{
	struct timeval tv[2] = {{sec, 0}, {sec, 0}};
	assert_int_equal(utimes(path, tv), 0);
}

/* The same files and reports give the same archive, byte for byte, in
 * every format, whatever the files' mtimes and the time zone. */
static void test_archive_same_bytes_every_format(void **state)
{
	(void)state;
	write_text("g.ini", "[command a]\noutput = out/a.txt out/b.bin\ncommand = true\n"
	                    "[command b]\nforeach = list:x y\noutput = out/{item}.txt\n"
	                    "command = true\n[command c]\noutput = out/c.txt\ncommand = false\n");
	struct graph g;
	struct diag d = {0};
	struct load_opts o = {.file = "g.ini",
	                      .cli = {.jobs = -1, .net_jobs = -1, .keep_going = -1},
	                      .default_jobs = 2};
	assert_int_equal(graph_load(&g, &o, &d), 0);
	struct strbuf err = {0}, warn = {0};
	assert_int_equal(graph_select(&g, NULL, 0, &err), 0);
	for (size_t i = 0; i < g.jobs.n; i++) {
		struct job *j = g.jobs.v[i];
		j->run.status = strcmp(j->name, "c") == 0 ? JS_FAILED : JS_OK;
		for (uint32_t k = 0; k < j->n_outputs; k++)
			write_text(j->outputs[k], j->outputs[k]);
	}
	write_text(".juggle/logs/a.log", "a's log\n");
	chmod("out/b.bin", 0700);
	struct run_archive_blob blobs[] = {{"report.json", "{}\n", 3}};
	setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
	static const char *const names[] = {"t.tar", "t.tar.gz", "t.tar.xz", "t.tar.zst", "t.zip"};
	for (size_t f = 0; f < ARRAY_SIZE(names); f++) {
		char *first = NULL;
		size_t first_len = 0;
		for (int round = 0; round < 2; round++) {
			set_mtime("out/a.txt", round ? 1000 : 2000000);
			setenv("TZ", round ? "Asia/Tokyo" : "America/New_York", 1);
			tzset();
			char *path = xasprintf("%d/%s", round, names[f]);
			struct run_archive_stats stats;
			sb_reset(&err);
			int rc = run_archive_write(path, &g, blobs, 1, 12345.0 + round, &stats,
			                           &warn, &err);
			if (rc)
				fail_msg("%s: %s", path, sb_str(&err));
			/* a.txt, b.bin, x.txt, y.txt, a.log, report, 2 manifests */
			assert_int_equal(stats.files, 8);
			size_t len;
			char *data = read_file(path, &len);
			assert_non_null(data);
			if (!round) {
				first = data;
				first_len = len;
			} else {
				assert_int_equal(len, first_len);
				if (memcmp(data, first, len) != 0)
					fail_msg("%s differs between two writes", names[f]);
				free(data);
			}
			free(path);
		}
		free(first);
	}
	/* c failed: its output is not archived, and nothing was skipped. */
	assert_string_equal(sb_str(&warn), "");
	unsetenv("SOURCE_DATE_EPOCH");
	unsetenv("TZ");
	tzset();
	graph_release(&g);
	diag_release(&d);
	sb_release(&err);
	sb_release(&warn);
}

static void test_archive_refuses_bad_epoch(void **state)
{
	(void)state;
	long long e;
	bool set;
	struct strbuf err = {0};
	setenv("SOURCE_DATE_EPOCH", "12abc", 1);
	assert_int_equal(run_archive_epoch(&e, &set, &err), -1);
	assert_non_null(strstr(sb_str(&err), "SOURCE_DATE_EPOCH"));
	setenv("SOURCE_DATE_EPOCH", "42", 1);
	assert_int_equal(run_archive_epoch(&e, &set, &err), 0);
	assert_true(set);
	assert_int_equal(e, 42);
	unsetenv("SOURCE_DATE_EPOCH");
	assert_int_equal(run_archive_epoch(&e, &set, &err), 0);
	assert_false(set);
	sb_release(&err);
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
	                      .cli = {.jobs = -1, .net_jobs = -1, .keep_going = -1},
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
		struct report_meta m = {"g.ini", "threads", lanes, false, NULL};
		json_t *r = report_build(&g, &sum, &m);
		assert_true(fabs(num(r, "critical_path_s") - 6) < 1e-9);
		assert_true(fabs(num(r, "job_s") - 11) < 1e-9);
		assert_int_equal(json_integer_value(json_object_get(r, "lanes")), lanes);
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
	struct report_meta m = {"g.ini", "serial", 4, false, NULL};
	json_t *r = report_build(&g, &sum, &m);
	assert_int_equal(json_integer_value(json_object_get(r, "lanes")), 1);
	json_decref(r);
	sb_release(&err);
	graph_release(&g);
	diag_release(&d);
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

int report_unit_tests(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_html_escapes_everything),
	    cmocka_unit_test_setup_teardown(test_html_compare_draws_every_backend, in_tmp,
	                                    out_of_tmp),
	    cmocka_unit_test(test_json_text_keeps_any_bytes),
	    cmocka_unit_test_setup_teardown(test_file_tail_reads_the_end, in_tmp, out_of_tmp),
	    cmocka_unit_test(test_archive_format_by_extension),
	    cmocka_unit_test_setup_teardown(test_archive_same_bytes_every_format, in_tmp,
	                                    out_of_tmp),
	    cmocka_unit_test(test_archive_refuses_bad_epoch),
	    cmocka_unit_test(test_progress_estimate),
	    cmocka_unit_test_setup_teardown(test_critical_path_and_lower_bound, in_tmp, out_of_tmp),
	};
	return cmocka_run_group_tests_name("reports", tests, NULL, NULL);
}
