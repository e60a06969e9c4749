/* test_owndir.c - unit tests of engine/owndir.c: .juggle and its folders
 * must be real folders, and its files are read without following links. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "engine/owndir.h"

static void test_own_dir_must_be_real(void **state)
{
	(void)state;
	struct strbuf err = {0};
	assert_int_equal(own_dir_prepare(".j", OWN_READ, &err), 1);
	assert_int_equal(own_dir_prepare(".j", OWN_CREATE, &err), 0);
	struct stat sb;
	assert_int_equal(lstat(".j/logs", &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(mkdir("elsewhere", 0777), 0);
	assert_int_equal(symlink("elsewhere", ".k"), 0);
	assert_int_equal(own_dir_prepare(".k", OWN_CREATE, &err), -1);
	assert_non_null(strstr(sb_str(&err), "'.k' is a symbolic link"));
	sb_reset(&err);
	assert_int_equal(own_dir_prepare(".k", OWN_READ, &err), -1);
	sb_reset(&err);
	assert_int_equal(rmdir(".j/results"), 0);
	assert_int_equal(symlink("../elsewhere", ".j/results"), 0);
	assert_int_equal(own_dir_prepare(".j", OWN_WRITE, &err), -1);
	assert_non_null(strstr(sb_str(&err), "'.j/results' is a symbolic link"));
	sb_reset(&err);
	write_text("afile", "x");
	assert_int_equal(own_dir_prepare("afile", OWN_CREATE, &err), -1);
	assert_non_null(strstr(sb_str(&err), "is not a folder"));
	sb_release(&err);
	/* Own files are read without following a link. */
	size_t len;
	assert_int_equal(symlink("afile", "alink"), 0);
	assert_null(own_file_read("alink", &len));
	char *s = own_file_read("afile", &len);
	assert_string_equal(s, "x");
	free(s);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_own_dir_must_be_real, in_tmp, out_of_tmp),
};
UNIT_GROUP(owndir, tests, NULL, NULL);
