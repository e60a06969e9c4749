/* expand.c - see expand.h. */
#define _GNU_SOURCE
#include "engine/expand.h"
#include "engine/outtree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *builtin_names[] = {"date", "datetime", "backend", "jobs", "semicolon"};

/* The value of a [vars] entry or -s override (the last definition wins). */
static const struct kv *find_var(const struct graph *g, const char *name)
{
	for (size_t i = g->vars.n; i-- > 0;)
		if (strcmp(g->vars.v[i].key, name) == 0)
			return &g->vars.v[i];
	return NULL;
}

static int builtin(const struct graph *g, const char *name, struct strbuf *out,
		   struct strbuf *err)
{
	char buf[64];
	time_t t = (time_t)g->loaded_at;
	struct tm tm;
	localtime_r(&t, &tm);
	if (strcmp(name, "date") == 0) {
		strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
	} else if (strcmp(name, "datetime") == 0) {
		strftime(buf, sizeof(buf), "%Y-%m-%dT%H%M%S", &tm);
	} else if (strcmp(name, "backend") == 0) {
		if (!g->settings.backend) {
			sb_adds(err, "${backend} cannot be used to choose the backend");
			return -1;
		}
		snprintf(buf, sizeof(buf), "%s", g->settings.backend);
	} else if (strcmp(name, "jobs") == 0) {
		if (g->settings.jobs <= 0) {
			sb_adds(err, "${jobs} cannot be used to set the number of jobs");
			return -1;
		}
		snprintf(buf, sizeof(buf), "%d", g->settings.jobs);
	} else if (strcmp(name, "semicolon") == 0) {
		snprintf(buf, sizeof(buf), ";");
	} else {
		return 1;
	}
	sb_adds(out, buf);
	return 0;
}

static int too_long(struct strbuf *err)
{
	sb_addf(err, "the value expands to over %d bytes (the limit on one value)",
		EXPAND_MAX_BYTES);
	return -1;
}

static int expand(const struct graph *g, const char *s, struct strbuf *out, struct strbuf *err,
		  int depth)
{
	if (depth > 16) {
		sb_adds(err, "variables refer to each other in a loop");
		return -1;
	}
	for (const char *p = s; *p; p++) {
		/* Variables that use each other twice over double at each
		 * level: 16 levels would be gigabytes. */
		if (out->len > EXPAND_MAX_BYTES)
			return too_long(err);
		if (*p != '$') {
			sb_addc(out, *p);
			continue;
		}
		if (p[1] == '$') {
			sb_addc(out, '$');
			p++;
			continue;
		}
		if (p[1] != '{') {
			sb_addc(out, '$');
			continue;
		}
		const char *close = strchr(p + 2, '}');
		if (!close) {
			sb_addf(err, "'${' without a closing '}' in '%s'", s);
			return -1;
		}
		char *name = xstrndup(p + 2, (size_t)(close - p - 2));
		int rc = 0;
		const struct kv *var = find_var(g, name);
		if (var && var->failed) {
			rc = -1; /* its definition was reported; err stays empty */
		} else if (var) {
			rc = expand(g, var->raw, out, err, depth + 1);
		} else if (strncmp(name, "env:", 4) == 0) {
			const char *v = getenv(name + 4);
			if (!v) {
				sb_addf(err, "environment variable '%s' is not set", name + 4);
				rc = -1;
			} else {
				sb_adds(out, v);
			}
		} else if ((rc = builtin(g, name, out, err)) > 0) {
			const char *cands[256];
			size_t n = 0;
			for (size_t i = 0; i < g->vars.n && n < ARRAY_SIZE(cands) - 8; i++)
				cands[n++] = g->vars.v[i].key;
			for (size_t i = 0; i < ARRAY_SIZE(builtin_names); i++)
				cands[n++] = builtin_names[i];
			const char *near = closest_word(name, cands, n);
			if (*name == '\0')
				sb_adds(err, "empty variable name '${}'");
			else if (near)
				sb_addf(err, "undefined variable '%s' (did you mean '%s'?)", name,
					near);
			else
				sb_addf(err, "undefined variable '%s' (define it in [vars] or with -s %s=VALUE)",
					name, name);
			rc = -1;
		}
		free(name);
		if (rc < 0)
			return -1;
		p = close;
	}
	return 0;
}

int expand_vars(const struct graph *g, const char *s, struct strbuf *out, struct strbuf *err)
{
	if (expand(g, s, out, err, 0) < 0)
		return -1;
	return out->len > EXPAND_MAX_BYTES ? too_long(err) : 0;
}

const char *next_var_ref(const char *s, size_t *len)
{
	for (const char *p = s; *p; p++) {
		if (p[0] != '$')
			continue;
		if (p[1] == '$') {
			p++;
			continue;
		}
		if (p[1] != '{')
			continue;
		const char *close = strchr(p + 2, '}');
		if (!close)
			return NULL;
		if (strncmp(p + 2, "env:", 4) != 0 && close > p + 2) {
			*len = (size_t)(close - p - 2);
			return p + 2;
		}
		p = close;
	}
	return NULL;
}

