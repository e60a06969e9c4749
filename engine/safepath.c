/* safepath.c - reaching outputs without leaving the graph's folder; see
 * safepath.h. */
#define _GNU_SOURCE
#include "engine/safepath.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/kind.h"
#include "engine/outtree.h"
#include "engine/util.h"

/* Whether the folder open as fd lies inside the graph's folder (the
 * current directory): walks up through ".." from fd itself until it meets
 * the graph's folder (inside) or the root of the file system (outside). */
static bool beneath_cwd(int fd)
{
	struct stat root, st;
	if (stat(".", &root) < 0 || fstat(fd, &st) < 0)
		return false;
	int cur = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (cur < 0)
		return false;
	bool inside = false;
	for (int depth = 0; depth < 4096; depth++) {
		if (st.st_dev == root.st_dev && st.st_ino == root.st_ino) {
			inside = true;
			break;
		}
		int up = openat(cur, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		struct stat ust;
		if (up < 0 || fstat(up, &ust) < 0) {
			if (up >= 0)
				close(up);
			break;
		}
		close(cur);
		cur = up;
		if (ust.st_dev == st.st_dev && ust.st_ino == st.st_ino)
			break; /* the root: ".." is itself */
		st = ust;
	}
	close(cur);
	return inside;
}

/* Opens the folder comp in the folder dir, which is inside: without
 * following a symbolic link, or following one whose folder is inside. */
static int open_component(int dir, const char *comp, bool create)
{
	int fd = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdirat(dir, comp, 0777) < 0 && errno != EEXIST)
			return -1;
		fd = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd >= 0 || (errno != ELOOP && errno != ENOTDIR))
		return fd;
	int e = errno;
	struct stat st;
	if (fstatat(dir, comp, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISLNK(st.st_mode)) {
		errno = e;
		return -1;
	}
	fd = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		/* A dangling link may point anywhere: never make its target. */
		if (errno == ENOENT)
			errno = EXDEV;
		return -1;
	}
	if (!beneath_cwd(fd)) {
		close(fd);
		errno = EXDEV;
		return -1;
	}
	return fd;
}

int out_dir_open(const char *path, bool create, const char **base)
{
	const char *slash = strrchr(path, '/');
	*base = slash ? slash + 1 : path;
	/* The walk starts from the graph's folder as AT_FDCWD names it (the
	 * same folder open(".") would give, two system calls less). */
	int fd = AT_FDCWD;
	for (const char *p = path; slash && p < slash;) {
		const char *end = memchr(p, '/', (size_t)(slash - p));
		if (!end)
			end = slash;
		size_t n = (size_t)(end - p);
		const char *next_p = end + 1;
		if (n == 0 || (n == 1 && p[0] == '.')) {
			p = next_p;
			continue;
		}
		char comp[NAME_MAX + 1];
		if (n > NAME_MAX) {
			if (fd != AT_FDCWD)
				close(fd);
			errno = ENAMETOOLONG;
			return -1;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		int next = open_component(fd, comp, create);
		int e = errno;
		if (fd != AT_FDCWD)
			close(fd);
		if (next < 0) {
			errno = e;
			return -1;
		}
		fd = next;
		p = next_p;
	}
	if (fd == AT_FDCWD)
		fd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	return fd;
}

const char *out_dir_strerror(int e)
{
	if (e == EXDEV)
		return "its folder leads outside the graph's folder through a symbolic link";
	return strerror(e);
}

bool out_dir_leaves(const char *path)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return false; /* in the graph's folder itself */
	/* The loader asks for every output, and a foreach puts thousands in
	 * one folder: the last folder's answer is kept. */
	static __thread char last[PATH_MAX];
	static __thread bool last_leaves;
	size_t n = (size_t)(slash - path);
	if (n < sizeof(last) && last[n] == '\0' && memcmp(last, path, n) == 0 && last[0])
		return last_leaves;
	const char *base;
	int fd = out_dir_open(path, false, &base);
	bool leaves = fd < 0 && errno == EXDEV;
	if (fd >= 0)
		close(fd);
	if (n < sizeof(last)) {
		memcpy(last, path, n);
		last[n] = '\0';
		last_leaves = leaves;
	}
	return leaves;
}

