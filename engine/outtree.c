/* outtree.c - folder outputs; see outtree.h.
 *
 * Every walk goes down from a descriptor with openat(O_NOFOLLOW) and
 * fstatat(AT_SYMLINK_NOFOLLOW), never through a path, so nothing the job
 * left in its tree (a link to /etc, a folder swapped for a link) can make
 * juggle read, write or remove anything outside it.
 */
#define _GNU_SOURCE
#include "engine/outtree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/graph.h"
#include "engine/owndir.h"
#include "engine/safepath.h"
#include "engine/util.h"

#define TREES_DIR    STATE_DIR "/trees"
#define STAGE_SUFFIX ".juggle-tree"
#define OLD_SUFFIX   ".juggle-old"
/* Folders deeper than this are refused (one descriptor per level). */
#define MAX_DEPTH 128

char *tree_stage_path(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return xasprintf("."
		                 "%s" STAGE_SUFFIX,
		                 path);
	return xasprintf("%.*s/.%s" STAGE_SUFFIX, (int)(slash - path), path, slash + 1);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in the folder open as d, sorted; -1 with errno on error. */
static int list_dir(DIR *d, struct strvec *names)
{
	struct dirent *e;
	errno = 0;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		VEC_PUSH(names, xstrdup(e->d_name));
	}
	if (errno)
		return -1;
	if (names->n)
		qsort(names->v, names->n, sizeof(char *), cmp_str);
	return 0;
}

struct walk {
	EVP_MD_CTX *ctx;
	int64_t newest, bytes;
	struct strbuf rel; /* the path inside the tree being looked at */
};

/* Signs what is in the folder open as fd (taken), at depth levels down. */
static int sign_dir(struct walk *w, int fd, int depth)
{
	if (depth > MAX_DEPTH) {
		close(fd);
		errno = ELOOP;
		return -1;
	}
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	struct strvec names = {0};
	int rc = list_dir(d, &names);
	size_t keep = w->rel.len;
	for (size_t i = 0; rc == 0 && i < names.n; i++) {
		const char *name = names.v[i];
		w->rel.len = keep;
		if (keep)
			sb_addc(&w->rel, '/');
		sb_adds(&w->rel, name);
		struct stat st;
		if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			rc = -1;
			break;
		}
		if (time_ns(&st.st_mtim) > w->newest)
			w->newest = time_ns(&st.st_mtim);
		char head[64];
		int n;
		if (S_ISDIR(st.st_mode)) {
			n = snprintf(head, sizeof(head), "d");
		} else if (S_ISREG(st.st_mode)) {
			n = snprintf(head, sizeof(head), "f %" PRId64 " %" PRId64,
			             (int64_t)st.st_size, time_ns(&st.st_mtim));
			w->bytes += (int64_t)st.st_size;
		} else if (S_ISLNK(st.st_mode)) {
			n = snprintf(head, sizeof(head), "l");
		} else {
			n = snprintf(head, sizeof(head), "o %o", (unsigned)st.st_mode);
		}
		EVP_DigestUpdate(w->ctx, head, (size_t)n + 1);
		EVP_DigestUpdate(w->ctx, w->rel.buf, w->rel.len + 1);
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t len = readlinkat(dirfd(d), name, target, sizeof(target));
			if (len < 0) {
				rc = -1;
				break;
			}
			EVP_DigestUpdate(w->ctx, target, (size_t)len);
			EVP_DigestUpdate(w->ctx, "", 1);
		} else if (S_ISDIR(st.st_mode)) {
			int sub =
			    openat(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0 || sign_dir(w, sub, depth + 1) < 0)
				rc = -1;
		}
	}
	int e = errno;
	w->rel.len = keep;
	if (w->rel.buf)
		w->rel.buf[keep] = '\0';
	strvec_release(&names);
	closedir(d);
	errno = e;
	return rc;
}

