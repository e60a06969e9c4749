/* archive.c - see archive.h. */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/report/archive.h"
#include "engine/report/report.h"

static const struct {
	const char *ext;
	enum run_archive_format fmt;
} extensions[] = {
    {".tar.gz", RA_TAR_GZ},   {".tgz", RA_TAR_GZ},   {".tar.xz", RA_TAR_XZ}, {".txz", RA_TAR_XZ},
    {".tar.zst", RA_TAR_ZST}, {".tzst", RA_TAR_ZST}, {".tar", RA_TAR},       {".zip", RA_ZIP},
};

int run_archive_format(const char *path, enum run_archive_format *fmt, struct strbuf *err)
{
	size_t n = strlen(path);
	for (size_t i = 0; i < ARRAY_SIZE(extensions); i++) {
		size_t e = strlen(extensions[i].ext);
		if (n > e && strcasecmp(path + n - e, extensions[i].ext) == 0 &&
		    path[n - e - 1] != '/') {
			*fmt = extensions[i].fmt;
			return 0;
		}
	}
	sb_addf(err,
	        "archive '%s': unknown format; name it .tar.gz (or .tgz), .tar.xz, "
	        ".tar.zst, .tar or .zip",
	        path);
	return -1;
}

char *run_archive_partial_path(const char *path)
{
	size_t n = strlen(path), cut = n;
	for (size_t i = 0; i < ARRAY_SIZE(extensions); i++) {
		size_t e = strlen(extensions[i].ext);
		if (n > e && strcasecmp(path + n - e, extensions[i].ext) == 0) {
			cut = n - e;
			break;
		}
	}
	return xasprintf("%.*s.partial%s", (int)cut, path, path + cut);
}

int run_archive_epoch(long long *epoch, bool *set, struct strbuf *err)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	*set = false;
	if (!s || !*s)
		return 0;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || v < 0 || v > 253402300799LL || !(*s >= '0' && *s <= '9')) {
		sb_addf(err, "SOURCE_DATE_EPOCH: '%s' is not a number of seconds since 1970", s);
		return -1;
	}
	*epoch = v;
	*set = true;
	return 0;
}

/* One entry to write. */
struct entry {
	char *name;       /* in the archive */
	char *path;       /* the file to read, or NULL for data */
	const char *data; /* in-memory content */
	char *owned;      /* data we made (the manifests) */
	int64_t size;
	mode_t mode;
	time_t mtime;
	char sha256[65];
	const char *job; /* the job that made an output, NULL otherwise */
	bool output;
};

struct writer {
	VEC(struct entry) e;
	dev_t self_dev; /* the archive being written, and the one it replaces */
	ino_t self_ino;
	dev_t old_dev;
	ino_t old_ino;
	bool have_old;
	long long epoch;
	bool epoch_set;
	struct strbuf *warn;
};

/* A relative path with no "", "." or ".." component. */
static bool safe_relative(const char *p)
{
	if (!*p || *p == '/')
		return false;
	for (const char *c = p; *c;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return false;
		c += n + (slash ? 1 : 0);
		if (slash && !*c)
			return false;
	}
	return true;
}

/* Opens a file below the current folder for reading, one component at a
 * time, following no symbolic link on the way. -1 with errno (ELOOP or
 * ENOTDIR for a link). */
