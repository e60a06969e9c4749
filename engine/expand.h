/* expand.h - ${variables}, {placeholders} and shell-like word splitting.
 *
 * Order of expansion, which is what keeps file names inert:
 *   1. ${name} is replaced in the text of a value (like make's $(name)), so
 *      a variable may hold several arguments;
 *   2. a command, input or output is split into words like a shell does,
 *      without running one;
 *   3. {placeholders} are replaced inside each word, so an item with spaces,
 *      quotes, ';' or $(...) stays one argument and is never interpreted.
 */
#ifndef JUGGLE_EXPAND_H
#define JUGGLE_EXPAND_H

#include "engine/graph.h"

/* The most bytes one value may expand to. */
#define EXPAND_MAX_BYTES (1 << 20)

/* Expands ${...} and $$ in s into out (at most EXPAND_MAX_BYTES). Returns 0, or -1 with the problem in
 * err ("undefined variable 'mirro' (did you mean 'mirror'?)"); err stays
 * empty when s uses a variable whose definition failed (struct kv.failed),
 * which was reported already: the caller adds nothing. */
int expand_vars(const struct graph *g, const char *s, struct strbuf *out, struct strbuf *err);

/* The next ${name} in s that names a variable (not $${...}, not
 * ${env:...}): the name, *len bytes long and not NUL-terminated, or NULL
 * when there is none. Go on from the name plus *len. */
const char *next_var_ref(const char *s, size_t *len);

/* Splits s into words: whitespace separates, '...' keeps everything,
 * "..." keeps everything but \" \\ \$ \`, a backslash outside quotes keeps
 * the next character. Returns a NULL-terminated array (free_words()), or
 * NULL with err on an unterminated quote. */
char **split_words(const char *s, struct strbuf *err);
void free_words(char **words);
size_t count_words(char *const *words);

/* The placeholder names, for validation and the manual. */
enum placeholder {
	PH_ITEM = 1 << 0,
	PH_INPUT = 1 << 1,
	PH_INPUTS = 1 << 2,
	PH_DIR = 1 << 3,
	PH_NAME = 1 << 4,
	PH_STEM = 1 << 5,
	PH_REL = 1 << 6,
	PH_RELSTEM = 1 << 7,
	PH_OUTPUT = 1 << 8,
	PH_OUTPUTS = 1 << 9,
	PH_OUTPUT_DIR = 1 << 10, /* the staging folder of the first folder output */
};
/* The placeholder starting at p ("{item}..."): its bit, with its length
 * in *len, or 0. */
unsigned placeholder_at(const char *p, size_t *len);
/* Which known placeholders appear in s. */
unsigned placeholders_used(const char *s);
/* The name of one placeholder bit ("{item}"). */
const char *placeholder_name(unsigned bit);

/* How placeholder values are inserted. */
enum subst_mode {
	SUBST_TEXT,  /* as they are */
	SUBST_SHELL, /* each quoted as one /bin/sh word; a path starting a word
		      * with '-' is written ./-... so it is not an option */
};

/* Substitutes the placeholders of job in s into out. Unknown {...} text is
 * left alone. {inputs} and {outputs} give the paths joined by spaces. */
void subst_placeholders(const struct job *job, const char *s, enum subst_mode mode,
			struct strbuf *out);

/* The argv of job from a split template: placeholders substituted in each
 * word; a word that is exactly {inputs} or {outputs} becomes one argument
 * per path. A path placeholder (all but the {item} of a range, list or
 * lines) whose value starts an argument with '-' is written ./-..., so a
 * file name is never read as an option. NULL-terminated; free with
 * free_words(). */
char **job_argv(const struct job *job, char *const *tmpl);

/* Appends s quoted as a single /bin/sh word ('...' with '\'' for quotes). */
void shell_quote(const char *s, struct strbuf *out);

#endif
