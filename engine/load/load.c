/* load.c - reading a graph file with inih, then expanding and validating it.
 *
 * inih as Debian builds it has traps (juggle.ini(5) tells users): a line
 * over 199 characters is cut and its rest read as a new line, section and
 * key names are cut at 49 characters, " ;" starts a comment anywhere, an
 * indented line continues the previous value even when it looks like a
 * key, and the handler is not told the line number. So inih reads through
 * our own reader, which sees every raw line first: it counts lines, rejects
 * what inih would silently mangle, and parses section headers itself.
 * inih still does the key/value splitting, comments and continuations.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <ini.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "engine/backends/backend.h"
#include "engine/expand.h"
#include "engine/glob.h"
#include "engine/graph.h"
#include "engine/kind.h"
#include "engine/load/load.h"
#include "engine/report/archive.h"
#include "engine/safepath.h"

#define MAX_LINE 199

#define CUT_QUOTED                                                                             \
	"' ;' starts a comment, which would cut this quoted text short; write ${semicolon} for a ';' after a space"

enum sec_type { SEC_NONE, SEC_SETTINGS, SEC_VARS, SEC_POOL, SEC_JOB, SEC_BAD };

struct loader {
	struct graph *g;
	struct diag *d;
	const struct load_opts *o;
	const char *file;
	FILE *f;
	char *buf;
	size_t cap;
	int lineno;

	/* What the reader found out about the current line. */
	bool skip;      /* the reader reported this line; the handler ignores it */
	bool cont;      /* a continuation of the previous key's value */
	bool cut;       /* inih cuts the line's value at an inline comment */
	bool have_key;  /* a key was seen since the section header (inih's prev_name) */
	char *raw_key;  /* the full key of a key line */
	int error_line; /* last line the reader reported */

	enum sec_type sec_type;
	struct section *sec;
	struct pool *pool;
	struct kvvec *kvs;   /* where keys of the current section go */
	struct kv *last;     /* the key continuation lines extend */

	struct kvvec settings;
	struct kvvec pool_kvs; /* the keys of every [pool], told apart by line */
	struct kvvec job_kvs;  /* the current job's keys, until the section ends */

	/* The last output folder output_in_state_dir() looked at, and what it
	 * found: a foreach's outputs share a few folders. */
	char *own_dir;
	bool own_inside;
	size_t instances;      /* job instances made so far, against max_items() */
	struct strvec *items;  /* each section's foreach items, read before any job */
	struct strmap declared; /* output path -> 1 + index of the section declaring it */
	struct strvec declared_keys; /* the declared map's keys, owned */
};

static const char *const common_keys[] = {
	"input", "output", "after",  "foreach", "retries",     "retry_delay",
	"timeout", "always", "pool", "description", "batch", NULL,
};

static const char *const settings_keys[] = {
	"backend", "jobs", "net_jobs", "keep_going", "report", "html", "trace", "junit",
	"archive", "progress", "slurm_partition", "slurm_args", NULL,
};

static const char *const progress_names[] = {"auto", "tty", "plain", "none", NULL};

/* Keys that change how a job is scheduled or shown, not what it makes;
 * they stay out of the fingerprint so editing them re-runs nothing. */
static const char *const unfingerprinted[] = {
	"description", "pool", "retries", "retry_delay", "timeout", NULL,
};