static int open_inside(const char *path)
{
	if (!safe_relative(path)) {
		errno = EINVAL;
		return -1;
	}
	int dir = AT_FDCWD;
	const char *c = path;
	for (;;) {
		const char *slash = strchr(c, '/');
		if (!slash)
			break;
		char *comp = xstrndup(c, (size_t)(slash - c));
		int fd = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		free(comp);
		if (dir != AT_FDCWD)
			close(dir);
		if (fd < 0) {
			errno = e;
			return -1;
		}
		dir = fd;
		c = slash + 1;
	}
	int fd = openat(dir, c, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	int e = errno;
	if (dir != AT_FDCWD)
		close(dir);
	errno = e;
	return fd;
}

static void sha256_hex(EVP_MD_CTX *ctx, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_DigestFinal_ex(ctx, md, &len);
	hex_encode(out, md, len);
}

static int read_some(int fd, unsigned char *buf, size_t n, ssize_t *got)
{
	do
		*got = read(fd, buf, n);
	while (*got < 0 && errno == EINTR);
	return *got < 0 ? -1 : 0;
}

/* Adds a file from the graph's folder: opened safely, checked, hashed.
 * Returns 0 (added, or skipped with a warning), -1 with err. */
static int add_file(struct writer *w, const char *name, const char *path, const char *job,
                    bool output, struct strbuf *err)
{
	int fd = open_inside(path);
	if (fd < 0) {
		if (errno == ENOENT && !output)
			return 0; /* a job that never wrote a log */
		if (errno == ELOOP || errno == ENOTDIR || errno == EINVAL)
			sb_addf(w->warn,
			        "archive: '%s' left out: it is (or lies under) a "
			        "symbolic link, or its path leaves the graph's folder\n",
			        path);
		else
			sb_addf(w->warn, "archive: '%s' left out: %s\n", path, strerror(errno));
		return 0;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		sb_addf(w->warn, "archive: '%s' left out: not a regular file\n", path);
		close(fd);
		return 0;
	}
	if ((st.st_dev == w->self_dev && st.st_ino == w->self_ino) ||
	    (w->have_old && st.st_dev == w->old_dev && st.st_ino == w->old_ino)) {
		sb_addf(w->warn, "archive: '%s' left out: it is the archive itself\n", path);
		close(fd);
		return 0;
	}
	/* Opened without blocking (a FIFO could not hang us); read normally. */
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	struct entry e = {0};
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, (const EVP_MD *)md_sha256(), NULL);
	static unsigned char buf[1 << 16];
	int64_t size = 0;
	for (;;) {
		ssize_t n;
		if (read_some(fd, buf, sizeof(buf), &n) < 0) {
			sb_addf(err, "cannot read '%s' for the archive: %s", path, strerror(errno));
			EVP_MD_CTX_free(ctx);
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		size += n;
	}
	sha256_hex(ctx, e.sha256);
	EVP_MD_CTX_free(ctx);
	close(fd);
	e.name = xstrdup(name);
	e.path = xstrdup(path);
	e.size = size;
	e.mode = (st.st_mode & 0111) ? 0755 : 0644;
	e.mtime = w->epoch_set ? (time_t)w->epoch : st.st_mtime;
	e.job = job;
	e.output = output;
	VEC_PUSH(&w->e, e);
	return 0;
}

static void add_data(struct writer *w, const char *name, const char *data, size_t len, char *owned,
                     double now)
{
	struct entry e = {0};
	e.name = xstrdup(name);
	e.data = data;
	e.owned = owned;
	e.size = (int64_t)len;
	e.mode = 0644;
	e.mtime = w->epoch_set ? (time_t)w->epoch : (time_t)now;
	VEC_PUSH(&w->e, e);
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static void sort_entries(struct writer *w)
{
	if (w->e.n) /* w->e.v is NULL for an empty archive */
		qsort(w->e.v, w->e.n, sizeof(*w->e.v), cmp_entry);
	/* An output called like one of ours (logs/x.log) keeps its place; the
	 * other one is left out. */
	size_t k = 0;
	for (size_t i = 0; i < w->e.n; i++) {
		if (k && strcmp(w->e.v[k - 1].name, w->e.v[i].name) == 0) {
			struct entry *keep = &w->e.v[k - 1], *drop = &w->e.v[i];
			if (drop->output && !keep->output) {
				struct entry t = *keep;
				*keep = *drop;
				*drop = t;
			}
			sb_addf(w->warn, "archive: two entries named '%s'; the %s is left out\n",
			        drop->name, drop->output ? "output" : "log or report");
			free(drop->name);
			free(drop->path);
			free(drop->owned);
			continue;
		}
		w->e.v[k++] = w->e.v[i];
	}
	w->e.n = k;
}

/* sha256sum's line for a name, escaping as GNU coreutils does. */
static void manifest_line(struct strbuf *sb, const struct entry *e)
{
	bool esc = strpbrk(e->name, "\\\n\r") != NULL;
	if (esc)
		sb_addc(sb, '\\');
	sb_addf(sb, "%s  ", e->sha256);
	for (const char *p = e->name; *p; p++) {
		if (esc && *p == '\\')
			sb_adds(sb, "\\\\");
		else if (esc && *p == '\n')
			sb_adds(sb, "\\n");
		else if (esc && *p == '\r')
			sb_adds(sb, "\\r");
		else
			sb_addc(sb, *p);
	}
	sb_addc(sb, '\n');
}

static void add_manifests(struct writer *w, double now)
{
	struct strbuf sums = {0};
	json_t *files = json_array();
	for (size_t i = 0; i < w->e.n; i++) {
		const struct entry *e = &w->e.v[i];
		if (!e->output)
			continue;
		manifest_line(&sums, e);
		json_t *o = json_object();
		json_object_set_new(o, "path", json_text(e->name));
		json_object_set_new(o, "size", json_integer(e->size));
		json_object_set_new(o, "sha256", json_string(e->sha256));
		json_object_set_new(o, "job", json_text(e->job ? e->job : ""));
		json_array_append_new(files, o);
	}
	json_t *doc = json_pack("{s:s, s:o}", "format", "juggle-manifest-1", "files", files);
	size_t len;
	char *text = report_render_json(doc, &len);
	json_decref(doc);
	add_data(w, "manifest.json", text, len, text, now);
	size_t slen = sums.len;
	char *s = sb_detach(&sums);
	add_data(w, "MANIFEST.sha256", s, slen, s, now);
	sort_entries(w);
}

static const char *aerr(struct archive *a)
{
	const char *s = archive_error_string(a);
	return s ? s : "unknown error";
}

static int write_entry(struct archive *a, struct writer *w, const struct entry *e,
                       struct strbuf *err)
{
	struct archive_entry *ae = archive_entry_new();
	archive_entry_set_pathname(ae, e->name);
	archive_entry_set_filetype(ae, AE_IFREG);
	archive_entry_set_perm(ae, e->mode);
	archive_entry_set_size(ae, e->size);
	archive_entry_set_uid(ae, 0);
	archive_entry_set_gid(ae, 0);
	archive_entry_set_mtime(ae, e->mtime, 0);
	int rc = archive_write_header(a, ae);
	archive_entry_free(ae);
	if (rc < ARCHIVE_WARN) {
		sb_addf(err, "cannot add '%s' to the archive: %s", e->name, aerr(a));
		return -1;
	}
	if (e->data) {
		if (e->size && archive_write_data(a, e->data, (size_t)e->size) < 0) {
			sb_addf(err, "cannot write '%s' to the archive: %s", e->name, aerr(a));
			return -1;
		}
		return 0;
	}
	/* The same file, opened the same safe way, must still be what we
	 * hashed: the manifest promises it. */
	int fd = open_inside(e->path);
	if (fd < 0) {
		sb_addf(err, "cannot read '%s' for the archive: %s", e->path, strerror(errno));
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, (const EVP_MD *)md_sha256(), NULL);
	static unsigned char buf[1 << 16];
	int64_t done = 0;
	int ret = 0;
	for (;;) {
		ssize_t n;
		if (read_some(fd, buf, sizeof(buf), &n) < 0) {
			sb_addf(err, "cannot read '%s' for the archive: %s", e->path,
			        strerror(errno));
			ret = -1;
			break;
		}
		if (n == 0)
			break;
		if (done + n > e->size)
			n = (ssize_t)(e->size - done);
		EVP_DigestUpdate(ctx, buf, (size_t)n);
		if (n && archive_write_data(a, buf, (size_t)n) < 0) {
			sb_addf(err, "cannot write '%s' to the archive: %s", e->name, aerr(a));
			ret = -1;
			break;
		}
		done += n;
		if (done == e->size) {
			/* Anything beyond is a change; the hash below says so. */
			unsigned char one;
			ssize_t more;
			if (read_some(fd, &one, 1, &more) == 0 && more > 0)
				done++;
			break;
		}
	}
	char sha[65];
	sha256_hex(ctx, sha);
	EVP_MD_CTX_free(ctx);
	close(fd);
	if (ret == 0 && (done != e->size || strcmp(sha, e->sha256) != 0)) {
		sb_addf(err, "'%s' changed while it was being archived", e->path);
		ret = -1;
	}
	(void)w;
	return ret;
}

static struct archive *open_writer(enum run_archive_format fmt, int fd, struct strbuf *err)
{
	struct archive *a = archive_write_new();
	int rc = ARCHIVE_OK;
	switch (fmt) {
	case RA_TAR_GZ:
		rc = archive_write_add_filter_gzip(a);
		/* No time stamp in the gzip header: same bytes, same file. */
		if (rc == ARCHIVE_OK)
			rc = archive_write_set_filter_option(a, "gzip", "timestamp", NULL);
		break;
	case RA_TAR_XZ:
		rc = archive_write_add_filter_xz(a);
		break;
	case RA_TAR_ZST:
		rc = archive_write_add_filter_zstd(a);
		break;
	case RA_TAR:
	case RA_ZIP:
		break;
	}
	if (rc == ARCHIVE_OK) {
		if (fmt == RA_ZIP) {
			rc = archive_write_set_format_zip(a);
			if (rc == ARCHIVE_OK)
				rc = archive_write_set_format_option(a, "zip", "compression",
				                                     "deflate");
		} else {
			/* ustar where it suffices, pax headers only for what
			 * ustar cannot hold (long or non-ASCII names). */
			rc = archive_write_set_format_pax_restricted(a);
		}
	}
	if (rc == ARCHIVE_OK)
		rc = archive_write_set_bytes_in_last_block(a, 1);
	if (rc == ARCHIVE_OK)
		rc = archive_write_open_fd(a, fd);
	if (rc != ARCHIVE_OK) {
		sb_addf(err, "cannot start the archive: %s", aerr(a));
		archive_write_free(a);
		return NULL;
	}
	return a;
}

static void writer_release(struct writer *w)
{
	for (size_t i = 0; i < w->e.n; i++) {
		free(w->e.v[i].name);
		free(w->e.v[i].path);
		free(w->e.v[i].owned);
	}
	free(w->e.v);
}

/* The zip format stores times as local time (MS-DOS style); pin the time
 * zone to UTC while writing so the bytes do not depend on where it ran. */
struct tz_saved {
	char *tz;
	bool had;
};

static void tz_utc(struct tz_saved *s)
{
	const char *tz = getenv("TZ");
	s->had = tz != NULL;
	s->tz = tz ? xstrdup(tz) : NULL;
	setenv("TZ", "UTC0", 1);
	tzset();
}

static void tz_restore(struct tz_saved *s)
{
	if (s->had)
		setenv("TZ", s->tz, 1);
	else
		unsetenv("TZ");
	tzset();
	free(s->tz);
}

int run_archive_write(const char *path, const struct graph *g,
                      const struct run_archive_blob *reports, size_t n_reports, double now,
                      struct run_archive_stats *stats, struct strbuf *warn, struct strbuf *err)
{
	enum run_archive_format fmt;
	struct writer w = {.warn = warn};
	if (run_archive_format(path, &fmt, err) < 0 ||
	    run_archive_epoch(&w.epoch, &w.epoch_set, err) < 0)
		return -1;
	if (mkdir_parents(path) < 0) {
		sb_addf(err, "cannot write archive '%s': %s", path, strerror(errno));
		return -1;
	}
	char *tmp = NULL;
	int fd = atomic_begin(path, &tmp);
	if (fd < 0) {
		sb_addf(err, "cannot write archive '%s': %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) == 0) {
		w.self_dev = st.st_dev;
		w.self_ino = st.st_ino;
	}
	if (stat(path, &st) == 0) {
		w.old_dev = st.st_dev;
		w.old_ino = st.st_ino;
		w.have_old = true;
	}

	int rc = 0;
	for (size_t i = 0; i < g->jobs.n && rc == 0; i++) {
		const struct job *j = g->jobs.v[i];
		if (!j->run.wanted || (j->run.status != JS_OK && j->run.status != JS_SKIPPED))
			continue;
		for (uint32_t k = 0; k < j->n_outputs && rc == 0; k++) {
			const char *o = j->outputs[k];
			if (!safe_relative(o)) {
				sb_addf(warn,
				        "archive: '%s' left out: not a relative path inside "
				        "the graph's folder\n",
				        o);
				continue;
			}
			rc = add_file(&w, o, o, j->name, true, err);
		}
	}
	for (size_t i = 0; i < g->jobs.n && rc == 0; i++) {
		const struct job *j = g->jobs.v[i];
		if (!j->run.wanted)
			continue;
		char *log = job_log_path(j);
		const char *base = strrchr(log, '/');
		char *name = xasprintf("logs/%s", base ? base + 1 : log);
		rc = add_file(&w, name, log, NULL, false, err);
		free(name);
		free(log);
	}
	for (size_t i = 0; i < n_reports && rc == 0; i++) {
		char *name = xasprintf("reports/%s", reports[i].name);
		add_data(&w, name, reports[i].data, reports[i].len, NULL, now);
		free(name);
	}
	if (rc < 0)
		goto fail;
	sort_entries(&w);
	add_manifests(&w, now);

	struct tz_saved tz = {0};
	if (fmt == RA_ZIP)
		tz_utc(&tz);
	/* Names are bytes, read as UTF-8 whatever the user's locale, so
	 * pax headers and zip's UTF-8 flag come out the same on every machine
	 * (a name that is not UTF-8 goes in as raw bytes). The locale is the
	 * thread's own, for this call only. */
	locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	locale_t before = utf8 ? uselocale(utf8) : (locale_t)0;
	struct archive *a = open_writer(fmt, fd, err);
	if (!a) {
		rc = -1;
	} else {
		for (size_t i = 0; i < w.e.n && rc == 0; i++)
			rc = write_entry(a, &w, &w.e.v[i], err);
		if (rc == 0 && archive_write_close(a) != ARCHIVE_OK) {
			sb_addf(err, "cannot finish archive '%s': %s", path, aerr(a));
			rc = -1;
		}
		archive_write_free(a);
	}
	if (utf8) {
		uselocale(before);
		freelocale(utf8);
	}
	if (fmt == RA_ZIP)
		tz_restore(&tz);
	if (rc < 0)
		goto fail;
	if (atomic_commit(fd, tmp, path) < 0) {
		sb_addf(err, "cannot write archive '%s': %s", path, strerror(errno));
		writer_release(&w);
		return -1;
	}
	if (stats) {
		stats->files = w.e.n;
		stats->bytes = 0;
		for (size_t i = 0; i < w.e.n; i++)
			stats->bytes += (uint64_t)w.e.v[i].size;
	}
	writer_release(&w);
	return 0;
fail:
	atomic_abort(fd, tmp);
	writer_release(&w);
	return -1;
}
