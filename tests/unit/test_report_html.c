/* test_report_html.c - unit tests of engine/report_html.c: the HTML
 * report and the comparison page escape every name they show. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "helpers.h"
#include "engine/graph.h"
#include "engine/report/report.h"

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

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_html_escapes_everything),
	cmocka_unit_test_setup_teardown(test_html_compare_draws_every_backend, in_tmp, out_of_tmp),
};
UNIT_GROUP(report_html, tests, NULL, NULL);
