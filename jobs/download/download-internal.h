/* download-internal.h - what the members of the `download` job kind share:
 * the parsed definition of a section, the state of one transfer, what a
 * download remembers between runs, and the functions each member offers the
 * others. Only the .c files of jobs/download/ may include it, and besides
 * them the unit tests (tests/unit/) and the fuzzer (fuzz/fuzz_download.c),
 * to reach the parsers; the rest of juggle knows the kind only as
 * kind_download, through the table of engine/kind.h.
 *
 * The kind fetches one URL with libcurl into one output, atomically:
 *   kind.c        the keys and their checks, the URL and headers of one job
 *                 (placeholders substituted, checked again), the kind's table
 *   validators.c  what a download remembers between runs (ETag,
 *                 Last-Modified and the copy they describe, kept in the state
 *                 log), the response header parser that collects them, and
 *                 the conditional request made from them
 *   transfer.c    one transfer on one curl easy handle: its options and
 *                 redirect policy, the body written to a temporary file and
 *                 renamed over the output, the outcome; run(), the blocking
 *                 path
 *   resume.c      a cut-off http body kept in .juggle/partial/ and asked
 *                 for again from where it stopped (Range, If-Range)
 *   uv-curl.c     the event loop's path: one curl multi handle per libuv
 *                 loop, driven by libuv sockets and a libuv timer
 *
 * One transfer is a `struct download`, and everything about it is written
 * once and shared by the two ways of carrying it:
 *   - run(): the blocking path of every backend but the event loop, one
 *     curl easy handle per worker (worker->cache), reset between jobs so
 *     its connection cache survives: a worker reuses its connection;
 *   - start_async()/cancel_async()/loop_release(): the event loop drives
 *     the same transfers through ONE curl multi handle per libuv loop
 *     (multi_socket API: curl's sockets become uv_poll handles, its timer a
 *     uv_timer), kept in the loop's cache slot.
 * Both call download_begin() (options, temporary output, conditional
 * headers), share the callbacks (per chunk: size limit, streaming SHA-256,
 * write to the temporary file; the progress callback notices a stop
 * request), and end in download_finish(), which classifies the outcome like
 * curl's --retry and either renames the complete file over the output or
 * removes it. Nothing partial ever carries the output's name.
 *
 * Conditional requests: the ETag and Last-Modified of a download, with
 * what identifies the copy they describe, go to the state log through
 * res->extra and come back as a->prev_extra. They are sent only when the
 * output on disk is still the copy they describe, so a hand-edited or
 * replaced output is fetched in full.
 *
 * Errors follow the engine's contract: 0 or -1, the story in a->res.
 */
#ifndef JUGGLE_DOWNLOAD_INTERNAL_H
#define JUGGLE_DOWNLOAD_INTERNAL_H

#include <curl/curl.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/stat.h>

#include "engine/kind.h"
#include "engine/safepath.h"
#include "engine/util.h"

extern const struct job_kind kind_download;

/* ---- the definition (kind.c) ---- */

enum refresh { REFRESH_CONDITIONAL, REFRESH_ALWAYS, REFRESH_ONCE };

/* A header key of a download section: header or secret_header. */
struct download_header {
	const char *tmpl; /* "Name: value", placeholders still in */
	int line;         /* of the key in the graph file */
	bool secret;      /* secret_header: its value is never shown */
};

/* A download section's keys, parsed by check() into sec->kpriv. */
struct download_def {
	const char *url;           /* placeholders still in */
	const char *sha256;        /* NULL, or hex with placeholders still in */
	VEC(struct download_header) headers; /* in the order of the graph */
	int64_t max_size;
	enum refresh refresh;
	char *ca_file;             /* absolute; NULL: the system's CAs only */
};

/* The schemes a url may name, NULL-terminated; the index of each is what
 * download_url_scheme() returns. */
extern const char *const download_url_schemes[];

/* The index in download_url_schemes of the scheme url starts with
 * ("https://..."), or -1. */
int download_url_scheme(const char *url);

