/* resume.c - a download cut off (the server dropped the connection, a
 * timeout, juggle interrupted or killed) resumes where it stopped, on the
 * next attempt or the next run.
 *
 * An http or https body is written to a file of juggle's own,
 * .juggle/partial/KEY (KEY: the first 32 hex digits of the SHA-256 of the
 * output's path), and KEY.meta beside it says what that data is: the URL,
 * the validator to send in If-Range (a strong ETag, else Last-Modified)
 * and the whole file's size when known. The invariant: KEY.meta exists
 * only while KEY holds a prefix of the file it describes. So KEY.meta is
 * removed before KEY is emptied, and written (atomically) only once the
 * first bytes of a response with a validator arrive, before they are
 * written. A body under RESUME_MIN bytes gets no KEY.meta: not worth a
 * second request.
 *
 * The next attempt that finds both asks for the rest with Range and
 * If-Range: 206 appends (the digest is first fed what is there), 200 (the
 * file changed, or the server ignores Range) starts over from byte 0. The
 * complete file is renamed over the output (copied into a temporary file
 * beside it when the output lies on another file system), so the output
 * is still replaced atomically.
 *
 * Both files are opened relative to the folder's descriptor with
 * O_NOFOLLOW, the folder itself opened with O_NOFOLLOW from .juggle and
 * refused unless it is this user's, so nothing planted there redirects a
 * write. The folder is opened once per process and kept.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/graph.h"
#include "jobs/download/download-internal.h"

/* Bodies smaller than this are not kept for resuming. */
#define RESUME_MIN (1 << 20)

void download_partial_init(struct partial *p)
{
	memset(p, 0, sizeof(*p));
	p->dir = p->fd = -1;
	p->total = -1;
}

static void meta_name(const struct partial *p, char out[48])
{
	snprintf(out, 48, "%s.meta", p->key);
}

static void meta_remove(struct partial *p)
{
	char m[48];
	if (p->meta_file) {
		meta_name(p, m);
		unlinkat(p->dir, m, 0);
	}
	p->meta = p->meta_file = false;
}

/* KEY.meta's lines "url U", "if-range V", "total N" into p (url into
 * *url, which the caller frees); false when it is missing or unusable. */
static bool meta_read(struct partial *p, char **url)
{
	char m[48];
	meta_name(p, m);
	int fd = openat(p->dir, m, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	/* Anything there but nothing at all (a link, a folder) is to go. */
	p->meta_file = fd >= 0 || errno != ENOENT;
	if (fd < 0)
		return false;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 65536) {
		close(fd);
		return false;
	}
	size_t len;
	char *s = read_fd_close(fd, &len);
	if (!s)
		return false;
	*url = NULL;
	for (char *line = s; *line;) {
		size_t n = strcspn(line, "\n");
		char *next = line + n + (line[n] == '\n');
		line[n] = '\0';
		bool ctl = false;
		for (char *c = line; *c; c++)
			ctl |= (unsigned char)*c < 0x20 || *c == 0x7f;
		if (ctl)
			;
		else if (!strncmp(line, "url ", 4))
			free(*url), *url = xstrdup(line + 4);
		else if (!strncmp(line, "if-range ", 9))
			free(p->validator), p->validator = xstrdup(line + 9);
		else if (!strncmp(line, "total ", 6))
			p->total = strtoll(line + 6, NULL, 10);
		line = next;
	}
	free(s);
	return *url && p->validator && *p->validator;
}

/* Opens .juggle/partial, made if missing: -1 unless it is a folder of
 * this user's. */
