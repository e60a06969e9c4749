/* result.c - what an attempt did, and its JSON and sealed forms; see
 * result.h. */
#define _GNU_SOURCE
#include "engine/result.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

void result_init(struct result *r)
{
	memset(r, 0, sizeof(*r));
	r->exit_code = -1;
	r->worker = -1;
}

void result_release(struct result *r)
{
	free(r->error);
	free(r->value);
	free(r->extra);
	json_decref(r->facts);
	json_decref(r->counts);
	for (uint32_t i = 0; i < r->n_outs; i++)
		free((char *)r->outs[i].path);
	free(r->outs);
	result_init(r);
}

void result_fail(struct result *r, const char *fmt, ...)
{
	struct strbuf sb = {0};
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	free(r->error);
	r->error = sb_detach(&sb);
	r->status = RES_FAILED;
}

static json_t *facts_of(json_t **o)
{
	if (!*o)
		*o = json_object();
	return *o;
}

void result_fact_int(struct result *r, const char *name, long long v)
{
	json_object_set_new(facts_of(&r->facts), name, json_integer(v));
}

void result_fact_str(struct result *r, const char *name, const char *v)
{
	json_object_set_new(facts_of(&r->facts), name, json_string(v));
}

void counts_add(json_t **counts, const char *name, long long v)
{
	json_t *c = facts_of(counts);
	json_object_set_new(c, name, json_integer(json_integer_value(json_object_get(c, name)) + v));
}

void counts_add_all(json_t **counts, json_t *more)
{
	const char *k;
	json_t *v;
	json_object_foreach(more, k, v)
		counts_add(counts, k, json_integer_value(v));
}

void facts_update(json_t **facts, json_t *newer)
{
	if (newer)
		json_object_update(facts_of(facts), newer);
}

void result_count(struct result *r, const char *name, long long v)
{
	counts_add(&r->counts, name, v);
}

long long result_fact_get(const struct result *r, const char *name)
{
	return json_integer_value(json_object_get(r->facts, name));
}

long long result_count_get(const struct result *r, const char *name)
{
	return json_integer_value(json_object_get(r->counts, name));
}

/* ---- results across processes ---- */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

char *result_to_json(const struct result *r)
{
	json_t *o = json_object();
	json_object_set_new(o, "status", json_integer(r->status));
	json_object_set_new(o, "retryable", json_boolean(r->retryable));
	json_object_set_new(o, "unchanged", json_boolean(r->unchanged));
	json_object_set_new(o, "timed_out", json_boolean(r->timed_out));
	json_object_set_new(o, "not_started", json_boolean(r->not_started));
	json_object_set_new(o, "logged", json_boolean(r->logged));
	json_object_set_new(o, "retry_after", json_real(r->retry_after));
	json_object_set_new(o, "exit_code", json_integer(r->exit_code));
	json_object_set_new(o, "signal", json_integer(r->signal));
	json_object_set_new(o, "bytes", json_integer(r->bytes));
	json_object_set_new(o, "cpu_s", json_real(r->cpu_s));
	json_object_set_new(o, "duration", json_real(r->finished - r->started));
	json_object_set_new(o, "error", str_or_null(r->error));
	json_object_set_new(o, "value", str_or_null(r->value));
	json_object_set_new(o, "extra", str_or_null(r->extra));
	if (r->facts)
		json_object_set(o, "facts", r->facts);
	if (r->counts)
		json_object_set(o, "counts", r->counts);
	json_t *outs = json_array();
	for (uint32_t i = 0; i < r->n_outs; i++) {
		char hex[33];
		hex_encode(hex, r->outs[i].hash, 16);
		json_array_append_new(outs, json_pack("{s:s,s:I,s:I,s:s}", "path", r->outs[i].path,
						      "mtime_ns", (json_int_t)r->outs[i].mtime_ns,
						      "size", (json_int_t)r->outs[i].size, "hash",
						      hex));
	}
	json_object_set_new(o, "outs", outs);
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}

/* A copy of o's members whose values are integers or strings (what a fact
 * or a count may be), or NULL when there are none. */
static json_t *plain_object(json_t *o)
{
	json_t *copy = NULL, *v;
	const char *k;
	json_object_foreach(o, k, v)
		if (json_is_integer(v) || json_is_string(v))
			json_object_set(facts_of(&copy), k, v);
	return copy;
}

static char *dup_str(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? xstrdup(s) : NULL;
}

