/* test_download.c - unit tests of jobs/download/: the download kind's
 * event-loop path (start_async, cancel_async, loop_release) on a real libuv
 * loop, against nginx on 127.0.0.1 (tests/lib/testbed.py serve, started by
 * the group's setup, so only when one of these tests is selected), the way
 * the eventloop backend drives it: attempt_begin(), kind->start_async(),
 * attempt_end() in done. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "helpers.h"
#include "engine/graph.h"
#include "engine/kind.h"
#include "engine/load/load.h"

extern char **environ;

/* The test bed: nginx, stopped when its stdin closes. */
static struct {
	pid_t pid;
	int in_fd;
	char base[128];
	char www[512];
} tb = {.pid = -1, .in_fd = -1};


static int testbed_start(void **state)
{
	(void)state;
	int in[2], out[2];
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0)
		return -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	/* The source tree is the parent of the build folder holding us. */
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	exe[n > 0 ? n : 0] = '\0';
	for (int up = 0; up < 2 && strrchr(exe, '/'); up++)
		*strrchr(exe, '/') = '\0';
	char *script = xasprintf("%s/tests/lib/testbed.py", exe);
	char *argv[] = {"python3", script, "serve", NULL};
	int rc = posix_spawnp(&tb.pid, "python3", &fa, NULL, argv, environ);
	free(script);
	posix_spawn_file_actions_destroy(&fa);
	close(in[0]);
	close(out[1]);
	tb.in_fd = in[1];
	if (rc != 0) {
		close(out[0]);
		return -1;
	}
	FILE *f = fdopen(out[0], "r");
	char line[700] = "";
	if (!fgets(line, sizeof(line), f) ||
	    sscanf(line, "%127s %511s", tb.base, tb.www) != 2) {
		fclose(f);
		return -1;
	}
	fclose(f);
	return 0;
}

static int testbed_stop(void **state)
{
	(void)state;
	if (tb.in_fd >= 0)
		close(tb.in_fd); /* the test bed stops nginx by pid and exits */
	tb.in_fd = -1;
	if (tb.pid > 0)
		waitpid(tb.pid, NULL, 0);
	tb.pid = -1;
	return 0;
}

static void serve(const char *name, const char *data, size_t len)
{
	char *path = xasprintf("%s/%s", tb.www, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write_all(fd, data, len), 0);
	fchmod(fd, 0644);
	close(fd);
	free(path);
}

static void load_graph(struct graph *g, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct strbuf sb = {0};
	sb_vaddf(&sb, fmt, ap);
	va_end(ap);
	assert_int_equal(write_file_atomic("g.ini", sb_str(&sb), sb.len), 0);
	sb_release(&sb);
	struct load_opts o = {.file = "g.ini",
			      .cli = {.jobs = -1, .net_jobs = -1, .keep_going = -1, .load = -1},
			      .default_jobs = 2};
	struct diag d = {0};
	int rc = graph_load(g, &o, &d);
	for (size_t i = 0; i < d.msgs.n; i++)
		print_error("%s\n", d.msgs.v[i]);
	diag_release(&d);
	assert_int_equal(rc, 0);
}

/* One attempt as the eventloop backend carries it. */
struct slot {
	struct async_attempt aa;
	struct result res;
	struct worker w;
	bool done;
	int rc;
	struct slot *cancel_on_done; /* cancels that attempt from done */
	int *pending;
};

static void on_done(struct async_attempt *aa, int rc)
{
	struct slot *s = aa->backend_data;
	assert_false(s->done);
	s->done = true;
	s->rc = rc;
	attempt_end(&aa->a, rc);
	(*s->pending)--;
	if (s->cancel_on_done)
		s->cancel_on_done->aa.a.job->sec->kind->cancel_async(&s->cancel_on_done->aa);
}

