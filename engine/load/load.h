/* load.h - the loader: reads a graph file into a struct graph.
 *
 * graph_load() reads the INI file, expands ${vars} and foreach, resolves
 * inputs, outputs and dependencies, and validates everything (see the
 * lifecycle in graph.h). The value parsers the loader uses for the common
 * keys are here too, for the job kinds' own keys.
 */
#ifndef JUGGLE_LOAD_H
#define JUGGLE_LOAD_H

#include "engine/diag.h"
#include "engine/graph.h"

/* A file of the in-memory file system a load may use instead of the disk
 * (fuzzing): foreach globs, input globs and lines: files see these. */
struct mem_file {
	const char *path; /* normalised, relative to the graph's folder */
	const char *data;
	size_t len;
};

struct load_opts {
	const char *file;           /* the graph file to open */
	const char *display;        /* its name in messages (NULL: file) */
	struct settings cli;        /* command-line settings; win over [settings] */
	const char *const *set;     /* "-s NAME=VALUE" strings, NULL-terminated or NULL */
	int default_jobs;           /* -j when neither the file nor the command line says */
	bool mem_fs;                /* for fuzzing: globs and lines: files see mem_files
				     * (and declared outputs), never the disk */
	const struct mem_file *mem_files;
	size_t n_mem_files;
	size_t max_items;           /* most items of one foreach; 0: 1,000,000 */
	/* A foreach over another job's output (struct section.dyn_source)
	 * reads its items only once that output is in settled (the outputs
	 * of jobs that ended well earlier in the run); until then the
	 * section is deferred. false: every foreach reads its items now. */
	bool dynamic;
	const struct strmap *settled; /* path -> anything; NULL: none yet */
	bool settled_if_exists;     /* an output that exists counts as settled */
	const char *text;           /* for fuzzing: the graph itself instead of file */
	size_t text_len;
};

/* Reads, expands and validates a graph. Returns 0, or -1 with d filled. */
int graph_load(struct graph *g, const struct load_opts *o, struct diag *d);

/* Values as keys take them; each returns 0, or -1 when s is malformed. */
int parse_yes_no(const char *s, bool *out);         /* yes/no, true/false, on/off, 1/0 */
int parse_bytes(const char *s, int64_t *out);       /* 1024, 10K, 5M, 1G */
int parse_load(const char *s, double *out);         /* a load average, 0 to 100000 */
int parse_uint(const char *s, uint64_t max, uint64_t *out);
int parse_seconds(const char *s, double *out);      /* seconds, 0 to 1e7 */

#endif