char **split_words(const char *s, struct strbuf *err)
{
	VEC(char *) words = {0};
	struct strbuf w = {0};
	bool in_word = false;
	const char *p = s;
	const char *open_quote = NULL;
	while (*p) {
		char c = *p;
		if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			if (in_word) {
				VEC_PUSH(&words, sb_detach(&w));
				in_word = false;
			}
			p++;
			continue;
		}
		in_word = true;
		if (c == '\\') {
			sb_addc(&w, p[1] ? p[1] : '\\');
			p += p[1] ? 2 : 1;
		} else if (c == '\'') {
			const char *end = strchr(p + 1, '\'');
			if (!end) {
				open_quote = "single";
				break;
			}
			sb_add(&w, p + 1, (size_t)(end - p - 1));
			p = end + 1;
		} else if (c == '"') {
			for (p++; *p && *p != '"'; p++) {
				if (*p == '\\' && p[1] && strchr("\"\\$`", p[1]))
					p++;
				sb_addc(&w, *p);
			}
			if (!*p) {
				open_quote = "double";
				break;
			}
			p++;
		} else {
			sb_addc(&w, c);
			p++;
		}
	}
	if (open_quote) {
		sb_addf(err, "unterminated %s quote", open_quote);
		sb_release(&w);
		for (size_t i = 0; i < words.n; i++)
			free(words.v[i]);
		free(words.v);
		return NULL;
	}
	if (in_word)
		VEC_PUSH(&words, sb_detach(&w));
	VEC_PUSH(&words, NULL);
	sb_release(&w);
	return words.v;
}

void free_words(char **words)
{
	if (!words)
		return;
	for (char **w = words; *w; w++)
		free(*w);
	free(words);
}

size_t count_words(char *const *words)
{
	size_t n = 0;
	while (words && words[n])
		n++;
	return n;
}

static const struct {
	const char *name;
	unsigned bit;
} placeholders[] = {
	{"item", PH_ITEM},       {"input", PH_INPUT},     {"inputs", PH_INPUTS},
	{"dir", PH_DIR},         {"name", PH_NAME},       {"stem", PH_STEM},
	{"rel", PH_REL},         {"relstem", PH_RELSTEM}, {"output", PH_OUTPUT},
	{"outputs", PH_OUTPUTS}, {"output_dir", PH_OUTPUT_DIR},
};

unsigned placeholder_at(const char *p, size_t *len)
{
	if (*p != '{')
		return 0;
	const char *close = strchr(p, '}');
	if (!close)
		return 0;
	size_t n = (size_t)(close - p - 1);
	for (size_t i = 0; i < ARRAY_SIZE(placeholders); i++) {
		if (strlen(placeholders[i].name) == n &&
		    strncmp(p + 1, placeholders[i].name, n) == 0) {
			*len = n + 2;
			return placeholders[i].bit;
		}
	}
	return 0;
}

unsigned placeholders_used(const char *s)
{
	unsigned used = 0;
	size_t len;
	for (const char *p = s; (p = strchr(p, '{')); p++)
		used |= placeholder_at(p, &len);
	return used;
}

const char *placeholder_name(unsigned bit)
{
	static char buf[ARRAY_SIZE(placeholders)][16];
	for (size_t i = 0; i < ARRAY_SIZE(placeholders); i++) {
		if (placeholders[i].bit == bit) {
			snprintf(buf[i], sizeof(buf[i]), "{%s}", placeholders[i].name);
			return buf[i];
		}
	}
	return "{?}";
}

void shell_quote(const char *s, struct strbuf *out)
{
	sb_addc(out, '\'');
	for (; *s; s++) {
		if (*s == '\'')
			sb_adds(out, "'\\''");
		else
			sb_addc(out, *s);
	}
	sb_addc(out, '\'');
}

/* How one value goes in: quoted for the shell or not, and whether it
 * starts an argument, where a path beginning with '-' would be read as an
 * option and is written ./-... instead. */
struct put_how {
	enum subst_mode mode;
	bool word_start;
};

static void put(struct strbuf *out, const char *s, size_t n, struct put_how how, bool path)
{
	struct strbuf v = {0};
	if (how.word_start && path && n && s[0] == '-')
		sb_adds(&v, "./");
	sb_add(&v, s, n);
	if (how.mode == SUBST_SHELL)
		shell_quote(sb_str(&v), out);
	else
		sb_add(out, v.buf ? v.buf : "", v.len);
	sb_release(&v);
}

/* Whether {inputs} leaves out this input of job: a job with when =
 * all_done or any_failed gets the inputs that are there, not those a
 * dependency that failed did not make. */
static bool input_left_out(const struct job *job, const char *path)
{
	return job->sec->when != WHEN_SUCCESS && access(path, F_OK) != 0;
}