static int start(struct slot *s, const struct job *job, uv_loop_t *loop, void **cache,
		 const char *prev_extra, int *pending)
{
	memset(s, 0, sizeof(*s));
	s->pending = pending;
	assert_int_equal(attempt_begin(&s->aa.a, job, &s->w, 1, prev_extra, &s->res), 0);
	s->res.status = RES_OK;
	s->aa.loop = loop;
	s->aa.loop_cache = cache;
	s->aa.done = on_done;
	s->aa.backend_data = s;
	int rc = job->sec->kind->start_async(&s->aa);
	if (rc == 0)
		(*pending)++;
	else
		attempt_end(&s->aa.a, -1);
	return rc;
}

static void finish_loop(uv_loop_t *loop, void **cache, const struct job_kind *kind)
{
	kind->loop_release(*cache);
	*cache = NULL;
	uv_run(loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(loop), 0);
}

static bool only_outputs_in(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return true;
	struct dirent *e;
	bool clean = true;
	while ((e = readdir(d)))
		if (strstr(e->d_name, ".juggle-"))
			clean = false;
	closedir(d);
	return clean;
}

static void test_async_many_transfers_share_one_multi(void **state)
{
	(void)state;
	char body[64];
	for (int i = 0; i < 25; i++) {
		char name[32];
		snprintf(name, sizeof(name), "m%d.txt", i);
		int n = snprintf(body, sizeof(body), "file %d\n", i);
		serve(name, body, (size_t)n);
	}
	struct graph g;
	load_graph(&g, "[download m]\nforeach = range:0..24\nurl = %s/lat/m{item}.txt\n"
		       "output = out/m{item}.txt\n", tb.base);
	const struct job_kind *kind = g.jobs.v[0]->sec->kind;
	uv_loop_t loop;
	uv_loop_init(&loop);
	void *cache = NULL;
	struct slot s[25];
	int pending = 0;
	/* Twenty at once: the multi handle carries them together. */
	for (int i = 0; i < 20; i++)
		assert_int_equal(start(&s[i], g.jobs.v[i], &loop, &cache, NULL, &pending), 0);
	assert_non_null(cache);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(pending, 0);
	long conns = 0;
	for (int i = 0; i < 20; i++) {
		assert_true(s[i].done);
		assert_int_equal(s[i].rc, 0);
		assert_int_equal(s[i].res.status, RES_OK);
		assert_int_equal(result_fact_get(&s[i].res, "http_status"), 200);
		conns += result_count_get(&s[i].res, "connections");
		char path[32], want[32];
		snprintf(path, sizeof(path), "out/m%d.txt", i);
		snprintf(want, sizeof(want), "file %d\n", i);
		size_t len;
		char *got = read_file(path, &len);
		assert_non_null(got);
		assert_string_equal(got, want);
		free(got);
		result_release(&s[i].res);
	}
	assert_true(conns >= 1 && conns <= 20);
	/* Then five one after another on the same loop: the multi handle's
	 * connection cache serves them all without a new connection. */
	conns = 0;
	for (int i = 20; i < 25; i++) {
		assert_int_equal(start(&s[i], g.jobs.v[i], &loop, &cache, NULL, &pending), 0);
		uv_run(&loop, UV_RUN_DEFAULT);
		assert_true(s[i].done);
		assert_int_equal(s[i].rc, 0);
		conns += result_count_get(&s[i].res, "connections");
		result_release(&s[i].res);
	}
	assert_int_equal(conns, 0);
	assert_true(only_outputs_in("out"));
	finish_loop(&loop, &cache, kind);
	graph_release(&g);
}

