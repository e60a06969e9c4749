/* test_state.c - unit tests of engine/state.c: the state log written and
 * read back, a torn last line, damage in the middle. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "engine/graph.h"
#include "engine/state.h"

static void test_state_roundtrip_and_torn_tail(void **state)
{
	(void)state;
	struct graph g;
	struct diag d = {0};
	assert_int_equal(load_ini(&g, "[command a]\ncommand = true\nforeach = list:x 'y\tz'\n", &d,
				  NULL),
			 0);
	struct state *st;
	struct strbuf warn = {0}, err = {0};
	assert_int_equal(state_open(&st, ".juggle", false, &warn, &err), 0);
	assert_int_equal(state_seq(st), 1);
	struct file_sig out = {.path = "odd\tname\n%", .mtime_ns = 5, .size = 7};
	memset(out.hash, 0xab, 16);
	for (size_t i = 0; i < g.jobs.n; i++)
		assert_int_equal(state_record_ok(st, g.jobs.v[i], NULL, 0, &out, 1, 1.5, 0.25,
						 "etag=\"x\"", true),
				 0);
	state_close(st);

	/* A crash mid-append leaves a torn line: it is dropped quietly. */
	int fd = open(".juggle/state", O_WRONLY | O_APPEND);
	assert_true(write(fd, "S\ttorn", 6) == 6);
	close(fd);
	assert_int_equal(state_open(&st, ".juggle", false, &warn, &err), 0);
	assert_string_equal(sb_str(&warn), "");
	assert_int_equal(state_seq(st), 2);
	const struct state_rec *r = state_find(st, "a[y\tz]");
	assert_non_null(r);
	assert_int_equal(r->n_out, 1);
	assert_string_equal(r->files[0].path, "odd\tname\n%");
	assert_string_equal(r->extra, "etag=\"x\"");
	assert_memory_equal(r->fp, g.jobs.v[1]->fp, 16);
	assert_int_equal(r->ok_seq, 1);
	state_record_fail(st, g.jobs.v[0]);
	assert_null(state_find(st, "a[x]"));
	state_close(st);
	assert_int_equal(state_open(&st, ".juggle", true, &warn, &err), 0);
	assert_null(state_find(st, "a[x]"));
	assert_non_null(state_find(st, "a[y\tz]"));
	state_close(st);

	/* Damage in the middle sets the log aside and starts afresh. */
	size_t len;
	char *data = read_file(".juggle/state", &len);
	char *second = strchr(data, '\n') + 1;
	second[3] ^= 1;
	write_file_atomic(".juggle/state", data, len);
	free(data);
	assert_int_equal(state_open(&st, ".juggle", false, &warn, &err), 0);
	assert_non_null(strstr(sb_str(&warn), "damaged; moved it to .juggle/state.bad"));
	assert_null(state_find(st, "a[y\tz]"));
	state_close(st);
	assert_int_equal(access(".juggle/state.bad", F_OK), 0);

	sb_release(&warn);
	sb_release(&err);
	graph_release(&g);
	diag_release(&d);
}

/* A log far bigger than one read, with a record longer than one read,
 * comes back whole; a damaged last line is dropped as torn, but damage
 * followed by anything, even a torn tail, sets the log aside. */
static void test_state_big_log_read_in_pieces(void **state)
{
	(void)state;
	struct graph g;
	struct diag d = {0};
	assert_int_equal(load_ini(&g, "[command a]\ncommand = true\nforeach = range:1..3000\n",
				  &d, NULL),
			 0);
	struct state *st;
	struct strbuf warn = {0}, err = {0};
	assert_int_equal(state_open(&st, ".juggle", false, &warn, &err), 0);
	enum { MANY = 2000 };
	struct file_sig *ins = calloc(MANY, sizeof(*ins));
	char **paths = calloc(MANY, sizeof(*paths));
	for (size_t i = 0; i < MANY; i++) {
		paths[i] = xasprintf("in/a-rather-long-folder-name/and-a-long-file-name-%zu.txt", i);
		ins[i] = (struct file_sig){.path = paths[i], .mtime_ns = (int64_t)i, .size = 3};
	}
	for (size_t i = 0; i < g.jobs.n; i++) {
		struct file_sig out = {.path = "o", .mtime_ns = (int64_t)i, .size = 1};
		/* The job in the middle reads MANY inputs: a line of 150 KB. */
		uint32_t n_in = i == g.jobs.n / 2 ? MANY : 1;
		assert_int_equal(state_record_ok(st, g.jobs.v[i], ins, n_in, &out, 1, 1, 0.5, "",
						 true),
				 0);
	}
	state_close(st);
	size_t whole;
	free(read_file(".juggle/state", &whole));
	assert_true(whole > 4 * 65536);

	/* A complete last line with a wrong CRC: dropped, the log cut there. */
	int fd = open(".juggle/state", O_WRONLY | O_APPEND);
	assert_true(write(fd, "F\ta[1]\t9\t00000000\n", 18) == 18);
	close(fd);
	assert_int_equal(state_open(&st, ".juggle", false, &warn, &err), 0);
	assert_string_equal(sb_str(&warn), "");
	for (size_t i = 0; i < g.jobs.n; i++) {
		const struct state_rec *r = state_find(st, g.jobs.v[i]->name);
		assert_non_null(r);
		assert_int_equal(r->files[r->n_in].mtime_ns, (int64_t)i);
	}
	const struct state_rec *big = state_find(st, g.jobs.v[g.jobs.n / 2]->name);
	assert_int_equal(big->n_in, MANY);
	assert_string_equal(big->files[MANY - 1].path, paths[MANY - 1]);
	assert_int_equal(big->files[MANY - 1].mtime_ns, MANY - 1);
	state_close(st);
	size_t len;
	free(read_file(".juggle/state", &len));
	assert_int_equal(len, whole);

	/* The same damage followed by a torn tail is damage in the middle. */
	fd = open(".juggle/state", O_WRONLY | O_APPEND);
	assert_true(write(fd, "F\ta[1]\t9\t00000000\nS\ttorn", 24) == 24);
	close(fd);
	assert_int_equal(state_open(&st, ".juggle", false, &warn, &err), 0);
	assert_non_null(strstr(sb_str(&warn), "damaged; moved it to .juggle/state.bad"));
	assert_null(state_find(st, "a[1]"));
	state_close(st);

	for (size_t i = 0; i < MANY; i++)
		free(paths[i]);
	free(paths);
	free(ins);
	sb_release(&warn);
	sb_release(&err);
	graph_release(&g);
	diag_release(&d);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_state_roundtrip_and_torn_tail, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_state_big_log_read_in_pieces, in_tmp, out_of_tmp),
};
UNIT_GROUP(state, tests, NULL, NULL);
