/* util.c - see util.h. */
#define _GNU_SOURCE
#include "engine/util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sched.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <unistd.h>

static void oom(size_t n)
{
	fprintf(stderr, "juggle: out of memory allocating %zu bytes\n", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom(n * size);
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom(n);
	return p;
}

char *xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	struct strbuf sb = {0};
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	return sb_detach(&sb);
}

void strvec_release(struct strvec *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	sv->v = NULL;
	sv->n = sv->cap = 0;
}

static void sb_grow(struct strbuf *sb, size_t extra)
{
	if (sb->len + extra + 1 <= sb->cap)
		return;
	size_t cap = sb->cap ? sb->cap : 64;
	while (cap < sb->len + extra + 1)
		cap *= 2;
	sb->buf = xrealloc(sb->buf, cap);
	sb->cap = cap;
}

void sb_add(struct strbuf *sb, const char *s, size_t n)
{
	sb_grow(sb, n);
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void sb_adds(struct strbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void sb_grow_slow(struct strbuf *sb, size_t extra)
{
	sb_grow(sb, extra);
}

void sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	sb_grow(sb, (size_t)n);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	sb->len += (size_t)n;
}

void sb_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(sb, fmt, ap);
	va_end(ap);
}

const char *sb_str(const struct strbuf *sb)
{
	return sb->buf ? sb->buf : "";
}

void sb_reset(struct strbuf *sb)
{
	sb->len = 0;
	if (sb->buf)
		sb->buf[0] = '\0';
}

char *sb_detach(struct strbuf *sb)
{
	char *s = sb->buf ? sb->buf : xstrdup("");
	sb->buf = NULL;
	sb->len = sb->cap = 0;
	return s;
}

void sb_release(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

struct arena_block {
	struct arena_block *next;
	size_t used, size;
	max_align_t data[];
};

/* n bytes at a multiple of align (a power of two, at most 16) from the
 * block's start, which is aligned for anything. */
static void *arena_take(struct arena *a, size_t n, size_t align)
{
	struct arena_block *b = a->head;
	size_t at = b ? (b->used + align - 1) & ~(align - 1) : 0;
	if (!b || at + n > b->size) {
		/* Blocks grow from 4 KiB to 64 KiB: small graphs stay small. */
		size_t size = b ? b->size * 2 : 4096 - sizeof(*b);
		if (size > 65536 - sizeof(*b))
			size = 65536 - sizeof(*b);
		if (n > size)
			size = n;
		b = xmalloc(sizeof(*b) + size);
		b->used = 0;
		b->size = size;
		b->next = a->head;
		a->head = b;
		at = 0;
	}
	void *p = (char *)b->data + at;
	b->used = at + n;
	return p;
}

void *arena_alloc(struct arena *a, size_t n)
{
	return arena_take(a, n, 16);
}

/* Strings need no alignment: packed, a graph's many short names and paths
 * take their length, not a multiple of 16. */
char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	char *p = arena_take(a, n + 1, 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, strlen(s));
}

void arena_release(struct arena *a)
{
	while (a->head) {
		struct arena_block *next = a->head->next;
		free(a->head);
		a->head = next;
	}
}

struct strmap_slot {
	const char *key;
	void *val;
	uint64_t hash;
};