static void stamp_fill(struct out_stamp *s, const struct stat *st)
{
	s->exists = true;
	s->dev = st->st_dev;
	s->ino = st->st_ino;
	s->mode = st->st_mode;
	s->size = (int64_t)st->st_size;
	s->mtime_ns = time_ns(&st->st_mtim);
	s->ctime_ns = time_ns(&st->st_ctim);
}

int out_prepare(const char *path, struct out_stamp *before)
{
	memset(before, 0, sizeof(*before));
	const char *base;
	int dir = out_dir_open(path, true, &base);
	if (dir < 0)
		return -1;
	struct stat st;
	int rc = fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW);
	if (rc == 0 && S_ISLNK(st.st_mode)) {
		/* The link is in a folder inside: removing it is safe, and a
		 * job's write can then no longer follow it anywhere. */
		if (unlinkat(dir, base, 0) < 0 && errno != ENOENT) {
			int e = errno;
			close(dir);
			errno = e;
			return -1;
		}
		rc = fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW);
	}
	if (rc == 0)
		stamp_fill(before, &st);
	close(dir);
	return 0;
}

bool out_link_leaves(const char *path)
{
	const char *base;
	int dir = out_dir_open(path, false, &base);
	if (dir < 0)
		return errno == EXDEV;
	struct stat st;
	bool leaves = false;
	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
		/* O_PATH opens what the link names without reading it (a FIFO
		 * would block); its folder is then checked the same way. */
		int fd = openat(dir, base, O_PATH | O_CLOEXEC);
		if (fd < 0) {
			leaves = true;
		} else {
			struct stat t;
			if (fstat(fd, &t) == 0 && S_ISDIR(t.st_mode)) {
				leaves = !beneath_cwd(fd);
			} else {
				char proc[64], *real = NULL;
				snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
				real = realpath(proc, NULL);
				char *root = realpath(".", NULL);
				size_t n = root ? strlen(root) : 0;
				leaves = !real || !root ||
				         (strcmp(root, "/") != 0 &&
				          (strncmp(real, root, n) != 0 || real[n] != '/'));
				free(real);
				free(root);
			}
			close(fd);
		}
	}
	close(dir);
	return leaves;
}

int out_file_begin(struct out_file *f, const char *path)
{
	f->tmp = NULL;
	f->fd = -1;
	f->dir = out_dir_open(path, true, &f->base);
	if (f->dir < 0)
		return -1;
	f->fd = atomic_begin_at(f->dir, f->base, &f->tmp);
	if (f->fd < 0) {
		int e = errno;
		close(f->dir);
		f->dir = -1;
		errno = e;
		return -1;
	}
	return 0;
}

int out_file_commit(struct out_file *f)
{
	int rc = atomic_commit_at(f->dir, f->fd, f->tmp, f->base);
	int e = errno;
	close(f->dir);
	f->dir = f->fd = -1;
	f->tmp = NULL;
	errno = e;
	return rc;
}

void out_file_abort(struct out_file *f)
{
	if (f->dir >= 0) {
		atomic_abort_at(f->dir, f->fd, f->tmp);
		close(f->dir);
	}
	f->dir = f->fd = -1;
	f->tmp = NULL;
}

int out_write(const char *path, const void *data, size_t len)
{
	struct out_file f;
	if (out_file_begin(&f, path) < 0)
		return -1;
	if (write_all(f.fd, data, len) < 0) {
		int e = errno;
		out_file_abort(&f);
		errno = e;
		return -1;
	}
	return out_file_commit(&f);
}

int out_unlink(const char *path)
{
	const char *base;
	int dir = out_dir_open(path, false, &base);
	if (dir < 0)
		return -1;
	int rc = unlinkat(dir, base, 0);
	int e = errno;
	close(dir);
	errno = e;
	return rc;
}

