/* filesig.h - a file's signature: what the state log remembers of an
 * input or an output (modification time, size, content hash) to tell
 * whether it changed.
 */
#ifndef JUGGLE_FILESIG_H
#define JUGGLE_FILESIG_H

#include <stdbool.h>
#include <stdint.h>

/* A file as the state log remembers it. */
struct file_sig {
	const char *path;
	int64_t mtime_ns; /* -1: the file does not exist */
	int64_t size;
	unsigned char hash[16];
};

/* Fills sig for path: stat, and the content hash when want_hash. Returns 0,
 * or -1 when the file is missing (sig->mtime_ns = -1). */
int file_sig_read(const char *path, struct file_sig *sig, bool want_hash);
/* 128-bit content hash (truncated SHA-256) of a file; 0 or -1. */
int hash_file(const char *path, unsigned char out[16]);

#endif
