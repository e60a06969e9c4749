/* read.c - reading a graph file: the INI text, line by line, into
 * sections and keys (see load-internal.h on inih's traps). */
#define _GNU_SOURCE
#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expand.h"
#include "engine/graph.h"
#include "engine/kind.h"
#include "engine/load/load-internal.h"

#define MAX_LINE 199

#define CUT_QUOTED                                                                             \
	"' ;' starts a comment, which would cut this quoted text short; write ${semicolon} for a ';' after a space"

const char *const common_keys[] = {
	"input", "output", "after",  "foreach", "retries",     "retry_delay",
	"timeout", "always", "pool", "pools", "description", "batch", "when", "output_dir", NULL,
};

const char *const settings_keys[] = {
	"backend", "jobs", "net_jobs", "keep_going", "load", "report", "html", "trace", "junit",
	"archive", "archive_on_failure", "progress", "order", "slurm_partition", "slurm_args",
	"jobserver", "slurm_mode", "slurm_nodes", "slurm_tasks", "slurm_time", "slurm_listen", "slurm_submit_rate",
	"slurm_idle", "stale", NULL,
};

/* A key [settings] takes: one of settings_keys, or one a kind takes
 * there as the default for its sections (job_kind.settings_keys). */
const char *setting_key(const char *key)
{
	for (const char *const *k = settings_keys; *k; k++)
		if (strcmp(*k, key) == 0)
			return *k;
	for (int i = 0; job_kinds[i]; i++)
		for (const char *const *k = job_kinds[i]->settings_keys; k && *k; k++)
			if (strcmp(*k, key) == 0)
				return *k;
	return NULL;
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
void end_section(struct loader *L)
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

/* Ends the section being read; what follows belongs to none until a
 * header is accepted. */
static void leave_section(struct loader *L)
{
	end_section(L);
	L->sec_type = SEC_BAD;
	L->sec = NULL;
	L->pool = NULL;
	L->last = NULL;
	L->kvs = NULL;
}

/* Parses a "[...]" line (p at the '['), starting a new section. */
static void section_header(struct loader *L, const char *p)
{
	struct graph *g = L->g;
	leave_section(L);
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

static bool job_key_known(const struct section *sec, const char *key);
static const char *intern_key(struct loader *L, const char *key);

/* A line reported as an error still names its key: the key stays in its
 * section, marked failed, so that the section's checks say nothing more
 * about it ("missing key 'command'" after "the line is too long" would be
 * a second error for one mistake). A continuation fails its key. */
static void keep_failed_key(struct loader *L)
{
	if (L->cont) {
		if (L->last)
			L->last->failed = true;
		return;
	}
	const char *key = L->raw_key;
	if (!key || !L->kvs)
		return;
	if ((L->sec_type == SEC_SETTINGS && !setting_key(key)) ||
	    (L->sec_type == SEC_JOB && !job_key_known(L->sec, key)) ||
	    (L->sec_type == SEC_POOL && strcmp(key, "depth") != 0))
		return;
	struct kv kv = {.key = intern_key(L, key), .raw = "", .val = "", .line = L->lineno,
			.failed = true};
	VEC_PUSH(L->kvs, kv);
	L->last = &L->kvs->v[L->kvs->n - 1];
}

/* A line rejected before inih sees it (too long, a NUL byte): what it
 * would have been, so that its key is kept, failed, and the keys after a
 * rejected section header do not land in the section above. */
static void rejected_line(struct loader *L)
{
	const char *first = L->buf + strspn(L->buf, " \t\f\v");
	if (first > L->buf && L->have_key) {
		L->cont = true;
	} else if (*first == '[') {
		leave_section(L);
		L->have_key = false;
		return;
	} else {
		size_t klen = strcspn(first, "=:");
		if (!first[klen])
			return;
		while (klen && (first[klen - 1] == ' ' || first[klen - 1] == '\t'))
			klen--;
		L->raw_key = xstrndup(first, klen);
		L->have_key = true;
	}
	keep_failed_key(L);
}

/* inih's fgets: hands inih one line at a time, after looking at it. */
char *load_reader(char *str, int num, void *stream)
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
		rejected_line(L);
		return str;
	}
	if (len > MAX_LINE) {
		lerr(L, L->lineno,
		     "the line is %zu characters long, over the %d that inih reads; continue the value on the next line, indented",
		     len, MAX_LINE);
		L->skip = true;
		rejected_line(L);
		return str;
	}
	if ((int)len >= num) { /* inih's buffer is smaller than we thought */
		lerr(L, L->lineno, "the line is too long for the INI reader");
		L->skip = true;
		rejected_line(L);
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
	const char *pre = sec->kind->key_prefix;
	if (pre && strncmp(key, pre, strlen(pre)) == 0 && key[strlen(pre)])
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

/* The [settings] key nearest to a mistyped one: juggle's own, or one a
 * kind takes there as a default ("ca_fil" -> "ca_file"). */
static const char *setting_suggest(const char *key)
{
	VEC(const char *) cands = {0};
	for (const char *const *k = settings_keys; *k; k++)
		VEC_PUSH(&cands, *k);
	for (int i = 0; job_kinds[i]; i++)
		for (const char *const *k = job_kinds[i]->settings_keys; k && *k; k++)
			VEC_PUSH(&cands, *k);
	const char *near = closest_word(key, cands.v, cands.n);
	free(cands.v);
	return near;
}

/* Known key names point at the tables' strings rather than a copy each. */
static const char *intern_key(struct loader *L, const char *key)
{
	const char *known = setting_key(key);
	if (known)
		return known;
	const char *const *lists[] = {common_keys,
				      L->sec_type == SEC_JOB ? L->sec->kind->keys : NULL};
	for (size_t i = 0; i < ARRAY_SIZE(lists); i++)
		for (const char *const *k = lists[i]; k && *k; k++)
			if (strcmp(*k, key) == 0)
				return *k;
	return arena_strdup(&L->g->arena, key);
}

int load_handler(void *user, const char *section, const char *name, const char *value)
{
	(void)section;
	struct loader *L = user;
	struct graph *g = L->g;
	if (L->skip)
		return 1;
	if (L->error_line == L->lineno) {
		keep_failed_key(L);
		return 1;
	}
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
	struct kv kv = {.key = intern_key(L, key), .raw = arena_strdup(&g->arena, value),
			.line = L->lineno, .cut_line = L->cut ? L->lineno : 0};
	switch (L->sec_type) {
	case SEC_NONE:
		lerr(L, L->lineno,
		     "'%s' comes before any section; put it under [settings], [vars] or a job",
		     key);
		return 1;
	case SEC_BAD:
		return 1;
	case SEC_SETTINGS:
		if (!setting_key(key)) {
			const char *near = setting_suggest(key);
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
		/* Every [pool]'s keys share one list: only this pool's count. */
		if (L->sec_type == SEC_POOL && L->kvs->v[i].line < L->pool->line)
			continue;
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
