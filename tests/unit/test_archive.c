/* test_archive.c - unit tests of engine/archive.c: formats by extension,
 * the same bytes every time, SOURCE_DATE_EPOCH. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "helpers.h"
#include "engine/report/archive.h"
#include "engine/graph.h"
#include "engine/load/load.h"

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
	                      .cli = {.jobs = -1, .net_jobs = -1, .keep_going = -1, .load = -1},
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

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_archive_format_by_extension),
	cmocka_unit_test_setup_teardown(test_archive_same_bytes_every_format, in_tmp, out_of_tmp),
	cmocka_unit_test(test_archive_refuses_bad_epoch),
};
UNIT_GROUP(archive, tests, NULL, NULL);
