/* test_safepath.c - unit tests of engine/safepath.c: output folders are
 * reached without leaving the graph's folder (the current directory),
 * whatever links stand in the way, and temporary files are fresh files
 * under fresh names. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "helpers.h"
#include "engine/safepath.h"
#include "engine/util.h"

/* The test folder lives in a parent of its own, so that "outside" is a
 * sibling folder removed with it. */
static char outside[64];

static int in_nest(void **state)
{
	in_tmp(state);
	snprintf(outside, sizeof(outside), "/tmp/juggle-unit-outside-XXXXXX");
	assert_non_null(mkdtemp(outside));
	return 0;
}

static int out_of_nest(void **state)
{
	remove_tree(outside);
	return out_of_tmp(state);
}

static void test_folders_inside_are_reached(void **state)
{
	(void)state;
	const char *base;
	assert_int_equal(mkdir("real", 0777), 0);
	assert_int_equal(symlink("real", "lnk"), 0);
	assert_int_equal(mkdir("real/sub", 0777), 0);
	assert_int_equal(symlink("..", "real/sub/up"), 0);
	char *abs = realpath("real", NULL);
	assert_int_equal(symlink(abs, "abs"), 0);
	free(abs);
	const char *ok[] = {"x", "./x", "real/x", "lnk/x", "lnk/sub/up/sub/x", "abs/x",
			    "made/a/b/x"};
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++) {
		int fd = out_dir_open(ok[i], true, &base);
		if (fd < 0)
			print_error("'%s': %s\n", ok[i], strerror(errno));
		assert_true(fd >= 0);
		assert_string_equal(base, "x");
		close(fd);
		assert_false(out_dir_leaves(ok[i]));
	}
	struct stat st;
	assert_int_equal(stat("made/a/b", &st), 0);
}

static void test_links_leading_out_are_refused(void **state)
{
	(void)state;
	const char *base;
	char *sub = xasprintf("%s/sub", outside);
	assert_int_equal(mkdir(sub, 0777), 0);
	assert_int_equal(symlink(outside, "out"), 0);
	assert_int_equal(symlink("..", "up"), 0);
	assert_int_equal(mkdir("d", 0777), 0);
	assert_int_equal(symlink("../..", "d/up2"), 0);
	char *gone = xasprintf("%s/missing", outside);
	assert_int_equal(symlink(gone, "dangling"), 0);
	const char *bad[] = {"out/x", "out/sub/x", "out/new/x", "up/x", "d/up2/x",
			     "dangling/x", "dangling/new/x"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		errno = 0;
		assert_int_equal(out_dir_open(bad[i], true, &base), -1);
		assert_int_equal(errno, EXDEV);
		assert_true(out_dir_leaves(bad[i]));
	}
	struct stat st;
	char *made = xasprintf("%s/new", outside);
	assert_int_equal(stat(made, &st), -1); /* nothing made outside */
	assert_int_equal(stat(gone, &st), -1);
	free(made);
	free(gone);
	free(sub);
}

static void test_writes_and_removals_stay_inside(void **state)
{
	(void)state;
	char *victim = xasprintf("%s/victim", outside);
	write_text(victim, "outside\n");
	/* A link at the output's name is removed, not followed. */
	assert_int_equal(mkdir("o", 0777), 0);
	assert_int_equal(symlink(victim, "o/page"), 0);
	struct out_stamp before;
	assert_int_equal(out_prepare("o/page", &before), 0);
	assert_false(before.exists);
	struct stat st;
	assert_int_equal(lstat("o/page", &st), -1);
	assert_int_equal(out_write("o/page", "mine\n", 5), 0);
	assert_int_equal(lstat("o/page", &st), 0);
	assert_true(S_ISREG(st.st_mode));
	/* Removal through a link leading out is refused. */
	assert_int_equal(symlink(outside, "out"), 0);
	errno = 0;
	assert_int_equal(out_unlink("out/victim"), -1);
	assert_int_equal(errno, EXDEV);
	size_t len;
	char *text = read_file(victim, &len);
	assert_string_equal(text, "outside\n");
	free(text);
	/* An output left as a link: inside is fine, outside is not. */
	assert_int_equal(symlink("page", "o/in"), 0);
	assert_false(out_link_leaves("o/in"));
	assert_int_equal(symlink(victim, "o/outl"), 0);
	assert_true(out_link_leaves("o/outl"));
	assert_true(out_link_leaves("out/victim"));
	free(victim);
}

static void test_temporary_files_are_fresh(void **state)
{
	(void)state;
	/* A FIFO and a file at the old fixed name are never opened. */
	assert_int_equal(mkfifo(".x.juggle-tmp", 0666), 0);
	char *a = NULL, *b = NULL;
	int fa = atomic_begin("x", &a);
	int fb = atomic_begin("x", &b);
	assert_true(fa >= 0 && fb >= 0);
	assert_string_not_equal(a, b);
	assert_int_equal(strncmp(a, ".x.juggle-tmp-", 14), 0);
	assert_int_equal(strlen(a), 14 + 16);
	atomic_abort(fb, b);
	assert_int_equal(write_all(fa, "x\n", 2), 0);
	assert_int_equal(atomic_commit(fa, a, "x"), 0);
	struct stat st;
	assert_int_equal(lstat(".x.juggle-tmp", &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	/* A long name is cut so that the temporary name stays valid. */
	char longname[256];
	memset(longname, 'n', 250);
	longname[250] = '\0';
	assert_int_equal(out_write(longname, "y\n", 2), 0);
	assert_int_equal(stat(longname, &st), 0);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_folders_inside_are_reached, in_nest, out_of_nest),
	cmocka_unit_test_setup_teardown(test_links_leading_out_are_refused, in_nest, out_of_nest),
	cmocka_unit_test_setup_teardown(test_writes_and_removals_stay_inside, in_nest, out_of_nest),
	cmocka_unit_test_setup_teardown(test_temporary_files_are_fresh, in_nest, out_of_nest),
};
UNIT_GROUP(safepath, tests, NULL, NULL);
