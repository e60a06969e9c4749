/* expand.c - see expand.h. */
#define _GNU_SOURCE
#include "expand.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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
		if (var) {
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
	{"outputs", PH_OUTPUTS},
};

/* The placeholder starting at p ("{item}..."), with its length, or 0. */
static unsigned placeholder_at(const char *p, size_t *len)
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

static void put_list(struct strbuf *out, const char *const *v, uint32_t n, struct put_how how)
{
	for (uint32_t i = 0; i < n; i++) {
		if (i) {
			sb_addc(out, ' ');
			/* In a shell command each path is a word of its own. */
			how.word_start = how.mode == SUBST_SHELL;
		}
		put(out, v[i], strlen(v[i]), how, true);
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
		put_list(out, job->inputs, job->n_inputs, how);
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
		if (job->n_outputs)
			put(out, job->outputs[0], strlen(job->outputs[0]), how, true);
		break;
	case PH_OUTPUTS:
		put_list(out, job->outputs, job->n_outputs, how);
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
				const char *path = ins ? job->inputs[k] : job->outputs[k];
				VEC_PUSH(&argv, path[0] == '-' ? xasprintf("./%s", path)
							       : xstrdup(path));
			}
			continue;
		}
		subst(job, tmpl[i], SUBST_TEXT, true, &sb);
		VEC_PUSH(&argv, sb_detach(&sb));
	}
	VEC_PUSH(&argv, NULL);
	return argv.v;
}

/* ---- where placeholders may stand in a command ----
 *
 * A placeholder is replaced by a value nobody checked (a file name, a line
 * of a list), so it must land where no shell reads it as code. Unquoted in
 * a shell = yes command it becomes one '...' word, which is safe; inside
 * "..." or '...' the value's own quotes would end the quoting; inside
 * `...`, ${...}, $((...)) or a here-document the shell parses it again; and
 * as part of the script of `sh -c` (or eval) it is code by definition. The
 * checks below find those places at load time. The lexer follows the
 * POSIX shell's quoting closely enough for commands written by hand; what
 * it cannot follow it treats as quoted, so it errs towards refusing. */

static const char *const shell_names[] = {"sh", "bash", "dash", "zsh", "ksh", "mksh",
					  "ash", "yash", "busybox", NULL};

static bool is_shell(const char *word)
{
	const char *slash = strrchr(word, '/');
	const char *base = slash ? slash + 1 : word;
	for (size_t i = 0; shell_names[i]; i++)
		if (strcmp(base, shell_names[i]) == 0)
			return true;
	return false;
}

/* In the words of one simple command, the index of the word a shell runs
 * as code (the script after sh -c, or the first argument of eval), or -1;
 * *shell_at gets the shell's or eval's own index. */
static long script_word_at(char *const *words, size_t n, size_t *shell_at)
{
	for (size_t i = 0; i < n; i++) {
		if (strcmp(words[i], "eval") == 0 && i + 1 < n) {
			*shell_at = i;
			return (long)i + 1;
		}
		if (!is_shell(words[i]))
			continue;
		bool has_c = false;
		size_t j = i + 1;
		for (; j < n && (words[j][0] == '-' || words[j][0] == '+') && words[j][1]; j++) {
			if (strcmp(words[j], "--") == 0) {
				j++;
				break;
			}
			if (words[j][1] == '-')
				continue; /* a long option such as --norc */
			if (strchr(words[j], 'c') && words[j][0] == '-')
				has_c = true;
			if (strpbrk(words[j] + 1, "oO") && j + 1 < n)
				j++; /* -o pipefail: the option's argument */
		}
		if (has_c && j < n) {
			*shell_at = i;
			return (long)j;
		}
	}
	return -1;
}

/* The word with a placeholder that a shell runs as code (the script of
 * sh -c, or any argument of eval), or -1. */
