/* download.c - the `download` job kind: fetch one URL with libcurl into one
 * output, atomically.
 *
 * One transfer is a `struct dl`, and everything about it is written once
 * and shared by the two ways of carrying it:
 *   - run(): the blocking path of every backend but the event loop, one
 *     curl easy handle per worker (worker->cache), reset between jobs so
 *     its connection cache survives: a worker reuses its connection;
 *   - start_async()/cancel_async()/loop_release(): the event loop drives
 *     the same transfers through ONE curl multi handle per libuv loop
 *     (multi_socket API: curl's sockets become uv_poll handles, its timer a
 *     uv_timer), kept in the loop's cache slot.
 * Both call dl_begin() (options, temporary output, conditional headers),
 * share the callbacks (per chunk: size limit, streaming SHA-256, write to
 * the temporary file; the progress callback notices a stop request), and
 * end in dl_finish(), which classifies the outcome like curl's --retry and
 * either renames the complete file over the output or removes it. Nothing
 * partial ever carries the output's name.
 *
 * Conditional requests: the ETag and Last-Modified of a download, with
 * what identifies the copy they describe, go to the state log through
 * res->extra and come back as a->prev_extra. They are sent only when the
 * output on disk is still the copy they describe, so a hand-edited or
 * replaced output is fetched in full.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uv.h>

#include "engine/expand.h"
#include "engine/kind.h"
#include "engine/load/load.h"
#include "engine/safepath.h"
#include "engine/sig.h"
#include "engine/version.h"

/* A transfer that averages under LOW_SPEED_LIMIT bytes a second over
 * LOW_SPEED_TIME seconds (under 300 bytes in 30 s, waiting for the answer
 * included) is a stalled server, not a slow one: abort it, as a transient
 * failure, so retries apply. With the connect timeout this bounds a nightly
 * run even when a job sets no `timeout`, while any real link, however slow,
 * stays far above it. */
#define LOW_SPEED_LIMIT 10L
#define LOW_SPEED_TIME 30L
#define CONNECT_TIMEOUT 30L
#define MAX_REDIRECTS 10L
/* Error pages are read (so the connection stays reusable) up to this. */
#define MAX_ERROR_BODY (1 << 20)
#define DEFAULT_MAX_SIZE (1LL << 30)

extern const struct job_kind kind_download;

enum refresh { REFRESH_CONDITIONAL, REFRESH_ALWAYS, REFRESH_ONCE };
static const char *const refresh_names[] = {"conditional", "always", "once", NULL};

struct download_def {
	const char *url;           /* placeholders still in */
	const char *sha256;        /* NULL, or hex with placeholders still in */
	VEC(const char *) headers; /* "Name: value", placeholders still in */
	int64_t max_size;
	enum refresh refresh;
};

static const char *const download_keys[] = {"url", "sha256", "header", "max_size", "refresh",
					    NULL};

/* ---- checking the graph ---- */

static const char *const url_schemes[] = {"http", "https", "ftp", "ftps", "file", NULL};

/* The index in url_schemes of the scheme url starts with ("https://..."),
 * or -1. */
static int url_scheme(const char *url)
{
	for (int i = 0; url_schemes[i]; i++) {
		size_t n = strlen(url_schemes[i]);
		if (strncasecmp(url, url_schemes[i], n) == 0 && strncmp(url + n, "://", 3) == 0)
			return i;
	}
	return -1;
}

static bool url_scheme_ok(const char *url)
{
	return url_scheme(url) >= 0;
}

/* The URL of an instance, its placeholders substituted, into out; 0, or
 * -1 with why in err. Data must not pick what is fetched: the URL keeps
 * the scheme its template names, and a template that names none (all
 * placeholder, such as {item} over a list of URLs) gets http or https
 * only, never file:// or ftp://. No control characters either, which
 * would end the request line. */
static int instance_url(const struct job *job, const char *tmpl, struct strbuf *out,
			struct strbuf *err)
{
	subst_placeholders(job, tmpl, SUBST_TEXT, out);
	const char *u = sb_str(out);
	int have = url_scheme(u);
	const char *brace = strchr(tmpl, '{');
	const char *sep = strstr(tmpl, "://");
	int named = sep && (!brace || sep < brace) ? url_scheme(tmpl) : -1;
	for (const char *p = u; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			sb_addf(err, "url '%s' holds a control character", u);
			return -1;
		}
	}
	if (have < 0) {
		sb_addf(err, "url '%s' is not an http, https, ftp, ftps or file URL", u);
		return -1;
	}
	if (named >= 0 ? have != named : have > 1) {
		sb_addf(err, "url '%s' is %s, but the graph's url '%s' %s%s%s; a scheme other than "
			     "http or https must be written in the graph, not come from a placeholder",
			u, url_schemes[have], tmpl, named >= 0 ? "says " : "names no scheme",
			named >= 0 ? url_schemes[named] : "", named >= 0 ? "://" : "");
		return -1;
	}
	return 0;
}

static bool is_http(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

static bool sha256_ok(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!strchr("0123456789abcdefABCDEF", *p))
			return false;
	return true;
}

