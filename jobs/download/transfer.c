/* transfer.c - one transfer of the download kind on one curl easy handle:
 * the request made from the job (download_begin), the body streamed through
 * the size limit and the digest into a temporary file beside the output,
 * and the outcome classified like curl's --retry, the file renamed over the
 * output or removed (download_finish). The blocking run() is here too;
 * uv-curl.c carries the same transfers on an event loop.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/expand.h"
#include "engine/kind.h"
#include "engine/safepath.h"
#include "engine/sig.h"
#include "engine/version.h"
#include "jobs/download/download-internal.h"

/* A transfer that averages under LOW_SPEED_LIMIT bytes a second over
 * LOW_SPEED_TIME seconds (under 300 bytes in 30 s, waiting for the answer
 * included) is a stalled server, not a slow one: abort it, as a transient
 * failure, so retries apply. With the connect timeout this bounds a nightly
 * run even when a job sets no `timeout`, while any real link, however slow,
 * stays far above it. */
#define LOW_SPEED_LIMIT 10L
#define LOW_SPEED_TIME 30L
#define CONNECT_TIMEOUT 30L
/* Redirects are followed, to http and https only, at most this many. */
#define MAX_REDIRECTS 10L
/* Error pages are read (so the connection stays reusable) up to this. */
#define MAX_ERROR_BODY (1 << 20)

bool download_is_http(const char *url)
{
	return strncasecmp(url, "http://", 7) == 0 || strncasecmp(url, "https://", 8) == 0;
}

bool download_is_ftp(const char *url)
{
	return strncasecmp(url, "ftp://", 6) == 0 || strncasecmp(url, "ftps://", 7) == 0;
}

void download_trace_line(struct download *d, const char *prefix, const char *s, size_t n)
{
	if (d->trace.len > 16384)
		return;
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		n--;
	sb_adds(&d->trace, prefix);
	sb_add(&d->trace, s, n);
	sb_addc(&d->trace, '\n');
}

/* Per chunk of body: error pages are read and dropped; a real body goes
 * through the size limit and the digest into the temporary file. */
static size_t on_write(char *buf, size_t size, size_t n, void *userp)
{
	struct download *d = userp;
	size_t len = size * n;
	d->bytes += (int64_t)len;
	curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &d->code);
	if (d->code >= 300 && download_is_http(d->url))
		return d->bytes > MAX_ERROR_BODY ? 0 : len;
	if (!d->body_started) {
		d->body_started = true;
		if (download_partial_body(d) < 0)
			return 0;
	}
	if (d->part.offset + d->bytes > d->def->max_size) {
		d->too_big = true;
		return 0;
	}
	EVP_DigestUpdate(d->sha, buf, len);
	if (write_all(d->fd, buf, len) < 0) {
		d->write_failed = true;
		d->write_errno = errno;
		return 0;
	}
	return len;
}

static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	struct download *d = userp;
	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return d->cancelled || cancel_requested();
}

void download_release(struct download *d)
{
	out_file_abort(&d->of);
	download_partial_end(&d->part, d->keep_partial);
	EVP_MD_CTX_free(d->sha); /* NULL: a no-op */
	d->sha = NULL;
	curl_slist_free_all(d->headers);
	d->headers = NULL;
	free(d->url);
	free(d->etag);
	free(d->last_modified);
	free(d->location);
	d->url = d->etag = d->last_modified = d->location = NULL;
	download_validators_release(&d->prev);
	sb_release(&d->trace);
}

static void log_text(struct attempt *a, const char *s)
{
	attempt_log_write(a, s, strlen(s));
}

