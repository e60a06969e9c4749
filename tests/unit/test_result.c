/* test_result.c - unit tests of the results juggle reads back: the sealed
 * results that come back from Slurm nodes, and the run's key. */
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
#include "engine/result.h"
#include "engine/util.h"

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

/* Keys, seals and state hashes are read back with hex_decode(). */
static void test_hex_decode_reads_what_hex_encode_wrote(void **state)
{
	(void)state;
	unsigned char in[4] = {0x00, 0x9f, 0xa0, 0xff}, out[4];
	char hex[9];
	hex_encode(hex, in, sizeof(in));
	assert_string_equal(hex, "009fa0ff");
	assert_int_equal(hex_decode(out, hex, sizeof(out)), 0);
	assert_memory_equal(out, in, sizeof(in));
	assert_int_equal(hex_decode(out, "009FA0FF", sizeof(out)), 0);
	assert_memory_equal(out, in, sizeof(in));
	/* A non-digit anywhere, and a string that ends early. */
	assert_int_equal(hex_decode(out, "009fa0fg", sizeof(out)), -1);
	assert_int_equal(hex_decode(out, "0x9fa0ff", sizeof(out)), -1);
	assert_int_equal(hex_decode(out, "009f", sizeof(out)), -1);
	assert_int_equal(hex_digit('/'), -1);
	assert_int_equal(hex_digit(':'), -1);
	assert_int_equal(hex_digit('G'), -1);
	assert_int_equal(hex_digit(-1), -1);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_sealed_result_binds_job_attempt_and_key),
	cmocka_unit_test(test_hex_decode_reads_what_hex_encode_wrote),
	cmocka_unit_test_setup_teardown(test_run_key_is_private, in_tmp, out_of_tmp),
};
UNIT_GROUP(result, tests, NULL, NULL);