/* "Name: value" with a token for a name (RFC 9110 tchar) and no control
 * character but tab in the value: a CR or LF would end the header and
 * start another (a second Host, a forged body). */
static bool header_ok(const char *h)
{
	size_t n = strspn(h, "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
			     "ABCDEFGHIJKLMNOPQRSTUVWXYZ");
	if (n == 0 || h[n] != ':')
		return false;
	for (const char *p = h + n; *p; p++)
		if (((unsigned char)*p < 0x20 && *p != '\t') || *p == 0x7f)
			return false;
	return true;
}

/* Header i of an instance, substituted, into out; 0, or -1 with why in
 * err. Checked after substitution: a placeholder brings a file name. */
static int instance_header(const struct job *job, const char *tmpl, struct strbuf *out,
			   struct strbuf *err)
{
	subst_placeholders(job, tmpl, SUBST_TEXT, out);
	if (header_ok(sb_str(out)))
		return 0;
	sb_addf(err, "header: '%s' (from '%s') is not 'Name: value' on one line", sb_str(out),
		tmpl);
	return -1;
}

static int download_check(const struct graph *g, struct section *sec, struct diag *d)
{
	const struct kv *url = section_key(sec, "url");
	const struct kv *out = section_key(sec, "output");
	const struct kv *sha = section_key(sec, "sha256");
	const struct kv *max = section_key(sec, "max_size");
	const struct kv *refresh = section_key(sec, "refresh");
	int errors = 0;
	if (!url || !*url->val) {
		diag_add(d, g->file, url ? url->line : sec->line,
			 "job '%s': missing key 'url' (what to download)", sec->name);
		errors++;
	}
	if (!out || !*out->val) {
		diag_add(d, g->file, out ? out->line : sec->line,
			 "job '%s': missing key 'output' (where to save the download)", sec->name);
		errors++;
	}
	if (errors)
		return -1;
	struct download_def *def = xcalloc(1, sizeof(*def));
	sec->kpriv = def;
	def->url = url->val;
	def->max_size = DEFAULT_MAX_SIZE;
	if (!strchr(url->val, '{') && !url_scheme_ok(url->val)) {
		diag_add(d, g->file, url->line,
			 "job '%s': url '%s' is not an http, https, ftp, ftps or file URL",
			 sec->name, url->val);
		errors++;
	}
	if (sha) {
		def->sha256 = sha->val;
		if (!strchr(sha->val, '{') && !sha256_ok(sha->val)) {
			diag_add(d, g->file, sha->line,
				 "job '%s': sha256: '%s' is not 64 hexadecimal digits", sec->name,
				 sha->val);
			errors++;
		}
	}
	if (max && (parse_bytes(max->val, &def->max_size) < 0 || def->max_size < 1)) {
		diag_add(d, g->file, max->line,
			 "job '%s': max_size: '%s' is not a size in bytes (such as 500K, 20M, 1G)",
			 sec->name, max->val);
		errors++;
	}
	if (refresh) {
		int r = -1;
		for (int i = 0; refresh_names[i]; i++)
			if (strcmp(refresh->val, refresh_names[i]) == 0)
				r = i;
		if (r < 0) {
			diag_add(d, g->file, refresh->line,
				 "job '%s': refresh: '%s' is not conditional, always or once",
				 sec->name, refresh->val);
			errors++;
		} else {
			def->refresh = (enum refresh)r;
		}
	}
	for (size_t i = 0; i < sec->keys.n; i++) {
		const struct kv *kv = &sec->keys.v[i];
		if (strcmp(kv->key, "header") != 0)
			continue;
		if (!header_ok(kv->val)) {
			diag_add(d, g->file, kv->line,
				 "job '%s': header: '%s' is not 'Name: value'", sec->name, kv->val);
			errors++;
		}
		VEC_PUSH(&def->headers, kv->val);
	}
	return errors ? -1 : 0;
}

/* The line of the section's header key number i. */
static int header_line(const struct section *sec, size_t i)
{
	for (size_t k = 0; k < sec->keys.n; k++)
		if (strcmp(sec->keys.v[k].key, "header") == 0 && i-- == 0)
			return sec->keys.v[k].line;
	return sec->line;
}

static int download_check_job(const struct graph *g, struct job *job, struct diag *d)
{
	const struct download_def *def = job->sec->kpriv;
	if (!def)
		return 0;
	int errors = 0;
	if (job->n_outputs != 1) {
		const struct kv *out = section_key(job->sec, "output");
		diag_add(d, g->file, out ? out->line : job->sec->line,
			 "job '%s': a download writes exactly one output, not %u", job->name,
			 job->n_outputs);
		errors++;
	}
	struct strbuf sb = {0}, why = {0};
	if (strchr(def->url, '{') && instance_url(job, def->url, &sb, &why) < 0) {
		diag_add(d, g->file, section_key(job->sec, "url")->line, "job '%s': %s", job->name,
			 sb_str(&why));
		errors++;
	}
	for (size_t i = 0; i < def->headers.n; i++) {
		sb_reset(&sb);
		sb_reset(&why);
		if (strchr(def->headers.v[i], '{') &&
		    instance_header(job, def->headers.v[i], &sb, &why) < 0) {
			diag_add(d, g->file, header_line(job->sec, i), "job '%s': %s", job->name,
				 sb_str(&why));
			errors++;
		}
	}
	sb_release(&why);
	if (def->sha256 && strchr(def->sha256, '{')) {
		sb_reset(&sb);
		subst_placeholders(job, def->sha256, SUBST_TEXT, &sb);
		if (!sha256_ok(sb_str(&sb))) {
			diag_add(d, g->file, section_key(job->sec, "sha256")->line,
				 "job '%s': sha256: '%s' is not 64 hexadecimal digits", job->name,
				 sb_str(&sb));
			errors++;
		}
	}
	sb_release(&sb);
	return errors ? -1 : 0;
}