static bool in_list(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

static const char *arena_join(struct arena *a, const char *x, const char *y)
{
	size_t nx = strlen(x), ny = strlen(y);
	char *s = arena_alloc(a, nx + ny + 2);
	memcpy(s, x, nx);
	s[nx] = ' ';
	memcpy(s + nx + 1, y, ny + 1);
	return s;
}

/* Whether the text ends inside a quoted string, as split_words() reads it. */
static bool inside_quotes(const char *s)
{
	char q = 0;
	for (; *s; s++) {
		if (q == '\'') {
			if (*s == '\'')
				q = 0;
		} else if (q == '"') {
			if (*s == '\\' && s[1])
				s++;
			else if (*s == '"')
				q = 0;
		} else if (*s == '\\' && s[1]) {
			s++;
		} else if (*s == '\'' || *s == '"') {
			q = *s;
		}
	}
	return q != 0;
}

/* Where inih would start an inline comment in s: a ';' after whitespace. */
static const char *inline_comment(const char *s)
{
	bool was_space = false;
	for (; *s; s++) {
		if (was_space && *s == ';')
			return s;
		was_space = *s == ' ' || *s == '\t';
	}
	return NULL;
}

static void lerr(struct loader *L, int line, const char *fmt, ...) PRINTF(3, 4);
static void lerr(struct loader *L, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vadd(L->d, L->file, line, fmt, ap);
	va_end(ap);
	if (line == L->lineno)
		L->error_line = line;
}

static const char *section_kinds_list(void)
{
	static char buf[256];
	if (!buf[0]) {
		struct strbuf sb = {0};
		for (size_t i = 0; job_kinds[i]; i++)
			sb_addf(&sb, "%s%s", i ? ", " : "", job_kinds[i]->name);
		snprintf(buf, sizeof(buf), "%s", sb_str(&sb));
		sb_release(&sb);
	}
	return buf;
}

/* Moves the keys of the job section just read into the arena, exactly
 * sized: a graph of 100,000 sections should not carry 100,000 half-empty
 * vectors. */
static void end_section(struct loader *L)
{
	if (L->sec_type == SEC_JOB && L->sec) {
		struct kvvec *k = &L->sec->keys;
		k->n = L->job_kvs.n;
		k->cap = 0; /* owned by the arena */
		k->v = arena_alloc(&L->g->arena, sizeof(*k->v) * (k->n + 1));
		if (k->n)
			memcpy(k->v, L->job_kvs.v, sizeof(*k->v) * k->n);
	}
	L->job_kvs.n = 0;
}

/* Parses a "[...]" line (p at the '['), starting a new section. */
static void section_header(struct loader *L, const char *p)
{
	struct graph *g = L->g;
	end_section(L);
	L->sec_type = SEC_BAD;
	L->sec = NULL;
	L->pool = NULL;
	L->last = NULL;
	L->kvs = NULL;
	const char *close = strchr(p, ']');
	const char *comment = inline_comment(p);
	if (!close || (comment && comment < close)) {
		lerr(L, L->lineno, "section header without a closing ']'");
		return;
	}
	for (const char *q = close + 1; *q; q++) {
		if (*q == ';' || *q == '#')
			break;
		if (*q != ' ' && *q != '\t') {
			lerr(L, L->lineno, "unexpected text after ']': '%s'", close + 1);
			return;
		}
	}
	char *inner = xstrndup(p + 1, (size_t)(close - p - 1));
	struct strbuf err = {0};
	char **w = split_words(inner, &err);
	size_t n = count_words(w);
	if (!w || n == 0 || n > 2) {
		lerr(L, L->lineno,
		     "section '[%s]' is not one of [settings], [vars], [pool NAME] or [KIND NAME] (KIND: %s)",
		     inner, section_kinds_list());
	} else if (n == 1) {
		if (strcmp(w[0], "settings") == 0) {
			L->sec_type = SEC_SETTINGS;
			L->kvs = &L->settings;
		} else if (strcmp(w[0], "vars") == 0) {
			L->sec_type = SEC_VARS;
			L->kvs = &g->vars;
		} else {
			const struct job_kind *k = kind_by_name(w[0]);
			if (k || strcmp(w[0], "pool") == 0)
				lerr(L, L->lineno, "section '[%s]' needs a name: [%s NAME]", w[0],
				     w[0]);
			else {
				const char *cands[] = {"settings", "vars"};
				const char *near = closest_word(w[0], cands, 2);
				lerr(L, L->lineno, "unknown section '[%s]'%s%s%s", w[0],
				     near ? " (did you mean '[" : "", near ? near : "",
				     near ? "]'?)" : "");
			}
		}
	} else if (!valid_job_name(w[1])) {
		lerr(L, L->lineno,
		     "'%s' is not a valid name: use 1 to 128 of the characters A-Z a-z 0-9 . _ -",
		     w[1]);
	} else if (strcmp(w[0], "pool") == 0) {
		for (size_t i = 0; i < g->pools.n; i++) {
			if (strcmp(g->pools.v[i]->name, w[1]) == 0) {
				lerr(L, L->lineno, "pool '%s' is defined twice (first at line %d)",
				     w[1], g->pools.v[i]->line);
				goto out;
			}
		}
		struct pool *pool = arena_alloc(&g->arena, sizeof(*pool));
		memset(pool, 0, sizeof(*pool));
		pool->name = arena_strdup(&g->arena, w[1]);
		pool->line = L->lineno;
		pool->index = (int)g->pools.n;
		VEC_PUSH(&g->pools, pool);
		L->pool = pool;
		L->sec_type = SEC_POOL;
		L->kvs = &L->pool_kvs;
	} else {
		const struct job_kind *k = kind_by_name(w[0]);
		if (!k) {
			const char *cands[16];
			size_t nc = 0;
			for (size_t i = 0; job_kinds[i] && nc < 15; i++)
				cands[nc++] = job_kinds[i]->name;
			cands[nc++] = "pool";
			const char *near = closest_word(w[0], cands, nc);
			if (near)
				lerr(L, L->lineno, "unknown job kind '%s' (did you mean '%s'?)",
				     w[0], near);
			else
				lerr(L, L->lineno, "unknown job kind '%s' (use one of: %s)", w[0],
				     section_kinds_list());
			goto out;
		}
		struct section *other = strmap_get(&g->section_by_name, w[1]);
		if (other) {
			lerr(L, L->lineno, "job '%s' is defined twice (first at line %d)", w[1],
			     other->line);
			goto out;
		}
		struct section *sec = arena_alloc(&g->arena, sizeof(*sec));
		memset(sec, 0, sizeof(*sec));
		sec->kind = k;
		sec->name = arena_strdup(&g->arena, w[1]);
		sec->line = L->lineno;
		VEC_PUSH(&g->sections, sec);
		strmap_put(&g->section_by_name, sec->name, sec);
		L->sec = sec;
		L->sec_type = SEC_JOB;
		L->kvs = &L->job_kvs;
	}
out:
	free_words(w);
	sb_release(&err);
	free(inner);
}

/* inih's fgets: hands inih one line at a time, after looking at it. */
static char *reader(char *str, int num, void *stream)
{
	struct loader *L = stream;
	ssize_t n = getline(&L->buf, &L->cap, L->f);
	if (n < 0)
		return NULL;
	L->lineno++;
	L->skip = L->cont = L->cut = false;
	free(L->raw_key);
	L->raw_key = NULL;
	size_t len = (size_t)n;
	while (len && (L->buf[len - 1] == '\n' || L->buf[len - 1] == '\r'))
		L->buf[--len] = '\0';
	str[0] = '\0';
	if (strlen(L->buf) != len) {
		lerr(L, L->lineno, "the line contains a NUL byte");
		L->skip = true;
		return str;
	}
	if (len > MAX_LINE) {
		lerr(L, L->lineno,
		     "the line is %zu characters long, over the %d that inih reads; continue the value on the next line, indented",
		     len, MAX_LINE);
		L->skip = true;
		return str;
	}
	if ((int)len >= num) { /* inih's buffer is smaller than we thought */
		lerr(L, L->lineno, "the line is too long for the INI reader");
		L->skip = true;
		return str;
	}
	char *p = L->buf;
	if (L->lineno == 1 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
	    (unsigned char)p[2] == 0xBF)
		p += 3;
	char *first = p + strspn(p, " \t\f\v");
	bool indented = first > p;
	if (*first == '\0' || *first == ';' || *first == '#') {
		/* blank or comment: nothing for the handler */
	} else if (indented && L->have_key) {
		L->cont = true;
		if (*first == '[' && first[strlen(first) - 1] == ']')
			lerr(L, L->lineno,
			     "an indented line continues the value above; start section headers at the beginning of the line");
		const char *comment = inline_comment(first);
		L->cut = comment != NULL;
		if (comment && L->last) {
			char *before = xasprintf("%s %.*s", L->last->raw, (int)(comment - first),
						 first);
			if (inside_quotes(before))
				lerr(L, L->lineno, CUT_QUOTED);
			free(before);
		}
	} else if (*first == '[') {
		section_header(L, first);
		L->have_key = false;
		L->skip = true;
	} else {
		const char *end = first;
		const char *comment = inline_comment(first);
		while (*end && *end != '=' && *end != ':' && (!comment || end < comment))
			end++;
		if (*end != '=' && *end != ':') {
			lerr(L, L->lineno,
			     "expected 'key = value', a [section] or a comment, not '%s'", first);
			L->skip = true;
		} else {
			const char *kend = end;
			while (kend > first && (kend[-1] == ' ' || kend[-1] == '\t'))
				kend--;
			L->raw_key = xstrndup(first, (size_t)(kend - first));
			L->have_key = true;
			/* Every value, not only commands: inih cuts them all. */
			if (comment && comment > end) {
				L->cut = true;
				char *before = xstrndup(end + 1, (size_t)(comment - end - 1));
				if (inside_quotes(before))
					lerr(L, L->lineno, CUT_QUOTED);
				free(before);
			}
		}
	}
	memcpy(str, L->buf, len + 1);
	return str;
}

/* Keys a job section of this kind accepts. */
static bool job_key_known(const struct section *sec, const char *key)
{
	if (in_list(common_keys, key) || in_list(sec->kind->keys, key))
		return true;
	return sec->kind->env_keys && strncmp(key, "env.", 4) == 0 && key[4];
}

/* A near key of this kind, or failing that the kind the key belongs to
 * (*other_kind set). */
static const char *job_key_suggest(const struct section *sec, const char *key, bool *other_kind)
{
	*other_kind = false;
	const char *cands[64];
	size_t n = 0;
	for (size_t i = 0; common_keys[i]; i++)
		cands[n++] = common_keys[i];
	for (size_t i = 0; sec->kind->keys && sec->kind->keys[i] && n < 60; i++)
		cands[n++] = sec->kind->keys[i];
	const char *near = closest_word(key, cands, n);
	if (!near) {
		/* A key that belongs to another kind says more than "unknown". */
		for (size_t k = 0; job_kinds[k]; k++)
			if (job_kinds[k] != sec->kind && in_list(job_kinds[k]->keys, key)) {
				*other_kind = true;
				return job_kinds[k]->name;
			}
	}
	return near;
}

/* Known key names point at the tables' strings rather than a copy each. */
static const char *intern_key(struct loader *L, const char *key)
{
	const char *const *lists[] = {common_keys, settings_keys,
				      L->sec_type == SEC_JOB ? L->sec->kind->keys : NULL};
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		for (const char *const *k = lists[i]; k && *k; k++)
			if (strcmp(*k, key) == 0)
				return *k;
	return arena_strdup(&L->g->arena, key);
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
	(void)section;
	struct loader *L = user;
	struct graph *g = L->g;
	if (L->skip || L->error_line == L->lineno)
		return 1;
	if (L->cont) {
		if (!L->last)
			return 1;
		/* An indented "key = value" is a continuation to inih: say so. */
		size_t klen = strcspn(value, " \t=:");
		const char *after = value + klen + strspn(value + klen, " \t");
		if (klen && (*after == '=' || *after == ':') && L->sec_type == SEC_JOB) {
			char *k = xstrndup(value, klen);
			if (job_key_known(L->sec, k))
				lerr(L, L->lineno,
				     "job '%s': this indented line continues '%s'; remove the indentation to make '%s' a key",
				     L->sec->name, L->last->key, k);
			free(k);
		}
		L->last->raw = arena_join(&g->arena, L->last->raw, value);
		if (L->cut && !L->last->cut_line)
			L->last->cut_line = L->lineno;
		return 1;
	}
	(void)name;
	const char *key = L->raw_key;
	if (!key)
		return 1;
	struct kv kv = {intern_key(L, key), arena_strdup(&g->arena, value), NULL, L->lineno,
			L->cut ? L->lineno : 0};
	switch (L->sec_type) {
	case SEC_NONE:
		lerr(L, L->lineno,
		     "'%s' comes before any section; put it under [settings], [vars] or a job",
		     key);
		return 1;
	case SEC_BAD:
		return 1;
	case SEC_SETTINGS:
		if (!in_list(settings_keys, key)) {
			const char *near =
				closest_word(key, settings_keys, ARRAY_SIZE(settings_keys) - 1);
			lerr(L, L->lineno, "unknown setting '%s'%s%s%s", key,
			     near ? " (did you mean '" : "", near ? near : "", near ? "'?)" : "");
			return 1;
		}
		break;
	case SEC_VARS:
		for (const char *p = key; *p; p++) {
			if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
			    !(*p >= '0' && *p <= '9') && *p != '_' && *p != '-' && *p != '.') {
				lerr(L, L->lineno,
				     "'%s' is not a valid variable name: use A-Z a-z 0-9 _ - .",
				     key);
				return 1;
			}
		}
		break;
	case SEC_POOL:
		if (strcmp(key, "depth") != 0) {
			lerr(L, L->lineno, "pool '%s': unknown key '%s' (a pool takes 'depth')",
			     L->pool->name, key);
			return 1;
		}
		break;
	case SEC_JOB:
		if (!job_key_known(L->sec, key)) {
			bool other_kind;
			const char *near = job_key_suggest(L->sec, key, &other_kind);
			L->sec->bad_keys = true;
			if (near && other_kind)
				lerr(L, L->lineno,
				     "job '%s': unknown key '%s' (it belongs to %s jobs)",
				     L->sec->name, key, near);
			else if (near)
				lerr(L, L->lineno,
				     "job '%s': unknown key '%s' (did you mean '%s'?)",
				     L->sec->name, key, near);
			else
				lerr(L, L->lineno, "job '%s': unknown key '%s'", L->sec->name,
				     key);
			return 1;
		}
		break;
	}
	/* A repeated key is a mistake, except the ones meant to repeat. */
	for (size_t i = 0; i < L->kvs->n; i++) {
		if (strcmp(L->kvs->v[i].key, key) == 0 && strcmp(key, "header") != 0) {
			const char *what = L->sec_type == SEC_VARS ? "variable" : "key";
			if (L->sec_type == SEC_JOB)
				lerr(L, L->lineno, "job '%s': %s '%s' is set twice (first at line %d)",
				     L->sec->name, what, key, L->kvs->v[i].line);
			else
				lerr(L, L->lineno, "%s '%s' is set twice (first at line %d)", what,
				     key, L->kvs->v[i].line);
			return 1;
		}
	}
	VEC_PUSH(L->kvs, kv);
	L->last = &L->kvs->v[L->kvs->n - 1];
	return 1;
}

