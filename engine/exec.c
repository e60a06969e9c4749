/* exec.c - one attempt of one job; see exec.h. */
#define _GNU_SOURCE
#include "exec.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kind.h"
#include "sig.h"

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

void worker_release(struct worker *w)
{
	for (int i = 0; job_kinds[i] && i < KIND_SLOTS; i++) {
		if (w->cache[i] && job_kinds[i]->worker_release)
			job_kinds[i]->worker_release(w->cache[i]);
		w->cache[i] = NULL;
	}
}

int hash_file(const char *path, unsigned char out[16])
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, md_sha256(), NULL);
	static __thread unsigned char buf[1 << 16];
	int rc = 0;
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -1;
			break;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
	}
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len;
	EVP_DigestFinal_ex(ctx, md, &len);
	EVP_MD_CTX_free(ctx);
	close(fd);
	memcpy(out, md, 16);
	return rc;
}

int file_sig_read(const char *path, struct file_sig *sig, bool want_hash)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		sig->mtime_ns = -1;
		sig->size = 0;
		memset(sig->hash, 0, 16);
		return -1;
	}
	sig->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	sig->size = (int64_t)st.st_size;
	if (want_hash && hash_file(path, sig->hash) < 0) {
		sig->mtime_ns = -1;
		return -1;
	}
	return 0;
}

/* An output's folder must resolve inside the graph's folder: a symbolic
 * link in the way could otherwise carry the write anywhere. */
static int check_inside(const char *path, const char *root, struct strbuf *err)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	char *real = realpath(dir, NULL);
	int rc = 0;
	if (!real) {
		sb_addf(err, "cannot resolve the folder of output '%s': %s", path,
			strerror(errno));
		rc = -1;
	} else if (strcmp(real, root) != 0 &&
		   (strncmp(real, root, strlen(root)) != 0 || real[strlen(root)] != '/') &&
		   strcmp(root, "/") != 0) {
		sb_addf(err, "output '%s' would be written outside the graph's folder (its folder is %s)",
			path, real);
		rc = -1;
	}
	free(real);
	free(dir);
	return rc;
}

static double thread_cpu(void)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static int prepare_outputs(const struct job *job, struct strbuf *err)
{
	char *root = realpath(".", NULL);
	if (!root) {
		if (errno == ENOENT)
			sb_addf(err, "the graph's folder was removed during the run (%s)",
				strerror(errno));
		else
			sb_addf(err, "cannot resolve the graph's folder: %s", strerror(errno));
		return -1;
	}
	int rc = 0;
	for (uint32_t i = 0; i < job->n_outputs && rc == 0; i++) {
		const char *out = job->outputs[i];
		if (mkdir_parents(out) < 0) {
			sb_addf(err, "cannot create the folder of output '%s': %s", out,
				strerror(errno));
			rc = -1;
		} else {
			rc = check_inside(out, root, err);
		}
	}
	free(root);
	return rc;
}

static int open_log(const struct job *job, int number)
{
	char *path = job_log_path(job);
	mkdir_p(STATE_DIR "/logs", 0777);
	int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (number <= 1 ? O_TRUNC : 0);
	int fd = open(path, flags, 0666);
	free(path);
	return fd;
}

int attempt_begin(struct attempt *a, const struct job *job, struct worker *w, int number,
		  const char *prev_extra, struct result *res)
{
	result_init(res);
	memset(a, 0, sizeof(*a));
	a->job = job;
	a->worker = w;
	a->number = number;
	a->prev_extra = prev_extra;
	a->res = res;
	a->log_fd = -1;
	res->worker = w->id;
	res->started = mono_now();
	a->cpu0 = thread_cpu();
	a->deadline = job->sec->timeout > 0 ? res->started + job->sec->timeout : 0;
	struct strbuf err = {0};
	if (cancel_requested()) {
		result_fail(res, "interrupted before it started");
		res->status = RES_INTERRUPTED;
		res->not_started = true;
		return -1;
	}
	if (prepare_outputs(job, &err) < 0) {
		result_fail(res, "%s", sb_str(&err));
		sb_release(&err);
		return -1;
	}
	a->log_fd = open_log(job, number);
	if (a->log_fd < 0) {
		result_fail(res, "cannot open the log of '%s': %s", job->name, strerror(errno));
		return -1;
	}
	if (number > 1) {
		char line[64];
		int n = snprintf(line, sizeof(line), "--- attempt %d ---\n", number);
		write_all(a->log_fd, line, (size_t)n);
	}
	return 0;
}