/* The URL of a job, its placeholders substituted, into out; 0, or -1 with
 * why in err (a control character, a scheme the graph did not write). */
int download_instance_url(const struct job *job, const char *tmpl, struct strbuf *out,
			  struct strbuf *err);

/* Header h of a job, substituted, into out; 0, or -1 with why in err
 * (which shows no value of a secret header). */
int download_instance_header(const struct job *job, const struct download_header *h,
			     struct strbuf *out, struct strbuf *err);

/* Adds header line s (n bytes) to the trace sb as "> s", or, when secret,
 * with only its name: "> Name: (secret, not shown)". */
void download_trace_header(struct strbuf *sb, const char *s, size_t n, bool secret);

/* ---- what a download remembers between runs (validators.c) ---- */

/* The memo of res->extra, parsed. */
struct validators {
	char fp[33];           /* the job's fingerprint, in hex */
	char *etag;
	char *last_modified;
	int64_t mtime_ns, size; /* of the output they describe; -1 unknown */
	int64_t filetime;       /* ftp: the file's time on the server (MDTM),
				 * seconds since the epoch; -1 unknown */
};

/* Frees v's strings and zeroes it. */
void download_validators_release(struct validators *v);

/* Reads the memo s (NULL: none) into v, which the caller releases. Lines
 * "name value"; unknown names and lines without a space are skipped. */
void download_validators_parse(const char *s, struct validators *v);

/* The memo of v, for res->extra; the caller frees it. */
char *download_validators_format(const struct validators *v);

/* The memo for job's output as st describes it, with its validators
 * (etag and last_modified may be NULL, filetime -1); the caller frees it. */
char *download_memo(const struct job *job, const struct stat *st, const char *etag,
		    const char *last_modified, int64_t filetime);

/* The job's fingerprint in hex. */
void download_fp_hex(const struct job *job, char out[33]);


/* ---- one transfer (transfer.c) ---- */

/* The body of an http download kept for resuming (resume.c). */
struct partial {
	int dir;         /* .juggle/partial, -1 when not used; shared by the
			  * process's downloads, never closed */
	char key[33];    /* the data file's name there; KEY.meta describes it */
	int fd;          /* the data file, open for reading and writing */
	int64_t offset;  /* bytes held when the transfer began and asked for
			  * onward (Range); 0 when starting from byte 0 */
	int64_t total;   /* the whole file's size from KEY.meta, -1 unknown */
	char *validator; /* KEY.meta's If-Range value */
	bool meta;       /* KEY.meta describes the data file */
	bool meta_file;  /* KEY.meta may be on disk (so removing it is worth a
			  * call): found there, or written since */
	bool moved;      /* the data file was renamed over the output */
};

struct download {
	struct attempt *a;
	const struct download_def *def;
	CURL *easy;
	char *url;
	struct curl_slist *headers;
	const char *output;
	struct out_file of;      /* the temporary file beside the output, when
				  * the body does not go to part */
	struct partial part;     /* the body kept for resuming (http) */
	int fd;                  /* where the body goes: part's or of's */
	bool body_started;       /* the first byte of the body arrived */
	bool range_bad;          /* a 206 for another range than asked */
	bool keep_partial;       /* the attempt ended so that it may resume */
	int64_t resumed;         /* bytes taken from part, not sent again */
	int64_t range_start;     /* of the response's Content-Range, -1 none */
	EVP_MD_CTX *sha;         /* SHA-256 of the body: checked against sha256
				  * when given, and the output's content hash */
	int64_t bytes;           /* body bytes received, kept or not */
	long code;               /* status of the response being received */
	bool too_big, write_failed, cancelled;
	int write_errno;
	struct validators prev;  /* from the last run */
	bool conditional;        /* If-None-Match / If-Modified-Since sent, or
				  * for ftp the time condition on MDTM */
	char *etag, *last_modified; /* of the final response */
	char *location;          /* its Location header */
	char reason[96];         /* its status line's reason phrase */
	struct strbuf trace;     /* request and response headers, for the log */
	char errbuf[CURL_ERROR_SIZE];
};

