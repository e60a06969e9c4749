/* ownfiles.c - unit tests of juggle's own files: the sealed results that
 * come back from Slurm nodes, the run's key, and the checks on .juggle.
 * Run from unit.c's main through ownfiles_unit_tests(). */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "engine/attempt.h"
#include "engine/owndir.h"

int ownfiles_unit_tests(void);

static void test_sealed_result_binds_job_attempt_and_key(void **state)
{
	(void)state;
	unsigned char key[RESULT_KEY_LEN], other[RESULT_KEY_LEN];
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	struct result r;
	result_init(&r);
	r.status = RES_FAILED;
	r.error = xstrdup("exited with status 1");
	char *json = result_to_json(&r);
	result_release(&r);
	char *sealed = result_seal(json, "check", 2, key);

	struct result back;
	assert_int_equal(result_unseal(sealed, "check", 2, key, &back), 0);
	assert_int_equal(back.status, RES_FAILED);
	assert_string_equal(back.error, "exited with status 1");
	result_release(&back);

	/* Another job, attempt or key, the bare JSON, or one changed byte. */
	assert_int_equal(result_unseal(sealed, "check2", 2, key, &back), -1);
	assert_int_equal(result_unseal(sealed, "check", 1, key, &back), -1);
	assert_int_equal(result_unseal(sealed, "check", 2, other, &back), -1);
	assert_int_equal(result_unseal(json, "check", 2, key, &back), -1);
	char *p = strstr(sealed, "\"status\":1");
	assert_non_null(p);
	p[9] = '0'; /* failed -> ok */
	assert_int_equal(result_unseal(sealed, "check", 2, key, &back), -1);
	assert_int_equal(result_unseal("", "check", 2, key, &back), -1);
	free(sealed);

	/* A good seal over text that is not a result. */
	sealed = result_seal("[1]", "check", 2, key);
	assert_int_equal(result_unseal(sealed, "check", 2, key, &back), -2);
	free(sealed);
	free(json);
}

static void test_run_key_is_private(void **state)
{
	(void)state;
	unsigned char key[RESULT_KEY_LEN], read[RESULT_KEY_LEN];
	assert_int_equal(result_key_create("key", key), 0);
	struct stat sb;
	assert_int_equal(lstat("key", &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
	assert_int_equal(result_key_read("key", read), 0);
	assert_memory_equal(key, read, sizeof(key));
	/* A new run, a new key, in place of the old one. */
	unsigned char again[RESULT_KEY_LEN];
	assert_int_equal(result_key_create("key", again), 0);
	assert_memory_not_equal(key, again, sizeof(key));
	/* Readable by others, or a link: not a key. */
	assert_int_equal(chmod("key", 0644), 0);
	assert_int_equal(result_key_read("key", read), -1);
	assert_int_equal(chmod("key", 0600), 0);
	assert_int_equal(symlink("key", "link"), 0);
	assert_int_equal(result_key_read("link", read), -1);
	/* A link planted at the key's name is replaced, not written through. */
	write_text("victim", "precious\n");
	assert_int_equal(unlink("key"), 0);
	assert_int_equal(symlink("victim", "key"), 0);
	assert_int_equal(result_key_create("key", key), 0);
	assert_int_equal(lstat("key", &sb), 0);
	assert_true(S_ISREG(sb.st_mode));
	size_t len;
	char *v = read_file("victim", &len);
	assert_string_equal(v, "precious\n");
	free(v);
}

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

int ownfiles_unit_tests(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sealed_result_binds_job_attempt_and_key),
	    cmocka_unit_test_setup_teardown(test_run_key_is_private, in_tmp, out_of_tmp),
	    cmocka_unit_test_setup_teardown(test_own_dir_must_be_real, in_tmp, out_of_tmp),
	};
	return cmocka_run_group_tests_name("ownfiles", tests, NULL, NULL);
}