/* ---- values ---- */

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || end == s || *end || !(v >= 0) || v > 1e7)
		return -1;
	*out = v;
	return 0;
}

int parse_bytes(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	unsigned long long mult = 1;
	if (*end && !end[1]) {
		switch (*end) {
		case 'k': case 'K': mult = 1ULL << 10; break;
		case 'm': case 'M': mult = 1ULL << 20; break;
		case 'g': case 'G': mult = 1ULL << 30; break;
		case 't': case 'T': mult = 1ULL << 40; break;
		default: return -1;
		}
		end++;
	}
	if (errno || end == s || *end || v > (unsigned long long)INT64_MAX / mult)
		return -1;
	*out = (int64_t)(v * mult);
	return 0;
}

int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	errno = 0;
	if (*s < '0' || *s > '9')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

int parse_yes_no(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1", NULL};
	static const char *const no[] = {"no", "false", "off", "0", NULL};
	if (in_list(yes, s))
		*out = true;
	else if (in_list(no, s))
		*out = false;
	else
		return -1;
	return 0;
}

/* Expands ${} in every value of kvs; reports errors with where. Returns
 * the number of errors. */
static size_t expand_kvs(struct loader *L, struct kv *kvs, size_t n, const char *where)
{
	size_t errors = 0;
	struct strbuf out = {0}, err = {0};
	for (size_t i = 0; i < n; i++) {
		if (!strchr(kvs[i].raw, '$')) {
			kvs[i].val = kvs[i].raw;
			continue;
		}
		sb_reset(&out);
		sb_reset(&err);
		if (expand_vars(L->g, kvs[i].raw, &out, &err) < 0) {
			diag_add(L->d, L->file, kvs[i].line, "%s%s: %s", where, kvs[i].key,
				 sb_str(&err));
			kvs[i].val = "";
			errors++;
		} else {
			kvs[i].val = arena_strdup(&L->g->arena, sb_str(&out));
		}
	}
	sb_release(&out);
	sb_release(&err);
	return errors;
}

static const struct kv *find_kv(const struct kv *kvs, size_t n, const char *key)
{
	for (size_t i = n; i-- > 0;)
		if (strcmp(kvs[i].key, key) == 0)
			return &kvs[i];
	return NULL;
}