/* CURLOPT_HEADERFUNCTION (validators.c): one response header line of
 * size * n bytes, not NUL-terminated. Notes it in d->trace and keeps, for
 * the last response (a status line starts a new one), its reason phrase,
 * ETag, Last-Modified and Location. Returns size * n, as curl expects. */
size_t download_on_header(char *buf, size_t size, size_t n, void *d);

/* Adds If-None-Match / If-Modified-Since from d->prev to d->headers (for
 * ftp, the time condition on the file's MDTM is set on d->easy later, by
 * download_begin), and sets d->conditional, when refresh = conditional
 * allows it and the output on disk is the copy d->prev describes
 * (same_copy) (validators.c). */
void download_conditional(struct download *d, bool same_copy);

/* True for an http:// or https:// URL. */
bool download_is_http(const char *url);

/* True for an ftp:// or ftps:// URL. */
bool download_is_ftp(const char *url);

/* Adds prefix, then s (n bytes, its line end dropped) as one line to
 * d->trace, until the trace is long enough. */
void download_trace_line(struct download *d, const char *prefix, const char *s, size_t n);

/* Prepares the transfer of attempt a on easy (reset first). Returns 1 when
 * a transfer is ready to perform, 0 when the attempt is already a success
 * with nothing to fetch (refresh = once), -1 on failure with a->res filled.
 * Unless it returns 1, d needs no download_finish(). */
int download_begin(struct download *d, struct attempt *a, CURL *easy);

/* Ends the transfer d whose outcome is cc: fills a->res, renames the file
 * over the output on success, removes it otherwise, frees d's contents.
 * Returns 0 or -1, as run() does. */
int download_finish(struct download *d, CURLcode cc);

/* Fails the attempt with a message that says whether it will be retried.
 * Returns -1. */
int download_fail(struct download *d, bool transient, const char *fmt, ...) PRINTF(3, 4);

/* Frees d's contents and removes the temporary file unless it was renamed
 * over the output. */
void download_release(struct download *d);

/* The kind's run() and worker_release(): one attempt on the worker's easy
 * handle. */
int download_run(struct attempt *a);
void download_worker_release(void *cache);

/* ---- resuming (resume.c) ---- */

/* Empties p (no files). */
void download_partial_init(struct partial *p);

/* Opens .juggle/partial (made if missing) for d, and the partial file
 * there when its description names d->url and a validator: then it resumes
 * (d->part.fd >= 0, d->part.offset its size). With nothing to resume, the
 * partial file is made at the body's first byte (download_partial_body()),
 * or by download_partial_commit() for an empty body; until then
 * d->part.fd and d->fd are -1.
 * Returns 0, or -1 when the folder cannot be used (d->part stays empty;
 * the body then goes to a temporary file beside the output). */
int download_partial_begin(struct download *d);

/* Feeds d->sha the bytes d->part already holds; 0, or -1 on a read error. */
int download_partial_hash(struct download *d);

/* Adds If-Range to d->headers when d->part resumes. */
void download_partial_if_range(struct download *d);

/* At the first byte of a 2xx body: makes the partial file when nothing
 * was resumed (or, when it cannot be made, a temporary file beside the
 * output instead); on 206, checks the range is the one
 * asked for; on 200, starts the data over from byte 0; then describes the
 * data (KEY.meta) when it has a validator and is large enough to be worth
 * resuming. Returns 0, or -1 to abort the transfer (d->range_bad or
 * d->write_failed set). */
int download_partial_body(struct download *d);

/* Renames the complete data over the output (copies it across file
 * systems); 0, or -1 with errno. */
int download_partial_commit(struct download *d);

/* Closes p; unless keep (and p is described), removes its files. */
void download_partial_end(struct partial *p, bool keep);

/* ---- the event loop's path (uv-curl.c) ---- */

/* The kind's start_async(), cancel_async() and loop_release(). */
int download_start_async(struct async_attempt *aa);
void download_cancel_async(struct async_attempt *aa);
void download_loop_release(void *cache);

#endif