int result_from_json(const char *s, struct result *r)
{
	result_init(r);
	json_error_t e;
	json_t *o = json_loads(s, 0, &e);
	if (!json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	r->status = (enum result_status)json_integer_value(json_object_get(o, "status"));
	r->retryable = json_is_true(json_object_get(o, "retryable"));
	r->unchanged = json_is_true(json_object_get(o, "unchanged"));
	r->timed_out = json_is_true(json_object_get(o, "timed_out"));
	r->not_started = json_is_true(json_object_get(o, "not_started"));
	r->logged = json_is_true(json_object_get(o, "logged"));
	r->retry_after = json_number_value(json_object_get(o, "retry_after"));
	r->exit_code = (int)json_integer_value(json_object_get(o, "exit_code"));
	r->signal = (int)json_integer_value(json_object_get(o, "signal"));
	r->bytes = json_integer_value(json_object_get(o, "bytes"));
	r->cpu_s = json_number_value(json_object_get(o, "cpu_s"));
	r->finished = json_number_value(json_object_get(o, "duration"));
	r->error = dup_str(o, "error");
	r->value = dup_str(o, "value");
	r->extra = dup_str(o, "extra");
	r->facts = plain_object(json_object_get(o, "facts"));
	r->counts = plain_object(json_object_get(o, "counts"));
	json_t *outs = json_object_get(o, "outs");
	size_t n = json_array_size(outs);
	r->outs = xcalloc(n + 1, sizeof(*r->outs));
	for (size_t i = 0; i < n; i++) {
		json_t *x = json_array_get(outs, i);
		const char *path = json_string_value(json_object_get(x, "path"));
		const char *hex = json_string_value(json_object_get(x, "hash"));
		/* 32 hex digits, or the entry is dropped: sscanf's %2x would
		 * leave v unset on "zz" and take "+f" or " f" as a number. */
		if (!path || !hex || strlen(hex) != 32 ||
		    strspn(hex, "0123456789abcdefABCDEF") != 32)
			continue;
		struct file_sig *sig = &r->outs[r->n_outs++];
		sig->path = xstrdup(path);
		sig->mtime_ns = json_integer_value(json_object_get(x, "mtime_ns"));
		sig->size = json_integer_value(json_object_get(x, "size"));
		for (int k = 0; k < 16; k++) {
			unsigned v;
			sscanf(hex + 2 * k, "%2x", &v);
			sig->hash[k] = (unsigned char)v;
		}
	}
	json_decref(o);
	return 0;
}

/* ---- sealed results ---- */

int result_key_create(const char *path, unsigned char key[RESULT_KEY_LEN])
{
	if (getrandom(key, RESULT_KEY_LEN, 0) != RESULT_KEY_LEN) {
		errno = EIO;
		return -1;
	}
	if (unlink(path) < 0 && errno != ENOENT)
		return -1;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -1;
	char hex[2 * RESULT_KEY_LEN + 2];
	hex_encode(hex, key, RESULT_KEY_LEN);
	strcat(hex, "\n");
	if (write_all(fd, hex, strlen(hex)) < 0 || close(fd) < 0) {
		int e = errno;
		unlink(path);
		errno = e;
		return -1;
	}
	return 0;
}

int result_key_read(const char *path, unsigned char key[RESULT_KEY_LEN])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -1;
	struct stat sb;
	char hex[2 * RESULT_KEY_LEN + 2] = {0};
	ssize_t n = -1;
	if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == geteuid() &&
	    !(sb.st_mode & 077))
		n = read(fd, hex, sizeof(hex) - 1);
	close(fd);
	if (n < 2 * RESULT_KEY_LEN) {
		errno = EINVAL;
		return -1;
	}
	if (hex_decode(key, hex, RESULT_KEY_LEN) < 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

#define SEAL_PREFIX "hmac-sha256 "

/* The MAC binds the JSON to the job and the attempt it answers for. */
static void seal_mac(const char *json, size_t len, const char *job, int number,
		     const unsigned char key[RESULT_KEY_LEN], unsigned char mac[32])
{
	struct strbuf sb = {0};
	sb_addf(&sb, "juggle result 1");
	sb_addc(&sb, '\0');
	sb_adds(&sb, job);
	sb_addc(&sb, '\0');
	sb_addf(&sb, "%d", number);
	sb_addc(&sb, '\0');
	sb_add(&sb, json, len);
	unsigned int n = 32;
	HMAC(EVP_sha256(), key, RESULT_KEY_LEN, (const unsigned char *)sb.buf, sb.len, mac, &n);
	sb_release(&sb);
}

char *result_seal(const char *json, const char *job, int number,
		  const unsigned char key[RESULT_KEY_LEN])
{
	unsigned char mac[32];
	seal_mac(json, strlen(json), job, number, key, mac);
	char hex[65];
	hex_encode(hex, mac, sizeof(mac));
	return xasprintf(SEAL_PREFIX "%s\n%s", hex, json);
}

int result_unseal(const char *text, const char *job, int number,
		  const unsigned char key[RESULT_KEY_LEN], struct result *r)
{
	size_t plen = strlen(SEAL_PREFIX);
	if (strncmp(text, SEAL_PREFIX, plen) != 0 || strlen(text) < plen + 65 ||
	    text[plen + 64] != '\n')
		return -1;
	unsigned char got[32], want[32];
	if (hex_decode(got, text + plen, sizeof(got)) < 0)
		return -1;
	const char *json = text + plen + 65;
	seal_mac(json, strlen(json), job, number, key, want);
	if (CRYPTO_memcmp(got, want, sizeof(want)) != 0)
		return -1;
	return result_from_json(json, r) < 0 ? -2 : 0;
}