static void download_release(struct section *sec)
{
	struct download_def *def = sec->kpriv;
	if (!def)
		return;
	free(def->headers.v);
	free(def);
	sec->kpriv = NULL;
}

static const char *download_stale(const struct job *job)
{
	const struct download_def *def = job->sec->kpriv;
	switch (def->refresh) {
	case REFRESH_CONDITIONAL:
		return "refresh = conditional asks the server whether it changed";
	case REFRESH_ALWAYS:
		return "refresh = always downloads on every run";
	case REFRESH_ONCE:
		break;
	}
	return NULL;
}

static void download_describe(const struct job *job, struct strbuf *out)
{
	const struct download_def *def = job->sec->kpriv;
	sb_adds(out, "GET ");
	subst_placeholders(job, def->url, SUBST_TEXT, out);
	sb_addf(out, " -> %s", job->n_outputs ? job->outputs[0] : "?");
}

/* ---- what a download remembers between runs (res->extra) ----
 * Lines "name value": fp (the job's fingerprint), etag, last-modified, and
 * the mtime and size of the output they describe. */

struct validators {
	char fp[33];
	char *etag;
	char *last_modified;
	int64_t mtime_ns, size;
};

static void validators_release(struct validators *v)
{
	free(v->etag);
	free(v->last_modified);
	memset(v, 0, sizeof(*v));
}

static void validators_parse(const char *s, struct validators *v)
{
	memset(v, 0, sizeof(*v));
	v->mtime_ns = v->size = -1;
	while (s && *s) {
		size_t n = strcspn(s, "\n");
		const char *sp = memchr(s, ' ', n);
		if (sp) {
			size_t k = (size_t)(sp - s);
			char *val = xstrndup(sp + 1, n - k - 1);
			if (k == 2 && !memcmp(s, "fp", 2))
				snprintf(v->fp, sizeof(v->fp), "%s", val);
			else if (k == 4 && !memcmp(s, "etag", 4))
				free(v->etag), v->etag = xstrdup(val);
			else if (k == 13 && !memcmp(s, "last-modified", 13))
				free(v->last_modified), v->last_modified = xstrdup(val);
			else if (k == 5 && !memcmp(s, "mtime", 5))
				v->mtime_ns = strtoll(val, NULL, 10);
			else if (k == 4 && !memcmp(s, "size", 4))
				v->size = strtoll(val, NULL, 10);
			free(val);
		}
		s += n + (s[n] == '\n');
	}
}

static char *validators_format(const struct validators *v)
{
	struct strbuf sb = {0};
	sb_addf(&sb, "fp %s\n", v->fp);
	if (v->etag)
		sb_addf(&sb, "etag %s\n", v->etag);
	if (v->last_modified)
		sb_addf(&sb, "last-modified %s\n", v->last_modified);
	sb_addf(&sb, "mtime %lld\nsize %lld\n", (long long)v->mtime_ns, (long long)v->size);
	return sb_detach(&sb);
}

static void job_fp_hex(const struct job *job, char out[33])
{
	hex_encode(out, job->fp, 16);
}

