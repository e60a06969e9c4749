/* state.h - what juggle remembers between runs: .juggle/state.
 *
 * An append-only, versioned, line-per-record log in the spirit of
 * .ninja_log; the last record of a job wins. Each line carries a CRC, so a
 * line torn by a crash is recognised and dropped. A log of another version,
 * or one with a damaged line anywhere but at the end, is renamed aside with
 * a warning and the run starts from nothing: the log is a cache, never the
 * truth, and losing it only means re-running jobs.
 *
 * Runs are numbered. A record says in which run the job last succeeded and
 * in which run its outputs last changed, so "a dependency changed since
 * this job last ran" survives runs that stopped half-way.
 */
#ifndef JUGGLE_STATE_H
#define JUGGLE_STATE_H

#include "engine/filesig.h"
#include "engine/graph.h"

#define STATE_VERSION 1

struct state_rec {
	const char *name;
	unsigned char fp[16];
	uint64_t ok_seq;      /* run of the last success */
	uint64_t changed_seq; /* run in which the outputs last changed */
	double start;         /* epoch seconds of that success */
	double duration;      /* its seconds, for progress estimates */
	uint32_t n_in, n_out;
	struct file_sig *files; /* n_in inputs, then n_out outputs */
	const char *extra;    /* the kind's memo (ETag...), "" if none */
};

struct state;

/* Opens the state in dir (normally ".juggle", created if missing unless
 * readonly). Warnings (a log set aside) are appended to warn. Returns 0, or
 * -1 with err when the folder cannot be created or the log not opened. */
int state_open(struct state **out, const char *dir, bool readonly, struct strbuf *warn,
	       struct strbuf *err);
/* Writes pending records, compacts the log when it has grown, frees st. */
void state_close(struct state *st);

/* The number of this run. */
uint64_t state_seq(const struct state *st);
/* The last success of the job, or NULL. */
const struct state_rec *state_find(const struct state *st, const char *name);

/* The signature of path now. The content hash is computed only when the
 * file differs in mtime or size from `known` (or when known is NULL), so a
 * graph whose files did not change is checked with stat() alone. Results
 * are cached for the run. Returns NULL when the file does not exist. */
const struct file_sig *state_sig(struct state *st, const char *path, const struct file_sig *known);
/* The same for a folder output (engine/outtree.h): its tree's
 * signature, taken once a run. NULL when it is not a real folder. */
const struct file_sig *state_tree_sig(struct state *st, const char *path);
/* Tells the cache about a file a job just wrote. */
void state_sig_put(struct state *st, const struct file_sig *sig);

/* Records a success. ins/outs are copied. changed: the outputs changed. */
int state_record_ok(struct state *st, const struct job *job, const struct file_sig *ins,
		    uint32_t n_in, const struct file_sig *outs, uint32_t n_out, double start,
		    double duration, const char *extra, bool changed);
/* For a job found up to date: when a file of its record was touched
 * without a change (the content hash, taken by state_sig(), confirmed it),
 * appends the record again with the file's new mtime and size, so the
 * next run decides with stat() alone instead of hashing it every time.
 * Everything else in the record stays as it was. Does nothing for a
 * read-only state, when no signature moved, or for a file modified less
 * than a second ago (a write in the same timestamp tick could follow). */
int state_refresh(struct state *st, const struct job *job);
/* Records that the job failed or was interrupted, forgetting its success. */
int state_record_fail(struct state *st, const struct job *job);
/* Forgets the last success of the job called name, as state_record_fail()
 * does, for a job the graph no longer has (engine/stale.h). */
int state_forget(struct state *st, const char *name);
/* Calls fn with the last success of every job the log remembers, those of
 * jobs gone from the graph too, in no set order. fn must not change st. */
void state_each(const struct state *st, void (*fn)(const struct state_rec *rec, void *ctx),
		void *ctx);

/* How many records could not be appended to the log (a full disk), and
 * the first error in *err. Those jobs run again next time; the log itself
 * stays sound. */
size_t state_write_failures(const struct state *st, int *err);

/* Whether a record's outputs match these signatures byte for byte. */
bool state_outputs_same(const struct state_rec *rec, const struct file_sig *outs, uint32_t n);

/* The previous run's report and durations live beside the log. */
#define STATE_LOG STATE_DIR "/state"

#endif