static long script_word(char *const *words, size_t n, size_t *shell_at)
{
	long found = script_word_at(words, n, shell_at);
	if (found < 0)
		return -1;
	if (strcmp(words[*shell_at], "eval") != 0)
		return placeholders_used(words[found]) ? found : -1;
	for (size_t i = (size_t)found; i < n; i++)
		if (placeholders_used(words[i]))
			return (long)i;
	return -1;
}

/* The error for placeholders in the script word: the same command with
 * each placeholder passed as an argument and read as "$N". */
static void script_error(char *const *words, size_t n, size_t shell_at, size_t script,
			 struct strbuf *err)
{
	const char *first = NULL;
	size_t len = 0;
	for (const char *p = words[script]; (p = strchr(p, '{')); p++)
		if (placeholder_at(p, &len)) {
			first = p;
			break;
		}
	if (strcmp(words[shell_at], "eval") == 0) {
		sb_addf(err, "%.*s is an argument of eval, where a file name would run as shell "
			     "code; write the command without eval",
			(int)len, first ? first : "{}");
		return;
	}
	sb_addf(err, "%.*s is inside the script of '%s -c', where a file name would run as "
		     "shell code; pass it as an argument and read it as \"$1\": ",
		(int)len, first ? first : "{}", words[shell_at]);
	/* Arguments already after the script are $0, $1, ...; new ones follow. */
	size_t have = n - script - 1;
	size_t next = have ? have : 1;
	VEC(char *) args = {0};
	struct strbuf text = {0};
	int arith = 0; /* inside $((...)), where dash wants $1 unquoted */
	for (const char *p = words[script]; *p; p++) {
		unsigned ph = placeholder_at(p, &len);
		if (!ph) {
			arith += strncmp(p, "$((", 3) == 0;
			arith -= arith > 0 && strncmp(p, "))", 2) == 0;
			sb_addc(&text, *p);
			continue;
		}
		size_t k = 0;
		while (k < args.n && strncmp(args.v[k], p, len) != 0)
			k++;
		if (k == args.n)
			VEC_PUSH(&args, xstrndup(p, len));
		sb_addf(&text, arith ? "$%zu" : "\"$%zu\"", next + k);
		p += len - 1;
	}
	for (size_t i = shell_at; i < script; i++)
		sb_addf(err, "%s ", words[i]);
	shell_quote(sb_str(&text), err);
	if (!have)
		sb_adds(err, " sh");
	for (size_t i = script + 1; i < n; i++)
		sb_addf(err, " %s", words[i]);
	for (size_t k = 0; k < args.n; k++) {
		sb_addf(err, " %s", args.v[k]);
		free(args.v[k]);
	}
	free(args.v);
	sb_release(&text);
}

/* Where a placeholder stands in a shell = yes command. */
enum ctx { CTX_PLAIN, CTX_SQ, CTX_DQ, CTX_BQ, CTX_BRACE, CTX_ARITH, CTX_HEREDOC, CTX_AFTER };

struct ph_at {
	size_t pos, len;
	enum ctx ctx;
	size_t open, close; /* for CTX_SQ and CTX_DQ: where the quotes are */
};

struct lexer {
	const char *s;
	size_t i;
	VEC(struct ph_at) phs;
	VEC(char *) heredocs; /* delimiters waiting for the next newline */
	struct strbuf *err;
	bool failed;
};

struct lexword {
	struct strbuf text; /* the word with its quotes removed */
	bool started;
};

struct lexwords {
	struct lexword *v;
	size_t n, cap;
};

static void note_ph(struct lexer *L, size_t len, enum ctx ctx, size_t open)
{
	struct ph_at a = {L->i, len, ctx, open, 0};
	VEC_PUSH(&L->phs, a);
}

/* Scans to the end of a construct the shell parses again (`...`, ${...},
 * $((...))), noting its placeholders; L->i is past the opening. */
