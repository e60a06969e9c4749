/* unit.c - unit tests of the engine: splitting, expansion, globs, paths,
 * the state log, and the scheduler driven through a fake backend. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "engine/backends/backend.h"
#include "engine/expand.h"
#include "engine/glob.h"
#include "engine/graph.h"
#include "engine/kind.h"
#include "engine/load/load.h"
#include "engine/sched.h"
#include "engine/state.h"

/* Every test runs in a fresh temporary folder. */

/* ---- split_words ---- */

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

/* ---- loading, expansion, placeholders ---- */

static int load(struct graph *g, const char *text, struct diag *d, const char *const *set)
{
	write_text("g.ini", text);
	struct load_opts o = {.file = "g.ini",
			      .cli = {.jobs = -1, .net_jobs = -1, .keep_going = -1},
			      .set = set,
			      .default_jobs = 2};
	return graph_load(g, &o, d);
}

static void test_expand_vars(void **state)
{
	(void)state;
	struct graph g;
	struct diag d = {0};
	const char *set[] = {"over=ridden", NULL};
	assert_int_equal(load(&g, "[vars]\na = 1\nb = ${a}2\nover = no\n", &d, set), 0);
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
	assert_int_equal(load(&g,
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
	assert_int_equal(load(&g,
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
	assert_int_equal(load(&g,
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
		assert_int_equal(load(&g, cases[i].ini, &d, NULL), -1);
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
	assert_int_equal(load(&g,
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

/* ---- globs and paths ---- */

static void test_glob_match(void **state)
{
	(void)state;
	assert_true(glob_match("docs/**/*.xml", "docs/a.xml"));
	assert_true(glob_match("docs/**/*.xml", "docs/a/b/c.xml"));
	assert_false(glob_match("docs/**/*.xml", "docs/.git/c.xml"));
	assert_false(glob_match("docs/*.xml", "docs/a/c.xml"));
	assert_false(glob_match("*.xml", ".hidden.xml"));
	assert_true(glob_match("**", "a/b"));
	assert_true(glob_match("d?c/[ab].txt", "doc/a.txt"));
	/* Several '**': each takes any number of folders, none hidden. */
	assert_true(glob_match("**/**/x", "x"));
	assert_true(glob_match("a/**/b/**/c", "a/b/c"));
	assert_true(glob_match("a/**/b/**/c", "a/z/b/y/b/c"));
	assert_false(glob_match("a/**/b/**/c", "a/c"));
	assert_false(glob_match("**/**/x", "a/.h/x"));
	assert_true(glob_match("**/.h/x", "a/.h/x"));
	assert_false(glob_match("**/**/**/**/**/**/**/**/**/**/*.no",
				"d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/d/x.txt"));
	assert_int_equal(glob_prefix_len("docs/x/**/*.xml"), strlen("docs/x/"));
	assert_int_equal(glob_prefix_len("*.xml"), 0);
}

static void test_path_normalize(void **state)
{
	(void)state;
	const char *cases[][2] = {{"./a//b/", "a/b"}, {"a/./b", "a/b"}, {"/x//y", "/x/y"},
				  {".", "."},         {"./", "."},      {"a/../b", "b"},
				  /* One file, one name; a path never climbs less than it says. */
				  {"data/../data/x.txt", "data/x.txt"}, {"a/b/../../c", "c"},
				  {"a/..", "."}, {"a/../..", ".."}, {"a/../../b", "../b"},
				  {"../a/..", ".."}, {"../../a/../b", "../../b"}, {"/..", "/"},
				  {"/a/../../b", "/b"}, {"./../x", "../x"}, {"a/.../b", "a/.../b"},
				  {"..a/../b", "b"}};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		char *n = path_normalize(cases[i][0]);
		assert_string_equal(n, cases[i][1]);
		free(n);
	}
}

/* ---- the state log ---- */

static void test_state_roundtrip_and_torn_tail(void **state)
{
	(void)state;
	struct graph g;
	struct diag d = {0};
	assert_int_equal(load(&g, "[command a]\ncommand = true\nforeach = list:x 'y\tz'\n", &d,
			      NULL),
			 0);
	struct state *st;
	struct strbuf warn = {0}, err = {0};
	assert_int_equal(state_open(&st, ".juggle", false, &warn, &err), 0);
	assert_int_equal(state_seq(st), 1);
	struct file_sig out = {.path = "odd\tname\n%", .mtime_ns = 5, .size = 7};
	memset(out.hash, 0xab, 16);
	for (size_t i = 0; i < g.jobs.n; i++)
		assert_int_equal(state_record_ok(st, g.jobs.v[i], NULL, 0, &out, 1, 1.5, 0.25,
						 "etag=\"x\"", true),
				 0);
	state_close(st);

	/* A crash mid-append leaves a torn line: it is dropped quietly. */
	int fd = open(".juggle/state", O_WRONLY | O_APPEND);
	assert_true(write(fd, "S\ttorn", 6) == 6);
	close(fd);
	assert_int_equal(state_open(&st, ".juggle", false, &warn, &err), 0);
	assert_string_equal(sb_str(&warn), "");
	assert_int_equal(state_seq(st), 2);
	const struct state_rec *r = state_find(st, "a[y\tz]");
	assert_non_null(r);
	assert_int_equal(r->n_out, 1);
	assert_string_equal(r->files[0].path, "odd\tname\n%");
	assert_string_equal(r->extra, "etag=\"x\"");
	assert_memory_equal(r->fp, g.jobs.v[1]->fp, 16);
	assert_int_equal(r->ok_seq, 1);
	state_record_fail(st, g.jobs.v[0]);
	assert_null(state_find(st, "a[x]"));
	state_close(st);
	assert_int_equal(state_open(&st, ".juggle", true, &warn, &err), 0);
	assert_null(state_find(st, "a[x]"));
	assert_non_null(state_find(st, "a[y\tz]"));
	state_close(st);

	/* Damage in the middle sets the log aside and starts afresh. */
	size_t len;
	char *data = read_file(".juggle/state", &len);
	char *second = strchr(data, '\n') + 1;
	second[3] ^= 1;
	write_file_atomic(".juggle/state", data, len);
	free(data);
	assert_int_equal(state_open(&st, ".juggle", false, &warn, &err), 0);
	assert_non_null(strstr(sb_str(&warn), "damaged; moved it to .juggle/state.bad"));
	assert_null(state_find(st, "a[y\tz]"));
	state_close(st);
	assert_int_equal(access(".juggle/state.bad", F_OK), 0);

	sb_release(&warn);
	sb_release(&err);
	graph_release(&g);
	diag_release(&d);
}

/* ---- the scheduler, through a fake backend ----
 * The fake runs nothing: it records the order of starts, fails the jobs
 * whose name is in fail_names, and finishes attempts in start order. */

static struct {
	VEC(struct job *) running;
	struct strbuf order;
	const char *fail_first; /* fails only its first attempt */
	const char *fail_always;
	int max_running;
	int capacity;       /* how many it runs at once (run_fake sets 1000) */
	int next_capacity;  /* if set, run_fake uses it instead */
	long can_start_calls;
} fake;

static int fake_init(struct backend *b, struct strbuf *err)
{
	(void)b;
	(void)err;
	return 0;
}

static bool fake_can_start(struct backend *b, const struct job *job)
{
	(void)b;
	(void)job;
	fake.can_start_calls++;
	return (int)fake.running.n < fake.capacity;
}

static int fake_start(struct backend *b, struct job *job, int number, const char *prev,
		      struct strbuf *err)
{
	(void)b;
	(void)prev;
	(void)err;
	sb_addf(&fake.order, "%s#%d ", job->name, number);
	VEC_PUSH(&fake.running, job);
	if ((int)fake.running.n > fake.max_running)
		fake.max_running = (int)fake.running.n;
	return 0;
}

static int fake_wait(struct backend *b, struct job **job, struct result *res, double timeout)
{
	(void)b;
	(void)timeout;
	if (!fake.running.n)
		return 0;
	struct job *j = fake.running.v[0];
	memmove(fake.running.v, fake.running.v + 1, --fake.running.n * sizeof(*fake.running.v));
	result_init(res);
	res->started = res->finished = mono_now();
	res->worker = 0;
	bool fail = (fake.fail_always && strcmp(j->name, fake.fail_always) == 0) ||
		    (fake.fail_first && strcmp(j->name, fake.fail_first) == 0 &&
		     j->run.attempts == 1);
	if (fail) {
		result_fail(res, "fake failure");
		res->retryable = true;
	} else {
		res->status = RES_OK;
	}
	*job = j;
	return 1;
}

static int fake_running(struct backend *b)
{
	(void)b;
	return (int)fake.running.n;
}

static void fake_abort(struct backend *b)
{
	(void)b;
}

static void fake_release(struct backend *b)
{
	(void)b;
	free(fake.running.v);
	memset(&fake.running, 0, sizeof(fake.running));
}

static const struct backend_ops fake_backend = {
	.name = "fake",
	.init = fake_init,
	.can_start = fake_can_start,
	.start = fake_start,
	.wait = fake_wait,
	.running = fake_running,
	.abort = fake_abort,
	.release = fake_release,
};

static int reset_fake(void **state)
{
	fake.fail_first = fake.fail_always = NULL;
	return in_tmp(state);
}

static int run_fake(const char *text, int jobs, bool keep_going, struct run_summary *sum,
		    struct graph *g)
{
	sb_release(&fake.order);
	fake.max_running = 0;
	fake.capacity = fake.next_capacity ? fake.next_capacity : 1000;
	fake.next_capacity = 0;
	fake.can_start_calls = 0;
	struct diag d = {0};
	assert_int_equal(load(g, text, &d, NULL), 0);
	diag_release(&d);
	struct strbuf err = {0};
	graph_select(g, NULL, 0, &err);
	struct state *st;
	struct strbuf warn = {0};
	assert_int_equal(state_open(&st, ".juggle", false, &warn, &err), 0);
	struct run_opts o = {.backend = &fake_backend,
			     .jobs = jobs,
			     .keep_going = keep_going,
			     .progress = PROGRESS_NONE,
			     .quiet = true};
	int rc = sched_run(g, st, &o, sum, &err);
	state_close(st);
	sb_release(&err);
	sb_release(&warn);
	return rc;
}

static const char *diamond = "[command top]\ncommand = true\n"
			     "[command left]\ncommand = true\nafter = top\n"
			     "[command right]\ncommand = true\nafter = top\n"
			     "[command bottom]\ncommand = true\nafter = left right\n"
			     "[command alone]\ncommand = true\n";

static void test_sched_order_and_jobs_limit(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	assert_int_equal(run_fake(diamond, 2, false, &sum, &g), 0);
	assert_string_equal(sb_str(&fake.order), "top#1 alone#1 left#1 right#1 bottom#1 ");
	assert_int_equal(fake.max_running, 2);
	assert_int_equal(sum.counts[JS_OK], 5);
	graph_release(&g);
}

static void test_sched_failure_without_keep_going(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	fake.fail_always = "left";
	assert_int_equal(run_fake(diamond, 1, false, &sum, &g), 1);
	/* Ready jobs start in file order; left fails, so nothing new starts. */
	assert_string_equal(sb_str(&fake.order), "top#1 left#1 ");
	assert_int_equal(graph_job(&g, "alone")->run.status, JS_NOT_RUN);
	assert_int_equal(graph_job(&g, "left")->run.status, JS_FAILED);
	assert_int_equal(graph_job(&g, "right")->run.status, JS_NOT_RUN);
	assert_int_equal(graph_job(&g, "bottom")->run.status, JS_NOT_RUN);
	graph_release(&g);
}

static void test_sched_keep_going(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	fake.fail_always = "left";
	assert_int_equal(run_fake(diamond, 1, true, &sum, &g), 1);
	assert_string_equal(sb_str(&fake.order), "top#1 left#1 right#1 alone#1 ");
	assert_int_equal(graph_job(&g, "right")->run.status, JS_OK);
	assert_int_equal(graph_job(&g, "bottom")->run.status, JS_NOT_RUN);
	assert_string_equal(graph_job(&g, "bottom")->run.error,
			    "dependency 'left' did not succeed");
	graph_release(&g);
}

static void test_sched_retry_and_pool(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	fake.fail_first = "p[1]";
	assert_int_equal(run_fake("[pool one]\ndepth = 1\n"
				  "[command p]\nforeach = range:1..3\npool = one\n"
				  "command = true\nretries = 1\nretry_delay = 0\n",
				  8, false, &sum, &g),
			 0);
	assert_int_equal(fake.max_running, 1);
	assert_int_equal(graph_job(&g, "p[1]")->run.attempts, 2);
	assert_int_equal(sum.counts[JS_OK], 3);
	graph_release(&g);
}

/* A backend that runs one job at a time (serial) in front of thousands of
 * ready jobs: once it says no, the scheduler waits for a job to end rather
 * than asking about every other ready job of the same kind. Asking each
 * time made a serial run of 100,000 jobs quadratic (hours). */
static void test_sched_full_backend_is_asked_once_per_round(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	fake.next_capacity = 1;
	assert_int_equal(run_fake("[command c]\nforeach = range:1..3000\ncommand = true\n"
				  "[cpu s]\nforeach = range:1..3000\ntask = sum_squares\nn = 1\n",
				  0, false, &sum, &g),
			 0);
	assert_int_equal(sum.counts[JS_OK], 6000);
	assert_int_equal(fake.max_running, 1);
	/* Per job: the yes that starts it, and at most one no per kind
	 * while it runs. */
	assert_in_range(fake.can_start_calls, 6000, 3 * 6000);
	graph_release(&g);
}

/* A pool of depth 1 in front of thousands of jobs: they wait in the pool,
 * in file order, each released when the one before it ends. */
static void test_sched_long_pool_queue_keeps_order(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	assert_int_equal(run_fake("[pool one]\ndepth = 1\n"
				  "[command p]\nforeach = range:1..5000\npool = one\ncommand = true\n"
				  "[command free]\ncommand = true\n",
				  8, false, &sum, &g),
			 0);
	assert_int_equal(sum.counts[JS_OK], 5001);
	assert_int_equal(fake.max_running, 2);
	const char *o = sb_str(&fake.order);
	assert_true(strncmp(o, "p[1]#1 p[2]#1 ", 14) != 0); /* free started beside p[1] */
	assert_non_null(strstr(o, "p[4999]#1 p[5000]#1 "));
	graph_release(&g);
}

static void test_sched_up_to_date_second_time(void **state)
{
	(void)state;
	struct graph g;
	struct run_summary sum;
	assert_int_equal(run_fake(diamond, 4, false, &sum, &g), 0);
	graph_release(&g);
	assert_int_equal(run_fake(diamond, 4, false, &sum, &g), 0);
	assert_string_equal(sb_str(&fake.order), "");
	assert_int_equal(sum.counts[JS_SKIPPED], 5);
	graph_release(&g);
}

int report_unit_tests(void); /* reports.c */
int download_unit_tests(void); /* tests/unit/download.c */
int names_unit_tests(void); /* tests/unit/names.c */
int ownfiles_unit_tests(void); /* tests/unit/ownfiles.c */
int safepath_unit_tests(void); /* tests/unit/safepath.c */

int main(void)
{
	kinds_init();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_words),
		cmocka_unit_test_setup_teardown(test_expand_vars, in_tmp, out_of_tmp),
		cmocka_unit_test_setup_teardown(test_placeholders_and_argv, in_tmp, out_of_tmp),
		cmocka_unit_test_setup_teardown(test_cycle_is_reported_with_its_jobs, in_tmp,
						out_of_tmp),
		cmocka_unit_test_setup_teardown(test_batch_groups_items, in_tmp, out_of_tmp),
		cmocka_unit_test_setup_teardown(test_batch_errors, in_tmp, out_of_tmp),
		cmocka_unit_test(test_glob_match),
		cmocka_unit_test(test_path_normalize),
		cmocka_unit_test_setup_teardown(test_state_roundtrip_and_torn_tail, in_tmp,
						out_of_tmp),
		cmocka_unit_test_setup_teardown(test_sched_order_and_jobs_limit, reset_fake, out_of_tmp),
		cmocka_unit_test_setup_teardown(test_sched_failure_without_keep_going, reset_fake, out_of_tmp),
		cmocka_unit_test_setup_teardown(test_sched_keep_going, reset_fake, out_of_tmp),
		cmocka_unit_test_setup_teardown(test_sched_retry_and_pool, reset_fake, out_of_tmp),
		cmocka_unit_test_setup_teardown(test_sched_full_backend_is_asked_once_per_round, reset_fake, out_of_tmp),
		cmocka_unit_test_setup_teardown(test_sched_long_pool_queue_keeps_order, reset_fake, out_of_tmp),
		cmocka_unit_test_setup_teardown(test_sched_up_to_date_second_time, reset_fake, out_of_tmp),
	};
	int failed = cmocka_run_group_tests(tests, NULL, NULL);
	failed |= report_unit_tests();
	failed |= download_unit_tests();
	failed |= names_unit_tests();
	failed |= ownfiles_unit_tests();
	failed |= safepath_unit_tests();
	sb_release(&fake.order);
	return failed ? 1 : 0;
}
