/* state.c - the state log; see state.h for the format's guarantees.
 *
 * File format, one record per line, fields separated by tabs, '%', tab, CR
 * and LF inside a field written as %XX, every line ending in the CRC-32 of
 * what precedes its last tab:
 *
 *   # juggle state 1
 *   S name fp ok_seq changed_seq start duration n_in n_out
 *     (path mtime_ns size hash){n_in+n_out} extra crc
 *   F name seq crc
 */
#define _GNU_SOURCE
#include "engine/owndir.h"
#include "engine/state.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "engine/outtree.h"

struct state {
	char *dir;
	char *path;
	int fd;          /* append fd, -1 when read-only */
	off_t end;       /* where the next append goes: the fd's offset */
	bool readonly;
	uint64_t seq;    /* this run */
	size_t lines;    /* records in the file */
	struct arena arena;
	struct strmap recs;  /* name -> struct state_rec* (the live ones) */
	size_t live;
	struct strmap sigs;  /* path -> struct file_sig*, this run's cache */
	struct strbuf out;   /* records not yet written */
	int write_errno;     /* the first failed append, 0 if none */
	size_t lost;         /* records that could not be appended */
	bool broken;         /* a torn record could not be cut off: append no more */
};

static void field(struct strbuf *sb, const char *s)
{
	sb_addc(sb, '\t');
	for (; *s; s++) {
		if (*s == '%' || *s == '\t' || *s == '\n' || *s == '\r')
			sb_addf(sb, "%%%02X", (unsigned char)*s);
		else
			sb_addc(sb, *s);
	}
}

/* Decodes %XX in place; -1 on a malformed escape. */
static int unescape(char *s)
{
	char *w = s;
	for (char *r = s; *r; r++) {
		if (*r != '%') {
			*w++ = *r;
			continue;
		}
		int hi = hex_digit(r[1]), lo = hi < 0 ? -1 : hex_digit(r[2]);
		if (lo < 0)
			return -1;
		*w++ = (char)(hi * 16 + lo);
		r += 2;
	}
	*w = '\0';
	return 0;
}