static void scan_nested(struct lexer *L, enum ctx ctx)
{
	int depth = 0;
	size_t len;
	while (L->s[L->i]) {
		char c = L->s[L->i];
		if (c == '\\' && L->s[L->i + 1] && !placeholder_at(L->s + L->i + 1, &len)) {
			L->i += 2;
			continue;
		}
		if (c == '\\')
			L->i++; /* the placeholder after it is noted as inside */
		if (placeholder_at(L->s + L->i, &len)) {
			note_ph(L, len, ctx, 0);
			L->i += len;
			continue;
		}
		L->i++;
		if (ctx == CTX_BQ && c == '`')
			return;
		if (ctx == CTX_BRACE && c == '{')
			depth++;
		if (ctx == CTX_BRACE && c == '}' && depth-- == 0)
			return;
		if (ctx == CTX_ARITH && c == '(')
			depth++;
		if (ctx == CTX_ARITH && c == ')' && depth-- == 0) {
			if (L->s[L->i] == ')')
				L->i++;
			return;
		}
	}
}

static void lex_list(struct lexer *L, bool in_paren);

/* After a '$' at L->i: $(...), $((...)), ${...}, or a plain '$'. */
static void lex_dollar(struct lexer *L, struct strbuf *word)
{
	const char *p = L->s + L->i;
	size_t len;
	if (placeholder_at(p + 1, &len)) {
		/* ${name} is juggle's, so this is $ then a value: bash reads
		 * $'...' as a string with escapes. */
		L->i++;
		note_ph(L, len, CTX_AFTER, 0);
		L->i += len;
		sb_addc(word, '$');
		return;
	}
	if (p[1] == '(' && p[2] == '(') {
		L->i += 3;
		scan_nested(L, CTX_ARITH);
		sb_adds(word, "$((...))");
	} else if (p[1] == '(') {
		L->i += 2;
		lex_list(L, true);
		sb_adds(word, "$(...)");
	} else if (p[1] == '{') {
		L->i += 2;
		scan_nested(L, CTX_BRACE);
		sb_adds(word, "${...}");
	} else {
		sb_addc(word, '$');
		L->i++;
	}
}

/* The words of one simple command end: look for a script word. */
static void end_command(struct lexer *L, struct lexwords *words)
{
	if (!L->failed && words->n) {
		char **w = xcalloc(words->n + 1, sizeof(*w));
		for (size_t i = 0; i < words->n; i++)
			w[i] = (char *)sb_str(&words->v[i].text);
		size_t shell_at;
		long script = script_word(w, words->n, &shell_at);
		if (script >= 0) {
			script_error(w, words->n, shell_at, (size_t)script, L->err);
			L->failed = true;
		}
		free(w);
	}
	for (size_t i = 0; i < words->n; i++)
		sb_release(&words->v[i].text);
	words->n = 0;
}

static void skip_heredocs(struct lexer *L)
{
	size_t len;
	for (size_t h = 0; h < L->heredocs.n; h++) {
		const char *delim = L->heredocs.v[h];
		size_t dl = strlen(delim);
		while (L->s[L->i]) {
			const char *line = L->s + L->i;
			size_t n = strcspn(line, "\n");
			const char *t = line;
			while (*t == '\t')
				t++;
			bool end = (size_t)(line + n - t) == dl && strncmp(t, delim, dl) == 0;
			for (const char *p = line; p < line + n && !end; p++)
				if (placeholder_at(p, &len)) {
					L->i = (size_t)(p - L->s);
					note_ph(L, len, CTX_HEREDOC, 0);
					p += len - 1;
				}
			L->i = (size_t)(line + n - L->s) + (line[n] == '\n');
			if (end)
				break;
		}
		free(L->heredocs.v[h]);
	}
	L->heredocs.n = 0;
}

