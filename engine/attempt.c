/* attempt.c - one attempt of one job; see attempt.h. */
#define _GNU_SOURCE
#include "engine/attempt.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/kind.h"
#include "engine/outtree.h"
#include "engine/owndir.h"
#include "engine/safepath.h"
#include "engine/sig.h"
#include "engine/spawn.h"

void worker_release(struct worker *w)
{
	for (int i = 0; job_kinds[i] && i < KIND_SLOTS; i++) {
		if (w->cache[i] && job_kinds[i]->worker_release)
			job_kinds[i]->worker_release(w->cache[i]);
		w->cache[i] = NULL;
	}
}

/* Makes the outputs' folders, removes symbolic links planted at their
 * names and stamps them, so that a failure removes only what this attempt
 * made. On error nothing is stamped: an attempt that never started
 * removes nothing. */
static int prepare_outputs(struct attempt *a, struct strbuf *err)
{
	const struct job *job = a->job;
	struct stat st;
	if (stat(".", &st) == 0 && st.st_nlink == 0) {
		sb_addf(err, "the graph's folder was removed during the run (%s)", strerror(ENOENT));
		return -1;
	}
	struct out_stamp *before = xcalloc(job->n_outputs + 1, sizeof(*before));
	for (uint32_t i = 0; i < job->n_outputs; i++) {
		bool dir = job_output_is_dir(job, i);
		if (dir ? tree_prepare(job->outputs[i]) < 0
			: out_prepare(job->outputs[i], &before[i]) < 0) {
			sb_addf(err, "cannot prepare output '%s': %s", job->outputs[i],
				dir ? tree_strerror(errno) : out_dir_strerror(errno));
			for (uint32_t k = 0; k < i; k++)
				if (job_output_is_dir(job, k))
					tree_abort(job->outputs[k]);
			free(before);
			return -1;
		}
	}
	a->before = before;
	return 0;
}

/* The logs an earlier run left, by file name, read once per process at
 * the first attempt: an attempt 1 removes its job's, so a job that
 * writes nothing this time has no log rather than a stale one, without a
 * system call per job whose log is not there. Read-only once made. */
bool attempt_log_eager;
bool attempt_verbose;

static struct strmap old_logs;
static struct arena old_log_names;
static pthread_once_t old_logs_once = PTHREAD_ONCE_INIT;

/* Silent programs' logs, kept for the next attempts: see open_log() and
 * keep_spare(). Up to SPARES of them per process, each named after the
 * process and its slot (SPARE_PREFIX PID-SLOT), any thread taking or
 * putting one: a slot holds its file's descriptor, or -1. No lock (a
 * forked child could inherit it held): a slot's fd is taken with an
 * atomic exchange, and a file is renamed to a slot's name only where
 * nothing is (RENAME_NOREPLACE), so two threads never share one. */
#define SPARE_PREFIX ".spare-"
#define SPARES 8
static atomic_int spare_fd[SPARES] = {-1, -1, -1, -1, -1, -1, -1, -1};
static atomic_int spare_pid; /* whose the slots are: a forked child's parent's */

static void spare_path(int slot, char out[64])
{
	snprintf(out, 64, "%s/logs/%s%ld-%d", STATE_DIR, SPARE_PREFIX, (long)getpid(), slot);
}

/* Makes the slots this process's: in a forked child (one thread then,
 * a worker of the processes backend), drops (does not remove) what its
 * parent left in them. In the first process they start empty. */
static void spares_mine(void)
{
	int me = (int)getpid();
	int seen = atomic_load(&spare_pid);
	if (seen == me || !atomic_compare_exchange_strong(&spare_pid, &seen, me))
		return;
	for (int i = 0; seen && i < SPARES; i++) {
		int fd = atomic_exchange(&spare_fd[i], -1);
		if (fd >= 0)
			close(fd);
	}
}

/* A spare its process left behind (it was killed): removed. */
static void remove_dead_spare(const char *name)
{
	long pid = strtol(name + strlen(SPARE_PREFIX), NULL, 10);
	if (pid > 0 && kill((pid_t)pid, 0) < 0 && errno == ESRCH) {
		char path[PATH_MAX];
		snprintf(path, sizeof(path), "%s/logs/%s", STATE_DIR, name);
		unlink(path);
	}
}