static void put_list(struct strbuf *out, const struct job *job, const char *const *v, uint32_t n,
                     struct put_how how)
{
	bool first = true;
	for (uint32_t i = 0; i < n; i++) {
		if (job && input_left_out(job, v[i]))
			continue;
		if (!first) {
			sb_addc(out, ' ');
			/* In a shell command each path is a word of its own. */
			how.word_start = how.mode == SUBST_SHELL;
		}
		put(out, v[i], strlen(v[i]), how, true);
		first = false;
	}
}

/* The path the path-derived placeholders describe: the glob match, or the
 * first input. */
static const char *main_input(const struct job *job)
{
	if (job->match)
		return job->match;
	return job->n_inputs ? job->inputs[0] : "";
}

/* Where the job writes its output i: the path, or for a folder output its
 * staging folder (engine/outtree.h). The caller frees the string. */
static char *output_written(const struct job *job, uint32_t i)
{
	if (job_output_is_dir(job, i))
		return tree_stage_path(job->outputs[i]);
	return xstrdup(job->outputs[i]);
}

static void subst_one(const struct job *job, unsigned ph, struct put_how how, struct strbuf *out)
{
	const char *in = main_input(job);
	const char *slash = strrchr(in, '/');
	const char *base = slash ? slash + 1 : in;
	const char *rel = job->item ? job->item : "";
	switch (ph) {
	case PH_ITEM:
	case PH_REL:
		/* An item of a range, list or lines is data, not a path:
		 * range:-3..3 gives -3. */
		put(out, rel, strlen(rel), how, ph == PH_REL || job->match);
		break;
	case PH_INPUT:
		put(out, in, strlen(in), how, true);
		break;
	case PH_INPUTS:
		put_list(out, job, job->inputs, job->n_inputs, how);
		break;
	case PH_DIR:
		if (slash)
			put(out, in, (size_t)(slash - in), how, true);
		else
			put(out, ".", 1, how, true);
		break;
	case PH_NAME:
		put(out, base, strlen(base), how, true);
		break;
	case PH_STEM:
	case PH_RELSTEM: {
		const char *s = ph == PH_STEM ? base : rel;
		const char *dot = strrchr(s, '.');
		const char *sl = strrchr(s, '/');
		size_t n = dot && dot > s && (!sl || dot > sl + 1) ? (size_t)(dot - s) : strlen(s);
		put(out, s, n, how, ph == PH_STEM || job->match);
		break;
	}
	case PH_OUTPUT:
	case PH_OUTPUTS:
		for (uint32_t i = 0; i < job->n_outputs && (i == 0 || ph == PH_OUTPUTS); i++) {
			char *path = output_written(job, i);
			if (i) {
				sb_addc(out, ' ');
				how.word_start = how.mode == SUBST_SHELL;
			}
			put(out, path, strlen(path), how, true);
			free(path);
		}
		break;
	case PH_OUTPUT_DIR:
		for (uint32_t i = 0; i < job->n_outputs; i++) {
			if (job_output_is_dir(job, i)) {
				char *path = output_written(job, i);
				put(out, path, strlen(path), how, true);
				free(path);
				break;
			}
		}
		break;
	}
}

/* argv_word: s is one argument of a program, so a placeholder at its very
 * start begins the argument; in a shell command, one after a blank or an
 * operator does. */
static void subst(const struct job *job, const char *s, enum subst_mode mode, bool argv_word,
		  struct strbuf *out)
{
	for (const char *p = s; *p; p++) {
		size_t len;
		unsigned ph = placeholder_at(p, &len);
		if (!ph) {
			sb_addc(out, *p);
			continue;
		}
		struct put_how how = {mode, false};
		if (argv_word)
			how.word_start = p == s;
		else if (mode == SUBST_SHELL)
			how.word_start = p == s || strchr(" \t\n;&|()<>", p[-1]);
		subst_one(job, ph, how, out);
		p += len - 1;
	}
}

void subst_placeholders(const struct job *job, const char *s, enum subst_mode mode,
			struct strbuf *out)
{
	subst(job, s, mode, false, out);
}

char **job_argv(const struct job *job, char *const *tmpl)
{
	VEC(char *) argv = {0};
	struct strbuf sb = {0};
	for (size_t i = 0; tmpl[i]; i++) {
		if (strcmp(tmpl[i], "{inputs}") == 0 || strcmp(tmpl[i], "{outputs}") == 0) {
			bool ins = tmpl[i][2] == 'n';
			uint32_t n = ins ? job->n_inputs : job->n_outputs;
			for (uint32_t k = 0; k < n; k++) {
				char *path = ins ? xstrdup(job->inputs[k]) : output_written(job, k);
				if (ins && input_left_out(job, path)) {
					free(path);
					continue;
				}
				VEC_PUSH(&argv, path[0] == '-' ? xasprintf("./%s", path)
							       : xstrdup(path));
				free(path);
			}
			continue;
		}
		subst(job, tmpl[i], SUBST_TEXT, true, &sb);
		VEC_PUSH(&argv, sb_detach(&sb));
	}
	VEC_PUSH(&argv, NULL);
	return argv.v;
}
