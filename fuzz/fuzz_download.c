/* fuzz_download.c - libFuzzer target: what a download parses from others.
 * The bytes before the first NUL are a server's response header lines, fed
 * one by one to the header callback as libcurl would (status lines,
 * ETag, Last-Modified, Location, anything); the bytes after it are the
 * memo the last run left in the state log (res->extra), read back as the
 * next conditional request would. The memo must reach a fixed point:
 * formatted, read and formatted again, it does not change.
 *
 * It reaches the parsers through the kind's internal header. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jobs/download/download-internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *end = s + size;
	const char *nul = memchr(s, '\0', size);
	const char *hend = nul ? nul : end;

	struct download d;
	memset(&d, 0, sizeof(d));
	d.of.dir = d.of.fd = -1;
	for (const char *p = s; p < hend;) {
		const char *nl = memchr(p, '\n', (size_t)(hend - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(hend - p);
		/* libcurl hands over a copy; so does this, unterminated. */
		char *line = xmalloc(n ? n : 1);
		memcpy(line, p, n);
		if (download_on_header(line, 1, n, &d) != n)
			abort();
		free(line);
		p += n;
	}
	if (strlen(d.reason) >= sizeof(d.reason))
		abort();
	/* What this response would leave for the next run. */
	struct validators v = {0};
	v.mtime_ns = 1, v.size = 2;
	if (d.etag)
		v.etag = xstrdup(d.etag);
	if (d.last_modified)
		v.last_modified = xstrdup(d.last_modified);
	char *memo = download_validators_format(&v);
	download_validators_release(&v);
	download_release(&d);
	free(memo);

	if (nul) {
		char *m = xstrndup(nul + 1, (size_t)(end - nul - 1));
		struct validators a, b;
		download_validators_parse(m, &a);
		char *f1 = download_validators_format(&a);
		download_validators_parse(f1, &b);
		char *f2 = download_validators_format(&b);
		if (strcmp(f1, f2) != 0)
			abort(); /* the memo is stable across runs */
		download_validators_release(&a);
		download_validators_release(&b);
		free(f1);
		free(f2);
		free(m);
	}
	return 0;
}