static void read_old_logs(void)
{
	DIR *d = opendir(STATE_DIR "/logs");
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] != '.')
			strmap_put(&old_logs, arena_strdup(&old_log_names, e->d_name),
				   (void *)(uintptr_t)(e->d_type + 1));
		else if (!strncmp(e->d_name, SPARE_PREFIX, strlen(SPARE_PREFIX)))
			remove_dead_spare(e->d_name);
	}
	if (d)
		closedir(d);
}

/* Removes the log an earlier run left for job, if any: a regular file,
 * which juggle wrote. Anything else at its name (a link, a FIFO) is not
 * juggle's to remove; false then, and the attempt opens its log at once,
 * which fails as it always did. */
static bool forget_old_log(const char *path)
{
	pthread_once(&old_logs_once, read_old_logs);
	uintptr_t type = (uintptr_t)strmap_get(&old_logs, path + strlen(STATE_DIR "/logs/"));
	struct stat st;
	if (type == DT_UNKNOWN + 1 && lstat(path, &st) == 0)
		type = S_ISREG(st.st_mode) ? DT_REG + 1 : DT_LNK + 1;
	if (!type || type == DT_REG + 1) {
		if (type)
			unlink(path);
		return true;
	}
	return false;
}

void attempt_spare_release(void)
{
	spares_mine();
	for (int i = 0; i < SPARES; i++) {
		int fd = atomic_exchange(&spare_fd[i], -1);
		if (fd >= 0) {
			char path[64];
			spare_path(i, path);
			close(fd);
			unlink(path);
		}
	}
}

/* Making a file and removing it again cost far more than renaming one on
 * ext4 once it has deleted many files (it looks for a free inode that was
 * not freed in the last 30 s): 97 against 22 microseconds each. So the
 * log of a program that said nothing is not removed but renamed to the
 * thread's spare (when nothing else still holds it open: a daemon the
 * program left may write to it later, and what it writes belongs in that
 * job's log), and the next first attempt's log is the spare renamed to
 * its name. */