void attempt_end(struct attempt *a, int rc)
{
	const struct job *job = a->job;
	struct result *res = a->res;
	if (rc == 0 && res->status == RES_OK) {
		free(res->error);
		res->error = NULL;
		res->outs = xcalloc(job->n_outputs + 1, sizeof(*res->outs));
		for (uint32_t i = 0; i < job->n_outputs; i++) {
			struct file_sig *s = &res->outs[i];
			s->path = xstrdup(job->outputs[i]);
			res->n_outs++;
			if (file_sig_read(s->path, s, true) < 0) {
				result_fail(res, "finished without writing its output '%s'",
					    job->outputs[i]);
				break;
			}
		}
	} else {
		if (res->status == RES_OK)
			res->status = RES_FAILED;
		if (!res->error)
			res->error = xstrdup("failed");
	}
	if (res->status != RES_OK && cancel_requested())
		res->status = RES_INTERRUPTED;
	if (res->status != RES_OK) {
		/* make's .DELETE_ON_ERROR: a half-made output must not pass for
		 * a made one. Kinds that write atomically keep the old copy. */
		for (uint32_t i = 0; i < res->n_outs; i++)
			free((char *)res->outs[i].path);
		free(res->outs);
		res->outs = NULL;
		res->n_outs = 0;
		if (!job->sec->kind->atomic_outputs && !res->not_started)
			for (uint32_t i = 0; i < job->n_outputs; i++)
				unlink(job->outputs[i]);
		if (a->log_fd >= 0) {
			char *line = xasprintf("juggle: %s\n", res->error);
			write_all(a->log_fd, line, strlen(line));
			free(line);
		}
	}
	if (a->log_fd >= 0)
		close(a->log_fd);
	a->log_fd = -1;
	res->cpu_s += thread_cpu() - a->cpu0;
	res->finished = mono_now();
}

void job_attempt(const struct job *job, struct worker *w, int number, const char *prev_extra,
		 struct result *res)
{
	struct attempt a;
	int rc = attempt_begin(&a, job, w, number, prev_extra, res);
	if (rc == 0) {
		res->status = RES_OK;
		rc = job->sec->kind->run(&a);
	}
	attempt_end(&a, rc);
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
	json_object_set_new(o, "retry_after", json_real(r->retry_after));
	json_object_set_new(o, "exit_code", json_integer(r->exit_code));
	json_object_set_new(o, "signal", json_integer(r->signal));
	json_object_set_new(o, "http_status", json_integer(r->http_status));
	json_object_set_new(o, "connections", json_integer(r->connections));
	json_object_set_new(o, "bytes", json_integer(r->bytes));
	json_object_set_new(o, "cpu_s", json_real(r->cpu_s));
	json_object_set_new(o, "duration", json_real(r->finished - r->started));
	json_object_set_new(o, "error", str_or_null(r->error));
	json_object_set_new(o, "value", str_or_null(r->value));
	json_object_set_new(o, "extra", str_or_null(r->extra));
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
	r->retry_after = json_number_value(json_object_get(o, "retry_after"));
	r->exit_code = (int)json_integer_value(json_object_get(o, "exit_code"));
	r->signal = (int)json_integer_value(json_object_get(o, "signal"));
	r->http_status = (long)json_integer_value(json_object_get(o, "http_status"));
	r->connections = (long)json_integer_value(json_object_get(o, "connections"));
	r->bytes = json_integer_value(json_object_get(o, "bytes"));
	r->cpu_s = json_number_value(json_object_get(o, "cpu_s"));
	r->finished = json_number_value(json_object_get(o, "duration"));
	r->error = dup_str(o, "error");
	r->value = dup_str(o, "value");
	r->extra = dup_str(o, "extra");
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