/* A list of commands, up to the end of the text or, in $(...), its ')'. */
static void lex_list(struct lexer *L, bool in_paren)
{
	struct lexwords words = {0};
	struct lexword cur = {0};
	int depth = 0;
	size_t len;
#define END_WORD()                                                                                 \
	do {                                                                                       \
		if (cur.started) {                                                                 \
			VEC_PUSH(&words, cur);                                                     \
			memset(&cur, 0, sizeof(cur));                                              \
		}                                                                                  \
	} while (0)
	while (L->s[L->i]) {
		const char *p = L->s + L->i;
		char c = *p;
		if (in_paren && c == ')' && depth == 0) {
			L->i++;
			break;
		}
		if (c == ' ' || c == '\t') {
			END_WORD();
			L->i++;
		} else if (c == '\n' || c == ';' || c == '&' || c == '|' || c == '(' || c == ')') {
			END_WORD();
			end_command(L, &words);
			if (in_paren && c == '(')
				depth++;
			if (in_paren && c == ')')
				depth--;
			L->i++;
			if (c == '\n')
				skip_heredocs(L);
		} else if (c == '<' || c == '>') {
			END_WORD();
			if (c == '<' && p[1] == '<') {
				L->i += 2 + (p[2] == '-');
				while (L->s[L->i] == ' ' || L->s[L->i] == '\t')
					L->i++;
				struct strbuf d = {0};
				while (L->s[L->i] && !strchr(" \t\n;&|()<>", L->s[L->i])) {
					if (!strchr("'\"\\", L->s[L->i]))
						sb_addc(&d, L->s[L->i]);
					L->i++;
				}
				VEC_PUSH(&L->heredocs, sb_detach(&d));
			} else {
				L->i++;
			}
		} else if (c == '#' && !cur.started) {
			while (L->s[L->i] && L->s[L->i] != '\n')
				L->i++;
		} else if (c == '\\' && placeholder_at(p + 1, &len)) {
			/* The backslash would take the value's opening quote. */
			cur.started = true;
			L->i++;
			note_ph(L, len, CTX_AFTER, 0);
			L->i += len;
		} else if (c == '\\') {
			cur.started = true;
			if (p[1])
				sb_addc(&cur.text, p[1]);
			L->i += p[1] ? 2 : 1;
		} else if (c == '\'') {
			cur.started = true;
			size_t open = L->i++;
			size_t first = L->phs.n;
			while (L->s[L->i] && L->s[L->i] != '\'') {
				if (placeholder_at(L->s + L->i, &len)) {
					note_ph(L, len, CTX_SQ, open);
					sb_add(&cur.text, L->s + L->i, len);
					L->i += len;
				} else {
					sb_addc(&cur.text, L->s[L->i++]);
				}
			}
			for (size_t k = first; k < L->phs.n; k++)
				L->phs.v[k].close = L->i;
			if (L->s[L->i])
				L->i++;
		} else if (c == '"') {
			cur.started = true;
			size_t open = L->i++;
			size_t first = L->phs.n;
			while (L->s[L->i] && L->s[L->i] != '"') {
				const char *q = L->s + L->i;
				if (*q == '\\' && placeholder_at(q + 1, &len)) {
					L->i++;
					note_ph(L, len, CTX_DQ, open);
					L->i += len;
				} else if (*q == '\\' && q[1]) {
					sb_addc(&cur.text, q[1]);
					L->i += 2;
				} else if (*q == '$') {
					lex_dollar(L, &cur.text);
				} else if (*q == '`') {
					L->i++;
					scan_nested(L, CTX_BQ);
				} else if (placeholder_at(q, &len)) {
					note_ph(L, len, CTX_DQ, open);
					sb_add(&cur.text, q, len);
					L->i += len;
				} else {
					sb_addc(&cur.text, *q);
					L->i++;
				}
			}
			for (size_t k = first; k < L->phs.n; k++)
				if (L->phs.v[k].ctx == CTX_DQ && L->phs.v[k].open == open)
					L->phs.v[k].close = L->i;
			if (L->s[L->i])
				L->i++;
		} else if (c == '`') {
			cur.started = true;
			L->i++;
			scan_nested(L, CTX_BQ);
		} else if (c == '$') {
			cur.started = true;
			lex_dollar(L, &cur.text);
		} else if (placeholder_at(p, &len)) {
			cur.started = true;
			note_ph(L, len, CTX_PLAIN, 0);
			sb_add(&cur.text, p, len);
			L->i += len;
		} else {
			cur.started = true;
			sb_addc(&cur.text, c);
			L->i++;
		}
	}
	END_WORD();
	end_command(L, &words);
	free(words.v);
#undef END_WORD
}

