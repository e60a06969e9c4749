/* shellcheck.c - where placeholders may stand in a command (see
 * check_command_placeholders() in shellcheck.h).
 *
 * A placeholder is replaced by a value nobody checked (a file name, a line
 * of a list), so it must land where no shell reads it as code. Unquoted in
 * a shell = yes command it becomes one '...' word, which is safe; inside
 * "..." or '...' the value's own quotes would end the quoting; inside
 * `...`, ${...}, $((...)) or a here-document the shell parses it again;
 * right after a backslash or '$' the value's opening quote changes meaning;
 * and as part of the script of `sh -c` (or eval) it is code by definition.
 * The lexer follows the POSIX shell's quoting closely enough for commands
 * written by hand; what it cannot follow it treats as quoted, so it errs
 * towards refusing.
 */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>

#include "engine/expand.h"
#include "engine/shellcheck.h"

static const char *const shell_names[] = {"sh",   "bash", "dash", "zsh",     "ksh",
                                          "mksh", "ash",  "yash", "busybox", NULL};

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
		sb_addf(err,
		        "%.*s is an argument of eval, where a file name would run as shell "
		        "code; write the command without eval",
		        (int)len, first ? first : "{}");
		return;
	}
	sb_addf(err,
	        "%.*s is inside the script of '%s -c', where a file name would run as "
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

/* Programs that take words of their own command line and hand them to a
 * shell (a remote one for ssh): a placeholder in those words is code, as
 * in the script of sh -c. Each is recognised where it is the program a
 * command runs: its first word, past VAR=value words and past wrappers
 * that run their arguments as a command with no shell (env, nice, sudo
 * ...). Anywhere else the name is an argument ("grep ssh {input}"). */
enum relay_code {
	CODE_OPT_C,      /* the argument of -c or --command */
	CODE_AFTER_HOST, /* every word after the first non-option (ssh) */
	CODE_AFTER_ARG,  /* every word after the first non-option, -c or not (sg) */
	CODE_REST,       /* every word after the options, unless -x (watch) */
	CODE_BEFORE_SEP, /* every word before ::: or :::: (parallel) */
};

struct relay {
	const char *name;
	enum relay_code code;
	const char *opt_args; /* its short options that take an argument */
	const char *advice;
	bool command_after_file; /* flock FILE PROGRAM ARGS: a command, no shell */
};

static const struct relay relays[] = {
    {"ssh", CODE_AFTER_HOST, "BbcDEeFIiJLlmOoPpQRSWw",
     "send the file on standard input instead (ssh HOST 'PROGRAM' < FILE), or copy it "
     "with scp or rsync",
     false},
    {"su", CODE_OPT_C, "gGsw", "use sudo -u USER PROGRAM ARGS, which runs no shell", false},
    {"runuser", CODE_OPT_C, "gGsuw", "write runuser -u USER -- PROGRAM ARGS, which runs no shell",
     false},
    {"flock", CODE_OPT_C, "wEn", "write flock FILE PROGRAM ARGS (without -c), which runs no shell",
     true},
    {"script", CODE_OPT_C, "EIOBTm", "run the program without script", false},
    {"sg", CODE_AFTER_ARG, "", "use sudo -g GROUP PROGRAM ARGS, which runs no shell", false},
    {"watch", CODE_REST, "ndq", "write watch -x PROGRAM ARGS, which runs no shell", false},
    {"parallel", CODE_BEFORE_SEP, "aEIjJSdnNlLsP",
     "give the value as an input after ::: (parallel PROGRAM ::: FILE), which parallel quotes",
     false},
};

/* Wrappers that run the rest of their words as a command with no shell,
 * with their short options that take an argument; timeout also takes a
 * duration before the command. */
static const struct {
	const char *name, *opt_args;
} wrappers[] = {
    {"env", "uCS"},    {"nice", "n"},           {"nohup", ""},     {"exec", "a"},
    {"command", ""},   {"time", "fo"},          {"setsid", ""},    {"stdbuf", "ioe"},
    {"timeout", "ks"}, {"sudo", "ugCDhpRrtTU"}, {"ionice", "cnp"}, {"xargs", "adEILnPs"},
};

static const char *base_name(const char *w)
{
	const char *slash = strrchr(w, '/');
	return slash ? slash + 1 : w;
}

static bool is_assignment(const char *w)
{
	size_t k = strspn(w, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
	return k > 0 && w[k] == '=' && !(w[0] >= '0' && w[0] <= '9');
}

/* Past the options of a program at words[i], given which of its short
 * options take an argument: the index of its first operand. A long option
 * (--name=value) takes its value in the same word. */
static size_t past_options(char *const *w, size_t n, size_t i, const char *opt_args)
{
	for (i++; i < n && w[i][0] == '-' && w[i][1]; i++) {
		if (strcmp(w[i], "--") == 0)
			return i + 1;
		if (w[i][1] == '-')
			continue;
		/* -n 5 or -n5: the argument follows the last letter that takes one */
		for (const char *o = w[i] + 1; *o; o++)
			if (strchr(opt_args, *o)) {
				if (!o[1])
					i++;
				break;
			}
	}
	return i;
}

/* The index of the program a simple command runs: its first word past
 * VAR=value words and the wrappers above; n if none. */
static size_t program_at(char *const *w, size_t n)
{
	size_t i = 0;
	for (;;) {
		while (i < n && is_assignment(w[i]))
			i++;
		if (i >= n)
			return n;
		const char *b = base_name(w[i]);
		size_t k = 0;
		while (k < ARRAY_SIZE(wrappers) && strcmp(b, wrappers[k].name) != 0)
			k++;
		if (k == ARRAY_SIZE(wrappers))
			return i;
		i = past_options(w, n, i, wrappers[k].opt_args);
		if (strcmp(b, "timeout") == 0 && i < n)
			i++; /* the duration */
	}
}

/* The first word with a placeholder that the relay at w[p] hands to a
 * shell, or -1. */
static long relay_code_word(const struct relay *r, char *const *w, size_t n, size_t p)
{
	size_t from = n, to = n;
	if (r->code == CODE_OPT_C) {
		/* flock FILE -c CMD, but flock FILE PROGRAM ARGS runs no shell:
		 * its second operand starts a command, whose own -c is not flock's. */
		size_t operands = 0;
		for (size_t i = p + 1; i < n; i++) {
			if (strcmp(w[i], "--") == 0)
				break;
			if (strncmp(w[i], "--command=", 10) == 0 ||
			    (w[i][0] == '-' && w[i][1] == 'c' && w[i][2])) {
				if (placeholders_used(w[i]))
					return (long)i;
			} else if (strcmp(w[i], "-c") == 0 || strcmp(w[i], "--command") == 0) {
				if (i + 1 < n && placeholders_used(w[i + 1]))
					return (long)i + 1;
				i++;
			} else if (w[i][0] == '-' && w[i][1] && w[i][1] != '-') {
				if (strchr(r->opt_args, w[i][strlen(w[i]) - 1]))
					i++; /* -w 10: the option's argument */
			} else if (w[i][0] != '-' && ++operands > 1 && r->command_after_file) {
				break;
			}
		}
		return -1;
	}
	size_t ops = past_options(w, n, p, r->opt_args);
	if (r->code == CODE_AFTER_HOST || r->code == CODE_AFTER_ARG) {
		from = ops + 1;
	} else if (r->code == CODE_REST) {
		for (size_t i = p + 1; i < ops; i++)
			if (strcmp(w[i], "-x") == 0 || strcmp(w[i], "--exec") == 0 ||
			    (w[i][0] == '-' && w[i][1] != '-' && strchr(w[i], 'x')))
				return -1;
		from = ops;
	} else { /* CODE_BEFORE_SEP */
		from = ops;
		for (to = from; to < n && strncmp(w[to], ":::", 3) != 0; to++)
			;
	}
	for (size_t i = from; i < to; i++)
		if (placeholders_used(w[i]))
			return (long)i;
	return -1;
}

/* A placeholder that a relay program would hand to a shell: adds the
 * error to err and returns true. */
static bool relay_error(char *const *w, size_t n, struct strbuf *err)
{
	size_t p = program_at(w, n);
	if (p >= n)
		return false;
	const char *b = base_name(w[p]);
	for (size_t k = 0; k < ARRAY_SIZE(relays); k++) {
		if (strcmp(b, relays[k].name) != 0)
			continue;
		long at = relay_code_word(&relays[k], w, n, p);
		if (at < 0)
			return false;
		size_t len = 0;
		const char *ph = w[at];
		while (*ph && !placeholder_at(ph, &len))
			ph++;
		sb_addf(err,
		        "%.*s is in a command that '%s' hands to a shell, where a file name "
		        "would run as shell code; %s",
		        (int)len, ph, relays[k].name, relays[k].advice);
		return true;
	}
	return false;
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
		if (c == '\\') {
			if (!L->s[L->i + 1]) {
				L->i++;
				return;
			}
			if (!placeholder_at(L->s + L->i + 1, &len)) {
				L->i += 2; /* an escaped character */
				continue;
			}
			L->i++; /* the placeholder after it is noted as inside */
		}
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
		} else if (relay_error(w, words->n, L->err)) {
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
	bool target = false; /* the next word is a redirection's file, not an argument */
#define END_WORD()                                                                                 \
	do {                                                                                       \
		if (cur.started && target) {                                                       \
			sb_release(&cur.text);                                                     \
			target = false;                                                            \
		} else if (cur.started) {                                                          \
			VEC_PUSH(&words, cur);                                                     \
		}                                                                                  \
		memset(&cur, 0, sizeof(cur));                                                      \
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
			target = false;
			if (in_paren && c == '(')
				depth++;
			if (in_paren && c == ')')
				depth--;
			L->i++;
			if (c == '\n')
				skip_heredocs(L);
		} else if (c == '<' || c == '>') {
			/* 2>file: the digits name a descriptor, not a word */
			if (cur.started && cur.text.len &&
			    strspn(sb_str(&cur.text), "0123456789") == cur.text.len) {
				sb_release(&cur.text);
				memset(&cur, 0, sizeof(cur));
			}
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
				if (L->s[L->i] == '>' || L->s[L->i] == '&' || L->s[L->i] == '|')
					L->i++; /* >>, >&, <&, >| */
				target = true;
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
		} else if (relay_error(words, n, err)) {
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
			sb_addf(err,
			        "%.*s is inside %s quotes, where a file name could end the quoting "
			        "and run as shell code; write it outside the quotes (juggle quotes "
			        "each value as one word): ",
			        len, ph, a->ctx == CTX_SQ ? "'...'" : "\"...\"");
			unquoted_form(text, L.phs.v, L.phs.n, err);
			break;
		case CTX_BQ:
			sb_addf(err,
			        "%.*s is inside `...`, which the shell parses again; use $(...) "
			        "instead of backquotes, with %.*s outside quotes",
			        len, ph, len, ph);
			break;
		case CTX_BRACE:
			sb_addf(err,
			        "%.*s is inside ${...}, which the shell parses again; assign it "
			        "to a variable first (v=%.*s) and use ${v...}",
			        len, ph, len, ph);
			break;
		case CTX_ARITH:
			sb_addf(err,
			        "%.*s is inside $((...)), where the shell evaluates it as code; "
			        "leave the arithmetic to a program that takes numbers as "
			        "arguments: $(expr %.*s + 1)",
			        len, ph, len, ph);
			break;
		case CTX_AFTER:
			sb_addf(err,
			        "%.*s directly after '%c' would change how the shell reads the "
			        "quoted value; separate them",
			        len, ph, text[a->pos - 1]);
			break;
		case CTX_HEREDOC:
			sb_addf(err,
			        "%.*s is inside a here-document, where the shell expands $(...); "
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
