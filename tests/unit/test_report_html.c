/* test_report_html.c - unit tests of engine/report/html*.c: the HTML
 * report and the comparison page escape every name they show, draw the
 * kinds from the kind table, and list the failures the terminal does. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "helpers.h"
#include "engine/graph.h"
#include "engine/kind.h"
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

static void test_html_kinds_come_from_the_kind_table(void **state)
{
	(void)state;
	json_t *r = tiny_report("a");
	json_array_append_new(json_object_get(r, "jobs"),
	                      json_pack("{s:s, s:s, s:s, s:f, s:f, s:f, s:i}", "name", "m", "kind",
	                                "mystery", "status", "ok", "started_s", 0.0, "finished_s",
	                                0.5, "duration_s", 0.5, "worker", 0));
	struct strbuf err = {0};
	size_t len;
	char *html = report_render_html(r, &len, &err);
	assert_non_null(html);
	/* Each kind with a color: its rule in the style sheet, its entry in
	 * the legend. */
	size_t colored = 0;
	for (size_t i = 0; job_kinds[i]; i++) {
		if (!job_kinds[i]->color)
			continue;
		colored++;
		char *rule =
		    xasprintf(".k-%s{background:%s}", job_kinds[i]->name, job_kinds[i]->color);
		char *legend = xasprintf("<i class=\"sw k-%s\"></i>%s</span>", job_kinds[i]->name,
		                         job_kinds[i]->name);
		assert_int_equal(count(html, rule), 1);
		assert_int_equal(count(html, legend), 1);
		free(rule);
		free(legend);
	}
	assert_true(colored > 0);
	/* A kind the table does not know is drawn as "other". */
	assert_int_equal(count(html, "class=\"bar k-other s-ok\""), 1);
	assert_null(strstr(html, "k-mystery"));
	free(html);
	json_decref(r);
	sb_release(&err);
}

static void test_html_and_summary_list_the_same_failures(void **state)
{
	(void)state;
	json_t *r = tiny_report("a");
	json_t *jobs = json_object_get(r, "jobs");
	json_array_append_new(jobs, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", "stopped",
	                                      "kind", "command", "status", "interrupted", "signal",
	                                      "SIGINT", "log", "logs/stopped.log"));
	json_array_append_new(jobs, json_pack("{s:s, s:s, s:s, s:n}", "name", "waiting", "kind",
	                                      "command", "status", "not-run", "started_s"));
	struct report_failures fl;
	report_failures_init(&fl, r);
	assert_int_equal(fl.n, 2);
	assert_string_equal(fl.v[0].name, "second");
	assert_string_equal(fl.v[0].how, "exit code 3");
	assert_string_equal(fl.v[0].what, "boom & <b>bust</b>");
	assert_null(fl.v[0].log);
	assert_false(fl.v[0].interrupted);
	assert_string_equal(fl.v[1].name, "stopped");
	assert_string_equal(fl.v[1].how, "killed by SIGINT");
	assert_string_equal(fl.v[1].what, "interrupted");
	assert_string_equal(fl.v[1].log, "logs/stopped.log");
	assert_true(fl.v[1].interrupted);

	struct strbuf err = {0};
	size_t len;
	char *html = report_render_html(r, &len, &err);
	assert_non_null(html);
	char *text = NULL;
	size_t text_len = 0;
	FILE *out = open_memstream(&text, &text_len);
	assert_non_null(out);
	report_print_summary(out, r, 0);
	fclose(out);
	/* Both show each failure with how it failed, and nothing else. */
	assert_int_equal(count(html, "<div class=\"fail\">"), 2);
	assert_non_null(strstr(html, "exit code 3: boom &amp; &lt;b&gt;bust&lt;/b&gt;"));
	assert_non_null(strstr(html, "killed by SIGINT: interrupted"));
	assert_non_null(strstr(text, "second (exit code 3): boom & <b>bust</b>"));
	/* The interrupted job under its own heading, after the failures. */
	assert_non_null(strstr(text, "failed jobs:\n  second (exit code 3): boom & <b>bust</b>\n"));
	assert_non_null(strstr(text, "interrupted jobs:\n  stopped (killed by SIGINT): interrupted\n"));
	assert_null(strstr(text, "waiting"));
	assert_null(strstr(html, "<h3 class=\"mono\">waiting"));
	report_failures_release(&fl);
	free(text);
	free(html);
	json_decref(r);
	sb_release(&err);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_html_escapes_everything),
	cmocka_unit_test_setup_teardown(test_html_compare_draws_every_backend, in_tmp, out_of_tmp),
	cmocka_unit_test(test_html_kinds_come_from_the_kind_table),
	cmocka_unit_test(test_html_and_summary_list_the_same_failures),
};
UNIT_GROUP(report_html, tests, NULL, NULL);