/* The command with each placeholder inside "..." or '...' moved out of
 * the quotes: the safe form to show. */
static void unquoted_form(const char *s, const struct ph_at *phs, size_t n, struct strbuf *out)
{
	size_t k = 0;
	for (size_t i = 0; s[i];) {
		while (k < n && phs[k].ctx != CTX_SQ && phs[k].ctx != CTX_DQ)
			k++;
		if (k < n && i == phs[k].open && phs[k].pos == phs[k].open + 1) {
			i++; /* the quote opens right before the placeholder: drop it */
			continue;
		}
		if (k < n && i == phs[k].pos) {
			const struct ph_at *a = &phs[k++];
			char q = s[a->open];
			if (a->pos != a->open + 1)
				sb_addc(out, q);
			sb_add(out, s + a->pos, a->len);
			i = a->pos + a->len;
			if (i == a->close && s[i] == q) {
				i++; /* closes right after: drop it */
			} else {
				sb_addc(out, q);
			}
			continue;
		}
		sb_addc(out, s[i++]);
	}
}

int check_command_placeholders(const char *text, bool shell, struct strbuf *err)
{
	if (!placeholders_used(text))
		return 0;
	if (!shell) {
		struct strbuf bad = {0};
		char **words = split_words(text, &bad);
		sb_release(&bad);
		if (!words)
			return 0; /* the caller reports the bad quote */
		size_t n = count_words(words), shell_at;
		long script = script_word(words, n, &shell_at);
		int rc = 0;
		if (script >= 0) {
			script_error(words, n, shell_at, (size_t)script, err);
			rc = -1;
		}
		free_words(words);
		return rc;
	}
	struct lexer L = {.s = text, .err = err};
	lex_list(&L, false);
	skip_heredocs(&L);
	for (size_t k = 0; k < L.phs.n && !L.failed; k++) {
		const struct ph_at *a = &L.phs.v[k];
		const char *ph = text + a->pos;
		int len = (int)a->len;
		switch (a->ctx) {
		case CTX_PLAIN:
			continue;
		case CTX_SQ:
		case CTX_DQ:
			sb_addf(err, "%.*s is inside %s quotes, where a file name could end the quoting "
				     "and run as shell code; write it outside the quotes (juggle quotes "
				     "each value as one word): ",
				len, ph, a->ctx == CTX_SQ ? "'...'" : "\"...\"");
			unquoted_form(text, L.phs.v, L.phs.n, err);
			break;
		case CTX_BQ:
			sb_addf(err, "%.*s is inside `...`, which the shell parses again; use $(...) "
				     "instead of backquotes, with %.*s outside quotes",
				len, ph, len, ph);
			break;
		case CTX_BRACE:
			sb_addf(err, "%.*s is inside ${...}, which the shell parses again; assign it "
				     "to a variable first (v=%.*s) and use ${v...}",
				len, ph, len, ph);
			break;
		case CTX_ARITH:
			sb_addf(err, "%.*s is inside $((...)), where the shell evaluates it as code; "
				     "leave the arithmetic to a program that takes numbers as "
				     "arguments: $(expr %.*s + 1)",
				len, ph, len, ph);
			break;
		case CTX_AFTER:
			sb_addf(err, "%.*s directly after '%c' would change how the shell reads the "
				     "quoted value; separate them",
				len, ph, text[a->pos - 1]);
			break;
		case CTX_HEREDOC:
			sb_addf(err, "%.*s is inside a here-document, where the shell expands $(...); "
				     "use printf '%%s\\n' %.*s instead",
				len, ph, len, ph);
			break;
		}
		L.failed = true;
	}
	for (size_t h = 0; h < L.heredocs.n; h++)
		free(L.heredocs.v[h]);
	free(L.heredocs.v);
	free(L.phs.v);
	return L.failed ? -1 : 0;
}