static int64_t mtime_ns(const struct stat *st)
{
	return (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

/* ---- one transfer ---- */

struct dl {
	struct attempt *a;
	const struct download_def *def;
	CURL *easy;
	char *url;
	struct curl_slist *headers;
	const char *output;
	struct out_file of;      /* the temporary file beside the output */
	EVP_MD_CTX *sha;         /* when sha256 is given */
	int64_t bytes;           /* body bytes received, kept or not */
	long code;               /* status of the response being received */
	bool too_big, write_failed, cancelled;
	int write_errno;
	struct validators prev;  /* from the last run */
	bool conditional;        /* If-None-Match / If-Modified-Since sent */
	char *etag, *last_modified; /* of the final response */
	char *location;          /* its Location header */
	char reason[96];         /* its status line's reason phrase */
	struct strbuf trace;     /* request and response headers, for the log */
	char errbuf[CURL_ERROR_SIZE];
};

static void trace_line(struct dl *d, const char *prefix, const char *s, size_t n)
{
	if (d->trace.len > 16384)
		return;
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	sb_adds(&d->trace, prefix);
	sb_add(&d->trace, s, n);
	sb_addc(&d->trace, '\n');
}

static size_t on_header(char *buf, size_t size, size_t n, void *userp)
{
	struct dl *d = userp;
	size_t len = size * n;
	trace_line(d, "< ", buf, len);
	if (len > 5 && !strncmp(buf, "HTTP/", 5)) {
		/* A new response (after a redirect or a 100): forget the last. */
		free(d->etag);
		free(d->last_modified);
		free(d->location);
		d->etag = d->last_modified = d->location = NULL;
		d->reason[0] = '\0';
		const char *p = memchr(buf, ' ', len);
		if (p && (size_t)(p - buf) + 5 < len) {
			p += 5; /* past " NNN " */
			size_t k = len - (size_t)(p - buf);
			while (k && (p[k - 1] == '\n' || p[k - 1] == '\r'))
				k--;
			snprintf(d->reason, sizeof(d->reason), "%.*s", (int)k, p);
		}
		return len;
	}
	const char *colon = memchr(buf, ':', len);
	if (!colon)
		return len;
	size_t klen = (size_t)(colon - buf);
	const char *v = colon + 1;
	size_t vlen = len - klen - 1;
	while (vlen && (*v == ' ' || *v == '\t'))
		v++, vlen--;
	while (vlen && (v[vlen - 1] == '\n' || v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
		vlen--;
	if (klen == 4 && !strncasecmp(buf, "etag", 4)) {
		free(d->etag);
		d->etag = xstrndup(v, vlen);
	} else if (klen == 13 && !strncasecmp(buf, "last-modified", 13)) {
		free(d->last_modified);
		d->last_modified = xstrndup(v, vlen);
	} else if (klen == 8 && !strncasecmp(buf, "location", 8)) {
		free(d->location);
		d->location = xstrndup(v, vlen);
	}
	return len;
}

/* Per chunk of body: error pages are read and dropped; a real body goes
 * through the size limit and the digest into the temporary file. */
static size_t on_write(char *buf, size_t size, size_t n, void *userp)
{
	struct dl *d = userp;
	size_t len = size * n;
	d->bytes += (int64_t)len;
	curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &d->code);
	if (d->code >= 300 && is_http(d->url))
		return d->bytes > MAX_ERROR_BODY ? 0 : len;
	if (d->bytes > d->def->max_size) {
		d->too_big = true;
		return 0;
	}
	if (d->sha)
		EVP_DigestUpdate(d->sha, buf, len);
	if (write_all(d->of.fd, buf, len) < 0) {
		d->write_failed = true;
		d->write_errno = errno;
		return 0;
	}
	return len;
}

static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct dl *d = userp;
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return d->cancelled || cancel_requested();
}

static void dl_release(struct dl *d)
{
	out_file_abort(&d->of);
	if (d->sha)
		EVP_MD_CTX_free(d->sha);
	d->sha = NULL;
	curl_slist_free_all(d->headers);
	d->headers = NULL;
	free(d->url);
	free(d->etag);
	free(d->last_modified);
	free(d->location);
	d->url = d->etag = d->last_modified = d->location = NULL;
	validators_release(&d->prev);
	sb_release(&d->trace);
}

static void log_text(struct attempt *a, const char *s)
{
	if (a->log_fd >= 0)
		write_all(a->log_fd, s, strlen(s));
}

/* Prepares the transfer of attempt a on easy (reset first). Returns 1 when
 * a transfer is ready to perform, 0 when the attempt is already a success
 * with nothing to fetch (refresh = once), -1 on failure with a->res filled.
 * Unless it returns 1, d needs no dl_finish(). */
static int dl_begin(struct dl *d, struct attempt *a, CURL *easy)
{
	const struct job *job = a->job;
	const struct download_def *def = job->sec->kpriv;
	memset(d, 0, sizeof(*d));
	d->a = a;
	d->def = def;
	d->easy = easy;
	d->of.dir = d->of.fd = -1;
	d->output = job->outputs[0];
	struct strbuf sb = {0}, why = {0};
	if (instance_url(job, def->url, &sb, &why) < 0) {
		/* The graph's check refused it already; this is the last word
		 * before a request goes out. */
		result_fail(a->res, "%s", sb_str(&why));
		a->res->retryable = false;
		sb_release(&sb);
		sb_release(&why);
		dl_release(d);
		return -1;
	}
	for (size_t i = 0; i < def->headers.n; i++) {
		sb_reset(&sb);
		if (instance_header(job, def->headers.v[i], &sb, &why) < 0) {
			result_fail(a->res, "%s", sb_str(&why));
			a->res->retryable = false;
			sb_release(&sb);
			sb_release(&why);
			dl_release(d);
			return -1;
		}
	}
	sb_reset(&sb);
	sb_release(&why);
	subst_placeholders(job, def->url, SUBST_TEXT, &sb);
	d->url = sb_detach(&sb);
	validators_parse(a->prev_extra, &d->prev);
	char fp[33];
	job_fp_hex(job, fp);
	struct stat st;
	bool have_output = stat(d->output, &st) == 0 && S_ISREG(st.st_mode);
	/* The output is the copy the validators describe. */
	bool same_copy = have_output && !strcmp(d->prev.fp, fp) &&
			 d->prev.mtime_ns == mtime_ns(&st) && d->prev.size == (int64_t)st.st_size;

	if (def->refresh == REFRESH_ONCE && have_output && (!d->prev.fp[0] || !strcmp(d->prev.fp, fp))) {
		/* "Never again while the output exists", unless the definition
		 * changed since the copy was made. */
		char *line = xasprintf("refresh = once: '%s' exists; not downloaded again\n",
				       d->output);
		log_text(a, line);
		free(line);
		a->res->unchanged = true;
		struct validators v = {0};
		memcpy(v.fp, fp, sizeof(v.fp));
		v.mtime_ns = mtime_ns(&st);
		v.size = (int64_t)st.st_size;
		a->res->extra = validators_format(&v);
		dl_release(d);
		return 0;
	}

	if (out_file_begin(&d->of, d->output) < 0) {
		result_fail(a->res, "cannot create a temporary file beside '%s': %s", d->output,
			    out_dir_strerror(errno));
		dl_release(d);
		return -1;
	}
	if (def->sha256) {
		d->sha = EVP_MD_CTX_new();
		EVP_DigestInit_ex(d->sha, EVP_sha256(), NULL);
	}
	for (size_t i = 0; i < def->headers.n; i++) {
		subst_placeholders(job, def->headers.v[i], SUBST_TEXT, &sb);
		d->headers = curl_slist_append(d->headers, sb_str(&sb));
		sb_reset(&sb);
	}
	if (def->refresh == REFRESH_CONDITIONAL && same_copy && is_http(d->url) &&
	    (d->prev.etag || d->prev.last_modified)) {
		if (d->prev.etag) {
			sb_addf(&sb, "If-None-Match: %s", d->prev.etag);
			d->headers = curl_slist_append(d->headers, sb_str(&sb));
			sb_reset(&sb);
		}
		if (d->prev.last_modified) {
			sb_addf(&sb, "If-Modified-Since: %s", d->prev.last_modified);
			d->headers = curl_slist_append(d->headers, sb_str(&sb));
			sb_reset(&sb);
		}
		d->conditional = true;
	}
	sb_release(&sb);

	curl_easy_reset(easy); /* keeps the connection, DNS and TLS session caches */
	curl_easy_setopt(easy, CURLOPT_URL, d->url);
	/* Only the scheme the URL was checked for. */
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, url_schemes[url_scheme(d->url)]);
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(easy, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(easy, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_LIMIT, LOW_SPEED_LIMIT);
	curl_easy_setopt(easy, CURLOPT_LOW_SPEED_TIME, LOW_SPEED_TIME);
	if (a->deadline > 0) {
		double left = a->deadline - mono_now();
		long ms = left <= 0.001 ? 1L : (long)(left * 1000);
		curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, ms);
	}
	curl_easy_setopt(easy, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)def->max_size);
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "juggle/" JUGGLE_VERSION);
	curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 65536L);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, d->errbuf);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, d->headers);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, d);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, d);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, d);
	sb_addf(&d->trace, "GET %s -> %s%s\n", d->url, d->output,
		d->conditional ? " (conditional)" : "");
	for (struct curl_slist *h = d->headers; h; h = h->next)
		trace_line(d, "> ", h->data, strlen(h->data));
	return 1;
}

