/* archive.h - the archive of a run (juggle(1), ARCHIVE), written with
 * libarchive.
 *
 * What goes in, each entry at a relative path:
 *   - the declared outputs of every wanted job that succeeded in this run
 *     or was already up to date (a nightly archive holds the whole result,
 *     not only what changed tonight), at their paths in the graph's folder;
 *   - each wanted job's log, as logs/NAME.log (the last log a job wrote,
 *     so an up-to-date job's log is the one of the run that made it);
 *   - the reports of this run under reports/ (report.json always, and
 *     report.html, trace.json, junit.xml when asked for);
 *   - MANIFEST.sha256 (`sha256sum -c` format) and manifest.json (path,
 *     size, sha256 and job of every output), both over the outputs only,
 *     so that they are as reproducible as the outputs themselves.
 * Outputs of failed, interrupted or not-run jobs never go in. Which file
 * a run that did not succeed writes, if any, is the caller's choice
 * (archive_on_failure in [settings]).
 *
 * Reproducible: entries sorted by name (bytes), no folder entries, owner
 * 0:0 with no user or group names, mode 0644 (0755 when the file had an
 * execute bit), mtime SOURCE_DATE_EPOCH when set (else the file's own),
 * no gzip timestamp, zip times in UTC. Two runs that make the same outputs
 * give archives whose entries outside logs/ and reports/ are the same
 * bytes, in the same order, with the same metadata.
 *
 * Safe: an output is opened one path component at a time without
 * following symbolic links, so a symlink (or a folder replaced by one)
 * never brings outside files in; absolute paths and ".." never go in; the
 * archive never contains itself. It is written to a temporary file beside
 * path and renamed over it at the end.
 */
#ifndef JUGGLE_ARCHIVE_H
#define JUGGLE_ARCHIVE_H

#include "engine/graph.h"

enum run_archive_format { RA_TAR, RA_TAR_GZ, RA_TAR_XZ, RA_TAR_ZST, RA_ZIP };

/* The format named by path's extension (.tar, .tar.gz, .tgz, .tar.xz,
 * .txz, .tar.zst, .tzst, .zip). 0, or -1 with err listing the extensions. */
int run_archive_format(const char *path, enum run_archive_format *fmt, struct strbuf *err);

/* Where a run that did not succeed writes its archive, beside the one a
 * good run writes: ".partial" before the format's extension
 * ("nightly.tar.gz" -> "nightly.partial.tar.gz"). The caller frees it. */
char *run_archive_partial_path(const char *path);

/* SOURCE_DATE_EPOCH: 0 with *set false when unset; 0 with *epoch when it
 * is a decimal number of seconds; -1 with err when it is malformed. */
int run_archive_epoch(long long *epoch, bool *set, struct strbuf *err);

/* A report kept in memory, archived as reports/NAME. */
struct run_archive_blob {
	const char *name;
	const char *data;
	size_t len;
};

struct run_archive_stats {
	size_t files;
	uint64_t bytes; /* of the files, before compression */
};

/* Writes the archive of a finished run of g (run from the graph's folder).
 * now: the mtime of in-memory entries when SOURCE_DATE_EPOCH is unset.
 * Outputs that cannot go in (a symlink, not a regular file, the archive
 * itself) are skipped with a line in warn. Returns 0, or -1 with err (and
 * then path is untouched). */
int run_archive_write(const char *path, const struct graph *g,
                      const struct run_archive_blob *reports, size_t n_reports, double now,
                      struct run_archive_stats *stats, struct strbuf *warn, struct strbuf *err);

#endif