/* [settings] under the command line, with ${vars} expanded. */
static void load_settings(struct loader *L)
{
	struct graph *g = L->g;
	const struct settings *cli = &L->o->cli;
	struct settings *s = &g->settings;
	struct kv *kvs = L->settings.v;
	size_t n = L->settings.n;
	struct strbuf out = {0}, err = {0};

	/* backend and jobs first: the other values may use ${backend}, ${jobs}. */
	s->backend = cli->backend;
	const struct kv *kv = find_kv(kvs, n, "backend");
	if (!s->backend && kv) {
		if (expand_vars(g, kv->raw, &out, &err) < 0)
			diag_add(L->d, L->file, kv->line, "backend: %s", sb_str(&err));
		else
			s->backend = arena_strdup(&g->arena, sb_str(&out));
	}
	if (s->backend && kv && s->backend != cli->backend && !in_list(backend_names, s->backend)) {
		size_t nb = 0;
		while (backend_names[nb])
			nb++;
		const char *near = closest_word(s->backend, backend_names, nb);
		if (near)
			diag_add(L->d, L->file, kv->line,
				 "backend: unknown backend '%s' (did you mean '%s'?)", s->backend,
				 near);
		else
			diag_add(L->d, L->file, kv->line,
				 "backend: unknown backend '%s' (use one of: serial, threads, processes, eventloop, auto, slurm)",
				 s->backend);
	}
	if (!s->backend)
		s->backend = "auto";
	s->jobs = cli->jobs;
	kv = find_kv(kvs, n, "jobs");
	if (s->jobs <= 0 && kv) {
		sb_reset(&out);
		sb_reset(&err);
		long v;
		if (expand_vars(g, kv->raw, &out, &err) < 0)
			diag_add(L->d, L->file, kv->line, "jobs: %s", sb_str(&err));
		else if (parse_long(sb_str(&out), 1, 100000, &v) < 0)
			diag_add(L->d, L->file, kv->line,
				 "jobs: '%s' is not a number of jobs (1 to 100000)", sb_str(&out));
		else
			s->jobs = (int)v;
	}
	if (s->jobs <= 0)
		s->jobs = L->o->default_jobs > 0 ? L->o->default_jobs : 1;

	/* The rest, expanded now that ${backend} and ${jobs} are known. */
	struct kv rest[32];
	size_t nrest = 0;
	for (size_t i = 0; i < n && nrest < ARRAY_SIZE(rest); i++)
		if (strcmp(kvs[i].key, "backend") != 0 && strcmp(kvs[i].key, "jobs") != 0)
			rest[nrest++] = kvs[i];
	expand_kvs(L, rest, nrest, "");
	s->net_jobs = cli->net_jobs;
	s->keep_going = cli->keep_going;
#define STR_SETTING(f)                                                                             \
	do {                                                                                       \
		s->f = cli->f;                                                                     \
		const struct kv *k_ = find_kv(rest, nrest, #f);                                    \
		if (!s->f && k_)                                                                   \
			s->f = k_->val;                                                            \
	} while (0)
	STR_SETTING(report);
	STR_SETTING(html);
	STR_SETTING(trace);
	STR_SETTING(junit);
	STR_SETTING(archive);
	STR_SETTING(progress);
	STR_SETTING(slurm_partition);
	STR_SETTING(slurm_args);
#undef STR_SETTING
	/* Values checked here get the file and line; the same values from
	 * the command line are checked where they are used. */
	kv = find_kv(rest, nrest, "progress");
	if (kv && s->progress == kv->val && !in_list(progress_names, kv->val))
		diag_add(L->d, L->file, kv->line, "progress: '%s' is not auto, tty, plain or none",
			 kv->val);
	kv = find_kv(rest, nrest, "archive");
	if (kv && s->archive == kv->val) {
		enum run_archive_format fmt;
		sb_reset(&err);
		if (run_archive_format(kv->val, &fmt, &err) < 0)
			diag_add(L->d, L->file, kv->line, "%s", sb_str(&err));
	}
	kv = find_kv(rest, nrest, "net_jobs");
	if (s->net_jobs <= 0 && kv) {
		long v;
		if (parse_long(kv->val, 1, 100000, &v) < 0)
			diag_add(L->d, L->file, kv->line,
				 "net_jobs: '%s' is not a number of downloads (1 to 100000)",
				 kv->val);
		else
			s->net_jobs = (int)v;
	}
	if (s->net_jobs <= 0)
		s->net_jobs = 32;
	kv = find_kv(rest, nrest, "keep_going");
	if (s->keep_going < 0 && kv) {
		bool b;
		if (parse_yes_no(kv->val, &b) < 0)
			diag_add(L->d, L->file, kv->line, "keep_going: '%s' is not yes or no",
				 kv->val);
		else
			s->keep_going = b;
	}
	if (s->keep_going < 0)
		s->keep_going = 0;
	sb_release(&out);
	sb_release(&err);
}

static void load_pools(struct loader *L)
{
	struct graph *g = L->g;
	/* Pool keys were collected in one list, in file order; assign by line. */
	for (size_t p = 0; p < g->pools.n; p++) {
		struct pool *pool = g->pools.v[p];
		int next_line = p + 1 < g->pools.n ? g->pools.v[p + 1]->line : INT_MAX;
		const struct kv *depth = NULL;
		for (size_t i = 0; i < L->pool_kvs.n; i++)
			if (L->pool_kvs.v[i].line > pool->line && L->pool_kvs.v[i].line < next_line)
				depth = &L->pool_kvs.v[i];
		if (!depth) {
			diag_add(L->d, L->file, pool->line, "pool '%s': missing key 'depth'",
				 pool->name);
			continue;
		}
		struct strbuf out = {0}, err = {0};
		long v;
		if (expand_vars(g, depth->raw, &out, &err) < 0)
			diag_add(L->d, L->file, depth->line, "pool '%s': depth: %s", pool->name,
				 sb_str(&err));
		else if (parse_long(sb_str(&out), 1, 100000, &v) < 0)
			diag_add(L->d, L->file, depth->line,
				 "pool '%s': depth '%s' is not a number from 1 to 100000",
				 pool->name, sb_str(&out));
		else
			pool->depth = (int)v;
		sb_release(&out);
		sb_release(&err);
	}
}

/* ---- job sections ---- */

static void jerr(struct loader *L, int line, const char *job, const char *fmt, ...) PRINTF(4, 5);
static void jerr(struct loader *L, int line, const char *job, const char *fmt, ...)
{
	struct strbuf sb = {0};
	va_list ap;
	va_start(ap, fmt);
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	diag_add(L->d, L->file, line, "job '%s': %s", job, sb_str(&sb));
	sb_release(&sb);
}

/* The keys a batched job expands once per item (the others once per batch). */
static const char *const per_item_keys[] = {"input", "output", "after", NULL};

/* Checks which placeholders each key may use, given the job's shape. */
static void check_placeholders(struct loader *L, struct section *sec)
{
	bool glob = sec->foreach == FE_GLOB;
	bool each = sec->foreach != FE_NONE;
	const struct kv *in = section_key(sec, "input");
	const struct kv *out = section_key(sec, "output");
	bool has_in = glob || (in && *in->val);
	/* batch = 1 is the plain job, so a graph can switch with -s batch=N. */
	bool batched = sec->batch > 1;
	for (size_t i = 0; i < sec->keys.n; i++) {
		const struct kv *kv = &sec->keys.v[i];
		unsigned used = placeholders_used(kv->val);
		if (!used)
			continue;
		unsigned bad = 0;
		const char *why = "";
		if (strcmp(kv->key, "foreach") == 0) {
			bad = used;
			why = "foreach is expanded before any placeholder has a value";
		} else if (batched && !in_list(per_item_keys, kv->key) &&
			   (used & ~(unsigned)(PH_INPUTS | PH_OUTPUTS))) {
			bad = used & ~(unsigned)(PH_INPUTS | PH_OUTPUTS);
			why = "a batched job stands for several items; use {inputs} and {outputs}";
		} else if ((used & (PH_ITEM | PH_REL | PH_RELSTEM)) && !each) {
			bad = used & (PH_ITEM | PH_REL | PH_RELSTEM);
			why = "the job has no foreach";
		} else if (strcmp(kv->key, "output") == 0 && (used & (PH_OUTPUT | PH_OUTPUTS))) {
			bad = used & (PH_OUTPUT | PH_OUTPUTS);
			why = "an output cannot name itself";
		} else if (strcmp(kv->key, "input") == 0 &&
			   (used & (PH_INPUTS | (glob ? 0 : PH_INPUT | PH_DIR | PH_NAME | PH_STEM)))) {
			bad = used & (PH_INPUTS | PH_INPUT | PH_DIR | PH_NAME | PH_STEM);
			why = "an input cannot name the inputs (only a glob foreach's match)";
		} else if ((used & (PH_INPUT | PH_INPUTS | PH_DIR | PH_NAME | PH_STEM)) && !has_in) {
			bad = used & (PH_INPUT | PH_INPUTS | PH_DIR | PH_NAME | PH_STEM);
			why = "the job has no input and no glob foreach";
		} else if ((used & (PH_OUTPUT | PH_OUTPUTS)) && !(out && *out->val)) {
			bad = used & (PH_OUTPUT | PH_OUTPUTS);
			why = "the job has no output";
		}
		for (unsigned bit = 1; bad && bit <= PH_OUTPUTS; bit <<= 1) {
			if (bad & bit) {
				jerr(L, kv->line, sec->name, "%s: %s cannot be used here: %s",
				     kv->key, placeholder_name(bit), why);
				break;
			}
		}
	}
}

static void load_section(struct loader *L, struct section *sec)
{
	char where[200];
	snprintf(where, sizeof(where), "job '%s': ", sec->name);
	/* A value that did not expand is empty: "missing key" would be noise. */
	if (expand_kvs(L, sec->keys.v, sec->keys.n, where))
		sec->bad_keys = true;
	sec->retry_delay = 1;
	for (size_t i = 0; i < sec->keys.n; i++) {
		const struct kv *kv = &sec->keys.v[i];
		const char *k = kv->key, *v = kv->val;
		long n;
		if (strcmp(k, "retries") == 0) {
			if (parse_long(v, 0, 1000, &n) < 0)
				jerr(L, kv->line, sec->name,
				     "retries: '%s' is not a number from 0 to 1000", v);
			else
				sec->retries = (int)n;
		} else if (strcmp(k, "retry_delay") == 0) {
			if (parse_seconds(v, &sec->retry_delay) < 0)
				jerr(L, kv->line, sec->name,
				     "retry_delay: '%s' is not a number of seconds", v);
		} else if (strcmp(k, "timeout") == 0) {
			if (parse_seconds(v, &sec->timeout) < 0 || sec->timeout <= 0)
				jerr(L, kv->line, sec->name,
				     "timeout: '%s' is not a positive number of seconds", v);
		} else if (strcmp(k, "always") == 0) {
			if (parse_yes_no(v, &sec->always) < 0)
				jerr(L, kv->line, sec->name, "always: '%s' is not yes or no", v);
		} else if (strcmp(k, "description") == 0) {
			sec->description = v;
		} else if (strcmp(k, "batch") == 0) {
			if (parse_long(v, 1, 100000, &n) < 0)
				jerr(L, kv->line, sec->name,
				     "batch: '%s' is not a number of items from 1 to 100000", v);
			else
				sec->batch = (int)n;
		} else if (strcmp(k, "pool") == 0) {
			for (size_t p = 0; p < L->g->pools.n; p++)
				if (strcmp(L->g->pools.v[p]->name, v) == 0)
					sec->pool = L->g->pools.v[p];
			if (!sec->pool)
				jerr(L, kv->line, sec->name,
				     "pool '%s' is not defined (add a [pool %s] section with a depth)",
				     v, v);
		} else if (strcmp(k, "foreach") == 0) {
			if (!*v) {
				jerr(L, kv->line, sec->name, "foreach is empty");
			} else if (strncmp(v, "lines:", 6) == 0) {
				sec->foreach = FE_LINES;
				sec->foreach_arg = v + 6;
			} else if (strncmp(v, "range:", 6) == 0) {
				sec->foreach = FE_RANGE;
				sec->foreach_arg = v + 6;
			} else if (strncmp(v, "list:", 5) == 0) {
				sec->foreach = FE_LIST;
				sec->foreach_arg = v + 5;
			} else {
				sec->foreach = FE_GLOB;
				char *norm = path_normalize(v);
				sec->foreach_arg = arena_strdup(&L->g->arena, norm);
				free(norm);
				sec->glob_prefix = arena_strndup(
					&L->g->arena, sec->foreach_arg,
					glob_prefix_len(sec->foreach_arg));
			}
		}
	}
	const struct kv *batch = section_key(sec, "batch");
	if (batch && sec->foreach == FE_NONE)
		jerr(L, batch->line, sec->name,
		     "batch needs a foreach: it hands N foreach items to one job");
	else if (batch && !sec->kind->batchable) {
		struct strbuf kinds = {0};
		for (size_t i = 0; job_kinds[i]; i++)
			if (job_kinds[i]->batchable)
				sb_addf(&kinds, "%s%s", kinds.len ? ", " : "", job_kinds[i]->name);
		jerr(L, batch->line, sec->name,
		     "batch: a %s job takes one item at a time (batch is for %s jobs)",
		     sec->kind->name, sb_str(&kinds));
		sb_release(&kinds);
	}
	check_placeholders(L, sec);
	/* After an unknown key, "missing key" is usually the same typo again. */
	if (sec->kind->check && !sec->bad_keys)
		sec->kind->check(L->g, sec, L->d);
}

/* ---- instances ---- */

static size_t max_items(const struct loader *L)
{
	return L->o->max_items ? L->o->max_items : 1000000;
}

/* Files matching a glob: on disk, or in the in-memory file system. */
static int glob_files(const struct loader *L, const char *pattern, struct strvec *out,
		      struct strbuf *err)
{
	if (!L->o->mem_fs)
		return glob_disk(pattern, out, err);
	for (size_t i = 0; i < L->o->n_mem_files; i++)
		if (glob_match(pattern, L->o->mem_files[i].path))
			VEC_PUSH(out, xstrdup(L->o->mem_files[i].path));
	return 0;
}

/* A whole file, NUL-terminated: from disk, or from the in-memory file
 * system. NULL with errno when it cannot be read. */
static char *load_file(const struct loader *L, const char *path, size_t *len)
{
	if (!L->o->mem_fs)
		return read_file(path, len);
	for (size_t i = 0; i < L->o->n_mem_files; i++) {
		const struct mem_file *f = &L->o->mem_files[i];
		if (strcmp(f->path, path) == 0) {
			char *s = xmalloc(f->len + 1);
			memcpy(s, f->data, f->len);
			s[f->len] = '\0';
			*len = f->len;
			return s;
		}
	}
	errno = ENOENT;
	return NULL;
}

static void foreach_items(struct loader *L, struct section *sec, struct strvec *items)
{
	const struct kv *kv = section_key(sec, "foreach");
	int line = kv ? kv->line : sec->line;
	const char *arg = sec->foreach_arg;
	struct strbuf err = {0};
	switch (sec->foreach) {
	case FE_NONE:
		break;
	case FE_GLOB: {
		if (glob_files(L, arg, items, &err) < 0)
			jerr(L, line, sec->name, "foreach: %s", sb_str(&err));
		break;
	}
	case FE_LINES: {
		char *path = path_normalize(arg);
		size_t len;
		char *data = load_file(L, path, &len);
		if (!data) {
			jerr(L, line, sec->name, "foreach: cannot read '%s': %s", path,
			     strerror(errno));
			free(path);
			break;
		}
		free(path);
		if (strlen(data) != len) {
			jerr(L, line, sec->name, "foreach: '%s' contains a NUL byte", arg);
			free(data);
			break;
		}
		for (char *s = data; s && *s;) {
			char *nl = strchr(s, '\n');
			if (nl)
				*nl = '\0';
			char *b = s + strspn(s, " \t\r");
			size_t n = strlen(b);
			while (n && (b[n - 1] == ' ' || b[n - 1] == '\t' || b[n - 1] == '\r'))
				b[--n] = '\0';
			if (*b && *b != '#')
				VEC_PUSH(items, xstrdup(b));
			s = nl ? nl + 1 : NULL;
		}
		free(data);
		break;
	}
	case FE_RANGE: {
		long a, b;
		char *dots = strstr(arg, "..");
		char *first = dots ? xstrndup(arg, (size_t)(dots - arg)) : NULL;
		if (!dots || parse_long(first, LONG_MIN / 2, LONG_MAX / 2, &a) < 0 ||
		    parse_long(dots + 2, LONG_MIN / 2, LONG_MAX / 2, &b) < 0) {
			jerr(L, line, sec->name,
			     "foreach: 'range:%s' is not of the form range:FIRST..LAST", arg);
		} else if (b < a) {
			jerr(L, line, sec->name, "foreach: range %ld..%ld is empty (LAST < FIRST)",
			     a, b);
		} else if ((unsigned long)(b - a) >= max_items(L)) {
			jerr(L, line, sec->name, "foreach: range %ld..%ld has over %zu items", a, b,
			     max_items(L));
		} else if ((size_t)(b - a) + 1 > max_items(L) - L->instances) {
			/* Before making the items: eight ranges of a million would
			 * exhaust memory first. */
			jerr(L, line, sec->name,
			     "foreach: range %ld..%ld would make the graph over %zu jobs (the limit on one graph)",
			     a, b, max_items(L));
		} else {
			for (long i = a; i <= b; i++)
				VEC_PUSH(items, xasprintf("%ld", i));
		}
		free(first);
		break;
	}
	case FE_LIST: {
		char **w = split_words(arg, &err);
		if (!w) {
			jerr(L, line, sec->name, "foreach: %s", sb_str(&err));
			break;
		}
		for (char **p = w; *p; p++)
			VEC_PUSH(items, xstrdup(*p));
		free_words(w);
		break;
	}
	}
	if (items->n > max_items(L)) {
		jerr(L, line, sec->name, "foreach: %zu items, over the %zu one job may have",
		     items->n, max_items(L));
		strvec_release(items);
	}
	sb_release(&err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Checks that an output stays inside the graph's folder. */
static const char *output_problem(const char *path, const char *graph_base)
{
	if (!*path || strcmp(path, ".") == 0)
		return "is empty";
	if (path[0] == '/')
		return "is an absolute path; outputs must stay inside the graph's folder";
	if (strcmp(path, "..") == 0 || strncmp(path, "../", 3) == 0 || strstr(path, "/../") ||
	    (strlen(path) >= 3 && strcmp(path + strlen(path) - 3, "/..") == 0))
		return "leaves the graph's folder through '..'";
	if (strcmp(path, STATE_DIR) == 0 || strncmp(path, STATE_DIR "/", strlen(STATE_DIR) + 1) == 0)
		return "is inside juggle's state folder " STATE_DIR "/";
	if (strcmp(path, graph_base) == 0)
		return "is the graph file itself";
	return NULL;
}

/* Where a symbolic link leads, as an absolute path with its folder
 * resolved; for a link whose target does not exist yet. NULL if unknown. */
static char *link_target(const char *link)
{
	char buf[PATH_MAX];
	ssize_t n = readlink(link, buf, sizeof(buf) - 1);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	char *dir = NULL;
	if (buf[0] != '/') {
		const char *slash = strrchr(link, '/');
		dir = slash ? xstrndup(link, (size_t)(slash - link)) : xstrdup(".");
	}
	char *abs = dir ? xasprintf("%s/%s", dir, buf) : xstrdup(buf);
	free(dir);
	char *slash = strrchr(abs, '/');
	char *parent = slash == abs ? xstrdup("/") : xstrndup(abs, (size_t)(slash - abs));
	char *real = realpath(parent, NULL);
	char *out = real ? xasprintf("%s/%s", real, slash + 1) : NULL;
	free(real);
	free(parent);
	free(abs);
	return out;
}

/* Whether the real folder of an output (already checked by
 * output_problem()) is juggle's state folder or inside it: a symbolic link
 * in its folder ("st -> .juggle", "output = st/state") gets past the
 * check of the path's letters. Only a path with a link in it is resolved. */
static bool output_in_state_dir(struct loader *L, const char *path)
{
	const char *last = strrchr(path, '/');
	if (!last)
		return false; /* in the graph's folder itself */
	size_t n_dir = (size_t)(last - path);
	if (L->own_dir && strlen(L->own_dir) == n_dir && memcmp(L->own_dir, path, n_dir) == 0)
		return L->own_inside;
	free(L->own_dir);
	L->own_dir = xstrndup(path, n_dir);
	char *prefix = xstrdup(path);
	bool inside = false, linked = false;
	for (char *slash = strchr(prefix, '/'); slash && !inside; slash = strchr(slash + 1, '/')) {
		*slash = '\0';
		struct stat sb;
		bool exists = lstat(prefix, &sb) == 0;
		if (exists && S_ISLNK(sb.st_mode))
			linked = true;
		if (linked) {
			char *real = realpath(prefix, NULL);
			if (!real && exists && S_ISLNK(sb.st_mode))
				real = link_target(prefix);
			char *cwd = real ? realpath(".", NULL) : NULL;
			if (real && cwd) {
				size_t n = strlen(cwd), s = strlen(STATE_DIR);
				inside = strncmp(real, cwd, n) == 0 && real[n] == '/' &&
					 strncmp(real + n + 1, STATE_DIR, s) == 0 &&
					 (real[n + 1 + s] == '\0' || real[n + 1 + s] == '/');
			}
			free(cwd);
			free(real);
		}
		*slash = '/';
		if (!exists)
			break;
	}
	free(prefix);
	L->own_inside = inside;
	return inside;
}

static const char *instance_name(struct arena *a, const char *base, const char *item)
{
	size_t nb = strlen(base), ni = strlen(item);
	char *s = arena_alloc(a, nb + ni + 3);
	memcpy(s, base, nb);
	s[nb] = '[';
	memcpy(s + nb + 1, item, ni);
	s[nb + ni + 1] = ']';
	s[nb + ni + 2] = '\0';
	return s;
}

struct pending_glob {
	struct job *job;
	const char *pattern;
	int line;
};

struct globvec {
	struct pending_glob *v;
	size_t n, cap;
};

static const char **str_array(struct arena *a, struct strvec *v)
{
	const char **arr = arena_alloc(a, sizeof(*arr) * (v->n + 1));
	for (size_t i = 0; i < v->n; i++)
		arr[i] = arena_strdup(a, v->v[i]);
	arr[v->n] = NULL;
	return arr;
}

/* Words of a key for one instance: split, then placeholders per word. */
static int instance_words(struct loader *L, struct job *job, const struct kv *kv,
			  struct strvec *out)
{
	if (!kv)
		return 0;
	struct strbuf err = {0}, sb = {0};
	char **w = split_words(kv->val, &err);
	if (!w) {
		jerr(L, kv->line, job->name, "%s: %s", kv->key, sb_str(&err));
		sb_release(&err);
		return -1;
	}
	for (char **p = w; *p; p++) {
		sb_reset(&sb);
		subst_placeholders(job, *p, SUBST_TEXT, &sb);
		VEC_PUSH(out, sb_detach(&sb));
	}
	free_words(w);
	sb_release(&err);
	return 0;
}

/* A job for one foreach item (NULL: the section's only job), without its
 * paths yet. */
static struct job *new_instance(struct loader *L, struct section *sec, const char *item)
{
	struct graph *g = L->g;
	struct job *job = arena_alloc(&g->arena, sizeof(*job));
	memset(job, 0, sizeof(*job));
	job->sec = sec;
	size_t plen = sec->glob_prefix ? strlen(sec->glob_prefix) : 0;
	if (!item) {
		job->name = sec->name;
	} else if (sec->foreach == FE_GLOB) {
		job->match = arena_strdup(&g->arena, item);
		job->item = job->match + (strncmp(job->match, sec->glob_prefix, plen) == 0 ? plen : 0);
		job->name = instance_name(&g->arena, sec->name, job->item);
	} else {
		job->item = arena_strdup(&g->arena, item);
		job->name = instance_name(&g->arena, sec->name, job->item);
	}
	return job;
}

/* Fills job's outputs and inputs from the section's keys; input globs are
 * resolved later, into owner (the job, or the batch holding it). */
static void instance_paths(struct loader *L, struct job *job, struct job *owner,
			   const char *graph_base, struct globvec *globs)
{
	struct graph *g = L->g;
	const struct kv *out_kv = section_key(job->sec, "output");
	const struct kv *in_kv = section_key(job->sec, "input");
	/* Outputs first: inputs may not name them, other keys may. */
	struct strvec outs = {0}, ins = {0};
	if (instance_words(L, job, out_kv, &outs) == 0) {
		for (size_t k = 0; k < outs.n; k++) {
			char *norm = path_normalize(outs.v[k]);
			free(outs.v[k]);
			outs.v[k] = norm;
			const char *why = output_problem(norm, graph_base);
			/* The state folder first: a link to .juggle before it exists
			 * dangles, and "leads outside" would hide the real problem. */
			if (!why && output_in_state_dir(L, norm))
				why = "is inside juggle's state folder " STATE_DIR "/ through a "
				      "symbolic link";
			if (!why && out_dir_leaves(norm))
				why = "is in a folder that leads outside the graph's folder "
				      "through a symbolic link";
			if (why)
				jerr(L, out_kv->line, job->name, "output '%s' %s", norm, why);
		}
	}
	job->outputs = str_array(&g->arena, &outs);
	job->n_outputs = (uint32_t)outs.n;
	if (job->match)
		VEC_PUSH(&ins, xstrdup(job->match));
	if (instance_words(L, job, in_kv, &ins) == 0) {
		size_t keep = 0;
		for (size_t k = 0; k < ins.n; k++) {
			if (glob_has_magic(ins.v[k]) && !(job->match && k == 0)) {
				char *norm = path_normalize(ins.v[k]);
				struct pending_glob pg = {owner, arena_strdup(&g->arena, norm),
							  in_kv->line};
				VEC_PUSH(globs, pg);
				free(norm);
				free(ins.v[k]);
				continue;
			}
			char *norm = path_normalize(ins.v[k]);
			free(ins.v[k]);
			ins.v[keep++] = norm;
		}
		ins.n = keep;
	}
	job->inputs = str_array(&g->arena, &ins);
	job->n_inputs = (uint32_t)ins.n;
	strvec_release(&outs);
	strvec_release(&ins);
}

/* One job for n foreach items (batch = N), named NAME[FIRST..LAST]: each
 * item becomes a member with its own paths, and the batch reads and
 * writes them all. */
static struct job *new_batch(struct loader *L, struct section *sec, char **items, size_t n,
			     const char *graph_base, struct globvec *globs)
{
	struct graph *g = L->g;
	struct job *b = arena_alloc(&g->arena, sizeof(*b));
	memset(b, 0, sizeof(*b));
	b->sec = sec;
	b->members = arena_alloc(&g->arena, sizeof(*b->members) * n);
	b->n_members = (uint32_t)n;
	size_t n_in = 0, n_out = 0;
	for (size_t k = 0; k < n; k++) {
		struct job *m = new_instance(L, sec, items[k]);
		instance_paths(L, m, b, graph_base, globs);
		b->members[k] = m;
		n_in += m->n_inputs;
		n_out += m->n_outputs;
	}
	char *item = xasprintf("%s..%s", b->members[0]->item, b->members[n - 1]->item);
	b->item = arena_strdup(&g->arena, item);
	free(item);
	b->name = instance_name(&g->arena, sec->name, b->item);
	b->inputs = arena_alloc(&g->arena, sizeof(*b->inputs) * (n_in + 1));
	b->outputs = arena_alloc(&g->arena, sizeof(*b->outputs) * (n_out + 1));
	struct strmap seen = {0};
	for (size_t k = 0; k < n; k++) {
		const struct job *m = b->members[k];
		for (uint32_t i = 0; i < m->n_inputs; i++) {
			if (strmap_get(&seen, m->inputs[i]))
				continue; /* an input the items share is read once */
			strmap_put(&seen, m->inputs[i], (void *)m->inputs[i]);
			b->inputs[b->n_inputs++] = m->inputs[i];
		}
		for (uint32_t i = 0; i < m->n_outputs; i++)
			b->outputs[b->n_outputs++] = m->outputs[i];
	}
	b->inputs[b->n_inputs] = NULL;
	b->outputs[b->n_outputs] = NULL;
	strmap_release(&seen);
	return b;
}

/* Registers a new job: its outputs, its name (and its members' names). */
static void add_job(struct loader *L, struct job *job)
{
	struct graph *g = L->g;
	const struct kv *out_kv = section_key(job->sec, "output");
	for (uint32_t k = 0; k < job->n_outputs; k++) {
		struct job *other = strmap_get(&g->producer, job->outputs[k]);
		if (other == job) {
			jerr(L, out_kv->line, job->name, "output '%s' is declared twice",
			     job->outputs[k]);
			continue;
		}
		if (other) {
			jerr(L, out_kv->line, job->name,
			     "output '%s' is also an output of job '%s' (line %d)",
			     job->outputs[k], other->name, other->sec->line);
			continue;
		}
		strmap_put(&g->producer, job->outputs[k], job);
	}
	if (strmap_get(&g->job_by_name, job->name)) {
		jerr(L, job->sec->line, job->name, "two jobs have this name");
		return;
	}
	strmap_put(&g->job_by_name, job->name, job);
	for (uint32_t k = 0; k < job->n_members; k++)
		strmap_put(&g->batch_of, job->members[k]->name, job);
	job->index = (uint32_t)g->jobs.n;
	VEC_PUSH(&g->jobs, job);
	if (job->sec->kind->check_job)
		job->sec->kind->check_job(g, job, L->d);
}

/* Whether a glob foreach of section s may take path as an item. Outputs
 * of the jobs of sections above count as files, as in make (they are
 * added as items even before they exist); outputs of the section itself
 * and of sections below never do, nor juggle's own files, so a glob does
 * not feed on what it or a later job makes and the graph is the same from
 * one run to the next. */
static bool glob_item_allowed(const struct loader *L, size_t s, const char *path)
{
	if (strcmp(path, STATE_DIR) == 0 || strncmp(path, STATE_DIR "/", strlen(STATE_DIR) + 1) == 0)
		return false;
	uintptr_t t = (uintptr_t)strmap_get(&L->declared, path);
	return t == 0 || t - 1 < s;
}

/* Adds to items the outputs of sections above s that a glob foreach of s
 * matches (the declared map, or the jobs made so far). */
static void add_outputs_above(const struct loader *L, size_t s, const struct strmap *m,
			      struct strvec *items)
{
	const char *pattern = L->g->sections.v[s]->foreach_arg;
	const char *key;
	void *val;
	for (size_t i = 0; strmap_next(m, &i, &key, &val);) {
		bool above = m == &L->g->producer || (uintptr_t)val - 1 < s;
		if (above && glob_match(pattern, key))
			VEC_PUSH(items, xstrdup(key));
	}
}

/* Records in L->declared the outputs section s would declare for items. */
static void declare_outputs(struct loader *L, size_t s, const struct strvec *items)
{
	struct section *sec = L->g->sections.v[s];
	const struct kv *out_kv = section_key(sec, "output");
	struct strbuf err = {0}, sb = {0};
	char **words = out_kv ? split_words(out_kv->val, &err) : NULL;
	size_t n = sec->foreach == FE_NONE ? 1 : items->n;
	size_t plen = sec->glob_prefix ? strlen(sec->glob_prefix) : 0;
	for (size_t i = 0; words && i < n; i++) {
		struct job tmp = {.sec = sec, .name = sec->name};
		const char *item = sec->foreach == FE_NONE ? NULL : items->v[i];
		if (sec->foreach == FE_GLOB) {
			tmp.match = item;
			tmp.item = strncmp(item, sec->glob_prefix, plen) == 0 ? item + plen : item;
		} else {
			tmp.item = item;
		}
		for (char **w = words; *w; w++) {
			sb_reset(&sb);
			subst_placeholders(&tmp, *w, SUBST_TEXT, &sb);
			char *norm = path_normalize(sb_str(&sb));
			if (strmap_get(&L->declared, norm)) {
				free(norm);
				continue;
			}
			VEC_PUSH(&L->declared_keys, norm);
			strmap_put(&L->declared, norm, (void *)(uintptr_t)(s + 1));
		}
	}
	free_words(words);
	sb_release(&err);
	sb_release(&sb);
}

/* Reads every section's foreach items before any job is made and, when a
 * glob foreach is in the graph, the outputs every section would declare:
 * a glob must know the outputs of the sections below it too. */
static void read_items(struct loader *L)
{
	struct graph *g = L->g;
	L->items = xcalloc(g->sections.n + 1, sizeof(*L->items));
	bool any_glob = false;
	for (size_t s = 0; s < g->sections.n; s++) {
		struct section *sec = g->sections.v[s];
		foreach_items(L, sec, &L->items[s]);
		any_glob |= sec->foreach == FE_GLOB;
	}
	if (!any_glob)
		return;
	struct strvec with_above = {0};
	for (size_t s = 0; s < g->sections.n; s++) {
		struct section *sec = g->sections.v[s];
		if (sec->foreach != FE_GLOB) {
			declare_outputs(L, s, &L->items[s]);
			continue;
		}
		/* What this glob would take if its own outputs were not known:
		 * its outputs for those items are what it must not take. */
		for (size_t i = 0; i < L->items[s].n; i++)
			VEC_PUSH(&with_above, xstrdup(L->items[s].v[i]));
		add_outputs_above(L, s, &L->declared, &with_above);
		declare_outputs(L, s, &with_above);
		strvec_release(&with_above);
	}
}

static void make_instances(struct loader *L, size_t s, const char *graph_base,
			   struct globvec *globs)
{
	struct graph *g = L->g;
	struct section *sec = g->sections.v[s];
	struct strvec items = L->items[s];
	L->items[s] = (struct strvec){0};
	if (sec->foreach == FE_GLOB) {
		add_outputs_above(L, s, &g->producer, &items);
		size_t w = 0;
		for (size_t i = 0; i < items.n; i++) {
			if (glob_item_allowed(L, s, items.v[i]))
				items.v[w++] = items.v[i];
			else
				free(items.v[i]);
		}
		items.n = w;
	}
	if (sec->foreach != FE_NONE) {
		if (sec->foreach == FE_GLOB && items.n)
			qsort(items.v, items.n, sizeof(char *), cmp_str);
		/* Duplicates: drop those a glob found twice, reject the others. */
		struct strmap seen = {0};
		size_t w = 0;
		for (size_t i = 0; i < items.n; i++) {
			if (strmap_get(&seen, items.v[i])) {
				if (sec->foreach != FE_GLOB) {
					const struct kv *kv = section_key(sec, "foreach");
					jerr(L, kv->line, sec->name,
					     "foreach item '%s' appears twice; instance names must be unique",
					     items.v[i]);
				}
				free(items.v[i]);
				continue;
			}
			strmap_put(&seen, items.v[i], items.v[i]);
			items.v[w++] = items.v[i];
		}
		items.n = w;
		strmap_release(&seen);
	}
	size_t count = sec->foreach == FE_NONE ? 1 : items.n;
	if (count > max_items(L) - L->instances) {
		const struct kv *kv = section_key(sec, "foreach");
		jerr(L, kv ? kv->line : sec->line, sec->name,
		     "foreach: %zu items would make the graph over %zu jobs (the limit on one graph)",
		     count, max_items(L));
		count = 0;
	}
	L->instances += count;
	size_t per = sec->batch > 1 ? (size_t)sec->batch : 1;
	sec->first_job = g->jobs.n;
	for (size_t i = 0; i < count; i += per) {
		size_t n = count - i < per ? count - i : per;
		const char *item = sec->foreach == FE_NONE ? NULL : items.v[i];
		struct job *job;
		if (n == 1) { /* a batch of one is that item's instance */
			job = new_instance(L, sec, item);
			instance_paths(L, job, job, graph_base, globs);
		} else {
			job = new_batch(L, sec, items.v + i, n, graph_base, globs);
		}
		add_job(L, job);
	}
	sec->n_jobs = g->jobs.n - sec->first_job;
	strvec_release(&items);
}

/* Input globs see files on disk and every job's declared outputs. */
static void resolve_input_globs(struct loader *L, struct globvec *globs)
{
	struct graph *g = L->g;
	for (size_t i = 0; i < globs->n; i++) {
		struct pending_glob *pg = &globs->v[i];
		struct strvec found = {0};
		struct strbuf err = {0};
		if (glob_files(L, pg->pattern, &found, &err) < 0)
			jerr(L, pg->line, pg->job->name, "input: %s", sb_str(&err));
		const char *key;
		void *val;
		for (size_t k = 0; strmap_next(&g->producer, &k, &key, &val);)
			if (val != pg->job && glob_match(pg->pattern, key))
				VEC_PUSH(&found, xstrdup(key));
		if (found.n) /* found.v is NULL when nothing matched */
			qsort(found.v, found.n, sizeof(char *), cmp_str);
		struct job *job = pg->job;
		const char **all = arena_alloc(&g->arena,
					       sizeof(*all) * (job->n_inputs + found.n + 1));
		memcpy(all, job->inputs, sizeof(*all) * job->n_inputs);
		uint32_t n = job->n_inputs;
		for (size_t k = 0; k < found.n; k++) {
			bool dup = false;
			for (uint32_t m = 0; m < n && !dup; m++)
				dup = strcmp(all[m], found.v[k]) == 0;
			/* A job never reads its own outputs through a glob. */
			if (!dup && strmap_get(&g->producer, found.v[k]) != job)
				all[n++] = arena_strdup(&g->arena, found.v[k]);
		}
		all[n] = NULL;
		job->inputs = all;
		job->n_inputs = n;
		strvec_release(&found);
		sb_release(&err);
	}
}

struct depvec {
	struct job **v;
	size_t n, cap;
};

static void add_dep(struct depvec *deps, struct job *dep)
{
	for (size_t i = 0; i < deps->n; i++)
		if (deps->v[i] == dep)
			return;
	VEC_PUSH(deps, dep);
}

static void link_deps(struct loader *L)
{
	struct graph *g = L->g;
	struct depvec deps = {0};
	const char **names = xmalloc(sizeof(*names) * (g->sections.n + 1));
	for (size_t i = 0; i < g->sections.n; i++)
		names[i] = g->sections.v[i]->name;
	for (size_t j = 0; j < g->jobs.n; j++) {
		struct job *job = g->jobs.v[j];
		deps.n = 0;
		const struct kv *after = section_key(job->sec, "after");
		struct strvec words = {0};
		if (job->members)
			for (uint32_t m = 0; m < job->n_members; m++)
				instance_words(L, job->members[m], after, &words);
		else
			instance_words(L, job, after, &words);
		for (size_t k = 0; k < words.n; k++) {
			const char *w = words.v[k];
			struct section *sec = strmap_get(&g->section_by_name, w);
			struct job *one = graph_job(g, w);
			if (sec) {
				for (size_t m = 0; m < sec->n_jobs; m++)
					add_dep(&deps, g->jobs.v[sec->first_job + m]);
			} else if (one) {
				add_dep(&deps, one);
			} else {
				const char *near = closest_word(w, names, g->sections.n);
				if (near)
					jerr(L, after->line, job->name,
					     "after: no job is called '%s' (did you mean '%s'?)", w,
					     near);
				else
					jerr(L, after->line, job->name, "after: no job is called '%s'",
					     w);
			}
		}
		strvec_release(&words);
		for (uint32_t k = 0; k < job->n_inputs; k++) {
			struct job *p = strmap_get(&g->producer, job->inputs[k]);
			if (p == job) {
				const struct kv *in = section_key(job->sec, "input");
				jerr(L, in ? in->line : job->sec->line, job->name,
				     "input '%s' is also its own output", job->inputs[k]);
			} else if (p) {
				add_dep(&deps, p);
			}
		}
		for (size_t k = 0; k < deps.n; k++) {
			if (deps.v[k] == job) {
				jerr(L, after->line, job->name, "after: a job cannot wait for itself");
				deps.v[k--] = deps.v[--deps.n];
			}
		}
		job->n_deps = (uint32_t)deps.n;
		job->deps = arena_alloc(&g->arena, sizeof(*job->deps) * (deps.n + 1));
		if (deps.n)
			memcpy(job->deps, deps.v, sizeof(*job->deps) * deps.n);
		for (size_t k = 0; k < deps.n; k++)
			deps.v[k]->n_rdeps++;
	}
	for (size_t j = 0; j < g->jobs.n; j++) {
		struct job *job = g->jobs.v[j];
		job->rdeps = arena_alloc(&g->arena, sizeof(*job->rdeps) * (job->n_rdeps + 1));
		job->n_rdeps = 0;
	}
	for (size_t j = 0; j < g->jobs.n; j++) {
		struct job *job = g->jobs.v[j];
		for (uint32_t k = 0; k < job->n_deps; k++) {
			struct job *d = job->deps[k];
			d->rdeps[d->n_rdeps++] = job;
		}
	}
	free(deps.v);
	free(names);
}

/* Finds a cycle by depth-first search without recursion (graphs of 100,000
 * jobs would overflow the stack); reports the jobs on it. */
static void find_cycles(struct loader *L)
{
	struct graph *g = L->g;
	size_t n = g->jobs.n;
	unsigned char *color = xcalloc(n + 1, 1); /* 0 new, 1 on stack, 2 done */
	uint32_t *edge = xcalloc(n + 1, sizeof(*edge));
	struct job **stack = xmalloc(sizeof(*stack) * (n + 1));
	for (size_t s = 0; s < n; s++) {
		if (color[s])
			continue;
		size_t top = 0;
		stack[top++] = g->jobs.v[s];
		color[s] = 1;
		while (top) {
			struct job *j = stack[top - 1];
			if (edge[j->index] == j->n_deps) {
				color[j->index] = 2;
				top--;
				continue;
			}
			struct job *d = j->deps[edge[j->index]++];
			if (color[d->index] == 0) {
				color[d->index] = 1;
				stack[top++] = d;
			} else if (color[d->index] == 1) {
				struct strbuf sb = {0};
				size_t from = top;
				while (from > 0 && stack[from - 1] != d)
					from--;
				for (size_t k = from - 1; k < top; k++)
					sb_addf(&sb, "%s -> ", stack[k]->name);
				sb_adds(&sb, d->name);
				diag_add(L->d, L->file, d->sec->line, "dependency cycle: %s",
					 sb_str(&sb));
				sb_release(&sb);
				goto out;
			}
		}
	}
out:
	free(color);
	free(edge);
	free(stack);
}

static int cmp_kv(const void *a, const void *b)
{
	const struct kv *x = *(const struct kv *const *)a, *y = *(const struct kv *const *)b;
	int c = strcmp(x->key, y->key);
	return c ? c : x->line - y->line;
}

/* The definition's fingerprint: kind, keys after ${} expansion (sorted,
 * minus the scheduling-only ones), item and match. */
static void fingerprints(struct graph *g)
{
	EVP_MD_CTX *base = EVP_MD_CTX_new(), *ctx = EVP_MD_CTX_new();
	for (size_t s = 0; s < g->sections.n; s++) {
		struct section *sec = g->sections.v[s];
		const struct kv **sorted = xmalloc(sizeof(*sorted) * (sec->keys.n + 1));
		for (size_t i = 0; i < sec->keys.n; i++)
			sorted[i] = &sec->keys.v[i];
		qsort(sorted, sec->keys.n, sizeof(*sorted), cmp_kv);
		EVP_DigestInit_ex(base, md_sha256(), NULL);
		EVP_DigestUpdate(base, sec->kind->name, strlen(sec->kind->name) + 1);
		for (size_t i = 0; i < sec->keys.n; i++) {
			if (in_list(unfingerprinted, sorted[i]->key))
				continue;
			EVP_DigestUpdate(base, sorted[i]->key, strlen(sorted[i]->key) + 1);
			EVP_DigestUpdate(base, sorted[i]->val, strlen(sorted[i]->val) + 1);
		}
		free(sorted);
		for (size_t j = 0; j < sec->n_jobs; j++) {
			struct job *job = g->jobs.v[sec->first_job + j];
			unsigned char md[EVP_MAX_MD_SIZE];
			unsigned int len;
			EVP_MD_CTX_copy_ex(ctx, base);
			/* A batch is defined by the items it stands for. */
			uint32_t n = job->members ? job->n_members : 1;
			for (uint32_t m = 0; m < n; m++) {
				const struct job *one = job->members ? job->members[m] : job;
				const char *item = one->item ? one->item : "";
				const char *match = one->match ? one->match : "";
				EVP_DigestUpdate(ctx, item, strlen(item) + 1);
				EVP_DigestUpdate(ctx, match, strlen(match) + 1);
			}
			EVP_DigestFinal_ex(ctx, md, &len);
			memcpy(job->fp, md, 16);
		}
		unsigned char md[EVP_MAX_MD_SIZE];
		unsigned int len;
		EVP_DigestFinal_ex(base, md, &len);
	}
	EVP_MD_CTX_free(base);
	EVP_MD_CTX_free(ctx);
}

static void apply_overrides(struct loader *L)
{
	struct graph *g = L->g;
	for (const char *const *s = L->o->set; s && *s; s++) {
		const char *eq = strchr(*s, '=');
		if (!eq || eq == *s) {
			diag_add(L->d, "-s", 0, "'%s' is not NAME=VALUE", *s);
			continue;
		}
		struct kv kv = {arena_strndup(&g->arena, *s, (size_t)(eq - *s)),
				arena_strdup(&g->arena, eq + 1), NULL, 0, 0};
		VEC_PUSH(&g->vars, kv);
	}
}

/* Ranges are counted before any job is made, so that ranges over the
 * limit together are an error at once, not after a million jobs. */
static int count_ranges(struct loader *L)
{
	size_t total = 0;
	for (size_t s = 0; s < L->g->sections.n; s++) {
		const struct section *sec = L->g->sections.v[s];
		const char *dots = sec->foreach == FE_RANGE ? strstr(sec->foreach_arg, "..") : NULL;
		if (!dots)
			continue;
		char *end;
		long a = strtol(sec->foreach_arg, &end, 10), b = strtol(dots + 2, NULL, 10);
		if (end != dots || b < a || (unsigned long)(b - a) >= max_items(L))
			continue; /* foreach_items() says what is wrong */
		total += (size_t)(b - a) + 1;
		if (total > max_items(L)) {
			const struct kv *kv = section_key(sec, "foreach");
			jerr(L, kv->line, sec->name,
			     "foreach: range %ld..%ld would make the graph over %zu jobs (the limit on one graph)",
			     a, b, max_items(L));
			return -1;
		}
	}
	return 0;
}

int graph_load(struct graph *g, const struct load_opts *o, struct diag *d)
{
	memset(g, 0, sizeof(*g));
	g->file = o->display ? o->display : o->file;
	g->loaded_at = (double)time(NULL);
	g->settings.jobs = -1;
	struct loader L = {.g = g, .d = d, .o = o, .file = g->file};
	size_t errors_before = diag_count(d);

	if (o->text && o->text_len == 0)
		return 0; /* an empty graph: nothing to read */
	L.f = o->text ? fmemopen((void *)o->text, o->text_len, "r") : fopen(o->file, "re");
	if (!L.f) {
		diag_add(d, NULL, 0, "cannot read graph file '%s': %s", g->file, strerror(errno));
		return -1;
	}
	int rc = ini_parse_stream(reader, &L, handler, &L);
	end_section(&L);
	if (ferror(L.f))
		diag_add(d, g->file, 0, "read error: %s", strerror(errno));
	fclose(L.f);
	free(L.buf);
	free(L.raw_key);
	if (rc > 0 && diag_count(d) == errors_before)
		diag_add(d, g->file, rc, "syntax error");

	apply_overrides(&L);
	load_settings(&L);
	load_pools(&L);
	for (size_t s = 0; s < g->sections.n; s++)
		load_section(&L, g->sections.v[s]);
	if (diag_count(d) > errors_before)
		goto out;

	const char *slash = strrchr(o->file, '/');
	const char *graph_base = slash ? slash + 1 : o->file;
	if (count_ranges(&L) < 0)
		goto out;
	read_items(&L);
	struct globvec globs = {0};
	for (size_t s = 0; s < g->sections.n; s++)
		make_instances(&L, s, graph_base, &globs);
	resolve_input_globs(&L, &globs);
	free(globs.v);
	if (diag_count(d) > errors_before)
		goto out;
	link_deps(&L);
	if (diag_count(d) > errors_before)
		goto out;
	find_cycles(&L);
	fingerprints(g);
out:
	for (size_t s = 0; L.items && s < g->sections.n; s++)
		strvec_release(&L.items[s]);
	free(L.items);
	strmap_release(&L.declared);
	strvec_release(&L.declared_keys);
	free(L.settings.v);
	free(L.pool_kvs.v);
	free(L.job_kvs.v);
	free(L.own_dir);
	return diag_count(d) > errors_before ? -1 : 0;
}
