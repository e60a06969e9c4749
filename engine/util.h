/* util.h - allocation, strings, vectors, hash maps, clocks and files.
 *
 * Allocation never fails: x*() abort the process with a message when the
 * system is out of memory, so callers carry no half-handled OOM branches.
 */
#ifndef JUGGLE_UTIL_H
#define JUGGLE_UTIL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PRINTF(f, a) __attribute__((format(printf, f, a)))
#define UNUSED __attribute__((unused))

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* A newly allocated string formatted like printf. */
char *xasprintf(const char *fmt, ...) PRINTF(1, 2);

/* Growable array: VEC(int) v = {0}; VEC_PUSH(&v, 3); free(v.v); */
#define VEC(T)                                                                                     \
	struct {                                                                                   \
		T *v;                                                                              \
		size_t n, cap;                                                                     \
	}
#define VEC_GROW(vec, extra)                                                                       \
	do {                                                                                       \
		if ((vec)->n + (extra) > (vec)->cap) {                                             \
			size_t c_ = (vec)->cap ? (vec)->cap * 2 : 8;                               \
			while (c_ < (vec)->n + (extra))                                            \
				c_ *= 2;                                                           \
			(vec)->v = xrealloc((vec)->v, c_ * sizeof(*(vec)->v));                     \
			(vec)->cap = c_;                                                           \
		}                                                                                  \
	} while (0)
#define VEC_PUSH(vec, x)                                                                           \
	do {                                                                                       \
		VEC_GROW(vec, 1);                                                                  \
		(vec)->v[(vec)->n++] = (x);                                                        \
	} while (0)

/* A named vector of owned strings, for passing between functions. */
struct strvec {
	char **v;
	size_t n, cap;
};
void strvec_release(struct strvec *sv);

/* A growable NUL-terminated string. A zeroed strbuf is empty and valid. */
struct strbuf {
	char *buf; /* NULL until something is added; use sb_str() to read */
	size_t len;
	size_t cap;
};
void sb_add(struct strbuf *sb, const char *s, size_t n);
void sb_adds(struct strbuf *sb, const char *s);
void sb_grow_slow(struct strbuf *sb, size_t extra);
static inline void sb_addc(struct strbuf *sb, char c)
{
	if (sb->len + 2 > sb->cap)
		sb_grow_slow(sb, 1);
	sb->buf[sb->len++] = c;
	sb->buf[sb->len] = '\0';
}
void sb_addf(struct strbuf *sb, const char *fmt, ...) PRINTF(2, 3);
void sb_vaddf(struct strbuf *sb, const char *fmt, va_list ap);
/* The contents, "" when empty; valid until the next change. */
const char *sb_str(const struct strbuf *sb);
void sb_reset(struct strbuf *sb);
/* Hands the buffer to the caller (never NULL) and empties sb. */
char *sb_detach(struct strbuf *sb);
void sb_release(struct strbuf *sb);

