/* test_remote.c - unit tests of the link between a run and its Slurm
 * allocation's workers: the proof of the run's key and the request lines. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "engine/remote.h"

static void test_proof_needs_the_key_and_the_nonce(void **state)
{
	(void)state;
	unsigned char key[RESULT_KEY_LEN], other[RESULT_KEY_LEN];
	memset(key, 7, sizeof(key));
	memset(other, 8, sizeof(other));
	char nonce[2 * REMOTE_NONCE_LEN + 1], nonce2[2 * REMOTE_NONCE_LEN + 1];
	char *hello = remote_hello(nonce);
	char *hello2 = remote_hello(nonce2);
	assert_string_not_equal(nonce, nonce2); /* fresh each time */
	char *answer = remote_answer(hello, key);
	assert_non_null(answer);
	/* The key itself is not in the answer. */
	char hexkey[2 * RESULT_KEY_LEN + 1];
	hex_encode(hexkey, key, sizeof(key));
	assert_null(strstr(answer, hexkey));
	char *who = NULL;
	assert_true(remote_check(answer, nonce, key, &who));
	assert_non_null(who);
	free(who);
	/* Another key, another nonce (a replayed answer), or no proof. */
	assert_false(remote_check(answer, nonce, other, &who));
	assert_null(who);
	assert_false(remote_check(answer, nonce2, key, &who));
	assert_false(remote_check("{\"job\":\"a\",\"attempt\":1}", nonce, key, &who));
	assert_false(remote_check("not json", nonce, key, &who));
	/* A worker answers only a hello. */
	assert_null(remote_answer("{\"hello\":\"other\",\"nonce\":\"00\"}", key));
	free(answer);
	free(hello);
	free(hello2);
}

static void test_request_round_trip(void **state)
{
	(void)state;
	char *line = remote_request("a b", 3, "etag \"x\"\n\xc3\xa9", "conv[b]\nconv[c]");
	struct remote_request req;
	assert_int_equal(remote_request_parse(line, &req), 0);
	assert_string_equal(req.job, "a b");
	assert_int_equal(req.number, 3);
	assert_string_equal(req.extra, "etag \"x\"\n\xc3\xa9");
	assert_string_equal(req.failed, "conv[b]\nconv[c]");
	remote_request_release(&req);
	free(line);
	/* An empty list of failed jobs (a trigger job with nothing failed
	 * upstream) is not the same as none given. */
	line = remote_request("j", 1, NULL, "");
	assert_int_equal(remote_request_parse(line, &req), 0);
	assert_null(req.extra);
	assert_non_null(req.failed);
	assert_string_equal(req.failed, "");
	remote_request_release(&req);
	free(line);
	line = remote_request("j", 1, NULL, NULL);
	assert_int_equal(remote_request_parse(line, &req), 0);
	assert_null(req.extra);
	assert_null(req.failed);
	remote_request_release(&req);
	free(line);
	assert_int_equal(remote_request_parse("{\"job\":1}", &req), -1);
	assert_null(req.job);
	assert_int_equal(remote_request_parse("{\"job\":\"j\",\"attempt\":1,\"extra\":\"0\"}", &req),
	                 -1);
	assert_int_equal(
	    remote_request_parse("{\"job\":\"j\",\"attempt\":1,\"failed\":\"6\"}", &req), -1);
	assert_null(req.extra);
}

static const struct CMUnitTest tests[] = {
    cmocka_unit_test(test_proof_needs_the_key_and_the_nonce),
    cmocka_unit_test(test_request_round_trip),
};

UNIT_GROUP(remote, tests, NULL, NULL);
