/* test_expand.c - unit tests of engine/expand.c: splitting a command into
 * words, ${var} expansion, placeholders and the argv built from them, and
 * paths that start with '-'. */
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

static void check_split(const char *s, const char *const *want)
{
	struct strbuf err = {0};
	char **w = split_words(s, &err);
	assert_non_null(w);
	size_t i = 0;
	for (; want[i]; i++) {
		assert_non_null(w[i]);
		assert_string_equal(w[i], want[i]);
	}
	assert_null(w[i]);
	free_words(w);
	sb_release(&err);
}

static void test_split_words(void **state)
{
	(void)state;
	check_split("a b  c", (const char *[]){"a", "b", "c", NULL});
	check_split("  'a b' \"c d\"", (const char *[]){"a b", "c d", NULL});
	check_split("a\\ b c\\'d", (const char *[]){"a b", "c'd", NULL});
	check_split("\"x \\\"y\\\" \\$z \\n\"", (const char *[]){"x \"y\" $z \\n", NULL});
	check_split("pre'fix'\"ed\" ''", (const char *[]){"prefixed", "", NULL});
	check_split("$(rm -rf /) ;", (const char *[]){"$(rm", "-rf", "/)", ";", NULL});
	check_split("", (const char *[]){NULL});

	struct strbuf err = {0};
	assert_null(split_words("a 'b", &err));
	assert_string_equal(sb_str(&err), "unterminated single quote");
	sb_reset(&err);
	assert_null(split_words("a \"b\\\"", &err));
	assert_string_equal(sb_str(&err), "unterminated double quote");
	sb_release(&err);
}

static void test_expand_vars(void **state)
{
	(void)state;
	struct graph g;
	struct diag d = {0};
	const char *set[] = {"over=ridden", NULL};
	assert_int_equal(load_ini(&g, "[vars]\na = 1\nb = ${a}2\nover = no\n", &d, set), 0);
	struct strbuf out = {0}, err = {0};
	assert_int_equal(expand_vars(&g, "${b}-$$-$x-${over}-${semicolon}", &out, &err), 0);
	assert_string_equal(sb_str(&out), "12-$-$x-ridden-;");
	sb_reset(&out);
	assert_int_equal(expand_vars(&g, "${nope}", &out, &err), -1);
	assert_string_equal(sb_str(&err),
			    "undefined variable 'nope' (define it in [vars] or with -s nope=VALUE)");
	sb_release(&out);
	sb_release(&err);
	graph_release(&g);
	diag_release(&d);
}

static void test_placeholders_and_argv(void **state)
{
	(void)state;
	write_text("docs/guide/intro.xml", "<a/>");
	write_text("docs/guide/it's here.xml", "<a/>");
	struct graph g;
	struct diag d = {0};
	assert_int_equal(load_ini(&g,
				  "[command c]\n"
				  "foreach = docs/**/*.xml\n"
				  "output = html/{relstem}.html\n"
				  "command = conv -o {output} {input} --dir={dir} {inputs}\n",
				  &d, NULL),
			 0);
	assert_int_equal(g.jobs.n, 2);
	const struct job *j = g.jobs.v[0];
	assert_string_equal(j->name, "c[guide/intro.xml]");
	assert_string_equal(j->item, "guide/intro.xml");
	assert_string_equal(j->outputs[0], "html/guide/intro.html");
	char **tmpl = split_words(section_key(j->sec, "command")->val, &(struct strbuf){0});
	char **argv = job_argv(j, tmpl);
	const char *want[] = {"conv", "-o", "html/guide/intro.html", "docs/guide/intro.xml",
			      "--dir=docs/guide", "docs/guide/intro.xml", NULL};
	for (size_t i = 0; want[i]; i++)
		assert_string_equal(argv[i], want[i]);
	assert_null(argv[6]);
	free_words(argv);

	/* In shell mode each value is one quoted word. */
	struct strbuf sb = {0};
	subst_placeholders(g.jobs.v[1], "cat {input} > {output}", SUBST_SHELL, &sb);
	assert_string_equal(sb_str(&sb),
			    "cat 'docs/guide/it'\\''s here.xml' > 'html/guide/it'\\''s here.html'");
	/* Unknown braces are left alone: awk needs no escaping. */
	sb_reset(&sb);
	subst_placeholders(g.jobs.v[0], "awk '{print $1}' {nope} {item}", SUBST_TEXT, &sb);
	assert_string_equal(sb_str(&sb), "awk '{print $1}' {nope} guide/intro.xml");
	sb_release(&sb);
	free_words(tmpl);
	graph_release(&g);
	diag_release(&d);
}

static void test_dash_paths_are_not_options(void **state)
{
	(void)state;
	write_text("-rf.txt", "x");
	write_text("--help.txt", "x");
	struct graph g;
	struct diag d = {0};
	struct load_opts o = {.file = "g.ini",
	                      .cli = {.jobs = -1, .net_jobs = -1, .keep_going = -1, .load = -1},
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

static const struct CMUnitTest tests[] = {
	cmocka_unit_test(test_split_words),
	cmocka_unit_test_setup_teardown(test_expand_vars, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_placeholders_and_argv, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_dash_paths_are_not_options, in_tmp, out_of_tmp),
};
UNIT_GROUP(expand, tests, NULL, NULL);