static void test_async_cancel_leaves_nothing(void **state)
{
	(void)state;
	static char big[65536];
	memset(big, 'b', sizeof(big));
	serve("big.bin", big, sizeof(big));
	struct graph g;
	/* stall: 4 KiB, then nothing; never: an answer after an hour. */
	load_graph(&g, "[download stalled]\nurl = %s/stall/big.bin\noutput = out/stalled.bin\n"
		       "[download quick]\nurl = %s/hello.txt\noutput = out/quick.txt\n"
		       "[download never]\nurl = %s/never\noutput = out/never.txt\n",
		   tb.base, tb.base, tb.base);
	const struct job_kind *kind = g.jobs.v[0]->sec->kind;
	uv_loop_t loop;
	uv_loop_init(&loop);
	void *cache = NULL;
	struct slot stalled, quick, never;
	int pending = 0;
	assert_int_equal(start(&stalled, g.jobs.v[0], &loop, &cache, NULL, &pending), 0);
	assert_int_equal(start(&never, g.jobs.v[2], &loop, &cache, NULL, &pending), 0);
	/* Cancelled at once: done still comes, later, from the loop. */
	kind->cancel_async(&never.aa);
	assert_false(never.done);
	/* The stalled transfer is cancelled when the quick one is done. */
	assert_int_equal(start(&quick, g.jobs.v[1], &loop, &cache, NULL, &pending), 0);
	quick.cancel_on_done = &stalled;
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(pending, 0);
	assert_int_equal(quick.rc, 0);
	assert_int_equal(quick.res.status, RES_OK);
	assert_int_equal(stalled.rc, -1);
	assert_int_equal(stalled.res.status, RES_INTERRUPTED);
	assert_int_equal(never.rc, -1);
	assert_int_equal(never.res.status, RES_INTERRUPTED);
	assert_int_equal(access("out/stalled.bin", F_OK), -1);
	assert_int_equal(access("out/never.txt", F_OK), -1);
	assert_true(only_outputs_in("out"));
	result_release(&quick.res);
	result_release(&stalled.res);
	result_release(&never.res);
	finish_loop(&loop, &cache, kind);
	graph_release(&g);
}

