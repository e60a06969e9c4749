/* names.c - unit tests of what keeps hostile names inert: the terminal
 * escaping, where placeholders may stand in a command, and paths that start
 * with '-'. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "engine/expand.h"
#include "engine/graph.h"
#include "engine/load/load.h"
#include "engine/term.h"

static void check_term(const char *in, size_t n, unsigned flags, const char *want)
{
	struct strbuf sb = {0};
	term_escape(&sb, in, n, flags);
	if (strcmp(sb_str(&sb), want) != 0)
		fail_msg("got '%s', want '%s'", sb_str(&sb), want);
	sb_release(&sb);
}

static void test_term_escape(void **state)
{
	(void)state;
	/* Printable UTF-8 stays; every control shows. */
	check_term("caf\xc3\xa9 \xe2\x82\xac ok", 12, 0, "caf\xc3\xa9 \xe2\x82\xac ok");
	check_term("a\x1b]0;t\x07\n\r\tz\x7f", 12, 0, "a\\x1b]0;t\\x07\\n\\r\\tz\\x7f");
	/* C1 as UTF-8 code points and as raw bytes; bidi overrides. */
	check_term("\xc2\x9b"
	           "1m\xc2\x9d\xc2\x85",
	           8, 0, "\\u{9b}1m\\u{9d}\\u{85}");
	check_term("\x9b"
	           "1m\x9d\x80",
	           5, 0, "\\x9b1m\\x9d\\x80");
	check_term("a\xe2\x80\xae"
	           "b\xe2\x81\xa6",
	           8, 0, "a\\u{202e}b\\u{2066}");
	/* Invalid UTF-8: cut, overlong, surrogate, too large. */
	check_term("\xe2\x82", 2, 0, "\\xe2\\x82");
	check_term("\xc0\xaf", 2, 0, "\\xc0\\xaf");
	check_term("\xed\xa0\x80", 3, 0, "\\xed\\xa0\\x80");
	check_term("\xf4\x90\x80\x80", 4, 0, "\\xf4\\x90\\x80\\x80");
	/* A NUL inside the bytes given. */
	check_term("a\0b", 3, 0, "a\\x00b");
	/* Lines: newline and tab kept, a carriage return keeps what follows. */
	check_term("x\r\n10%\r100%\ty\n\x1b[2J", 18, TERM_LINES, "x\n100%\ty\n\\x1b[2J");
	char *c = term_clean("n\nm", 3);
	assert_string_equal(c, "n\\nm");
	free(c);
}

static void check_cmd(const char *cmd, bool shell, const char *want_err)
{
	struct strbuf err = {0};
	int rc = check_command_placeholders(cmd, shell, &err);
	if (!want_err) {
		assert_int_equal(rc, 0);
		assert_string_equal(sb_str(&err), "");
	} else {
		assert_int_equal(rc, -1);
		if (!strstr(sb_str(&err), want_err))
			fail_msg("%s: got '%s', want '%s'", cmd, sb_str(&err), want_err);
	}
	sb_release(&err);
}

static void test_placeholder_places(void **state)
{
	(void)state;
	/* Fine: unquoted in a shell, inside $(...), in program arguments. */
	check_cmd("cat {input} > {output}", true, NULL);
	check_cmd("echo \"$(basename {input})\" | tr a b > {output}", true, NULL);
	check_cmd("awk '{print $1}' {input}", true, NULL);
	check_cmd("cat {input} # \"{input}\"", true, NULL);
	check_cmd("sh -c 'wc -c < \"$1\"' sh {input}", false, NULL);
	check_cmd("sh -c 'wc -c < \"$1\"' sh {input}", true, NULL);
	check_cmd("grep -c x {input}", false, NULL);
	check_cmd("echo \"{input}\"", false, NULL);
	/* Quoted in a shell command: the error shows the same command with
	 * the placeholder moved out of the quotes. */
	check_cmd("echo \"processing {name}\" > x", true,
	          "{name} is inside \"...\" quotes, where a file name could end the quoting and "
	          "run as shell code; write it outside the quotes (juggle quotes each value as "
	          "one word): echo \"processing \"{name} > x");
	check_cmd("echo '{name}' '{a} {item} b'", true, "echo {name} '{a} '{item}' b'");
	check_cmd("echo \"$(basename \"{input}\")\"", true, "echo \"$(basename {input})\"");
	check_cmd("echo `basename {input}`", true, "{input} is inside `...`");
	check_cmd("echo \"`basename {input}`\"", true, "{input} is inside `...`");
	check_cmd("echo ${x:-{input}}", true, "{input} is inside ${...}");
	check_cmd("echo $(( {item} + 1 ))", true, "{item} is inside $((...))");
	check_cmd("cat <<EOF\n{name}\nEOF\n", true, "{name} is inside a here-document");
	check_cmd("cat <<'EOF'\n{name}\nEOF\n", true, "{name} is inside a here-document");
	check_cmd("cat <<-EOF > {output}\n\tx\n\tEOF\necho {item}", true, NULL);
	/* Scripts a shell runs: sh -c, any shell, eval. */
	check_cmd("sh -c 'wc -c < {input}'", false,
	          "{input} is inside the script of 'sh -c', where a file name would run as shell "
	          "code; pass it as an argument and read it as \"$1\": sh -c 'wc -c < \"$1\"' sh "
	          "{input}");
	check_cmd("sh -c 'wc -c < {input}'", true, "sh -c 'wc -c < \"$1\"' sh {input}");
	check_cmd("/bin/bash -euc 'echo $(({item} * {item})) > {output}'", false,
	          "/bin/bash -euc 'echo $(($1 * $1)) > \"$2\"' sh {item} {output}");
	check_cmd("env X=1 dash -o errexit -c 'cp $0 {output}' {input}", false,
	          "dash -o errexit -c 'cp $0 \"$1\"' {input} {output}");
	check_cmd("busybox sh -c 'cat {input}'", false, "'sh -c'");
	check_cmd("x=1; eval echo {name}", true, "{name} is an argument of eval");
	check_cmd("sh -c {input}", true, "{input} is inside the script of 'sh -c'");
	/* A backslash or '$' just before the value's opening quote. */
	check_cmd("echo \\{input}", true, "{input} directly after '\\'");
	check_cmd("echo $${input}", true, "{input} directly after '$'");
	check_cmd("echo \"\\{input}\"", true, "{input} is inside \"...\" quotes");
	check_cmd("echo `\\{input}`", true, "{input} is inside `...`");
	check_cmd("echo \\{nope} \\$x", true, NULL);
}

