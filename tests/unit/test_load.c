/* test_load.c - unit tests of engine/load.c: batches, a dependency cycle
 * reported with its jobs, failed keys, unused -s variables. */
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

/* batch = N: items grouped N at a time, in item order, into one job whose
 * inputs and outputs are its items' own, and whose {inputs} and {outputs}
 * expand to one argument per path. */
static void test_batch_groups_items(void **state)
{
	(void)state;
	const char *files[] = {"docs/a.xml", "docs/b.xml", "docs/sub/c.xml", "docs/sub/d.xml",
			       "docs/z.xml", NULL};
	for (const char **f = files; *f; f++)
		write_text(*f, "<a/>");
	struct graph g;
	struct diag d = {0};
	assert_int_equal(load_ini(&g,
				  "[command check]\n"
				  "foreach = docs/**/*.xml\n"
				  "output = ok/{relstem}.ok\n"
				  "command = touch {output}\n"
				  "[command conv]\n"
				  "foreach = docs/**/*.xml\n"
				  "batch = 2\n"
				  "input = shared.xsl\n"
				  "output = html/{relstem}.html\n"
				  "after = check[{item}]\n"
				  "command = conv {inputs} -- {outputs}\n"
				  "[command after-one]\n"
				  "after = conv[sub/d.xml]\n"
				  "command = true\n",
				  &d, NULL),
			 0);
	assert_int_equal(g.jobs.n, 5 + 3 + 1);
	const struct job *b0 = g.jobs.v[5], *b1 = g.jobs.v[6], *b2 = g.jobs.v[7];
	assert_string_equal(b0->name, "conv[a.xml..b.xml]");
	assert_string_equal(b1->name, "conv[sub/c.xml..sub/d.xml]");
	/* The last group has one item: it is that item's plain instance. */
	assert_string_equal(b2->name, "conv[z.xml]");
	assert_null(b2->members);
	assert_string_equal(b2->match, "docs/z.xml");
	assert_int_equal(b1->n_members, 2);
	assert_string_equal(b1->members[0]->name, "conv[sub/c.xml]");
	assert_string_equal(b1->members[1]->outputs[0], "html/sub/d.html");
	/* Inputs in item order, a shared one once; outputs one per item. */
	assert_int_equal(b1->n_inputs, 3);
	assert_string_equal(b1->inputs[0], "docs/sub/c.xml");
	assert_string_equal(b1->inputs[1], "shared.xsl");
	assert_string_equal(b1->inputs[2], "docs/sub/d.xml");
	assert_int_equal(b1->n_outputs, 2);
	/* after = check[{item}] is expanded per item. */
	assert_int_equal(b1->n_deps, 2);
	assert_string_equal(b1->deps[0]->name, "check[sub/c.xml]");
	assert_string_equal(b1->deps[1]->name, "check[sub/d.xml]");
	/* An item's own name finds its batch, as a target or in after. */
	assert_ptr_equal(graph_job(&g, "conv[sub/d.xml]"), b1);
	assert_ptr_equal(g.jobs.v[8]->deps[0], b1);
	assert_ptr_equal(strmap_get(&g.producer, "html/b.html"), b0);
	char **tmpl = split_words(section_key(b1->sec, "command")->val, &(struct strbuf){0});
	char **argv = job_argv(b1, tmpl);
	const char *want[] = {"conv", "docs/sub/c.xml", "shared.xsl", "docs/sub/d.xml", "--",
			      "html/sub/c.html", "html/sub/d.html", NULL};
	for (size_t i = 0; want[i]; i++)
		assert_string_equal(argv[i], want[i]);
	assert_null(argv[7]);
	free_words(argv);
	free_words(tmpl);
	/* Batches are defined by their items: regrouping changes fingerprints. */
	unsigned char fp[16];
	memcpy(fp, b0->fp, 16);
	graph_release(&g);
	assert_int_equal(load_ini(&g,
				  "[command conv]\n"
				  "foreach = docs/**/*.xml\n"
				  "batch = 3\n"
				  "output = html/{relstem}.html\n"
				  "command = conv {inputs} -- {outputs}\n",
				  &d, NULL),
			 0);
	assert_int_equal(g.jobs.n, 2);
	assert_string_equal(g.jobs.v[0]->name, "conv[a.xml..sub/c.xml]");
	assert_string_equal(g.jobs.v[1]->name, "conv[sub/d.xml..z.xml]");
	assert_memory_not_equal(g.jobs.v[0]->fp, fp, 16);
	graph_release(&g);
	diag_release(&d);
}

