/* remote.c - see remote.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "engine/remote.h"
#include "engine/util.h"

/* A JSON object as one line, newline included. */
static char *line_of(json_t *o)
{
	char *s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	char *line = xasprintf("%s\n", s ? s : "{}");
	free(s);
	return line;
}

char *remote_hello(char nonce[2 * REMOTE_NONCE_LEN + 1])
{
	unsigned char rnd[REMOTE_NONCE_LEN];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		abort(); /* the kernel's generator does not fail for 32 bytes */
	hex_encode(nonce, rnd, sizeof(rnd));
	return line_of(json_pack("{s:s,s:s}", "hello", REMOTE_HELLO, "nonce", nonce));
}

static void mac_hex(const unsigned char key[RESULT_KEY_LEN], const char *nonce,
                    char out[2 * 32 + 1])
{
	struct strbuf sb = {0};
	sb_addf(&sb, "%s\n%s", REMOTE_HELLO, nonce);
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned n = 0;
	HMAC(EVP_sha256(), key, RESULT_KEY_LEN, (const unsigned char *)sb.buf, sb.len, mac, &n);
	sb_release(&sb);
	hex_encode(out, mac, 32);
}

void remote_node_name(char *out, size_t size)
{
	const char *node = getenv("SLURMD_NODENAME");
	if (node && *node) {
		snprintf(out, size, "%s", node);
		return;
	}
	memset(out, 0, size);
	if (gethostname(out, size - 1) < 0 || !*out)
		snprintf(out, size, "?");
}

char *remote_answer(const char *hello, const unsigned char key[RESULT_KEY_LEN])
{
	json_t *o = json_loads(hello, 0, NULL);
	const char *h = json_string_value(json_object_get(o, "hello"));
	const char *nonce = json_string_value(json_object_get(o, "nonce"));
	if (!h || strcmp(h, REMOTE_HELLO) != 0 || !nonce || strlen(nonce) != 2 * REMOTE_NONCE_LEN) {
		json_decref(o);
		return NULL;
	}
	char proof[65], host[256];
	mac_hex(key, nonce, proof);
	json_decref(o);
	remote_node_name(host, sizeof(host));
	/* The allocation this worker belongs to: the run releases its
	 * allocations one by one. */
	const char *alloc = getenv("SLURM_JOB_ID");
	return line_of(json_pack("{s:s,s:s,s:i,s:I}", "proof", proof, "host", host, "pid",
	                         (int)getpid(), "slurm_job",
	                         (json_int_t)(alloc ? strtoll(alloc, NULL, 10) : 0)));
}

long remote_slurm_job(const char *line)
{
	json_t *o = json_loads(line, 0, NULL);
	long id = (long)json_integer_value(json_object_get(o, "slurm_job"));
	json_decref(o);
	return id;
}

bool remote_check(const char *line, const char *nonce, const unsigned char key[RESULT_KEY_LEN],
                  char **who)
{
	*who = NULL;
	json_t *o = json_loads(line, 0, NULL);
	const char *proof = json_string_value(json_object_get(o, "proof"));
	char want[65];
	mac_hex(key, nonce, want);
	bool ok = proof && strlen(proof) == 64 && CRYPTO_memcmp(proof, want, 64) == 0;
	if (ok) {
		const char *host = json_string_value(json_object_get(o, "host"));
		*who = xasprintf("%s pid %lld", host ? host : "?",
		                 (long long)json_integer_value(json_object_get(o, "pid")));
	}
	json_decref(o);
	return ok;
}

/* Sets o's key to text, hex-encoded (any bytes survive, JSON's rules on
 * strings never apply). */
static void set_hex(json_t *o, const char *key, const char *text)
{
	size_t n = strlen(text);
	char *hex = xmalloc(2 * n + 1);
	hex_encode(hex, (const unsigned char *)text, n);
	json_object_set_new(o, key, json_string(hex));
	free(hex);
}

char *remote_request(const char *job, int number, const char *extra, const char *failed)
{
	json_t *o = json_pack("{s:s,s:i}", "job", job, "attempt", number);
	if (extra)
		set_hex(o, "extra", extra);
	if (failed)
		set_hex(o, "failed", failed);
	return line_of(o);
}

static int nibble(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* o's key decoded from hex into *out (NULL when absent): 0, or -1 when
 * the key is there but not hex of text without a NUL. */
static int get_hex(json_t *o, const char *key, char **out)
{
	*out = NULL;
	json_t *x = json_object_get(o, key);
	if (!x)
		return 0;
	const char *hex = json_string_value(x);
	if (!hex || strlen(hex) % 2)
		return -1;
	size_t len = strlen(hex) / 2;
	char *e = xmalloc(len + 1);
	for (size_t i = 0; i < len; i++) {
		int hi = nibble(hex[2 * i]), lo = nibble(hex[2 * i + 1]);
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(e);
			return -1;
		}
		e[i] = (char)(hi << 4 | lo);
	}
	e[len] = '\0';
	*out = e;
	return 0;
}

int remote_request_parse(const char *line, struct remote_request *req)
{
	memset(req, 0, sizeof(*req));
	json_t *o = json_loads(line, 0, NULL);
	const char *name = json_string_value(json_object_get(o, "job"));
	json_t *n = json_object_get(o, "attempt");
	char *extra = NULL, *failed = NULL;
	if (!name || !json_is_integer(n) || get_hex(o, "extra", &extra) < 0 ||
	    get_hex(o, "failed", &failed) < 0) {
		free(extra);
		json_decref(o);
		return -1;
	}
	req->job = xstrdup(name);
	req->number = (int)json_integer_value(n);
	req->extra = extra;
	req->failed = failed;
	json_decref(o);
	return 0;
}

void remote_request_release(struct remote_request *req)
{
	free(req->job);
	free(req->extra);
	free(req->failed);
	memset(req, 0, sizeof(*req));
}

int remote_run_attempt(const struct job *job, struct worker *w, int number, const char *extra,
                       int fd)
{
	struct result res;
	job_attempt(job, w, number, extra, &res);
	char *out = result_to_json(&res);
	size_t len = strlen(out);
	out[len] = '\n'; /* replaces the NUL; the length is known */
	int rc = write_all(fd, out, len + 1);
	free(out);
	result_release(&res);
	return rc;
}