/* A bump allocator for the many small strings of a graph; freed at once. */
struct arena {
	struct arena_block *head;
};
void *arena_alloc(struct arena *a, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_strndup(struct arena *a, const char *s, size_t n);
void arena_release(struct arena *a);

/* Open-addressing map from NUL-terminated keys (not copied: the caller keeps
 * them alive) to pointers. */
struct strmap {
	struct strmap_slot *slots;
	size_t n, cap;
};
void *strmap_get(const struct strmap *m, const char *key);
/* Sets key to val; returns the previous value or NULL. */
void *strmap_put(struct strmap *m, const char *key, void *val);
void strmap_release(struct strmap *m);
/* Makes room for n entries at once, sparing rehashes while it fills. */
void strmap_reserve(struct strmap *m, size_t n);
/* Iterates over the entries in no particular order:
 *   for (size_t i = 0; strmap_next(m, &i, &key, &val);) ... */
bool strmap_next(const struct strmap *m, size_t *i, const char **key, void **val);
uint64_t hash_str(const char *s);

/* A file's time (st_mtim, st_ctim) in nanoseconds since the epoch. */
static inline int64_t time_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Seconds on the monotonic clock. */
double mono_now(void);
/* User and system CPU seconds of this process and the children it has
 * waited for, since it started (getrusage). */
void process_cpu_s(double *user, double *sys);
/* User plus system CPU seconds of the calling thread (getrusage). */
double thread_cpu_s(void);
/* The CPUs this process may run on: sched_getaffinity()'s set, as
 * nproc(1) counts them, so taskset, cpusets and container limits shrink
 * it; the online CPUs when the set cannot be read; at least 1. The
 * default -j, `depth = cpus` and the report's "cores" all use it. */
long cpus_usable(void);
/* Formats a wall-clock time as ISO 8601 UTC ("2026-11-25T02:00:00Z"). */
void iso8601_utc(char out[32], double epoch_s);

/* Files. All return 0 or -1 with errno set. */
int mkdir_p(const char *dir, mode_t mode);
/* Creates the parent folders of path. */
int mkdir_parents(const char *path);
/* Reads a whole file; *len gets its size (the buffer is also NUL-terminated). */
char *read_file(const char *path, size_t *len);
/* Reads fd to its end, the same way, and closes it; NULL (errno kept) when
 * fd < 0, so that read_fd_close(open(...), &len) reads a file. */
char *read_fd_close(int fd, size_t *len);
/* Writes data to path through a temporary file in the same folder, renamed
 * into place, so readers (and a killed run) never see a partial file.
 * Outputs and reports are not fsync'd, as make, ninja and curl do not:
 * after a power loss the state log, which checks each output's size and
 * hash, finds a lost or torn one and runs its job again. Each fsync costs
 * milliseconds on a busy disk, and on the event loop it stalls every
 * transfer. write_file_durable() also fsyncs, for the state itself. */
int write_file_atomic(const char *path, const void *data, size_t len);
int write_file_durable(const char *path, const void *data, size_t len);
int write_all(int fd, const void *data, size_t len);
/* Whether the state's writes fsync; only the fuzzers turn it off. */
extern bool util_fsync;
/* Streaming version of write_file_atomic(): atomic_begin() creates a new
 * hidden temporary file beside path (".NAME.juggle-tmp-RANDOM", with
 * O_EXCL and O_NOFOLLOW, so it is always a fresh regular file of ours)
 * and returns its fd, with *tmp its name; atomic_commit() closes and
 * renames it over path; atomic_abort() closes and removes it. Both free
 * *tmp. The _at versions take names relative to the folder open as dir. */
int atomic_begin(const char *path, char **tmp);
int atomic_commit(int fd, char *tmp, const char *path);
void atomic_abort(int fd, char *tmp);
int atomic_begin_at(int dir, const char *name, char **tmp);
int atomic_commit_at(int dir, int fd, char *tmp, const char *name);
void atomic_abort_at(int dir, int fd, char *tmp);
/* Removes a folder tree (like rm -rf); 0 when it is gone. */
int remove_tree(const char *path);

/* Edit distance, for "did you mean" suggestions. */
int levenshtein(const char *a, const char *b);
/* The candidate closest to word within a small distance, or NULL. */
const char *closest_word(const char *word, const char *const *candidates, size_t n);

/* OpenSSL's SHA-256, fetched once: an implicit fetch on every digest costs
 * more than hashing a small file. */
struct evp_md_st;
const struct evp_md_st *md_sha256(void);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hex_encode(char *out, const unsigned char *in, size_t n);
/* The value of hex digit c (either case), or -1. */
int hex_digit(int c);
/* Decodes the 2n hex digits at in into n bytes at out; 0, or -1 at a
 * character that is not a hex digit. */
int hex_decode(unsigned char *out, const char *in, size_t n);


/* The code point (*cp) of the valid UTF-8 sequence at s, at most n bytes,
 * and its length; 0 when the sequence is invalid (overlong, a surrogate,
 * cut short). */
size_t utf8_decode(const unsigned char *s, size_t n, unsigned *cp);

#endif