static void test_batch_errors(void **state)
{
	(void)state;
	write_text("docs/a.xml", "<a/>");
	write_text("docs/b.xml", "<a/>");
	static const struct {
		const char *ini, *want;
	} cases[] = {
		{"[command c]\nbatch = 2\ncommand = true\n",
		 "g.ini:2: job 'c': batch needs a foreach: it hands N foreach items to one job"},
		{"[command c]\nforeach = docs/*.xml\nbatch = 0\ncommand = true\n",
		 "g.ini:3: job 'c': batch: '0' is not a number of items from 1 to 100000"},
		{"[cpu c]\nforeach = docs/*.xml\nbatch = 2\ntask = sha256\noutput = {stem}.sha\n",
		 "g.ini:3: job 'c': batch: a cpu job takes one item at a time (batch is for command jobs)"},
		{"[command c]\nforeach = docs/*.xml\nbatch = 2\noutput = {stem}.o\ncommand = cc {input}\n",
		 "g.ini:5: job 'c': command: {input} cannot be used here: a batched job stands for several items; use {inputs} and {outputs}"},
		{"[command c]\nforeach = docs/*.xml\nbatch = 2\noutput = same.o\ncommand = cc {inputs}\n",
		 "g.ini:4: job 'c[a.xml..b.xml]': output 'same.o' is declared twice"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		struct graph g;
		struct diag d = {0};
		assert_int_equal(load_ini(&g, cases[i].ini, &d, NULL), -1);
		struct strbuf sb = {0};
		for (size_t k = 0; k < d.msgs.n; k++)
			sb_addf(&sb, "%s\n", d.msgs.v[k]);
		if (!strstr(sb_str(&sb), cases[i].want))
			fail_msg("case %zu: want '%s', got '%s'", i, cases[i].want, sb_str(&sb));
		sb_release(&sb);
		graph_release(&g);
		diag_release(&d);
	}
}

static void test_cycle_is_reported_with_its_jobs(void **state)
{
	(void)state;
	struct graph g;
	struct diag d = {0};
	assert_int_equal(load_ini(&g,
				  "[command a]\ncommand = true\ninput = c.txt\noutput = a.txt\n"
				  "[command b]\ncommand = true\ninput = a.txt\noutput = b.txt\n"
				  "[command c]\ncommand = true\ninput = b.txt\noutput = c.txt\n",
				  &d, NULL),
			 -1);
	assert_int_equal(d.msgs.n, 1);
	assert_string_equal(d.msgs.v[0], "g.ini:1: dependency cycle: a -> c -> b -> a");
	graph_release(&g);
	diag_release(&d);
}

/* A key whose ${} failed is kept, marked failed: one error, no "missing
 * key", and the section's other keys are still parsed. */
static void test_failed_key_is_present(void **state)
{
	(void)state;
	struct graph g;
	struct diag d = {0};
	assert_int_equal(load_ini(&g,
				  "[download d]\n"
				  "url = ${mirror}/a.tar\n"
				  "output = a.tar\n"
				  "retries = 3\n",
				  &d, NULL),
			 -1);
	assert_int_equal(d.msgs.n, 1);
	assert_string_equal(d.msgs.v[0], "g.ini:2: job 'd': url: undefined variable 'mirror' "
					 "(define it in [vars] or with -s mirror=VALUE)");
	const struct kv *url = section_key(g.sections.v[0], "url");
	assert_non_null(url);
	assert_true(url->failed);
	assert_false(section_key(g.sections.v[0], "output")->failed);
	assert_int_equal(g.sections.v[0]->retries, 3);
	graph_release(&g);
	diag_release(&d);
}

/* -s NAME=VALUE that the graph does not use is a warning, which does not
 * make the load fail; a used or declared one is not. */
static void test_unused_override_warns(void **state)
{
	(void)state;
	struct graph g;
	struct diag d = {0};
	const char *set[] = {"mirrror=x", "mirror=y", "spare=1", "mirrror=z", NULL};
	assert_int_equal(load_ini(&g,
				  "[vars]\nspare = 0\n"
				  "[command a]\ncommand = echo ${mirror} $${escaped}\n",
				  &d, set),
			 0);
	assert_int_equal(d.msgs.n, 0);
	assert_int_equal(d.warnings.n, 1);
	assert_string_equal(d.warnings.v[0],
			    "-s 'mirrror': no ${mirrror} in 'g.ini' uses it, so it has no effect "
			    "(did you mean 'mirror'?)");
	graph_release(&g);
	diag_release(&d);
	/* $${name} is no use of name. */
	const char *esc[] = {"escaped=1", NULL};
	assert_int_equal(load_ini(&g, "[command a]\ncommand = echo $${escaped}\n", &d, esc), 0);
	assert_int_equal(d.warnings.n, 1);
	graph_release(&g);
	diag_release(&d);
}

/* A key a kind takes in [settings] (the download kind's ca_file) reaches
 * the kind expanded and with its line, is refused by the other kinds'
 * sections, and stays out of the fingerprint. */
static void test_kind_setting(void **state)
{
	(void)state;
	struct graph g, h;
	struct diag d = {0};
	assert_int_equal(load_ini(&g,
				  "[vars]\nnone =\n"
				  "[settings]\nca_file = ${none}\n"
				  "[download a]\nurl = https://127.0.0.1:1/a\noutput = a\n"
				  "ca_file =\n",
				  &d, NULL),
			 0);
	const struct kv *kv = graph_kind_setting(&g, "ca_file");
	assert_non_null(kv);
	assert_string_equal(kv->val, "");
	assert_int_equal(kv->line, 4);
	assert_null(graph_kind_setting(&g, "url"));
	assert_int_equal(load_ini(&h, "[download a]\nurl = https://127.0.0.1:1/a\noutput = a\n",
				  &d, NULL),
			 0);
	assert_memory_equal(g.jobs.v[0]->fp, h.jobs.v[0]->fp, sizeof(g.jobs.v[0]->fp));
	assert_null(graph_kind_setting(&h, "ca_file"));
	graph_release(&g);
	graph_release(&h);
	diag_release(&d);
	assert_int_equal(load_ini(&g, "[settings]\nca_fil = x\n[command c]\ncommand = true\n"
				  "ca_file = x\n",
				  &d, NULL),
			 -1);
	assert_int_equal(d.msgs.n, 2);
	graph_release(&g);
	diag_release(&d);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_kind_setting, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_failed_key_is_present, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_unused_override_warns, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_cycle_is_reported_with_its_jobs, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_batch_groups_items, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_batch_errors, in_tmp, out_of_tmp),
};
UNIT_GROUP(load, tests, NULL, NULL);