static bool http_transient(long code)
{
	return code == 408 || code == 429 || code == 500 || code == 502 || code == 503 ||
	       code == 504;
}

/* Failures worth another attempt, like curl's --retry (plus connection
 * errors, as --retry-connrefused adds). */
static bool curl_transient(CURLcode cc)
{
	switch (cc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_HTTP3:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_FTP_ACCEPT_TIMEOUT:
		return true;
	default:
		return false;
	}
}

/* Fails the attempt with a message that says whether it will be retried. */
static int dl_fail(struct dl *d, bool transient, const char *fmt, ...) PRINTF(3, 4);
static int dl_fail(struct dl *d, bool transient, const char *fmt, ...)
{
	struct strbuf sb = {0};
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	int retries = d->a->job->sec->retries;
	if (!transient)
		sb_adds(&sb, retries > 0 ? " (permanent, not retried)" : " (permanent)");
	else if (retries > 0 && d->a->number > retries)
		sb_addf(&sb, " (transient; gave up after %d attempts)", d->a->number);
	else
		sb_adds(&sb, " (transient)");
	result_fail(d->a->res, "%s", sb_str(&sb));
	d->a->res->retryable = transient;
	sb_release(&sb);
	return -1;
}

static const char *curl_text(struct dl *d, CURLcode cc)
{
	return d->errbuf[0] ? d->errbuf : curl_easy_strerror(cc);
}

/* Ends the transfer d whose outcome is cc: fills a->res, renames the file
 * over the output on success, removes it otherwise, frees d's contents.
 * Returns 0 or -1, as run() does. */