static int take_spare(const char *path)
{
	spares_mine();
	for (int i = 0; i < SPARES; i++) {
		if (atomic_load(&spare_fd[i]) < 0)
			continue;
		int fd = atomic_exchange(&spare_fd[i], -1);
		if (fd < 0)
			continue;
		char spare[64];
		spare_path(i, spare);
		/* Never over something planted at the log's name. */
		if (renameat2(AT_FDCWD, spare, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
			return fd;
		close(fd);
		unlink(spare);
		return -1;
	}
	return -1;
}

/* The empty log at path, just closed, becomes a spare; false when it
 * cannot (and it is then to be removed, as before there were spares). */
static bool keep_spare(const char *path)
{
	spares_mine();
	int slot = -1;
	for (int i = 0; i < SPARES && slot < 0; i++)
		if (atomic_load(&spare_fd[i]) < 0)
			slot = i;
	if (slot < 0)
		return false;
	/* A write lease is granted only while no one else (a daemon the
	 * program left) has the file open for writing or reading; asked
	 * while no other thread is starting a program, whose child would
	 * hold the log for a moment (the threads backend, 200 silent
	 * commands at -j2: 40 of 183 refused before, none since). */
	spawn_quiet_begin();
	int r = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st, wst;
	bool alone = r >= 0 && fcntl(r, F_SETLEASE, F_WRLCK) == 0;
	if (alone)
		fcntl(r, F_SETLEASE, F_UNLCK);
	spawn_quiet_end();
	if (r < 0)
		return false;
	alone = alone && fstat(r, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0;
	close(r);
	if (!alone)
		return false;
	int w = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (w < 0)
		return false;
	/* The same file, and blocking again, as own_file_open() leaves a log:
	 * the program gets this description as its standard output. */
	char spare[64];
	spare_path(slot, spare);
	if (fstat(w, &wst) < 0 || wst.st_ino != st.st_ino || wst.st_dev != st.st_dev ||
	    fcntl(w, F_SETFL, fcntl(w, F_GETFL) & ~O_NONBLOCK) < 0 ||
	    renameat2(AT_FDCWD, path, AT_FDCWD, spare, RENAME_NOREPLACE) < 0) {
		close(w);
		return false;
	}
	int none = -1;
	if (!atomic_compare_exchange_strong(&spare_fd[slot], &none, w)) {
		/* Cannot be: only the thread that renamed a file to the slot's
		 * name fills the slot, and the name was free. */
		close(w);
		unlink(spare);
	}
	return true;
}

static int open_log(const struct job *job, int number)
{
	char *path = job_log_path(job);
	if (number <= 1 && !attempt_log_eager) {
		int fd = take_spare(path);
		if (fd >= 0) {
			free(path);
			return fd;
		}
	}
	mkdir_p(STATE_DIR "/logs", 0777);
	int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | (number <= 1 ? O_TRUNC : 0);
	/* A link planted at the log's name must not be truncated through. */
	int fd = own_file_open(path, flags, 0666);
	free(path);
	return fd;
}

int attempt_log(struct attempt *a)
{
	if (a->log_fd >= 0)
		return a->log_fd;
	a->log_fd = open_log(a->job, a->number);
	if (a->log_fd < 0) {
		result_fail(a->res, "cannot open the log of '%s': %s", a->job->name,
			    strerror(errno));
		return -1;
	}
	if (a->number > 1) {
		char line[64];
		int n = snprintf(line, sizeof(line), "--- attempt %d ---\n", a->number);
		write_all(a->log_fd, line, (size_t)n);
	}
	return a->log_fd;
}

void attempt_log_write(struct attempt *a, const char *s, size_t n)
{
	if (n && attempt_log(a) >= 0)
		write_all(a->log_fd, s, n);
}

int attempt_begin(struct attempt *a, const struct job *job, struct worker *w, int number,
		  const char *prev_extra, struct result *res)
{
	result_init(res);
	memset(a, 0, sizeof(*a));
	a->job = job;
	a->worker = w;
	a->number = number;
	a->prev_extra = prev_extra;
	a->res = res;
	a->log_fd = -1;
	res->worker = w->id;
	res->started = mono_now();
	a->cpu0 = w->cpu_by_backend ? 0 : thread_cpu_s();
	a->deadline = job->sec->timeout > 0 ? res->started + job->sec->timeout : 0;
	struct strbuf err = {0};
	if (cancel_requested()) {
		result_fail(res, "interrupted before it started");
		res->status = RES_INTERRUPTED;
		res->not_started = true;
		return -1;
	}
	if (prepare_outputs(a, &err) < 0) {
		result_fail(res, "%s", sb_str(&err));
		sb_release(&err);
		return -1;
	}
	if (attempt_log_eager) {
		if (attempt_log(a) < 0)
			return -1;
	} else if (number <= 1) {
		char *path = job_log_path(job);
		bool gone = forget_old_log(path);
		free(path);
		if (!gone && attempt_log(a) < 0)
			return -1;
	} else if (attempt_log(a) < 0) {
		return -1;
	}
	return 0;
}

void attempt_fail_end(const struct job *job, const struct out_stamp *before, struct result *res,
		      int log_fd)
{
	if (res->status == RES_OK)
		res->status = RES_FAILED;
	if (!res->error)
		res->error = xstrdup("failed");
	if (cancel_requested())
		res->status = RES_INTERRUPTED;
	/* make's .DELETE_ON_ERROR: a half-made output must not pass for a
	 * made one; an output the attempt never touched stays. */
	for (uint32_t i = 0; i < res->n_outs; i++)
		free((char *)res->outs[i].path);
	free(res->outs);
	res->outs = NULL;
	res->n_outs = 0;
	out_discard_changed(job, before);
	for (uint32_t i = 0; i < job->n_outputs; i++)
		if (job_output_is_dir(job, i))
			tree_abort(job->outputs[i]);
	if (log_fd >= 0) {
		char *line = xasprintf("juggle: %s\n", res->error);
		write_all(log_fd, line, strlen(line));
		free(line);
	}
}

void attempt_output_hashed(struct attempt *a, uint32_t index, const struct stat *st,
			   const unsigned char hash[16])
{
	struct output_hash *h = &a->hashed;
	h->set = true;
	h->index = index;
	h->dev = st->st_dev;
	h->ino = st->st_ino;
	h->size = (int64_t)st->st_size;
	h->mtime_ns = time_ns(&st->st_mtim);
	memcpy(h->hash, hash, sizeof(h->hash));
}

/* Output i's signature: the hash the kind gave (attempt_output_hashed())
 * while the file is still the one it hashed, else read from the file. */
static int output_sig(const struct attempt *a, uint32_t i, struct file_sig *s)
{
	const struct output_hash *h = &a->hashed;
	struct stat st;
	if (!h->set || h->index != i)
		return file_sig_read(s->path, s, true);
	if (stat(s->path, &st) < 0) {
		s->mtime_ns = -1;
		return -1;
	}
	int64_t mtime_ns = time_ns(&st.st_mtim);
	if (st.st_dev != h->dev || st.st_ino != h->ino || (int64_t)st.st_size != h->size ||
	    mtime_ns != h->mtime_ns)
		return file_sig_read(s->path, s, true);
	s->mtime_ns = mtime_ns;
	s->size = (int64_t)st.st_size;
	memcpy(s->hash, h->hash, sizeof(s->hash));
	return 0;
}

void attempt_end(struct attempt *a, int rc)
{
	const struct job *job = a->job;
	struct result *res = a->res;
	if (rc == 0 && res->status == RES_OK) {
		free(res->error);
		res->error = NULL;
		res->outs = xcalloc(job->n_outputs + 1, sizeof(*res->outs));
		for (uint32_t i = 0; i < job->n_outputs; i++) {
			struct file_sig *s = &res->outs[i];
			s->path = xstrdup(job->outputs[i]);
			res->n_outs++;
			if (out_link_leaves(s->path)) {
				result_fail(res, "its output '%s' leads outside the graph's folder "
					    "through a symbolic link; it was not followed",
					    job->outputs[i]);
				break;
			}
			if (job_output_is_dir(job, i)) {
				if (tree_commit(s->path) < 0 || tree_sig_read(s->path, s) < 0) {
					result_fail(res, "cannot put its folder output '%s' in place: %s",
						    job->outputs[i], tree_strerror(errno));
					break;
				}
				continue;
			}
			if (output_sig(a, i, s) < 0) {
				result_fail(res, "finished without writing its output '%s'",
					    job->outputs[i]);
				break;
			}
		}
	} else {
		if (res->status == RES_OK)
			res->status = RES_FAILED;
		if (!res->error)
			res->error = xstrdup("failed");
	}
	if (res->status != RES_OK) {
		/* The error ends the log; an attempt that never started has
		 * none. */
		if (!res->not_started && a->log_fd < 0)
			a->log_fd = open_log(job, a->number);
		attempt_fail_end(job, a->before, res, a->log_fd);
	}
	struct stat st;
	res->logged = a->log_fd >= 0;
	if (res->logged && !attempt_log_eager && a->number <= 1 && fstat(a->log_fd, &st) == 0 &&
	    st.st_size == 0) {
		/* Opened for a program that then said nothing. */
		close(a->log_fd);
		a->log_fd = -1;
		char *path = job_log_path(job);
		if (!keep_spare(path))
			unlink(path);
		free(path);
		res->logged = false;
	}
	if (a->log_fd >= 0)
		close(a->log_fd);
	a->log_fd = -1;
	free(a->before);
	a->before = NULL;
	res->cpu_s += thread_cpu_s() - a->cpu0;
	res->finished = mono_now();
}

void job_attempt(const struct job *job, struct worker *w, int number, const char *prev_extra,
		 struct result *res)
{
	struct attempt a;
	int rc = attempt_begin(&a, job, w, number, prev_extra, res);
	if (rc == 0) {
		res->status = RES_OK;
		rc = job->sec->kind->run(&a);
	}
	attempt_end(&a, rc);
}