uint64_t hash_str(const char *s)
{
	/* FNV-1a: short keys, no adversary worth a keyed hash here. */
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct strmap_slot *strmap_find(const struct strmap *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1;
	for (size_t i = h & mask;; i = (i + 1) & mask) {
		struct strmap_slot *s = &m->slots[i];
		if (!s->key || (s->hash == h && strcmp(s->key, key) == 0))
			return s;
	}
}

void *strmap_get(const struct strmap *m, const char *key)
{
	if (!m->cap)
		return NULL;
	struct strmap_slot *s = strmap_find(m, key, hash_str(key));
	return s->key ? s->val : NULL;
}

static void strmap_resize(struct strmap *m, size_t cap)
{
	struct strmap old = *m;
	m->cap = cap;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	m->n = 0;
	for (size_t i = 0; i < old.cap; i++)
		if (old.slots[i].key)
			*strmap_find(m, old.slots[i].key, old.slots[i].hash) = old.slots[i], m->n++;
	free(old.slots);
}

void strmap_reserve(struct strmap *m, size_t n)
{
	size_t cap = m->cap ? m->cap : 16;
	while (n * 4 > cap * 3)
		cap *= 2;
	if (cap > m->cap)
		strmap_resize(m, cap);
}

void *strmap_put(struct strmap *m, const char *key, void *val)
{
	if ((m->n + 1) * 4 > m->cap * 3)
		strmap_resize(m, m->cap ? m->cap * 2 : 16);
	uint64_t h = hash_str(key);
	struct strmap_slot *s = strmap_find(m, key, h);
	void *prev = s->key ? s->val : NULL;
	if (!s->key)
		m->n++;
	s->key = key;
	s->hash = h;
	s->val = val;
	return prev;
}

void strmap_release(struct strmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->n = m->cap = 0;
}

bool strmap_next(const struct strmap *m, size_t *i, const char **key, void **val)
{
	for (; *i < m->cap; (*i)++) {
		if (m->slots[*i].key) {
			*key = m->slots[*i].key;
			*val = m->slots[*i].val;
			(*i)++;
			return true;
		}
	}
	return false;
}

void process_cpu_s(double *user, double *sys)
{
	struct rusage self, kids;
	getrusage(RUSAGE_SELF, &self);
	getrusage(RUSAGE_CHILDREN, &kids);
	*user = (double)self.ru_utime.tv_sec + (double)self.ru_utime.tv_usec / 1e6 +
		(double)kids.ru_utime.tv_sec + (double)kids.ru_utime.tv_usec / 1e6;
	*sys = (double)self.ru_stime.tv_sec + (double)self.ru_stime.tv_usec / 1e6 +
	       (double)kids.ru_stime.tv_sec + (double)kids.ru_stime.tv_usec / 1e6;
}

double thread_cpu_s(void)
{
	struct rusage ru;
	getrusage(RUSAGE_THREAD, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

long cpus_usable(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return CPU_COUNT(&set);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

void iso8601_utc(char out[32], double epoch_s)
{
	time_t t = (time_t)epoch_s;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int mkdir_p(const char *dir, mode_t mode)
{
	struct stat st;
	if (!*dir || stat(dir, &st) == 0)
		return 0;
	char *copy = xstrdup(dir);
	for (char *p = copy + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(copy, mode) < 0 && errno != EEXIST) {
			free(copy);
			return -1;
		}
		*p = '/';
	}
	int rc = mkdir(copy, mode) < 0 && errno != EEXIST ? -1 : 0;
	free(copy);
	return rc;
}

int mkdir_parents(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash || slash == path)
		return 0;
	char *dir = xstrndup(path, (size_t)(slash - path));
	int rc = mkdir_p(dir, 0777);
	free(dir);
	return rc;
}

char *read_fd_close(int fd, size_t *len)
{
	if (fd < 0)
		return NULL;
	struct strbuf sb = {0};
	char buf[65536];
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			sb_release(&sb);
			close(fd);
			errno = e;
			return NULL;
		}
		if (n == 0)
			break;
		sb_add(&sb, buf, (size_t)n);
	}
	close(fd);
	if (len)
		*len = sb.len;
	return sb_detach(&sb);
}

char *read_file(const char *path, size_t *len)
{
	return read_fd_close(open(path, O_RDONLY | O_CLOEXEC), len);
}

int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* A name no one can guess: another user of a shared folder cannot plant
 * a file, a FIFO or a link there ahead of us. */
static void random_hex(char out[17])
{
	unsigned char r[8];
	static _Atomic uint64_t counter;
	if (getrandom(r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
			     ((uint64_t)getpid() << 16) ^ (counter++ * 0x9e3779b97f4a7c15ULL);
		memcpy(r, &x, sizeof(r));
	}
	hex_encode(out, r, sizeof(r));
}

int atomic_begin_at(int dir, const char *name, char **tmp)
{
	/* ".NAME.juggle-tmp-RANDOM" beside the file: hidden, recognisable as
	 * ours when a killed run leaves it, and created with O_EXCL under a
	 * fresh name, so it is always a new regular file of our own. The
	 * name is cut so that it stays a valid file name. */
	const char *slash = strrchr(name, '/');
	const char *base = slash ? slash + 1 : name;
	int dirlen = slash ? (int)(slash - name) + 1 : 0;
	int baselen = (int)strlen(base);
	if (baselen > 200)
		baselen = 200;
	for (int tries = 0; tries < 100; tries++) {
		char hex[17];
		random_hex(hex);
		*tmp = xasprintf("%.*s.%.*s.juggle-tmp-%s", dirlen, name, baselen, base, hex);
		int fd = openat(dir, *tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
				0666);
		if (fd >= 0)
			return fd;
		int e = errno;
		free(*tmp);
		*tmp = NULL;
		if (e != EEXIST) {
			errno = e;
			return -1;
		}
	}
	errno = EEXIST;
	return -1;
}

int atomic_begin(const char *path, char **tmp)
{
	return atomic_begin_at(AT_FDCWD, path, tmp);
}

bool util_fsync = true;

static int commit(int dir, int fd, char *tmp, const char *path, bool sync)
{
	if ((sync && fsync(fd) < 0) || close(fd) < 0) {
		int e = errno;
		unlinkat(dir, tmp, 0);
		free(tmp);
		errno = e;
		return -1;
	}
	if (renameat(dir, tmp, dir, path) < 0) {
		int e = errno;
		unlinkat(dir, tmp, 0);
		free(tmp);
		errno = e;
		return -1;
	}
	free(tmp);
	return 0;
}

int atomic_commit_at(int dir, int fd, char *tmp, const char *name)
{
	return commit(dir, fd, tmp, name, false);
}

int atomic_commit(int fd, char *tmp, const char *path)
{
	return commit(AT_FDCWD, fd, tmp, path, false);
}

void atomic_abort_at(int dir, int fd, char *tmp)
{
	if (fd >= 0)
		close(fd);
	if (tmp) {
		unlinkat(dir, tmp, 0);
		free(tmp);
	}
}

void atomic_abort(int fd, char *tmp)
{
	atomic_abort_at(AT_FDCWD, fd, tmp);
}

static int write_file(const char *path, const void *data, size_t len, bool sync)
{
	char *tmp;
	int fd = atomic_begin(path, &tmp);
	if (fd < 0)
		return -1;
	if (write_all(fd, data, len) < 0) {
		int e = errno;
		atomic_abort(fd, tmp);
		errno = e;
		return -1;
	}
	return commit(AT_FDCWD, fd, tmp, path, sync);
}

int write_file_atomic(const char *path, const void *data, size_t len)
{
	return write_file(path, data, len, false);
}

int write_file_durable(const char *path, const void *data, size_t len)
{
	return write_file(path, data, len, util_fsync);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	int rc = flag == FTW_DP ? rmdir(path) : unlink(path);
	return rc < 0 && errno != ENOENT ? -1 : 0;
}

int remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -1;
	return nftw(path, remove_entry, 32, FTW_DEPTH | FTW_PHYS);
}

int levenshtein(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 64 || lb > 64)
		return 99;
	int row[65];
	for (size_t j = 0; j <= lb; j++)
		row[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		int diag = row[0];
		row[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int up = row[j];
			int cost = a[i - 1] == b[j - 1] ? 0 : 1;
			int best = diag + cost;
			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *closest_word(const char *word, const char *const *candidates, size_t n)
{
	const char *best = NULL;
	/* Short words are too easy to match by accident: "b" is not "a". */
	int best_d = (int)strlen(word) / 3;
	if (best_d > 3)
		best_d = 3;
	if (best_d == 0)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (!candidates[i])
			continue;
		int d = levenshtein(word, candidates[i]);
		if (d <= best_d && (!best || d < levenshtein(word, best)))
			best = candidates[i];
	}
	return best;
}

static EVP_MD *sha256;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
	sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (!sha256) {
		fprintf(stderr, "juggle: OpenSSL has no SHA-256\n");
		abort();
	}
}

const struct evp_md_st *md_sha256(void)
{
	pthread_once(&sha256_once, fetch_sha256);
	return sha256;
}

void hex_encode(char *out, const unsigned char *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

int hex_digit(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int hex_decode(unsigned char *out, const char *in, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hex_digit(in[2 * i]), lo = hi < 0 ? -1 : hex_digit(in[2 * i + 1]);
		if (lo < 0)
			return -1;
		out[i] = (unsigned char)(hi * 16 + lo);
	}
	return 0;
}

size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp)
{
	size_t len;
	unsigned min, c;
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		len = 2, min = 0x80, c = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, min = 0x800, c = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, min = 0x10000, c = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}
