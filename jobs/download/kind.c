/* kind.c - the `download` job kind's definition: its keys and their checks,
 * the URL and headers of one job, and the kind's table. What the other
 * members of jobs/download/ do is told in download-internal.h.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "engine/expand.h"
#include "engine/kind.h"
#include "engine/load/load.h"
#include "jobs/download/download-internal.h"

#define DEFAULT_MAX_SIZE (1LL << 30)

static const char *const refresh_names[] = {"conditional", "always", "once", NULL};

static const char *const download_keys[] = {"url",      "sha256",  "header", "secret_header",
					    "max_size", "refresh", "ca_file", NULL};
/* Whom a download trusts is a default [settings] may give every download;
 * it says how the job runs, not what it fetches (see job_kind). */
static const char *const download_settings_keys[] = {"ca_file", NULL};
/* A token in a secret_header is never shown and never fingerprinted. */
static const char *const download_secret_keys[] = {"secret_header", NULL};

/* ---- checking the graph ---- */

const char *const download_url_schemes[] = {"http", "https", "ftp", "ftps", "file", NULL};

int download_url_scheme(const char *url)
{
	for (int i = 0; download_url_schemes[i]; i++) {
		size_t n = strlen(download_url_schemes[i]);
		if (strncasecmp(url, download_url_schemes[i], n) == 0 &&
		    strncmp(url + n, "://", 3) == 0)
			return i;
	}
	return -1;
}

static bool url_scheme_ok(const char *url)
{
	return download_url_scheme(url) >= 0;
}

/* The URL of an instance, its placeholders substituted, into out; 0, or
 * -1 with why in err. Data must not pick what is fetched: the URL keeps
 * the scheme its template names, and a template that names none (all
 * placeholder, such as {item} over a list of URLs) gets http or https
 * only, never file:// or ftp://. No control characters either, which
 * would end the request line. */
int download_instance_url(const struct job *job, const char *tmpl, struct strbuf *out,
			  struct strbuf *err)
{
	subst_placeholders(job, tmpl, SUBST_TEXT, out);
	const char *u = sb_str(out);
	int have = download_url_scheme(u);
	const char *brace = strchr(tmpl, '{');
	const char *sep = strstr(tmpl, "://");
	int named = sep && (!brace || sep < brace) ? download_url_scheme(tmpl) : -1;
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
			u, download_url_schemes[have], tmpl,
			named >= 0 ? "says " : "names no scheme",
			named >= 0 ? download_url_schemes[named] : "", named >= 0 ? "://" : "");
		return -1;
	}
	return 0;
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

/* Checked after substitution: a placeholder brings a file name. */
int download_instance_header(const struct job *job, const struct download_header *h,
			     struct strbuf *out, struct strbuf *err)
{
	subst_placeholders(job, h->tmpl, SUBST_TEXT, out);
	if (header_ok(sb_str(out)))
		return 0;
	if (h->secret)
		sb_adds(err, "secret_header: the value (not shown) is not 'Name: value' on one line");
	else
		sb_addf(err, "header: '%s' (from '%s') is not 'Name: value' on one line",
			sb_str(out), h->tmpl);
	return -1;
}

/* ca_file, checked now rather than at the first download: a readable
 * file holding a PEM certificate. Returns its absolute path (the caller
 * frees it), or NULL with the problem in why. */
static char *ca_file_check(const char *path, struct strbuf *why)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		sb_addf(why, "cannot read ca_file '%s': %s; name a PEM file of CA certificates, "
			     "relative to the graph's folder", path, strerror(errno));
		return NULL;
	}
	if (!S_ISREG(st.st_mode)) {
		sb_addf(why, "ca_file '%s' is not a file; name a PEM file of CA certificates", path);
		return NULL;
	}
	BIO *bio = BIO_new_file(path, "r");
	X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	int saved = errno;
	BIO_free(bio);
	X509_free(cert);
	if (!bio) {
		sb_addf(why, "cannot read ca_file '%s': %s", path, strerror(saved));
		return NULL;
	}
	if (!cert) {
		sb_addf(why, "ca_file '%s' holds no PEM certificate (-----BEGIN CERTIFICATE-----); "
			     "name the CA's certificate in PEM form", path);
		return NULL;
	}
	char *abs = realpath(path, NULL);
	return abs ? abs : xstrdup(path);
}

