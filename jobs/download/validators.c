/* validators.c - what a download remembers between runs, and how it asks
 * the server whether its copy changed. After a run the memo (res->extra,
 * kept in the state log) holds lines "name value": fp (the job's
 * fingerprint), etag, last-modified, and the mtime and size of the output
 * they describe, and for ftp the file's time on the server (filetime); the next run reads it back from a->prev_extra. The memo
 * is data from the last run and the headers come from a server, so the
 * parsers take any bytes (fuzz/fuzz_download.c feeds them).
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jobs/download/download-internal.h"

void download_validators_release(struct validators *v)
{
	free(v->etag);
	free(v->last_modified);
	memset(v, 0, sizeof(*v));
}

void download_validators_parse(const char *s, struct validators *v)
{
	memset(v, 0, sizeof(*v));
	v->mtime_ns = v->size = v->filetime = -1;
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
			else if (k == 8 && !memcmp(s, "filetime", 8))
				v->filetime = strtoll(val, NULL, 10);
			free(val);
		}
		s += n + (s[n] == '\n');
	}
}

char *download_validators_format(const struct validators *v)
{
	struct strbuf sb = {0};
	sb_addf(&sb, "fp %s\n", v->fp);
	if (v->etag)
		sb_addf(&sb, "etag %s\n", v->etag);
	if (v->last_modified)
		sb_addf(&sb, "last-modified %s\n", v->last_modified);
	sb_addf(&sb, "mtime %lld\nsize %lld\n", (long long)v->mtime_ns, (long long)v->size);
	if (v->filetime >= 0)
		sb_addf(&sb, "filetime %lld\n", (long long)v->filetime);
	return sb_detach(&sb);
}

char *download_memo(const struct job *job, const struct stat *st, const char *etag,
		    const char *last_modified, int64_t filetime)
{
	struct validators v = {0};
	v.filetime = filetime;
	download_fp_hex(job, v.fp);
	v.etag = (char *)etag;
	v.last_modified = (char *)last_modified;
	v.mtime_ns = time_ns(&st->st_mtim);
	v.size = (int64_t)st->st_size;
	return download_validators_format(&v);
}

void download_fp_hex(const struct job *job, char out[33])
{
	hex_encode(out, job->fp, 16);
}

/* ---- the response's headers ---- */

size_t download_on_header(char *buf, size_t size, size_t n, void *userp)
{
	struct download *d = userp;
	size_t len = size * n;
	download_trace_line(d, "< ", buf, len);
	if (len > 5 && !strncmp(buf, "HTTP/", 5)) {
		/* A new response (after a redirect or a 100): forget the last. */
		free(d->etag);
		free(d->last_modified);
		free(d->location);
		d->etag = d->last_modified = d->location = NULL;
		d->reason[0] = '\0';
		d->range_start = -1;
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
	} else if (klen == 13 && !strncasecmp(buf, "content-range", 13)) {
		/* "bytes FIRST-LAST/TOTAL": where a 206's data starts. */
		char tmp[64];
		long long first;
		snprintf(tmp, sizeof(tmp), "%.*s", (int)(vlen < 63 ? vlen : 63), v);
		if (sscanf(tmp, "bytes %lld-", &first) == 1 && first >= 0)
			d->range_start = first;
	} else if (klen == 8 && !strncasecmp(buf, "location", 8)) {
		free(d->location);
		d->location = xstrndup(v, vlen);
	}
	return len;
}

/* ---- the conditional request ---- */

void download_conditional(struct download *d, bool same_copy)
{
	if (d->def->refresh != REFRESH_CONDITIONAL || !same_copy)
		return;
	if (download_is_ftp(d->url)) {
		d->conditional = d->prev.filetime >= 0;
		return;
	}
	if (!download_is_http(d->url) || !(d->prev.etag || d->prev.last_modified))
		return;
	struct strbuf sb = {0};
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
	sb_release(&sb);
	d->conditional = true;
}