/* out_unlink(), only when the file differs from the stamp before. */
static void unlink_if_changed(const char *path, const struct out_stamp *before)
{
	const char *base;
	int dir = out_dir_open(path, false, &base);
	if (dir < 0)
		return;
	struct stat st;
	if (fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		struct out_stamp now;
		stamp_fill(&now, &st);
		if (!before->exists || now.dev != before->dev || now.ino != before->ino ||
		    now.mode != before->mode || now.size != before->size ||
		    now.mtime_ns != before->mtime_ns || now.ctime_ns != before->ctime_ns)
			unlinkat(dir, base, 0);
	}
	close(dir);
}

struct out_stamp *out_stamps_take(const struct job *job)
{
	struct out_stamp *s = xcalloc(job->n_outputs + 1, sizeof(*s));
	for (uint32_t i = 0; i < job->n_outputs; i++) {
		const char *base;
		int dir = out_dir_open(job->outputs[i], false, &base);
		struct stat st;
		if (dir >= 0 && fstatat(dir, base, &st, AT_SYMLINK_NOFOLLOW) == 0)
			stamp_fill(&s[i], &st);
		if (dir >= 0)
			close(dir);
	}
	return s;
}

void out_discard_changed(const struct job *job, const struct out_stamp *before)
{
	if (!before)
		return;
	for (uint32_t i = 0; i < job->n_outputs; i++)
		if (!job_output_is_dir(job, i)) /* a failure never touches the tree */
			unlink_if_changed(job->outputs[i], &before[i]);
}

/* Whether name is ".BASE.juggle-tmp-" and 16 hex digits; *base_len gets
 * the length of BASE. */
static bool temp_name(const char *name, size_t *base_len)
{
	static const char mid[] = ".juggle-tmp-";
	size_t n = strlen(name), m = sizeof(mid) - 1;
	if (name[0] != '.' || n < 1 + 1 + m + 16)
		return false;
	const char *hex = name + n - 16;
	if (strspn(hex, "0123456789abcdef") != 16 || memcmp(hex - m, mid, m) != 0)
		return false;
	*base_len = (size_t)(hex - m - name) - 1;
	return true;
}

/* Sweeps the folder dir (relative, "" for the graph's folder): removes the
 * temporary files of the outputs g produces there or, with only set, of
 * that one output. */
static void sweep_folder(const struct graph *g, const char *dir, const char *only)
{
	char *probe = xasprintf("%s%sx", dir, *dir ? "/" : "");
	const char *base;
	int fd = out_dir_open(probe, false, &base);
	free(probe);
	if (fd < 0)
		return;
	DIR *d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	uid_t me = geteuid();
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t len;
		if (!temp_name(e->d_name, &len))
			continue;
		char *out = xasprintf("%s%s%.*s", dir, *dir ? "/" : "", (int)len, e->d_name + 1);
		struct stat st;
		if ((only ? strcmp(out, only) == 0 : strmap_get(&g->producer, out) != NULL) &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && st.st_uid == me)
			unlinkat(dirfd(d), e->d_name, 0);
		free(out);
	}
	closedir(d);
}

/* The folder part of an output's path, "" when it has none. */
static char *out_folder(const char *out)
{
	const char *slash = strrchr(out, '/');
	return slash ? xstrndup(out, (size_t)(slash - out)) : xstrdup("");
}

void out_sweep_job_temps(const struct job *job)
{
	for (uint32_t i = 0; i < job->n_outputs; i++) {
		char *dir = out_folder(job->outputs[i]);
		sweep_folder(NULL, dir, job->outputs[i]);
		free(dir);
	}
}

void out_sweep_temps(const struct graph *g)
{
	struct strmap seen = {0};
	struct strvec dirs = {0};
	for (size_t i = 0; i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		for (uint32_t k = 0; k < j->n_outputs; k++) {
			if (job_output_is_dir(j, k))
				tree_abort(j->outputs[k]); /* a killed run's staging folder */
			char *dir = out_folder(j->outputs[k]);
			if (strmap_get(&seen, dir)) {
				free(dir);
				continue;
			}
			strmap_put(&seen, dir, dir);
			VEC_PUSH(&dirs, dir);
		}
	}
	for (size_t i = 0; i < dirs.n; i++)
		sweep_folder(g, dirs.v[i], NULL);
	strmap_release(&seen);
	strvec_release(&dirs);
}