void download_trace_header(struct strbuf *sb, const char *s, size_t n, bool secret)
{
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	const char *colon = secret ? memchr(s, ':', n) : NULL;
	sb_adds(sb, "> ");
	if (secret) {
		sb_add(sb, s, colon ? (size_t)(colon - s) : 0);
		sb_adds(sb, ": (secret, not shown)");
	} else {
		sb_add(sb, s, n);
	}
	sb_addc(sb, '\n');
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
	/* The section's ca_file, else [settings]'; an empty one trusts the
	 * system's CAs only. */
	const struct kv *ca = section_key(sec, "ca_file");
	if (!ca)
		ca = graph_kind_setting(g, "ca_file");
	if (ca && *ca->val) {
		struct strbuf why = {0};
		def->ca_file = ca_file_check(ca->val, &why);
		if (!def->ca_file) {
			diag_add(d, g->file, ca->line, "job '%s': %s", sec->name, sb_str(&why));
			errors++;
		}
		sb_release(&why);
	}
	for (size_t i = 0; i < sec->keys.n; i++) {
		const struct kv *kv = &sec->keys.v[i];
		bool secret = strcmp(kv->key, "secret_header") == 0;
		if (!secret && strcmp(kv->key, "header") != 0)
			continue;
		if (!header_ok(kv->val)) {
			if (secret)
				diag_add(d, g->file, kv->line,
					 "job '%s': secret_header: the value (not shown) is not "
					 "'Name: value' on one line",
					 sec->name);
			else
				diag_add(d, g->file, kv->line,
					 "job '%s': header: '%s' is not 'Name: value'", sec->name,
					 kv->val);
			errors++;
		}
		struct download_header h = {.tmpl = kv->val, .line = kv->line, .secret = secret};
		VEC_PUSH(&def->headers, h);
	}
	return errors ? -1 : 0;
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
	if (strchr(def->url, '{') && download_instance_url(job, def->url, &sb, &why) < 0) {
		diag_add(d, g->file, section_key(job->sec, "url")->line, "job '%s': %s", job->name,
			 sb_str(&why));
		errors++;
	}
	for (size_t i = 0; i < def->headers.n; i++) {
		sb_reset(&sb);
		sb_reset(&why);
		if (strchr(def->headers.v[i].tmpl, '{') &&
		    download_instance_header(job, &def->headers.v[i], &sb, &why) < 0) {
			diag_add(d, g->file, def->headers.v[i].line, "job '%s': %s", job->name,
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

static void download_def_release(struct section *sec)
{
	struct download_def *def = sec->kpriv;
	if (!def)
		return;
	free(def->headers.v);
	free(def->ca_file);
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

/* libcurl before 8.7.0 stops watching an FTPS control connection while it
 * waits for the data connection (fixed by curl's commit "ftp, fix
 * ftp_domore_getsock"): on the multi_socket API the server's "150"
 * stays in the TLS buffer, no socket turns readable, and the transfer
 * hangs until its timeout. Those libcurls carry ftps on the blocking
 * path, where curl's own poll loop sees the buffered data. */
static bool download_async_ok(const struct job *job)
{
	static int old_curl = -1;
	if (old_curl < 0)
		old_curl = curl_version_info(CURLVERSION_NOW)->version_num < 0x080700;
	if (!old_curl)
		return true;
	const struct download_def *def = job->sec->kpriv;
	struct strbuf url = {0};
	subst_placeholders(job, def->url, SUBST_TEXT, &url);
	bool ftps = strncasecmp(sb_str(&url), "ftps://", 7) == 0;
	sb_release(&url);
	return !ftps;
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

static const struct kind_fact download_facts[] = {
	{"http_status", "HTTP", 400}, {"resumed_bytes", NULL, 0}, {NULL}};
static const char *const download_counts[] = {"connections", NULL};

const struct job_kind kind_download = {
	.name = "download",
	.color = "#59a14f",
	.network = true,
	.keys = download_keys,
	.settings_keys = download_settings_keys,
	.secret_keys = download_secret_keys,
	.atomic_outputs = true,
	.facts = download_facts,
	.counts = download_counts,
	.global_init = download_global_init,
	.check = download_check,
	.check_job = download_check_job,
	.stale = download_stale,
	.run = download_run,
	.start_async = download_start_async,
	.async_ok = download_async_ok,
	.cancel_async = download_cancel_async,
	.loop_release = download_loop_release,
	.describe = download_describe,
	.release = download_def_release,
	.worker_release = download_worker_release,
};