static int parse_hash(const char *s, unsigned char out[16])
{
	if (strlen(s) != 32)
		return -1;
	return hex_decode(out, s, 16);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	if (*s < '0' || *s > '9')
		return -1; /* strtoull takes "-1" as 2^64-1, and spaces */
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_i64(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = v;
	return 0;
}

static int parse_double(const char *s, double *out)
{
	char *end;
	errno = 0;
	*out = strtod(s, &end);
	return errno || end == s || *end ? -1 : 0;
}

/* Parses one record line (no newline, CRC already checked) into st. */
static int parse_fields(struct state *st, char **f, size_t nf)
{
	if (strcmp(f[0], "F") == 0) {
		uint64_t seq;
		if (nf != 3 || parse_u64(f[2], &seq) < 0)
			return -1;
		if (seq > st->seq)
			st->seq = seq;
		struct state_rec *old = strmap_get(&st->recs, f[1]);
		if (old && old->name) {
			old->name = NULL; /* forgotten: state_find() skips it */
			st->live--;
		}
		return 0;
	}
	uint64_t n_in, n_out;
	if (strcmp(f[0], "S") != 0 || nf < 10 || parse_u64(f[7], &n_in) < 0 ||
	    parse_u64(f[8], &n_out) < 0 || n_in > nf || n_out > nf ||
	    nf != 9 + 4 * (n_in + n_out) + 1)
		return -1;
	struct state_rec *r = arena_alloc(&st->arena, sizeof(*r));
	memset(r, 0, sizeof(*r));
	if (parse_hash(f[2], r->fp) < 0 || parse_u64(f[3], &r->ok_seq) < 0 ||
	    parse_u64(f[4], &r->changed_seq) < 0 || parse_double(f[5], &r->start) < 0 ||
	    parse_double(f[6], &r->duration) < 0)
		return -1;
	r->n_in = (uint32_t)n_in;
	r->n_out = (uint32_t)n_out;
	r->files = arena_alloc(&st->arena, sizeof(*r->files) * (n_in + n_out));
	for (size_t i = 0; i < n_in + n_out; i++) {
		char **sf = &f[9 + 4 * i];
		struct file_sig *sig = &r->files[i];
		if (!*sf[0] || parse_i64(sf[1], &sig->mtime_ns) < 0 ||
		    parse_i64(sf[2], &sig->size) < 0 || parse_hash(sf[3], sig->hash) < 0)
			return -1;
		sig->path = arena_strdup(&st->arena, sf[0]);
	}
	r->extra = *f[nf - 1] ? arena_strdup(&st->arena, f[nf - 1]) : ""; /* most have none */
	r->name = arena_strdup(&st->arena, f[1]);
	if (r->ok_seq > st->seq)
		st->seq = r->ok_seq;
	if (r->changed_seq > st->seq)
		st->seq = r->changed_seq;
	struct state_rec *old = strmap_put(&st->recs, r->name, r);
	if (!old || !old->name)
		st->live++;
	return 0;
}

/* Parses one record line (no newline, CRC already checked) into st. */
static int parse_record(struct state *st, char *line)
{
	VEC(char *) f = {0};
	for (char *p = line;; p++) {
		VEC_PUSH(&f, p);
		p = strchr(p, '\t');
		if (!p)
			break;
		*p = '\0';
	}
	int rc = 0;
	for (size_t i = 0; i < f.n && rc == 0; i++)
		rc = unescape(f.v[i]);
	if (rc == 0)
		rc = parse_fields(st, f.v, f.n);
	free(f.v);
	return rc;
}

/* Splits off and checks the CRC at the end of line. */
static int check_crc(char *line)
{
	char *tab = strrchr(line, '\t');
	if (!tab)
		return -1;
	char *end;
	unsigned long want = strtoul(tab + 1, &end, 16);
	if (end == tab + 1 || *end)
		return -1;
	unsigned long got = crc32(0, (const Bytef *)line, (uInt)(tab - line));
	if (got != want)
		return -1;
	*tab = '\0';
	return 0;
}

static void set_aside(struct state *st, const char *why, struct strbuf *warn)
{
	char *aside = xasprintf("%s.bad", st->path);
	rename(st->path, aside);
	sb_addf(warn, "juggle: warning: %s: %s; moved it to %s, so every job runs again\n",
		st->path, why, aside);
	free(aside);
	strmap_release(&st->recs);
	arena_release(&st->arena);
	st->live = st->lines = 0;
	st->seq = 0;
}

/* Reads the log a piece at a time, parsing each whole line as it comes,
 * so the file never sits in memory at once (at 100,000 jobs it is 15 MB,
 * more than the records made from it). Returns the length of its valid
 * part, -1 if set aside, or -2 with errno when it exists but cannot be
 * read. A damaged line is dropped as torn only when nothing follows it. */
static long load(struct state *st, struct strbuf *warn)
{
	int fd = own_file_open(st->path, O_RDONLY, 0);
	if (fd < 0)
		return errno == ENOENT ? 0 : -2;
	char header[64];
	size_t hlen = (size_t)snprintf(header, sizeof(header), "# juggle state %d\n",
				       STATE_VERSION);
	size_t cap = 1 << 16, len = 0; /* buf holds the bytes not parsed yet */
	char *buf = xmalloc(cap + 1);
	size_t start = 0;  /* file offset of buf[0] */
	size_t valid = 0;  /* file offset after the last good line */
	bool header_ok = false, bad = false, eof = false;
	const char *why = NULL;
	while (!eof && !why) {
		if (len == cap) { /* a line longer than the buffer */
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;
			free(buf);
			close(fd);
			errno = e;
			return -2;
		}
		eof = n == 0;
		if (n > 0 && bad) {
			why = "damaged";
			break;
		}
		len += (size_t)n;
		size_t pos = 0;
		if (!header_ok) {
			if (len < hlen && !eof)
				continue;
			if (len == 0)
				break; /* an empty log */
			if (len < hlen || memcmp(buf, header, hlen) != 0) {
				bool other = len >= 15 && memcmp(buf, "# juggle state ", 15) == 0;
				why = other ? "written by another version of juggle"
					    : "not a juggle state log";
				break;
			}
			header_ok = true;
			pos = valid = hlen;
		}
		char *nl;
		while (!why && (nl = memchr(buf + pos, '\n', len - pos))) {
			if (bad) {
				why = "damaged";
				break;
			}
			*nl = '\0';
			char *line = buf + pos;
			pos = (size_t)(nl - buf) + 1;
			if (strlen(line) != (size_t)(nl - line) || check_crc(line) < 0 ||
			    parse_record(st, line) < 0) {
				bad = true; /* torn if it is the last line */
				continue;
			}
			st->lines++;
			valid = start + pos;
		}
		if (bad && pos < len)
			why = "damaged";
		/* What is left is the start of a line: a torn tail at the end. */
		memmove(buf, buf + pos, len - pos);
		start += pos;
		len -= pos;
	}
	free(buf);
	close(fd);
	if (why) {
		set_aside(st, why, warn);
		return -1;
	}
	return (long)valid;
}

int state_open(struct state **out, const char *dir, bool readonly, struct strbuf *warn,
	       struct strbuf *err)
{
	struct state *st = xcalloc(1, sizeof(*st));
	st->dir = xstrdup(dir);
	st->path = xasprintf("%s/state", dir);
	st->fd = -1;
	st->readonly = readonly;
	if (!readonly && mkdir_p(dir, 0777) < 0) {
		sb_addf(err, "cannot create '%s': %s", dir, strerror(errno));
		state_close(st);
		return -1;
	}
	long valid = load(st, warn);
	if (valid == -2) {
		/* Never start afresh over a log that is there: that would
		 * truncate it and forget every job's last success. */
		if (errno == ELOOP || errno == EINVAL)
			sb_addf(err, "'%s' is not juggle's state log but a symbolic link or "
				     "another kind of file; remove it and run again (every job "
				     "then runs again)", st->path);
		else
			sb_addf(err, "cannot read '%s': %s", st->path, strerror(errno));
		state_close(st);
		return -1;
	}
	st->seq++;
	if (!readonly) {
		/* O_NOFOLLOW: a link at the log's name (load() has refused it
		 * already, but it may have been planted since) must not lead
		 * the appends elsewhere. */
		st->fd = own_file_open(st->path, O_WRONLY | O_CREAT, 0666);
		if (st->fd < 0) {
			sb_addf(err, "cannot open '%s': %s", st->path, strerror(errno));
			state_close(st);
			return -1;
		}
		/* Drop a torn tail so the next append starts on a fresh line. */
		if (valid > 0 && ftruncate(st->fd, valid) < 0) {
			sb_addf(err, "cannot repair '%s': %s", st->path, strerror(errno));
			state_close(st);
			return -1;
		}
		if (valid <= 0) {
			char header[64];
			int n = snprintf(header, sizeof(header), "# juggle state %d\n",
					 STATE_VERSION);
			if (ftruncate(st->fd, 0) < 0 || write_all(st->fd, header, (size_t)n) < 0) {
				sb_addf(err, "cannot write '%s': %s", st->path, strerror(errno));
				state_close(st);
				return -1;
			}
		}
		st->end = lseek(st->fd, 0, SEEK_END);
	}
	*out = st;
	return 0;
}

uint64_t state_seq(const struct state *st)
{
	return st->seq;
}

const struct state_rec *state_find(const struct state *st, const char *name)
{
	const struct state_rec *r = strmap_get(&st->recs, name);
	return r && r->name ? r : NULL;
}

static void end_line(struct strbuf *sb, size_t start)
{
	unsigned long crc = crc32(0, (const Bytef *)sb->buf + start, (uInt)(sb->len - start));
	sb_addf(sb, "\t%08lx\n", crc);
}

/* Appends the buffered records, at once: a record reaches the file (the
 * page cache) before the scheduler learns of the next result, so a crash
 * or a kill of juggle loses at most the record being written, and a line
 * torn by it is dropped by its CRC at the next load. There is no fsync
 * per record: an append is made durable only against juggle dying, not
 * against the machine losing power; a lost record only re-runs its job.
 * state_close() ends the run with fdatasync, and compaction writes its
 * new log durably before renaming it in (both unless util_fsync is off,
 * as in the fuzzers). Batching appends across results would save a
 * write() per job but could hold a finished job's record in memory while
 * a long job runs, and a kill then would run it again. The
 * end of the file is kept here, so an append costs one write(). */
static int flush(struct state *st)
{
	if (st->fd < 0 || !st->out.len)
		return 0;
	off_t at = st->end;
	int rc = st->broken ? -1 : write_all(st->fd, st->out.buf, st->out.len);
	if (rc == 0) {
		st->end += (off_t)st->out.len;
	} else {
		/* A full disk can take part of a record. Cut it off, so that a
		 * record appended once there is room again does not follow a
		 * torn line, which would make the next run set the whole log
		 * aside and run every job again. */
		if (!st->write_errno)
			st->write_errno = st->broken ? EIO : errno;
		st->lost++;
		if (!st->broken && (at < 0 || ftruncate(st->fd, at) < 0 ||
				    lseek(st->fd, at, SEEK_SET) < 0))
			st->broken = true;
	}
	sb_reset(&st->out);
	return rc;
}

static void sig_field(struct strbuf *sb, const struct file_sig *s)
{
	char hex[33];
	hex_encode(hex, s->hash, 16);
	field(sb, s->path);
	sb_addf(sb, "\t%lld\t%lld\t%s", (long long)s->mtime_ns, (long long)s->size, hex);
}

static void format_ok(struct strbuf *sb, const struct state_rec *r)
{
	size_t start = sb->len;
	char hex[33];
	hex_encode(hex, r->fp, 16);
	sb_adds(sb, "S");
	field(sb, r->name);
	sb_addf(sb, "\t%s\t%llu\t%llu\t%.3f\t%.6f\t%u\t%u", hex, (unsigned long long)r->ok_seq,
		(unsigned long long)r->changed_seq, r->start, r->duration, r->n_in, r->n_out);
	for (uint32_t i = 0; i < r->n_in + r->n_out; i++)
		sig_field(sb, &r->files[i]);
	field(sb, r->extra);
	end_line(sb, start);
}

int state_record_ok(struct state *st, const struct job *job, const struct file_sig *ins,
		    uint32_t n_in, const struct file_sig *outs, uint32_t n_out, double start,
		    double duration, const char *extra, bool changed)
{
	const struct state_rec *old = state_find(st, job->name);
	struct state_rec *r = arena_alloc(&st->arena, sizeof(*r));
	memset(r, 0, sizeof(*r));
	/* A run in rounds loads the graph again: the state keeps its own. */
	r->name = arena_strdup(&st->arena, job->name);
	memcpy(r->fp, job->fp, 16);
	r->ok_seq = st->seq;
	r->changed_seq = changed || !old ? st->seq : old->changed_seq;
	r->start = start;
	r->duration = duration;
	r->n_in = n_in;
	r->n_out = n_out;
	r->files = arena_alloc(&st->arena, sizeof(*r->files) * (n_in + n_out + 1));
	for (uint32_t i = 0; i < n_in; i++) {
		r->files[i] = ins[i];
		r->files[i].path = arena_strdup(&st->arena, ins[i].path);
	}
	for (uint32_t i = 0; i < n_out; i++) {
		r->files[n_in + i] = outs[i];
		r->files[n_in + i].path = arena_strdup(&st->arena, outs[i].path);
	}
	r->extra = arena_strdup(&st->arena, extra ? extra : "");
	struct state_rec *prev = strmap_put(&st->recs, r->name, r);
	if (!prev || !prev->name)
		st->live++;
	st->lines++;
	format_ok(&st->out, r);
	return flush(st);
}

int state_refresh(struct state *st, const struct job *job)
{
	const struct state_rec *old = state_find(st, job->name);
	if (!old || st->fd < 0)
		return 0;
	/* A file written less than a second ago may be written again within
	 * the same timestamp tick, with other bytes of the same size; its
	 * signature is learnt by a later run, when it has settled (git's
	 * "racily clean" entries). */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t settled = (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec - 1000000000;
	uint32_t n = old->n_in + old->n_out;
	struct file_sig *files = NULL;
	for (uint32_t i = 0; i < n; i++) {
		const struct file_sig *was = &old->files[i];
		const struct file_sig *now = strmap_get(&st->sigs, was->path);
		if (!now || now->mtime_ns < 0 || now->mtime_ns > settled ||
		    memcmp(now->hash, was->hash, 16) != 0 ||
		    (now->mtime_ns == was->mtime_ns && now->size == was->size))
			continue;
		if (!files) {
			files = arena_alloc(&st->arena, sizeof(*files) * (n + 1));
			memcpy(files, old->files, sizeof(*files) * n);
		}
		files[i].mtime_ns = now->mtime_ns;
		files[i].size = now->size;
	}
	if (!files)
		return 0;
	struct state_rec *r = arena_alloc(&st->arena, sizeof(*r));
	*r = *old;
	r->files = files;
	strmap_put(&st->recs, r->name, r);
	st->lines++;
	format_ok(&st->out, r);
	return flush(st);
}

int state_record_fail(struct state *st, const struct job *job)
{
	return state_forget(st, job->name);
}

void state_each(const struct state *st, void (*fn)(const struct state_rec *rec, void *ctx),
		void *ctx)
{
	const char *key;
	void *val;
	for (size_t i = 0; strmap_next(&st->recs, &i, &key, &val);) {
		const struct state_rec *r = val;
		if (r->name)
			fn(r, ctx);
	}
}

int state_forget(struct state *st, const char *name)
{
	struct state_rec *old = strmap_get(&st->recs, name);
	if (!old || !old->name)
		return 0; /* nothing to forget */
	old->name = NULL;
	st->live--;
	size_t start = st->out.len;
	sb_adds(&st->out, "F");
	field(&st->out, name);
	sb_addf(&st->out, "\t%llu", (unsigned long long)st->seq);
	end_line(&st->out, start);
	st->lines++;
	return flush(st);
}

bool state_outputs_same(const struct state_rec *rec, const struct file_sig *outs, uint32_t n)
{
	if (!rec || rec->n_out != n)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		const struct file_sig *a = &rec->files[rec->n_in + i];
		if (strcmp(a->path, outs[i].path) != 0 || memcmp(a->hash, outs[i].hash, 16) != 0)
			return false;
	}
	return true;
}

/* The run's cached signature of path, or a new empty entry for it
 * (*fresh set) for the caller to fill; mtime_ns < 0 marks "not there". */
static struct file_sig *sig_entry(struct state *st, const char *path, bool *fresh)
{
	struct file_sig *s = strmap_get(&st->sigs, path);
	*fresh = !s;
	if (s)
		return s;
	s = arena_alloc(&st->arena, sizeof(*s));
	memset(s, 0, sizeof(*s));
	s->path = arena_strdup(&st->arena, path);
	strmap_put(&st->sigs, s->path, s);
	return s;
}

const struct file_sig *state_sig(struct state *st, const char *path, const struct file_sig *known)
{
	bool fresh;
	struct file_sig *s = sig_entry(st, path, &fresh);
	if (!fresh)
		return s->mtime_ns < 0 ? NULL : s;
	if (file_sig_read(path, s, false) < 0)
		return NULL;
	if (known && known->mtime_ns == s->mtime_ns && known->size == s->size)
		memcpy(s->hash, known->hash, 16);
	else if (hash_file(path, s->hash) < 0)
		s->mtime_ns = -1;
	return s->mtime_ns < 0 ? NULL : s;
}

const struct file_sig *state_tree_sig(struct state *st, const char *path)
{
	bool fresh;
	struct file_sig *s = sig_entry(st, path, &fresh);
	if (!fresh)
		return s->mtime_ns < 0 ? NULL : s;
	return tree_sig_read(path, s) < 0 ? NULL : s;
}

void state_sig_put(struct state *st, const struct file_sig *sig)
{
	struct file_sig *s = strmap_get(&st->sigs, sig->path);
	if (!s) {
		s = arena_alloc(&st->arena, sizeof(*s));
		s->path = arena_strdup(&st->arena, sig->path);
		strmap_put(&st->sigs, s->path, s);
	}
	const char *path = s->path;
	*s = *sig;
	s->path = path;
}

/* Rewrites the log with only the live records when it has grown to more
 * than twice their number: temporary file, fsync, rename. */
static void compact(struct state *st)
{
	if (st->lines <= 2 * st->live + 64)
		return;
	struct strbuf sb = {0};
	sb_addf(&sb, "# juggle state %d\n", STATE_VERSION);
	const char *key;
	void *val;
	for (size_t i = 0; strmap_next(&st->recs, &i, &key, &val);) {
		const struct state_rec *r = val;
		if (r->name)
			format_ok(&sb, r);
	}
	if (write_file_durable(st->path, sb.buf, sb.len) == 0)
		st->lines = st->live;
	sb_release(&sb);
}

size_t state_write_failures(const struct state *st, int *err)
{
	*err = st->write_errno;
	return st->lost;
}

void state_close(struct state *st)
{
	if (!st)
		return;
	flush(st);
	if (st->fd >= 0) {
		compact(st);
		if (util_fsync)
			fdatasync(st->fd);
		close(st->fd);
	}
	sb_release(&st->out);
	strmap_release(&st->recs);
	strmap_release(&st->sigs);
	arena_release(&st->arena);
	free(st->dir);
	free(st->path);
	free(st);
}