static void test_dash_paths_are_not_options(void **state)
{
	(void)state;
	write_text("-rf.txt", "x");
	write_text("--help.txt", "x");
	struct graph g;
	struct diag d = {0};
	struct load_opts o = {.file = "g.ini",
	                      .cli = {.jobs = -1, .net_jobs = -1, .keep_going = -1},
	                      .default_jobs = 2};
	write_text("g.ini", "[command c]\n"
	                    "foreach = *.txt\n"
	                    "output = o/{name}\n"
	                    "command = cp {input} x{name} {name} {dir}/{name} {output}\n"
	                    "[command all]\n"
	                    "input = *.txt\n"
	                    "command = tar -cf x.tar {inputs}\n"
	                    "[command n]\n"
	                    "foreach = range:-2..-1\n"
	                    "command = echo {item}\n");
	assert_int_equal(graph_load(&g, &o, &d), 0);
	const struct job *c = NULL, *all = NULL, *n = NULL;
	for (size_t i = 0; i < g.jobs.n; i++) {
		const struct job *j = g.jobs.v[i];
		if (!strcmp(j->name, "c[-rf.txt]"))
			c = j;
		else if (!strcmp(j->name, "all"))
			all = j;
		else if (!strcmp(j->name, "n[-2]"))
			n = j;
	}
	assert_non_null(c);
	assert_non_null(all);
	assert_non_null(n);
	char **tmpl = split_words(section_key(c->sec, "command")->val, &(struct strbuf){0});
	char **argv = job_argv(c, tmpl);
	const char *want[] = {"cp",        "./-rf.txt", "x-rf.txt", "./-rf.txt",
	                      "./-rf.txt", "o/-rf.txt", NULL};
	for (size_t i = 0; want[i]; i++)
		assert_string_equal(argv[i], want[i]);
	assert_null(argv[6]);
	free_words(argv);
	free_words(tmpl);
	struct strbuf sb = {0};
	subst_placeholders(c, "cp {input} x{name} {name} >{output}", SUBST_SHELL, &sb);
	assert_string_equal(sb_str(&sb), "cp './-rf.txt' x'-rf.txt' './-rf.txt' >'o/-rf.txt'");
	sb_reset(&sb);
	subst_placeholders(all, "tar -cf x.tar {inputs}", SUBST_SHELL, &sb);
	assert_string_equal(sb_str(&sb), "tar -cf x.tar './--help.txt' './-rf.txt'");
	sb_reset(&sb);
	/* A range item is data: -2 stays -2. */
	subst_placeholders(n, "echo {item}", SUBST_SHELL, &sb);
	assert_string_equal(sb_str(&sb), "echo '-2'");
	sb_release(&sb);
	tmpl = split_words(section_key(all->sec, "command")->val, &(struct strbuf){0});
	argv = job_argv(all, tmpl);
	assert_string_equal(argv[3], "./--help.txt");
	assert_string_equal(argv[4], "./-rf.txt");
	free_words(argv);
	free_words(tmpl);
	graph_release(&g);
	diag_release(&d);
}

int names_unit_tests(void);

int names_unit_tests(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_term_escape),
	    cmocka_unit_test(test_placeholder_places),
	    cmocka_unit_test_setup_teardown(test_dash_paths_are_not_options, in_tmp, out_of_tmp),
	};
	return cmocka_run_group_tests_name("names", tests, NULL, NULL);
}
