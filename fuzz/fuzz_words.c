/* fuzz_words.c - libFuzzer target: the shell-like word splitter and the
 * placeholder substitution, in text and in shell-quoting mode. A shell
 * quoted value, split again, must give back exactly the value; a path
 * value never starts an argument with '-'; the command checker takes any
 * text; and the terminal escaping leaves nothing a terminal obeys. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/expand.h"
#include "engine/shellcheck.h"
#include "engine/term.h"

/* Whether t holds a control character (C0, DEL, C1 as raw bytes or as
 * UTF-8) or a bidi override: what term_escape() must never let through. */
static int obeyed(const char *t)
{
	for (const unsigned char *p = (const unsigned char *)t; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return 1;
		if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f)
			return 1;
		if (*p == 0xe2 && p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae)
			return 1;
		if (*p >= 0x80 && *p <= 0x9f)
			return 1; /* a C1 byte outside a UTF-8 sequence's tail */
		if (*p >= 0xc2) /* skip a sequence's continuation bytes */
			while ((p[1] & 0xc0) == 0x80)
				p++;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	if (strlen(s) != size) { /* NUL bytes end C strings; fine, but skip */
		free(s);
		return 0;
	}
	struct strbuf err = {0}, q = {0};
	char **w = split_words(s, &err);
	free_words(w);

	/* Quoting round trip: what the shell mode inserts is one word. */
	shell_quote(s, &q);
	char **back = split_words(sb_str(&q), &err);
	if (!back || !back[0] || back[1] || strcmp(back[0], s) != 0)
		abort();
	free_words(back);

	/* Placeholders over a fake glob instance whose item is the input. */
	struct section sec = {0};
	const char *outs[] = {"out/x.html", NULL};
	const char *ins[] = {s, NULL};
	struct job job = {.name = "fuzz", .sec = &sec, .item = s, .match = s,
			  .inputs = ins, .n_inputs = 1, .outputs = outs, .n_outputs = 1};
	struct strbuf out = {0};
	subst_placeholders(&job, s, SUBST_TEXT, &out);
	sb_reset(&out);
	subst_placeholders(&job, "{input} {dir} {name} {stem} {relstem} {inputs}", SUBST_SHELL,
			   &out);
	char **sw = split_words(sb_str(&out), &err);
	if (!sw || count_words(sw) != 6)
		abort(); /* each value stays one shell word */
	free_words(sw);
	char *tmpl[] = {"cmd", s, "{inputs}", "{item}", "{input}", "{name}", NULL};
	char **argv = job_argv(&job, tmpl);
	for (int i = 2; argv[i]; i++)
		if (argv[i][0] == '-')
			abort(); /* a file name taken for an option */
	free_words(argv);

	/* Any command text, in both modes: an answer, never a crash. */
	sb_reset(&err);
	check_command_placeholders(s, true, &err);
	sb_reset(&err);
	check_command_placeholders(s, false, &err);

	/* Nothing a terminal obeys survives, on one line or several. */
	char *t = term_clean(s, size);
	if (obeyed(t))
		abort();
	free(t);
	t = term_clean_lines(s, size);
	for (char *p = t; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	if (obeyed(t))
		abort();
	free(t);
	sb_release(&out);
	sb_release(&q);
	sb_release(&err);
	free(s);
	return 0;
}