static int dl_finish(struct dl *d, CURLcode cc)
{
	struct attempt *a = d->a;
	struct result *res = a->res;
	const struct download_def *def = d->def;
	long code = 0, conns = 0;
	curl_off_t retry_after = 0;
	bool http = is_http(d->url);
	char *scheme = NULL;
	curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(d->easy, CURLINFO_NUM_CONNECTS, &conns);
	curl_easy_getinfo(d->easy, CURLINFO_RETRY_AFTER, &retry_after);
	if (curl_easy_getinfo(d->easy, CURLINFO_SCHEME, &scheme) == CURLE_OK && scheme)
		http = !strncasecmp(scheme, "http", 4); /* after redirects */
	result_count(res, "connections", conns);
	res->bytes = d->bytes;
	if (http && code > 0)
		result_fact_int(res, "http_status", code);
	if (retry_after > 0)
		res->retry_after = (double)(retry_after > 3600 ? 3600 : retry_after);
	int rc = -1;

	if (cc == CURLE_ABORTED_BY_CALLBACK && (d->cancelled || cancel_requested())) {
		result_fail(res, "interrupted");
		res->status = RES_INTERRUPTED;
	} else if (d->write_failed) {
		dl_fail(d, false, "cannot write '%s': %s", d->output, strerror(d->write_errno));
	} else if (d->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		dl_fail(d, false, "larger than max_size (%lld bytes); aborted after %lld bytes",
			(long long)def->max_size, (long long)d->bytes);
	} else if (http && code >= 400) {
		dl_fail(d, http_transient(code), "HTTP %ld%s%s from %s", code,
			d->reason[0] ? " " : "", d->reason, d->url);
	} else if (cc == CURLE_OPERATION_TIMEDOUT && a->deadline > 0 &&
		   mono_now() >= a->deadline - 0.05) {
		res->timed_out = true;
		dl_fail(d, true, "timed out after %g s (%lld bytes received)",
			a->job->sec->timeout, (long long)d->bytes);
	} else if (cc == CURLE_UNSUPPORTED_PROTOCOL && code >= 300 && code < 400) {
		dl_fail(d, false, "refused to follow a redirect to %.300s (only http and https)",
			d->location ? d->location : "another protocol");
	} else if (cc != CURLE_OK) {
		dl_fail(d, curl_transient(cc), "%s", curl_text(d, cc));
	} else if (http && code == 304) {
		struct stat st;
		if (!d->conditional || stat(d->output, &st) < 0) {
			dl_fail(d, false, "the server answered 304 Not Modified to a plain GET");
		} else {
			res->unchanged = true;
			struct validators v = {0};
			job_fp_hex(a->job, v.fp);
			v.etag = d->etag ? d->etag : d->prev.etag;
			v.last_modified = d->last_modified ? d->last_modified : d->prev.last_modified;
			v.mtime_ns = mtime_ns(&st);
			v.size = (int64_t)st.st_size;
			res->extra = validators_format(&v);
			rc = 0;
		}
	} else if (http && code >= 300) {
		dl_fail(d, false, "HTTP %ld%s%s from %s, and no redirect to follow", code,
			d->reason[0] ? " " : "", d->reason, d->url);
	} else {
		char got[2 * EVP_MAX_MD_SIZE + 1] = "";
		if (d->sha) {
			unsigned char md[EVP_MAX_MD_SIZE];
			unsigned int len;
			EVP_DigestFinal_ex(d->sha, md, &len);
			hex_encode(got, md, len);
		}
		struct strbuf want = {0};
		if (def->sha256)
			subst_placeholders(a->job, def->sha256, SUBST_TEXT, &want);
		if (def->sha256 && strcasecmp(got, sb_str(&want)) != 0) {
			dl_fail(d, false, "sha256 mismatch: expected %s, got %s", sb_str(&want), got);
		} else {
			/* out_file_commit() releases d->of, even on error. */
			struct stat st;
			if (out_file_commit(&d->of) < 0 || stat(d->output, &st) < 0) {
				dl_fail(d, false, "cannot write '%s': %s", d->output, strerror(errno));
			} else {
				struct validators v = {0};
				job_fp_hex(a->job, v.fp);
				v.etag = d->etag;
				v.last_modified = d->last_modified;
				v.mtime_ns = mtime_ns(&st);
				v.size = (int64_t)st.st_size;
				res->extra = validators_format(&v);
				rc = 0;
			}
		}
		sb_release(&want);
	}

	double total = 0;
	curl_easy_getinfo(d->easy, CURLINFO_TOTAL_TIME, &total);
	sb_addf(&d->trace, "%s: %lld bytes in %.3f s, %ld new connection%s%s%s\n",
		rc == 0 ? (res->unchanged ? "unchanged" : "ok") : "failed", (long long)d->bytes,
		total, conns, conns == 1 ? "" : "s", rc == 0 ? "" : ": ",
		rc == 0 ? "" : res->error);
	log_text(a, sb_str(&d->trace));
	dl_release(d); /* removes the temporary file unless it was renamed */
	return rc;
}

/* ---- the blocking path ---- */

static int download_run(struct attempt *a)
{
	void **slot = &a->worker->cache[kind_slot(&kind_download)];
	if (!*slot)
		*slot = curl_easy_init();
	CURL *easy = *slot;
	if (!easy) {
		result_fail(a->res, "cannot create a curl handle");
		return -1;
	}
	struct dl d;
	int rc = dl_begin(&d, a, easy);
	if (rc <= 0)
		return rc;
	return dl_finish(&d, curl_easy_perform(easy));
}