int download_begin(struct download *d, struct attempt *a, CURL *easy)
{
	const struct job *job = a->job;
	const struct download_def *def = job->sec->kpriv;
	memset(d, 0, sizeof(*d));
	d->a = a;
	d->def = def;
	d->easy = easy;
	d->of.dir = d->of.fd = d->fd = -1;
	d->range_start = -1;
	download_partial_init(&d->part);
	d->output = job->outputs[0];
	/* The graph's check refused a bad URL or header already; this is the
	 * last word before a request goes out. */
	struct strbuf sb = {0}, why = {0};
	bool bad = download_instance_url(job, def->url, &sb, &why) < 0;
	for (size_t i = 0; !bad && i < def->headers.n; i++) {
		sb_reset(&sb);
		bad = download_instance_header(job, &def->headers.v[i], &sb, &why) < 0;
	}
	sb_reset(&sb);
	if (bad) {
		result_fail(a->res, "%s", sb_str(&why));
		a->res->retryable = false;
		sb_release(&sb);
		sb_release(&why);
		download_release(d);
		return -1;
	}
	sb_release(&why);
	subst_placeholders(job, def->url, SUBST_TEXT, &sb);
	d->url = sb_detach(&sb);
	download_validators_parse(a->prev_extra, &d->prev);
	char fp[33];
	download_fp_hex(job, fp);
	struct stat st;
	bool have_output = stat(d->output, &st) == 0 && S_ISREG(st.st_mode);
	/* The output is the copy the validators describe. */
	bool same_copy = have_output && !strcmp(d->prev.fp, fp) &&
			 d->prev.mtime_ns == time_ns(&st.st_mtim) &&
			 d->prev.size == (int64_t)st.st_size;

	if (def->refresh == REFRESH_ONCE && have_output && (!d->prev.fp[0] || !strcmp(d->prev.fp, fp))) {
		/* "Never again while the output exists", unless the definition
		 * changed since the copy was made. */
		char *line = xasprintf("refresh = once: '%s' exists; not downloaded again\n",
				       d->output);
		log_text(a, line);
		free(line);
		a->res->unchanged = true;
		a->res->extra = download_memo(job, &st, NULL, NULL, -1);
		download_release(d);
		return 0;
	}

	/* An http body goes to .juggle/partial, to be resumed if cut off;
	 * others (and http when that folder is not usable) to a temporary
	 * file beside the output. */
	if (download_is_http(d->url) && download_partial_begin(d) == 0) {
		d->fd = d->part.fd;
	} else if (out_file_begin(&d->of, d->output) < 0) {
		result_fail(a->res, "cannot create a temporary file beside '%s': %s", d->output,
			    out_dir_strerror(errno));
		download_release(d);
		return -1;
	} else {
		d->fd = d->of.fd;
	}
	/* Always: the digest is also the output's content hash, which spares
	 * the engine reading the file back (attempt_output_hashed()). */
	{
		d->sha = EVP_MD_CTX_new();
		EVP_DigestInit_ex(d->sha, md_sha256(), NULL);
		if (d->part.offset > 0 && download_partial_hash(d) < 0) {
			/* Unreadable: start from byte 0. */
			download_partial_end(&d->part, false);
			d->fd = d->of.fd;
			if (download_partial_begin(d) == 0)
				d->fd = d->part.fd;
			else if (out_file_begin(&d->of, d->output) == 0)
				d->fd = d->of.fd;
			EVP_DigestInit_ex(d->sha, md_sha256(), NULL);
		}
	}
	for (size_t i = 0; i < def->headers.n; i++) {
		subst_placeholders(job, def->headers.v[i].tmpl, SUBST_TEXT, &sb);
		d->headers = curl_slist_append(d->headers, sb_str(&sb));
		sb_reset(&sb);
	}
	sb_release(&sb);
	download_conditional(d, same_copy);
	download_partial_if_range(d);

	curl_easy_reset(easy); /* keeps the connection, DNS and TLS session caches */
	curl_easy_setopt(easy, CURLOPT_URL, d->url);
	/* Only the scheme the URL was checked for. */
	curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR,
			 download_url_schemes[download_url_scheme(d->url)]);
	curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(easy, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(easy, CURLOPT_MAXREDIRS, MAX_REDIRECTS);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 2L);
	if (def->ca_file) {
		/* The private CA joins the system's CAs rather than replacing
		 * them: CAINFO replaces only curl's bundle, and the system's
		 * folder of CAs (curl's built-in CAPATH) is kept, named here so
		 * that it does not depend on the reset above. */
		const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
		curl_easy_setopt(easy, CURLOPT_CAINFO, def->ca_file);
		if (vi->capath)
			curl_easy_setopt(easy, CURLOPT_CAPATH, vi->capath);
	}
	/* HTTP/2 when the server offers it (ALPN), and on a multi handle
	 * (uv-curl.c) a transfer to a host that a connection is being opened
	 * to waits for it and shares it as one more stream, instead of opening
	 * its own. Over https only: plain http stays HTTP/1.1, where waiting
	 * would only delay the first transfers. */
	curl_easy_setopt(easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	if (!strncasecmp(d->url, "https://", 8))
		curl_easy_setopt(easy, CURLOPT_PIPEWAIT, 1L);
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
	if (d->part.offset > 0) {
		/* The rest, if the file is still the one begun (If-Range). A
		 * 200 instead (changed, or no Range support) starts over. */
		char range[32];
		snprintf(range, sizeof(range), "%lld-", (long long)d->part.offset);
		curl_easy_setopt(easy, CURLOPT_RANGE, range);
	}
	curl_easy_setopt(easy, CURLOPT_USERAGENT, "juggle/" JUGGLE_VERSION);
	curl_easy_setopt(easy, CURLOPT_BUFFERSIZE, 65536L);
	curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, d->errbuf);
	curl_easy_setopt(easy, CURLOPT_HTTPHEADER, d->headers);
	curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, download_on_header);
	curl_easy_setopt(easy, CURLOPT_HEADERDATA, d);
	curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(easy, CURLOPT_WRITEDATA, d);
	curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(easy, CURLOPT_XFERINFODATA, d);
	if (download_is_ftp(d->url)) {
		/* The file's time (MDTM) is ftp's validator: asked on every
		 * transfer, and the next run fetches only a newer file. */
		curl_easy_setopt(easy, CURLOPT_FILETIME, 1L);
		if (d->conditional) {
			curl_easy_setopt(easy, CURLOPT_TIMECONDITION, (long)CURL_TIMECOND_IFMODSINCE);
			curl_easy_setopt(easy, CURLOPT_TIMEVALUE_LARGE, (curl_off_t)d->prev.filetime);
		}
	}
	sb_addf(&d->trace, "GET %s -> %s%s", d->url, d->output,
		d->conditional ? " (conditional)" : "");
	if (d->part.offset > 0)
		sb_addf(&d->trace, " (resuming from byte %lld)", (long long)d->part.offset);
	sb_addc(&d->trace, '\n');
	/* The graph's headers come first in d->headers, in their order. */
	size_t i = 0;
	for (struct curl_slist *h = d->headers; h; h = h->next, i++)
		download_trace_header(&d->trace, h->data, strlen(h->data),
				      i < def->headers.n && def->headers.v[i].secret);
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

