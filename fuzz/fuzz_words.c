/* fuzz_words.c - libFuzzer target: the shell-like word splitter and the
 * placeholder substitution, in text and in shell-quoting mode. A shell
 * quoted value, split again, must give back exactly the value. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../engine/expand.h"

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
	char *tmpl[] = {"cmd", s, "{inputs}", "{item}", NULL};
	char **argv = job_argv(&job, tmpl);
	free_words(argv);
	sb_release(&out);
	sb_release(&q);
	sb_release(&err);
	free(s);
	return 0;
}