/* Opens the real folder at path (not a link) for reading; -1 with errno. */
static int open_tree(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *parent = slash ? xstrndup(path, (size_t)(slash - path)) : xstrdup(".");
	int pfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	free(parent);
	if (pfd < 0)
		return -1;
	int fd =
	    openat(pfd, slash ? slash + 1 : path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int e = errno;
	close(pfd);
	errno = e;
	return fd;
}

int tree_sig_read(const char *path, struct file_sig *sig)
{
	sig->mtime_ns = -1;
	sig->size = 0;
	memset(sig->hash, 0, 16);
	int fd = open_tree(path);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		errno = e;
		return -1;
	}
	struct walk w = {.ctx = EVP_MD_CTX_new(), .newest = time_ns(&st.st_mtim)};
	EVP_DigestInit_ex(w.ctx, md_sha256(), NULL);
	EVP_DigestUpdate(w.ctx, "juggle tree 1", 14);
	int rc = sign_dir(&w, fd, 0);
	int e = errno;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len;
	EVP_DigestFinal_ex(w.ctx, md, &len);
	EVP_MD_CTX_free(w.ctx);
	sb_release(&w.rel);
	if (rc < 0) {
		errno = e;
		return -1;
	}
	memcpy(sig->hash, md, 16);
	sig->mtime_ns = w.newest;
	sig->size = w.bytes;
	return 0;
}

/* Removes name in the folder open as dir, and everything under it when it
 * is a real folder; a link is removed, never followed. */
static int remove_at(int dir, const char *name, int depth)
{
	struct stat st;
	if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dir, name, 0);
	if (depth > MAX_DEPTH) {
		errno = ELOOP;
		return -1;
	}
	int fd = openat(dir, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -1;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	struct strvec names = {0};
	int rc = list_dir(d, &names);
	for (size_t i = 0; rc == 0 && i < names.n; i++)
		rc = remove_at(dirfd(d), names.v[i], depth + 1);
	int e = errno;
	strvec_release(&names);
	closedir(d);
	if (rc < 0) {
		errno = e;
		return -1;
	}
	return unlinkat(dir, name, AT_REMOVEDIR);
}

/* The record of folder output path: ".juggle/trees/" and the path with
 * '/' and odd bytes escaped (a hash for the tail of a long one). */
static char *record_path(const char *path)
{
	struct strbuf sb = {0};
	sb_adds(&sb, TREES_DIR "/");
	size_t base = sb.len;
	for (const char *p = path; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '_' || c == '-')
			sb_addc(&sb, (char)c);
		else
			sb_addf(&sb, "%%%02X", c);
	}
	if (sb.len - base > 200) {
		sb.len = base + 180;
		sb.buf[sb.len] = '\0';
		sb_addf(&sb, "~%016llx", (unsigned long long)hash_str(path));
	}
	return sb_detach(&sb);
}

/* Whether the entry base in dir is a real folder matching path's record. */
static bool owned_at(int dir, const char *base, const char *path)
{
	struct stat st;
	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))
		return false;
	char *rp = record_path(path);
	size_t len;
	char *data = own_file_read(rp, &len);
	free(rp);
	if (!data)
		return false;
	unsigned long long dev, ino;
	bool ok = sscanf(data, "%llu %llu", &dev, &ino) == 2 &&
	          dev == (unsigned long long)st.st_dev && ino == (unsigned long long)st.st_ino;
	free(data);
	return ok;
}

/* Records the folder now at base in dir as juggle's. */
static int record(int dir, const char *base, const char *path)
{
	struct stat st;
	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	mkdir_p(TREES_DIR, 0777);
	char *rp = record_path(path);
	int fd = own_file_open(rp, O_WRONLY | O_CREAT | O_TRUNC, 0666);
	free(rp);
	if (fd < 0)
		return -1;
	char line[64];
	int n = snprintf(line, sizeof(line), "%llu %llu\n", (unsigned long long)st.st_dev,
	                 (unsigned long long)st.st_ino);
	int rc = write_all(fd, line, (size_t)n);
	int e = errno;
	close(fd);
	errno = e;
	return rc;
}

