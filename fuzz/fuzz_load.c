/* fuzz_load.c - libFuzzer target: raw bytes as a graph file, through
 * inih, variable and foreach expansion, placeholders, validation, the
 * fingerprint and the dependency order.
 *
 * The loader never sees the disk: foreach globs, input globs and lines:
 * files read an in-memory file system (load_opts.mem_fs). Its files are a
 * fixed few with awkward names and items, plus any the input carries after
 * its first NUL byte (which would end the graph anyway: the loader rejects
 * NUL bytes), each as "PATH\nCONTENT", separated by NUL bytes:
 *
 *   [command c]\nforeach = lines:l.txt\n...\0l.txt\na\nb c\n\0more/x\n...
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/graph.h"
#include "engine/kind.h"
#include "engine/load/load.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIXED(p, s) {p, s, sizeof(s) - 1}
static const struct mem_file fixed[] = {
	FIXED("items.txt", "a\n# comment\n\n  b c  \n$(rm -rf ~)\n'q\"\n{item}\n../up\n/abs\n"),
	FIXED("urls.txt", "http://127.0.0.1:1/x\nfile:///etc/passwd\n"),
	FIXED("docs/intro.xml", "<a/>"),
	FIXED("docs/guide/a b.xml", "<a/>"),
	FIXED("docs/guide/$(x);'.xml", "<a/>"),
	FIXED("docs/.hidden/c.xml", "<a/>"),
	FIXED("docs/d.txt", ""),
	FIXED("data/sales.csv", "1,2\n"),
	FIXED("empty.txt", ""),
};
#define N_FIXED (sizeof(fixed) / sizeof(fixed[0]))
#define MAX_FILES 16

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
	struct mem_file files[N_FIXED + MAX_FILES];
	memcpy(files, fixed, sizeof(fixed));
	size_t nf = N_FIXED;
	const char *text = (const char *)data;
	const char *end = text + size;
	const char *nul = memchr(text, '\0', size);
	size_t text_len = nul ? (size_t)(nul - text) : size;
	/* Paths must be NUL-terminated strings: copy them. */
	char *paths[MAX_FILES];
	size_t npaths = 0;
	for (const char *p = nul; p && p < end && nf < N_FIXED + MAX_FILES;) {
		p++; /* past the NUL */
		const char *next = memchr(p, '\0', (size_t)(end - p));
		const char *stop = next ? next : end;
		const char *nl = memchr(p, '\n', (size_t)(stop - p));
		if (nl && nl > p) {
			paths[npaths] = strndup(p, (size_t)(nl - p));
			files[nf++] = (struct mem_file){paths[npaths++], nl + 1,
							(size_t)(stop - nl - 1)};
		}
		p = next;
	}
	const char *set[] = {"over=ridden", NULL};
	struct load_opts o = {
		.file = "fuzz.ini",
		.cli = {.jobs = -1, .net_jobs = -1, .keep_going = -1, .load = -1},
		.set = set,
		.default_jobs = 2,
		.mem_fs = true,
		.mem_files = files,
		.n_mem_files = nf,
		.max_items = 1000, /* big graphs are the load tests' business */
		.text = text,
		.text_len = text_len,
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
			if (j->sec->kind->program) {
				struct job_program prog;
				j->sec->kind->program(j, &prog);
				if (!prog.argv || !prog.argv[0])
					abort(); /* a command always has a program */
				job_program_release(&prog);
			}
			for (uint32_t k = 0; k < j->n_outputs; k++) {
				const char *out = j->outputs[k];
				if (out[0] == '/' || strcmp(out, "..") == 0 ||
				    strncmp(out, "../", 3) == 0 || strstr(out, "/../"))
					abort(); /* outputs stay inside the folder */
			}
			char *log = job_log_path(j);
			if (strstr(log + strlen(".juggle/logs/"), "/") || strstr(log, "/../"))
				abort(); /* a log stays in .juggle/logs/ */
			free(log);
		}
		sb_release(&err);
	}
	for (size_t i = 0; i < d.msgs.n; i++)
		if (!strchr(d.msgs.v[i], ':'))
			abort(); /* every message says where */
	diag_release(&d);
	graph_release(&g);
	for (size_t i = 0; i < npaths; i++)
		free(paths[i]);
	return 0;
}