static void download_worker_release(void *cache)
{
	curl_easy_cleanup(cache);
}

/* ---- the event-loop path: one multi handle per loop ---- */

struct dl_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct dl_loop *L;
	struct dl_sock *prev, *next;
};

struct dl_async {
	struct dl d;
	struct async_attempt *aa;
	struct dl_loop *L;
	int rc;                  /* for a deferred done */
	bool in_multi;
	struct dl_async *next;   /* in L->deferred */
	struct dl_async *lprev, *lnext; /* in L->live */
};

struct dl_loop {
	CURLM *multi;
	uv_loop_t *loop;
	uv_timer_t timer;        /* curl's timeout */
	uv_check_t check;        /* hands ended attempts back (after the poll) */
	uv_idle_t idle;          /* keeps that poll from blocking meanwhile */
	struct dl_async *deferred, **deferred_tail;
	struct dl_sock *socks;   /* every poll handle open */
	struct dl_async *live;   /* every attempt not yet handed back */
	VEC(CURL *) spare;       /* easy handles to reuse */
	bool closing;
	int open_handles;        /* timer, check, idle, until their close callbacks */
};

static void check_done(struct dl_loop *L);

static void on_sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static void sock_close(struct dl_sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		s->L->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct dl_sock *s = h->data;
	struct dl_loop *L = s->L;
	int flags = 0, running;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(L->multi, s->fd, flags, &running);
	check_done(L);
}

/* CURLMOPT_SOCKETFUNCTION: curl says which socket to watch for what. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct dl_loop *L = userp;
	struct dl_sock *s = socketp;
	(void)easy;
	if (L->closing)
		return 0;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(L->multi, fd, NULL);
			uv_poll_stop(&s->poll);
			sock_close(s);
		}
		return 0;
	}
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->L = L;
		if (uv_poll_init_socket(L->loop, &s->poll, fd) < 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		s->next = L->socks;
		if (L->socks)
			L->socks->prev = s;
		L->socks = s;
		curl_multi_assign(L->multi, fd, s);
	}
	int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
	uv_poll_start(&s->poll, ev, on_poll);
	return 0;
}

static void on_timeout(uv_timer_t *t)
{
	struct dl_loop *L = t->data;
	int running;
	curl_multi_socket_action(L->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(L);
}

/* CURLMOPT_TIMERFUNCTION: one timer for the whole multi handle. */
static int on_timer(CURLM *multi, long ms, void *userp)
{
	struct dl_loop *L = userp;
	(void)multi;
	if (L->closing)
		return 0;
	if (ms < 0)
		uv_timer_stop(&L->timer);
	else
		uv_timer_start(&L->timer, on_timeout, (uint64_t)ms, 0);
	return 0;
}

static void spare_push(struct dl_loop *L, CURL *easy)
{
	VEC_PUSH(&L->spare, easy);
}

/* The attempt is over: hand it back to the backend. Nothing of x is used
 * after done, which may start or cancel other attempts. */
static void live_remove(struct dl_async *x)
{
	if (x->lprev)
		x->lprev->lnext = x->lnext;
	else
		x->L->live = x->lnext;
	if (x->lnext)
		x->lnext->lprev = x->lprev;
}

static void async_end(struct dl_async *x, int rc)
{
	struct async_attempt *aa = x->aa;
	spare_push(x->L, x->d.easy);
	live_remove(x);
	free(x);
	aa->kpriv = NULL;
	aa->done(aa, rc);
}

static void on_check(uv_check_t *h)
{
	struct dl_loop *L = h->data;
	while (L->deferred) {
		struct dl_async *x = L->deferred;
		L->deferred = x->next;
		if (!L->deferred)
			L->deferred_tail = &L->deferred;
		async_end(x, x->rc);
	}
	uv_check_stop(&L->check);
	uv_idle_stop(&L->idle);
}

static void on_idle(uv_idle_t *h)
{
	(void)h;
}

/* Calls done for x later, from the loop's check phase, which follows the
 * I/O poll of the same iteration; an active idle handle makes that poll
 * return at once. So done is never called from inside start_async() or
 * cancel_async() (libuv's rule for callbacks), and never from a timer
 * callback either: a backend that runs uv_run(UV_RUN_ONCE) until its done
 * callback sets a flag would otherwise block in the poll that follows the
 * timers (file:// transfers and timeouts end in curl's timer). */
static void defer_done(struct dl_async *x, int rc)
{
	struct dl_loop *L = x->L;
	x->rc = rc;
	x->next = NULL;
	*L->deferred_tail = x;
	L->deferred_tail = &x->next;
	uv_check_start(&L->check, on_check);
	uv_idle_start(&L->idle, on_idle);
}

static void check_done(struct dl_loop *L)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(L->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *easy = m->easy_handle;
		CURLcode cc = m->data.result;
		struct dl_async *x = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(L->multi, easy);
		x->in_multi = false;
		defer_done(x, dl_finish(&x->d, cc));
	}
}