int download_fail(struct download *d, bool transient, const char *fmt, ...)
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

static const char *curl_text(struct download *d, CURLcode cc)
{
	return d->errbuf[0] ? d->errbuf : curl_easy_strerror(cc);
}

/* A server certificate that does not verify, said in words a user can act
 * on, with curl's own text after: never worth a retry (the certificate
 * will be the same), so permanent. */
static void tls_failure(struct download *d, CURLcode cc)
{
	long vr = X509_V_OK;
	char *host = NULL, *eff = NULL;
	curl_easy_getinfo(d->easy, CURLINFO_SSL_VERIFYRESULT, &vr);
	curl_easy_getinfo(d->easy, CURLINFO_EFFECTIVE_URL, &eff);
	CURLU *u = curl_url();
	if (u && curl_url_set(u, CURLUPART_URL, eff ? eff : d->url, 0) != CURLUE_OK)
		host = NULL;
	else if (u)
		curl_url_get(u, CURLUPART_HOST, &host, 0);
	const char *h = host ? host : "the server";
	const char *why = curl_text(d, cc);
	const char *ca = d->def->ca_file;
	if (cc == CURLE_SSL_CACERT_BADFILE) {
		download_fail(d, false, "cannot use the CA certificates of ca_file '%s' (%s)",
			      ca ? ca : "(the system's)", why);
	} else if (vr == X509_V_ERR_CERT_HAS_EXPIRED) {
		download_fail(d, false,
			      "the TLS certificate of %s has expired: its administrator must renew "
			      "it (%s)", h, why);
	} else if (vr == X509_V_ERR_CERT_NOT_YET_VALID) {
		download_fail(d, false,
			      "the TLS certificate of %s is not valid yet: check this machine's "
			      "clock (%s)", h, why);
	} else if (vr == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT ||
		   vr == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
		   vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		   vr == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
		   vr == X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE || vr == X509_V_ERR_CERT_UNTRUSTED) {
		bool self = vr == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT;
		download_fail(d, false,
			      "the TLS certificate of %s is %s, which this machine does not trust%s%s%s: "
			      "if you trust it, set ca_file = PATH (in the job or in [settings]) to %s "
			      "(%s)",
			      h, self ? "self-signed" : "signed by an unknown CA",
			      ca ? " (nor does ca_file '" : "", ca ? ca : "", ca ? "')" : "",
			      self ? "that certificate, in PEM form"
				   : "the PEM certificate of the CA that signed it",
			      why);
	} else if (vr == X509_V_ERR_HOSTNAME_MISMATCH || vr == X509_V_ERR_IP_ADDRESS_MISMATCH ||
		   ((vr == X509_V_OK || vr == X509_V_ERR_UNSPECIFIED) &&
		    strstr(why, "host name"))) {
		/* The chain verified; curl's own check of the name failed
		 * ("... does not match target host name ..."). */
		download_fail(d, false,
			      "the TLS certificate of %s is for another host name: use in the url a "
			      "name the certificate is for (%s)", h, why);
	} else {
		download_fail(d, false, "the TLS certificate of %s does not verify: %s (%s)", h,
			      X509_verify_cert_error_string(vr), why);
	}
	curl_free(host);
	curl_url_cleanup(u);
}