static void test_async_failures_and_refresh(void **state)
{
	(void)state;
	serve("cond.txt", "conditional\n", 12);
	struct graph g;
	load_graph(&g,
		   "[download missing]\nurl = %s/status/404\noutput = out/missing.txt\n"
		   "[download slow]\nurl = %s/never\noutput = out/slow.txt\ntimeout = 0.3\n"
		   "[download cond]\nurl = %s/cond.txt\noutput = out/cond.txt\n"
		   "[download once]\nurl = %s/cond.txt\noutput = out/once.txt\nrefresh = once\n",
		   tb.base, tb.base, tb.base, tb.base);
	const struct job_kind *kind = g.jobs.v[0]->sec->kind;
	uv_loop_t loop;
	uv_loop_init(&loop);
	void *cache = NULL;
	struct slot missing, slow, cond, cond2, once;
	int pending = 0;
	assert_int_equal(start(&missing, g.jobs.v[0], &loop, &cache, NULL, &pending), 0);
	assert_int_equal(start(&slow, g.jobs.v[1], &loop, &cache, NULL, &pending), 0);
	assert_int_equal(start(&cond, g.jobs.v[2], &loop, &cache, NULL, &pending), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(missing.rc, -1);
	assert_int_equal(result_fact_get(&missing.res, "http_status"), 404);
	assert_false(missing.res.retryable);
	assert_non_null(strstr(missing.res.error, "HTTP 404"));
	assert_int_equal(slow.rc, -1);
	assert_true(slow.res.timed_out);
	assert_true(slow.res.retryable);
	assert_int_equal(cond.rc, 0);
	assert_int_equal(cond.res.bytes, 12);
	assert_non_null(cond.res.extra);
	assert_non_null(strstr(cond.res.extra, "etag "));
	/* The next run sends the validators and gets a 304: no body, the
	 * output untouched. */
	assert_int_equal(start(&cond2, g.jobs.v[2], &loop, &cache, cond.res.extra, &pending), 0);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(cond2.rc, 0);
	assert_int_equal(result_fact_get(&cond2.res, "http_status"), 304);
	assert_true(cond2.res.unchanged);
	assert_int_equal(cond2.res.bytes, 0);
	/* refresh = once with the output present: done without a request,
	 * still from the loop and not from start_async. */
	assert_int_equal(write_file_atomic("out/once.txt", "old\n", 4), 0);
	assert_int_equal(start(&once, g.jobs.v[3], &loop, &cache, NULL, &pending), 0);
	assert_false(once.done);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(once.rc, 0);
	assert_true(once.res.unchanged);
	size_t len;
	char *text = read_file("out/once.txt", &len);
	assert_string_equal(text, "old\n");
	free(text);
	assert_true(only_outputs_in("out"));
	struct slot *all[] = {&missing, &slow, &cond, &cond2, &once};
	for (size_t i = 0; i < ARRAY_SIZE(all); i++)
		result_release(&all[i]->res);
	finish_loop(&loop, &cache, kind);
	graph_release(&g);
}

static void on_watchdog(uv_timer_t *t)
{
	*(bool *)t->data = true;
}

/* Runs the loop the way a backend waiting for one result does: one
 * UV_RUN_ONCE at a time until done has been called. */
static void run_once_until_done(uv_loop_t *loop, struct slot *s)
{
	uv_timer_t dog;
	bool fired = false;
	uv_timer_init(loop, &dog);
	dog.data = &fired;
	uv_timer_start(&dog, on_watchdog, 20000, 0);
	while (!s->done && !fired)
		uv_run(loop, UV_RUN_ONCE);
	uv_close((uv_handle_t *)&dog, NULL);
	uv_run(loop, UV_RUN_NOWAIT);
	assert_false(fired);
}

/* Attempts that end in curl's timer (file://, a timeout) or without a
 * transfer (refresh = once) still wake a loop run with UV_RUN_ONCE. */
static void test_async_done_wakes_a_run_once_loop(void **state)
{
	(void)state;
	char *cwd = getcwd(NULL, 0);
	assert_int_equal(write_file_atomic("src.txt", "local\n", 6), 0);
	assert_int_equal(mkdir_parents("out/once.txt"), 0);
	assert_int_equal(write_file_atomic("out/once.txt", "kept\n", 5), 0);
	struct graph g;
	load_graph(&g,
		   "[download local]\nurl = file://%s/src.txt\noutput = out/local.txt\n"
		   "[download slow]\nurl = %s/never\noutput = out/slow.txt\ntimeout = 0.3\n"
		   "[download once]\nurl = %s/hello.txt\noutput = out/once.txt\nrefresh = once\n",
		   cwd, tb.base, tb.base);
	free(cwd);
	const struct job_kind *kind = g.jobs.v[0]->sec->kind;
	uv_loop_t loop;
	uv_loop_init(&loop);
	void *cache = NULL;
	struct slot s[3];
	int pending = 0;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(start(&s[i], g.jobs.v[i], &loop, &cache, NULL, &pending), 0);
		run_once_until_done(&loop, &s[i]);
	}
	assert_int_equal(s[0].rc, 0);
	assert_int_equal(s[0].res.bytes, 6);
	assert_int_equal(result_fact_get(&s[0].res, "http_status"), 0);
	assert_int_equal(s[1].rc, -1);
	assert_true(s[1].res.timed_out);
	assert_int_equal(s[2].rc, 0);
	assert_true(s[2].res.unchanged);
	size_t len;
	char *text = read_file("out/local.txt", &len);
	assert_string_equal(text, "local\n");
	free(text);
	assert_true(only_outputs_in("out"));
	for (int i = 0; i < 3; i++)
		result_release(&s[i].res);
	finish_loop(&loop, &cache, kind);
	graph_release(&g);
}

static const struct CMUnitTest tests[] = {
	cmocka_unit_test_setup_teardown(test_async_many_transfers_share_one_multi, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_async_cancel_leaves_nothing, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_async_failures_and_refresh, in_tmp, out_of_tmp),
	cmocka_unit_test_setup_teardown(test_async_done_wakes_a_run_once_loop, in_tmp, out_of_tmp),
};
UNIT_GROUP(download, tests, testbed_start, testbed_stop);