static void forget(const char *path)
{
	char *rp = record_path(path);
	unlink(rp);
	free(rp);
}

/* The staging folder's name in the parent: ".NAME.juggle-tree". */
static char *stage_name(const char *base, const char *suffix)
{
	return xasprintf(".%s%s", base, suffix);
}

bool tree_owned(const char *path)
{
	const char *base;
	int dir = out_dir_open(path, false, &base);
	if (dir < 0)
		return false;
	bool ok = owned_at(dir, base, path);
	close(dir);
	return ok;
}

int tree_prepare(const char *path)
{
	const char *base;
	int dir = out_dir_open(path, true, &base);
	if (dir < 0)
		return -1;
	struct stat st;
	int rc = 0;
	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && !owned_at(dir, base, path)) {
		errno = EEXIST;
		rc = -1;
	}
	char *stage = stage_name(base, STAGE_SUFFIX);
	if (rc == 0 && fstatat(dir, stage, &st, AT_SYMLINK_NOFOLLOW) == 0)
		rc = remove_at(dir, stage, 0); /* a killed run's */
	if (rc == 0)
		rc = mkdirat(dir, stage, 0777);
	int e = errno;
	free(stage);
	close(dir);
	errno = e;
	return rc;
}

int tree_commit(const char *path)
{
	const char *base;
	int dir = out_dir_open(path, false, &base);
	if (dir < 0)
		return -1;
	char *stage = stage_name(base, STAGE_SUFFIX);
	char *old = NULL;
	struct stat st;
	int rc = 0;
	if (fstatat(dir, stage, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		rc = -1;
	} else if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = renameat(dir, stage, dir, base);
	} else if (!owned_at(dir, base, path)) {
		errno = EEXIST;
		rc = -1;
	} else if (renameat2(dir, stage, dir, base, RENAME_EXCHANGE) == 0) {
		/* The old tree is now at the staging name. */
		rc = remove_at(dir, stage, 0);
	} else {
		/* No exchange on this file system: two renames. */
		old = stage_name(base, OLD_SUFFIX);
		if (fstatat(dir, old, &st, AT_SYMLINK_NOFOLLOW) == 0)
			remove_at(dir, old, 0);
		rc = renameat(dir, base, dir, old);
		if (rc == 0)
			rc = renameat(dir, stage, dir, base);
		if (rc == 0)
			rc = remove_at(dir, old, 0);
	}
	if (rc == 0)
		rc = record(dir, base, path);
	int e = errno;
	free(stage);
	free(old);
	close(dir);
	errno = e;
	return rc;
}

void tree_abort(const char *path)
{
	const char *base;
	int dir = out_dir_open(path, false, &base);
	if (dir < 0)
		return;
	char *stage = stage_name(base, STAGE_SUFFIX);
	struct stat st;
	if (fstatat(dir, stage, &st, AT_SYMLINK_NOFOLLOW) == 0)
		remove_at(dir, stage, 0);
	free(stage);
	close(dir);
}

int tree_remove(const char *path)
{
	const char *base;
	int dir = out_dir_open(path, false, &base);
	if (dir < 0)
		return -1;
	struct stat st;
	int rc = 0;
	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		rc = -1;
	} else if (!owned_at(dir, base, path)) {
		errno = EPERM;
		rc = -1;
	} else {
		rc = remove_at(dir, base, 0);
		if (rc == 0)
			forget(path);
	}
	int e = errno;
	close(dir);
	errno = e;
	return rc;
}

const char *tree_strerror(int e)
{
	if (e == EEXIST || e == EPERM)
		return "something juggle did not write is there; move it away (or remove it) "
		       "and run again";
	if (e == ENOTDIR)
		return "its staging folder is not a folder any more";
	return out_dir_strerror(e);
}