static int folder_open(void)
{
	int own = open(STATE_DIR, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (own < 0)
		return -1;
	int dir = -1;
	if (mkdirat(own, "partial", 0700) == 0 || errno == EEXIST)
		dir = openat(own, "partial", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	close(own);
	struct stat st;
	if (dir >= 0 && (fstat(dir, &st) < 0 || st.st_uid != geteuid())) {
		close(dir);
		dir = -1;
	}
	return dir;
}

/* The folder, opened once per process and kept open for every download
 * after (six system calls per download less), shared by threads without
 * a lock (so a fork never inherits one held). A failure is not kept: the
 * next download tries again. */
static int folder(void)
{
	static _Atomic int shared = -1;
	int dir = atomic_load(&shared);
	if (dir >= 0)
		return dir;
	dir = folder_open();
	int none = -1;
	if (dir >= 0 && !atomic_compare_exchange_strong(&shared, &none, dir)) {
		close(dir); /* another thread's came first */
		dir = none;
	}
	return dir;
}

int download_partial_begin(struct download *d)
{
	struct partial *p = &d->part;
	p->dir = folder();
	struct stat st;
	if (p->dir < 0)
		goto fail;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	EVP_Digest(d->output, strlen(d->output), md, &mdlen, md_sha256(), NULL);
	char hex[2 * EVP_MAX_MD_SIZE + 1];
	hex_encode(hex, md, mdlen);
	snprintf(p->key, sizeof(p->key), "%.32s", hex);

	char *url = NULL;
	bool meta = meta_read(p, &url);
	if (!meta) {
		/* Nothing to resume: the data file is made when the body's first
		 * byte comes (data_create()), as curl makes its output. So the
		 * request goes out without waiting on the file system (making a
		 * file is most of the CPU of a small download on an ext4 that
		 * has deleted many), and a 304 or an error page makes none. */
		free(url);
		meta_remove(p);
		free(p->validator);
		p->validator = NULL;
		p->total = -1;
		return 0;
	}
	p->fd =
	    openat(p->dir, p->key, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0666);
	if (p->fd < 0 || fstat(p->fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		free(url);
		goto fail;
	}
	int64_t have = (int64_t)st.st_size;
	if (meta && !strcmp(url, d->url) && have > 0 && have <= d->def->max_size &&
	    (p->total < 0 || have < p->total) && lseek(p->fd, 0, SEEK_END) == have) {
		p->offset = have;
		p->meta = true;
	} else {
		/* Nothing to resume: the description goes before the data. */
		meta_remove(p);
		free(p->validator);
		p->validator = NULL;
		p->total = -1;
		/* Emptied only when it holds something: on ext4 a truncate to
		 * zero makes the file's close() start writing it to disk at
		 * once (auto_da_alloc, for programs that replace a file by
		 * truncating it): 8% of the CPU of 500 downloads when every
		 * new, empty file was truncated. */
		if (have > 0 && (ftruncate(p->fd, 0) < 0 || lseek(p->fd, 0, SEEK_SET) != 0)) {
			free(url);
			goto fail;
		}
	}
	free(url);
	return 0;
fail:
	if (p->fd >= 0)
		close(p->fd);
	free(p->validator);
	download_partial_init(p);
	return -1;
}

/* Makes (or opens and empties: one an interrupted run left without a
 * description) the data file of a download that resumes nothing, and
 * points d->fd at it; 0, or -1 with errno. */
static int data_create(struct download *d)
{
	struct partial *p = &d->part;
	p->fd =
	    openat(p->dir, p->key, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0666);
	struct stat st;
	if (p->fd < 0)
		return -1;
	int e = 0;
	if (fstat(p->fd, &st) < 0)
		e = errno;
	else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
		e = EPERM;
	else if (st.st_size > 0 && ftruncate(p->fd, 0) < 0)
		e = errno;
	if (e) {
		close(p->fd);
		p->fd = -1;
		errno = e;
		return -1;
	}
	d->fd = p->fd;
	return 0;
}

int download_partial_hash(struct download *d)
{
	struct partial *p = &d->part;
	char buf[65536];
	int64_t at = 0;
	while (at < p->offset) {
		size_t want = sizeof(buf);
		if ((int64_t)want > p->offset - at)
			want = (size_t)(p->offset - at);
		ssize_t n = pread(p->fd, buf, want, (off_t)at);
		if (n <= 0)
			return -1;
		EVP_DigestUpdate(d->sha, buf, (size_t)n);
		at += n;
	}
	return 0;
}

/* Empties the data file, its description first, and the digest. */
static int restart(struct download *d)
{
	struct partial *p = &d->part;
	meta_remove(p);
	p->offset = 0;
	EVP_DigestInit_ex(d->sha, md_sha256(), NULL);
	if (ftruncate(p->fd, 0) < 0 || lseek(p->fd, 0, SEEK_SET) != 0)
		return -1;
	return 0;
}

/* The validator If-Range may carry: a strong ETag, else Last-Modified. */
static const char *strong_validator(const struct download *d)
{
	if (d->etag && *d->etag && strncmp(d->etag, "W/", 2) != 0)
		return d->etag;
	return d->last_modified && *d->last_modified ? d->last_modified : NULL;
}

static int meta_write(struct download *d, const char *validator, int64_t total)
{
	struct partial *p = &d->part;
	char m[48], *tmp = NULL;
	meta_name(p, m);
	struct strbuf sb = {0};
	sb_addf(&sb, "url %s\nif-range %s\ntotal %lld\n", d->url, validator, (long long)total);
	int fd = atomic_begin_at(p->dir, m, &tmp);
	int rc = -1;
	if (fd >= 0) {
		if (write_all(fd, sb.buf, sb.len) == 0)
			rc = atomic_commit_at(p->dir, fd, tmp, m);
		else
			atomic_abort_at(p->dir, fd, tmp);
	}
	sb_release(&sb);
	p->meta = rc == 0;
	p->meta_file |= p->meta;
	return rc;
}

int download_partial_body(struct download *d)
{
	struct partial *p = &d->part;
	if (p->dir < 0)
		return 0;
	if (p->fd < 0 && data_create(d) < 0) {
		/* As when the folder cannot be used at all: the body goes to a
		 * temporary file beside the output, not to be resumed. */
		free(p->validator);
		download_partial_init(p);
		if (out_file_begin(&d->of, d->output) < 0) {
			d->write_failed = true;
			d->write_errno = errno;
			return -1;
		}
		d->fd = d->of.fd;
		return 0;
	}
	if (d->code == 206) {
		if (p->offset == 0 || d->range_start != p->offset) {
			d->range_bad = true;
			return -1;
		}
		d->resumed = p->offset;
		return 0;
	}
	if (p->offset > 0) {
		static const char why[] = "the server sent the whole file (changed since, or no "
		                          "Range support): starting over";
		download_trace_line(d, "", why, sizeof(why) - 1);
		if (restart(d) < 0) {
			d->write_failed = true;
			d->write_errno = errno;
			return -1;
		}
	}
	curl_off_t cl = -1;
	curl_easy_getinfo(d->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
	const char *v = strong_validator(d);
	if (v && (cl < 0 || cl >= RESUME_MIN))
		meta_write(d, v, cl >= 0 ? (int64_t)cl : -1);
	return 0;
}

void download_partial_if_range(struct download *d)
{
	struct partial *p = &d->part;
	if (p->offset <= 0)
		return;
	char *h = xasprintf("If-Range: %s", p->validator);
	d->headers = curl_slist_append(d->headers, h);
	free(h);
}

/* Copies the data file into a temporary file beside the output, then
 * renames that over it. */
static int copy_over(struct download *d)
{
	struct out_file of = {.dir = -1, .fd = -1};
	if (out_file_begin(&of, d->output) < 0)
		return -1;
	char buf[65536];
	off_t at = 0;
	for (;;) {
		ssize_t n = pread(d->part.fd, buf, sizeof(buf), at);
		if (n < 0 || (n > 0 && write_all(of.fd, buf, (size_t)n) < 0)) {
			int e = errno;
			out_file_abort(&of);
			errno = e;
			return -1;
		}
		if (n == 0)
			break;
		at += n;
	}
	if (out_file_commit(&of) < 0)
		return -1;
	unlinkat(d->part.dir, d->part.key, 0);
	d->part.moved = true;
	return 0;
}

int download_partial_commit(struct download *d)
{
	struct partial *p = &d->part;
	const char *base;
	/* An empty body never came to download_partial_body(). */
	if (p->fd < 0 && data_create(d) < 0)
		return -1;
	meta_remove(p);
	int dir = out_dir_open(d->output, true, &base);
	if (dir < 0)
		return -1;
	int rc = renameat(p->dir, p->key, dir, base);
	int e = errno;
	close(dir);
	if (rc < 0 && e == EXDEV)
		return copy_over(d);
	p->moved = rc == 0;
	errno = e;
	return rc;
}

void download_partial_end(struct partial *p, bool keep)
{
	if (p->dir < 0)
		return;
	if (!keep || !p->meta) {
		meta_remove(p);
		if (!p->moved && p->fd >= 0)
			unlinkat(p->dir, p->key, 0);
	}
	if (p->fd >= 0)
		close(p->fd);
	free(p->validator);
	download_partial_init(p);
}