static struct dl_loop *loop_get(struct async_attempt *aa)
{
	if (*aa->loop_cache)
		return *aa->loop_cache;
	struct dl_loop *L = xcalloc(1, sizeof(*L));
	L->loop = aa->loop;
	L->multi = curl_multi_init();
	L->deferred_tail = &L->deferred;
	uv_timer_init(aa->loop, &L->timer);
	uv_check_init(aa->loop, &L->check);
	uv_idle_init(aa->loop, &L->idle);
	L->timer.data = L->check.data = L->idle.data = L;
	L->open_handles = 3;
	curl_multi_setopt(L->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(L->multi, CURLMOPT_SOCKETDATA, L);
	curl_multi_setopt(L->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(L->multi, CURLMOPT_TIMERDATA, L);
	*aa->loop_cache = L;
	return L;
}

static int download_start_async(struct async_attempt *aa)
{
	struct dl_loop *L = loop_get(aa);
	if (!L->multi) {
		result_fail(aa->a.res, "cannot create a curl multi handle");
		return -1;
	}
	CURL *easy = L->spare.n ? L->spare.v[--L->spare.n] : curl_easy_init();
	if (!easy) {
		result_fail(aa->a.res, "cannot create a curl handle");
		return -1;
	}
	struct dl_async *x = xcalloc(1, sizeof(*x));
	x->aa = aa;
	x->L = L;
	int rc = dl_begin(&x->d, &aa->a, easy);
	if (rc < 0) {
		spare_push(L, easy);
		free(x);
		return -1;
	}
	aa->kpriv = x;
	x->lnext = L->live;
	if (L->live)
		L->live->lprev = x;
	L->live = x;
	if (rc == 0) {
		defer_done(x, 0);
		return 0;
	}
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)x);
	if (curl_multi_add_handle(L->multi, easy) != CURLM_OK) {
		dl_fail(&x->d, true, "cannot add a transfer to the curl multi handle");
		dl_release(&x->d);
		spare_push(L, easy);
		live_remove(x);
		aa->kpriv = NULL;
		free(x);
		return -1;
	}
	x->in_multi = true;
	return 0;
}

static void download_cancel_async(struct async_attempt *aa)
{
	struct dl_async *x = aa->kpriv;
	if (!x || !x->in_multi)
		return; /* over, or its done is already on the way */
	curl_multi_remove_handle(x->L->multi, x->d.easy);
	x->in_multi = false;
	x->d.cancelled = true;
	defer_done(x, dl_finish(&x->d, CURLE_ABORTED_BY_CALLBACK));
}

static void on_loop_handle_closed(uv_handle_t *h)
{
	struct dl_loop *L = h->data;
	if (--L->open_handles == 0)
		free(L);
}

/* Called when the loop is done with downloads. Closes every handle this
 * kind opened on it; their close callbacks free the rest, so the backend
 * must run the loop once more (as it must for its own handles) before
 * uv_loop_close(). */
static void download_loop_release(void *cache)
{
	struct dl_loop *L = cache;
	if (!L)
		return;
	L->closing = true;
	/* The backend hands the loop back with nothing in flight. Should an
	 * attempt remain, it ends here without its done (the loop is going
	 * away), its temporary file removed. */
	while (L->live) {
		struct dl_async *x = L->live;
		if (x->in_multi) {
			curl_multi_remove_handle(L->multi, x->d.easy);
			x->d.cancelled = true;
			dl_finish(&x->d, CURLE_ABORTED_BY_CALLBACK);
		}
		curl_easy_cleanup(x->d.easy);
		live_remove(x);
		free(x);
	}
	L->deferred = NULL;
	while (L->socks) {
		uv_poll_stop(&L->socks->poll);
		sock_close(L->socks);
	}
	for (size_t i = 0; i < L->spare.n; i++)
		curl_easy_cleanup(L->spare.v[i]);
	free(L->spare.v);
	curl_multi_cleanup(L->multi);
	uv_close((uv_handle_t *)&L->timer, on_loop_handle_closed);
	uv_close((uv_handle_t *)&L->check, on_loop_handle_closed);
	uv_close((uv_handle_t *)&L->idle, on_loop_handle_closed);
}

static void curl_cleanup_at_exit(void)
{
	curl_global_cleanup();
}

static void download_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
	atexit(curl_cleanup_at_exit);
}

static const struct kind_fact download_facts[] = {{"http_status", "HTTP", 400}, {NULL}};
static const char *const download_counts[] = {"connections", NULL};

const struct job_kind kind_download = {
	.name = "download",
	.color = "#59a14f",
	.network = true,
	.keys = download_keys,
	.atomic_outputs = true,
	.facts = download_facts,
	.counts = download_counts,
	.global_init = download_global_init,
	.check = download_check,
	.check_job = download_check_job,
	.stale = download_stale,
	.run = download_run,
	.start_async = download_start_async,
	.cancel_async = download_cancel_async,
	.loop_release = download_loop_release,
	.describe = download_describe,
	.release = download_release,
	.worker_release = download_worker_release,
};
