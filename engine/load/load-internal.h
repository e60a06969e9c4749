/* load-internal.h - what the loader's phases share; only engine/load/
 * includes it.
 *
 * graph_load() (load.c) runs the phases in order over one struct loader:
 *   1. read.c: the INI text, line by line, into sections and keys.
 *   2. settings.c: [settings] under the command line and -s, [pool]; the
 *      value parsers.
 *   3. section.c: each job section's common keys, checked and parsed.
 *   4. instances.c: foreach items, the jobs and batches made from them,
 *      their inputs and outputs.
 *   5. link.c: the edges between jobs, and cycles.
 *   6. fingerprint.c: each job's fingerprint.
 * A phase reports every problem in the diag; graph_load() stops after the
 * phase in which any was found.
 *
 * inih as Debian builds it has traps (juggle.ini(5) tells users): a line
 * over 199 characters is cut and its rest read as a new line, section and
 * key names are cut at 49 characters, " ;" starts a comment anywhere, an
 * indented line continues the previous value even when it looks like a
 * key, and the handler is not told the line number. So inih reads through
 * our own reader, which sees every raw line first: it counts lines, rejects
 * what inih would silently mangle, and parses section headers itself.
 * inih still does the key/value splitting, comments and continuations.
 */
#ifndef JUGGLE_LOAD_INTERNAL_H
#define JUGGLE_LOAD_INTERNAL_H

#include <stdio.h>

#include "engine/diag.h"
#include "engine/graph.h"
#include "engine/load/load.h"
#include "engine/util.h"

/* The kind of section being read. */
enum sec_type { SEC_NONE, SEC_SETTINGS, SEC_VARS, SEC_POOL, SEC_JOB, SEC_BAD };

/* One load, from the first line read to the last check. */
struct loader {
	struct graph *g;
	struct diag *d;
	const struct load_opts *o;
	const char *file;
	FILE *f;
	char *buf;
	size_t cap;
	int lineno;

	/* What the reader found out about the current line. */
	bool skip;      /* the reader reported this line; the handler ignores it */
	bool cont;      /* a continuation of the previous key's value */
	bool cut;       /* inih cuts the line's value at an inline comment */
	bool have_key;  /* a key was seen since the section header (inih's prev_name) */
	char *raw_key;  /* the full key of a key line */
	int error_line; /* last line the reader reported */

	enum sec_type sec_type;
	struct section *sec;
	struct pool *pool;
	struct kvvec *kvs;   /* where keys of the current section go */
	struct kv *last;     /* the key continuation lines extend */

	struct kvvec settings;
	struct kvvec pool_kvs; /* the keys of every [pool], told apart by line */
	struct kvvec job_kvs;  /* the current job's keys, until the section ends */

	/* The last output folder output_in_state_dir() looked at, and what it
	 * found: a foreach's outputs share a few folders. */
	char *own_dir;
	bool own_inside;
	bool tree_outputs;     /* some job has a folder output ("DIR/") */
	size_t instances;      /* job instances made so far, against max_items() */
	struct strvec *items;  /* each section's foreach items, read before any job */
	struct strmap declared; /* output path -> 1 + index of the section declaring it */
	struct strvec declared_keys; /* the declared map's keys, owned */
};

/* An input glob of a job, resolved once every job's outputs are known. */
struct pending_glob {
	struct job *job;
	const char *pattern;
	int line;
};

struct globvec {
	struct pending_glob *v;
	size_t n, cap;
};

/* ---- load.c ---- */

bool in_list(const char *const *list, const char *s);
/* Reports a problem of job (a section or an instance) at line. */
void jerr(struct loader *L, int line, const char *job, const char *fmt, ...) PRINTF(4, 5);
/* Most items of one foreach, and most jobs of one graph. */
size_t max_items(const struct loader *L);

/* ---- read.c ---- */

/* The keys every job section takes, and those of [settings]. */
extern const char *const common_keys[];
extern const char *const settings_keys[];
/* The interned name of key when [settings] takes it (settings_keys, or a
 * kind's settings_keys), else NULL. */
const char *setting_key(const char *key);
/* inih's reader and handler (ini_parse_stream()); the stream is the loader. */
char *load_reader(char *str, int num, void *stream);
int load_handler(void *user, const char *section, const char *name, const char *value);
/* Ends the section being read (inih does not say when one ends). */
void end_section(struct loader *L);

/* ---- settings.c ---- */

/* A whole number in lo..hi; 0, or -1 when s is malformed or out of
 * range. (parse_seconds() is in load.h.) */
int parse_long(const char *s, long lo, long hi, long *out);
/* Expands ${} in every value of kvs; reports errors with where. Returns
 * the number of errors. */
size_t expand_kvs(struct loader *L, struct kv *kvs, size_t n, const char *where);
/* [settings] under the command line, with ${vars} expanded. */
void load_settings(struct loader *L);
/* Each [pool]'s depth. */
void load_pools(struct loader *L);

/* ---- section.c ---- */

/* Checks a job section's keys and parses the common ones, then hands the
 * rest to its kind's check(). */
void load_section(struct loader *L, struct section *sec);

/* ---- instances.c ---- */

/* Words of a key for one instance: split, then placeholders per word. */
int instance_words(struct loader *L, struct job *job, const struct kv *kv, struct strvec *out);
/* Reads every section's foreach items before any job is made. */
void read_items(struct loader *L);
/* Makes the jobs of section s; leaves their input globs in globs. */
void make_instances(struct loader *L, size_t s, const char *graph_base, struct globvec *globs);
/* Input globs see files on disk and every job's declared outputs. */
void resolve_input_globs(struct loader *L, struct globvec *globs);

/* ---- link.c ---- */

/* Each job's dependencies (after-jobs, producers of its inputs) and
 * dependents. */
void link_deps(struct loader *L);
/* Reports every cycle of dependencies. */
void find_cycles(struct loader *L);

/* ---- fingerprint.c ---- */

/* Each job's fingerprint of its definition (job.fp). */
void fingerprints(struct graph *g);

#endif