/* The transfer's time condition was not met: nothing newer to fetch. */
static bool condition_unmet(struct download *d)
{
	long unmet = 0;
	curl_easy_getinfo(d->easy, CURLINFO_CONDITION_UNMET, &unmet);
	return unmet != 0;
}

/* The file's time on an ftp server, or -1. */
static int64_t ftp_filetime(struct download *d)
{
	curl_off_t t = -1;
	if (!download_is_ftp(d->url) ||
	    curl_easy_getinfo(d->easy, CURLINFO_FILETIME_T, &t) != CURLE_OK)
		return -1;
	return t >= 0 ? (int64_t)t : -1;
}

int download_finish(struct download *d, CURLcode cc)
{
	struct attempt *a = d->a;
	struct result *res = a->res;
	const struct download_def *def = d->def;
	long code = 0, conns = 0;
	curl_off_t retry_after = 0;
	bool http = download_is_http(d->url);
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
	if (d->part.dir >= 0)
		result_fact_int(res, "resumed_bytes", d->resumed);
	if (retry_after > 0)
		res->retry_after = (double)(retry_after > 3600 ? 3600 : retry_after);
	int rc = -1;
	bool drop = d->range_bad || (http && code == 416); /* the partial data */

	if (cc == CURLE_ABORTED_BY_CALLBACK && (d->cancelled || cancel_requested())) {
		result_fail(res, "interrupted");
		res->status = RES_INTERRUPTED;
	} else if (d->write_failed) {
		download_fail(d, false, "cannot write '%s': %s", d->output,
			      strerror(d->write_errno));
	} else if (d->range_bad) {
		download_fail(d, true,
			      "the server sent a range from byte %lld, not the rest from byte %lld "
			      "that was asked for; the next attempt starts over",
			      (long long)d->range_start, (long long)d->part.offset);
	} else if (d->too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		download_fail(d, false,
			      "larger than max_size (%lld bytes); aborted after %lld bytes",
			      (long long)def->max_size, (long long)d->bytes);
	} else if (http && code == 416 && d->part.offset > 0) {
		download_fail(d, true,
			      "HTTP 416 from %s to a request for the rest of a cut-off download "
			      "from byte %lld; the next attempt starts over",
			      d->url, (long long)d->part.offset);
	} else if (http && code >= 400) {
		download_fail(d, http_transient(code), "HTTP %ld%s%s from %s", code,
			      d->reason[0] ? " " : "", d->reason, d->url);
	} else if (cc == CURLE_OPERATION_TIMEDOUT && a->deadline > 0 &&
		   mono_now() >= a->deadline - 0.05) {
		res->timed_out = true;
		download_fail(d, true, "timed out after %g s (%lld bytes received)",
			      a->job->sec->timeout, (long long)d->bytes);
	} else if (cc == CURLE_UNSUPPORTED_PROTOCOL && code >= 300 && code < 400) {
		download_fail(d, false,
			      "refused to follow a redirect to %.300s (only http and https)",
			      d->location ? d->location : "another protocol");
	} else if (cc == CURLE_PEER_FAILED_VERIFICATION || cc == CURLE_SSL_CACERT_BADFILE) {
		tls_failure(d, cc);
	} else if (cc != CURLE_OK) {
		download_fail(d, curl_transient(cc), "%s", curl_text(d, cc));
	} else if (http && code == 304) {
		struct stat st;
		if (!d->conditional || stat(d->output, &st) < 0) {
			download_fail(d, false,
				      "the server answered 304 Not Modified to a plain GET");
		} else {
			res->unchanged = true;
			res->extra = download_memo(
				a->job, &st, d->etag ? d->etag : d->prev.etag,
				d->last_modified ? d->last_modified : d->prev.last_modified, -1);
			rc = 0;
		}
	} else if (!http && d->conditional && condition_unmet(d)) {
		/* ftp: MDTM says the file is no newer than our copy; no RETR. */
		struct stat st;
		if (stat(d->output, &st) < 0) {
			download_fail(d, false, "cannot read '%s': %s", d->output, strerror(errno));
		} else {
			log_text(a, "not modified on the server since the last download\n");
			res->unchanged = true;
			res->extra = download_memo(a->job, &st, NULL, NULL, d->prev.filetime);
			rc = 0;
		}
	} else if (http && code >= 300) {
		download_fail(d, false, "HTTP %ld%s%s from %s, and no redirect to follow", code,
			      d->reason[0] ? " " : "", d->reason, d->url);
	} else {
		char got[2 * EVP_MAX_MD_SIZE + 1] = "";
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int len;
		EVP_DigestFinal_ex(d->sha, md, &len);
		hex_encode(got, md, len);
		struct strbuf want = {0};
		if (def->sha256)
			subst_placeholders(a->job, def->sha256, SUBST_TEXT, &want);
		if (def->sha256 && strcasecmp(got, sb_str(&want)) != 0) {
			/* A resumed file may hold bytes of another version:
			 * worth one more try, from byte 0. */
			drop = true;
			if (d->resumed > 0)
				download_fail(d, true,
					      "sha256 mismatch: expected %s, got %s (resumed from "
					      "byte %lld; the next attempt starts over)",
					      sb_str(&want), got, (long long)d->resumed);
			else
				download_fail(d, false, "sha256 mismatch: expected %s, got %s",
					      sb_str(&want), got);
		} else {
			/* out_file_commit() releases d->of, even on error. */
			struct stat st;
			int committed = d->part.dir >= 0 ? download_partial_commit(d)
							: out_file_commit(&d->of);
			if (committed < 0 || stat(d->output, &st) < 0) {
				download_fail(d, false, "cannot write '%s': %s", d->output,
					      strerror(errno));
			} else {
				res->extra = download_memo(a->job, &st, d->etag, d->last_modified,
							   ftp_filetime(d));
				attempt_output_hashed(a, 0, &st, md);
				rc = 0;
			}
		}
		sb_release(&want);
	}

	/* A cut-off body stays for the next attempt or run to resume; any
	 * other end (success, a permanent failure, 304) drops it. */
	d->keep_partial = rc < 0 && !drop && (res->status == RES_INTERRUPTED || res->retryable);
	if (d->resumed > 0)
		sb_addf(&d->trace, "resumed: %lld bytes kept from a cut-off download\n",
			(long long)d->resumed);
	double total = 0;
	curl_easy_getinfo(d->easy, CURLINFO_TOTAL_TIME, &total);
	/* The error itself is the line the attempt ends a failed log with. */
	sb_addf(&d->trace, "%s: %lld bytes in %.3f s, %ld new connection%s\n",
		rc == 0 ? (res->unchanged ? "unchanged" : "ok") : "failed", (long long)d->bytes,
		total, conns, conns == 1 ? "" : "s");
	/* The trace of a success is only for -v, or for a log that exists
	 * already (a later attempt's, or one made on a Slurm node). */
	if (rc < 0 || attempt_verbose || a->log_fd >= 0)
		log_text(a, sb_str(&d->trace));
	download_release(d); /* removes the temporary file unless it was renamed */
	return rc;
}

/* ---- the blocking path ---- */

int download_run(struct attempt *a)
{
	void **slot = &a->worker->cache[kind_slot(&kind_download)];
	if (!*slot)
		*slot = curl_easy_init();
	CURL *easy = *slot;
	if (!easy) {
		result_fail(a->res, "cannot create a curl handle");
		return -1;
	}
	struct download d;
	int rc = download_begin(&d, a, easy);
	if (rc <= 0)
		return rc;
	return download_finish(&d, curl_easy_perform(easy));
}

void download_worker_release(void *cache)
{
	curl_easy_cleanup(cache);
}
