/* fuzz_load.c - libFuzzer target: raw bytes as a graph file, through
 * inih, variable and foreach expansion, placeholders, validation, the
 * fingerprint and the dependency order. Globs see declared outputs only
 * (no_glob_fs), so the target never walks the disk. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/graph.h"
#include "../engine/kind.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		kinds_init();
		char tmpl[] = "/tmp/juggle-fuzz-XXXXXX";
		if (!mkdtemp(tmpl) || chdir(tmpl) < 0)
			abort();
		ready = 1;
	}
	const char *set[] = {"over=ridden", NULL};
	struct load_opts o = {
		.file = "fuzz.ini",
		.cli = {.jobs = -1, .net_jobs = -1, .keep_going = -1},
		.set = set,
		.default_jobs = 2,
		.no_glob_fs = true,
		.max_items = 1000, /* big graphs are the load tests' business */
		.text = (const char *)data,
		.text_len = size,
	};
	struct graph g;
	struct diag d = {0};
	if (graph_load(&g, &o, &d) == 0) {
		struct strbuf err = {0};
		graph_select(&g, NULL, 0, &err);
		size_t n;
		free(graph_order(&g, &n));
		for (size_t i = 0; i < g.jobs.n; i++) {
			struct job *j = g.jobs.v[i];
			if (j->sec->kind->describe)
				j->sec->kind->describe(j, &err);
			char *log = job_log_path(j);
			free(log);
		}
		sb_release(&err);
	}
	for (size_t i = 0; i < d.msgs.n; i++)
		if (!strchr(d.msgs.v[i], ':'))
			abort(); /* every message says where */
	diag_release(&d);
	graph_release(&g);
	return 0;
}
