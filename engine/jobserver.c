/* jobserver.c - see jobserver.h. */
#define _GNU_SOURCE
#include "engine/jobserver.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Descriptors juggle keeps for itself start here, above 3 and 4, which
 * the spawned commands get (spawn_start() dup2()s onto them). */
#define FD_FLOOR 10

/* What MAKEFLAGS said when juggle started (jobserver_probe()). */
static struct {
	enum { AUTH_NONE, AUTH_PIPE, AUTH_FIFO } kind;
	int r, w;        /* AUTH_PIPE: make's fds */
	bool fds_open;   /* AUTH_PIPE: both open, a pipe, the right way round */
	char *fifo;      /* AUTH_FIFO: its path */
	int make_jobs;   /* the -jN in MAKEFLAGS; 0 when none */
} found = {.r = -1, .w = -1};

/* The running jobserver. */
static struct {
	enum jobserver_mode mode;
	int rfd, wfd;         /* juggle's own descriptions: reads never block */
	int child_r, child_w; /* what commands get as 3 and 4; -1: none */
	char *toks;           /* the tokens held, each given back as it came */
	int held, cap;
	int served;           /* a server: tokens it put in its pipe */
	int lost;             /* tokens that could not be written back */
	char *old_makeflags;  /* to restore; NULL when it was unset */
	pid_t owner;          /* the process that holds the tokens */
	bool at_exit;
} js = {.rfd = -1, .wfd = -1, .child_r = -1, .child_w = -1};

static bool prefix(const char *s, const char *p, const char **rest)
{
	size_t n = strlen(p);
	if (strncmp(s, p, n) != 0)
		return false;
	if (rest)
		*rest = s + n;
	return true;
}

/* "-j" or "-j8": make's job count word. */
static bool jobs_word(const char *w, int *n)
{
	if (w[0] != '-' || w[1] != 'j')
		return false;
	const char *d = w + 2;
	if (!*d) {
		*n = 0;
		return true;
	}
	for (const char *c = d; *c; c++)
		if (*c < '0' || *c > '9')
			return false;
	long v = strtol(d, NULL, 10);
	*n = v > 100000 ? 100000 : (int)v;
	return true;
}

/* Calls fn on each word of MAKEFLAGS before " -- " (after it come
 * variable assignments, with their own quoting), and on the rest. */
static void makeflags_words(const char *mf, void (*fn)(const char *w, size_t n, bool tail, void *),
			    void *arg)
{
	const char *p = mf;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!*p)
			break;
		const char *e = p;
		while (*e && *e != ' ')
			e++;
		if (e - p == 2 && p[0] == '-' && p[1] == '-') {
			fn(p, strlen(p), true, arg);
			return;
		}
		fn(p, (size_t)(e - p), false, arg);
		p = e;
	}
}

static void probe_word(const char *w, size_t n, bool tail, void *arg)
{
	if (tail)
		return;
	char *word = xstrndup(w, n);
	const char *v;
	int j;
	if (prefix(word, "--jobserver-auth=", &v) || prefix(word, "--jobserver-fds=", &v)) {
		free(found.fifo);
		found.fifo = NULL;
		found.kind = AUTH_NONE;
		int r, w2, used = 0;
		if (prefix(v, "fifo:", &v) && *v) {
			found.kind = AUTH_FIFO;
			found.fifo = xstrdup(v);
		} else if (sscanf(v, "%d,%d%n", &r, &w2, &used) == 2 && !v[used] && r >= 0 &&
			   w2 >= 0) {
			found.kind = AUTH_PIPE;
			found.r = r;
			found.w = w2;
		}
	} else if (jobs_word(word, &j)) {
		found.make_jobs = j;
	}
	free(word);
}

static bool pipe_end(int fd, int access)
{
	struct stat sb;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fstat(fd, &sb) < 0 || !S_ISFIFO(sb.st_mode))
		return false;
	return (fl & O_ACCMODE) == access || (fl & O_ACCMODE) == O_RDWR;
}

void jobserver_probe(void)
{
	const char *mf = getenv("MAKEFLAGS");
	if (!mf)
		return;
	makeflags_words(mf, probe_word, NULL);
	if (found.kind == AUTH_PIPE)
		found.fds_open = pipe_end(found.r, O_RDONLY) && pipe_end(found.w, O_WRONLY);
}

/* A description of its own for a pipe juggle holds as fd, so that
 * O_NONBLOCK does not change make's (make 4.3 reads its pipe blocking). */
static int reopen(int fd, int flags)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int n = open(path, flags | O_NONBLOCK | O_CLOEXEC);
	if (n < 0 || n >= FD_FLOOR)
		return n;
	int high = fcntl(n, F_DUPFD_CLOEXEC, FD_FLOOR);
	close(n);
	return high;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

struct strip {
	struct strbuf out;
};

/* The outer MAKEFLAGS without its jobserver and -j words. */
static void strip_word(const char *w, size_t n, bool tail, void *arg)
{
	struct strip *s = arg;
	if (!tail) {
		char *word = xstrndup(w, n);
		int j;
		bool drop = prefix(word, "--jobserver-auth=", NULL) ||
			    prefix(word, "--jobserver-fds=", NULL) || jobs_word(word, &j);
		free(word);
		if (drop)
			return;
	}
	if (s->out.len)
		sb_addc(&s->out, ' ');
	sb_add(&s->out, w, n);
}

/* MAKEFLAGS for the commands: what juggle got, with the jobserver at 3,4
 * in the form make 4.3 reads (and passes on itself). */
static void set_makeflags(int jobs)
{
	const char *old = getenv("MAKEFLAGS");
	js.old_makeflags = old ? xstrdup(old) : NULL;
	struct strip s = {{0}};
	if (old)
		makeflags_words(old, strip_word, &s);
	struct strbuf mf = {0};
	/* The words juggle keeps come after ours: a first word of single
	 * letters ("ks") reads as flags only where make expects them, so
	 * it gets its dash back when it is not first. */
	sb_addf(&mf, " -j%d --jobserver-auth=3,4", jobs);
	const char *rest = sb_str(&s.out);
	if (*rest) {
		sb_addc(&mf, ' ');
		if (*rest != '-')
			sb_addc(&mf, '-');
		sb_adds(&mf, rest);
	}
	setenv("MAKEFLAGS", sb_str(&mf), 1);
	sb_release(&mf);
	sb_release(&s.out);
}

static void give_back_at_exit(void)
{
	if (js.mode != JOBSERVER_NONE && js.owner == getpid())
		jobserver_keep(0);
}

static void started(enum jobserver_mode mode)
{
	js.mode = mode;
	js.owner = getpid();
	if (!js.at_exit) {
		js.at_exit = true;
		atexit(give_back_at_exit);
	}
}

static int start_client(int *jobs, struct strbuf *warn)
{
	if (found.kind == AUTH_FIFO) {
		js.rfd = open(found.fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
		js.wfd = js.rfd < 0 ? -1 : open(found.fifo, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
		struct stat sb;
		if (js.wfd < 0 || fstat(js.rfd, &sb) < 0 || !S_ISFIFO(sb.st_mode)) {
			sb_addf(warn, "jobserver unavailable: cannot open the fifo '%s' that MAKEFLAGS "
				      "names (%s): using -j1\n",
				found.fifo, js.wfd < 0 ? strerror(errno) : "not a fifo");
			close_fd(&js.rfd);
			close_fd(&js.wfd);
			return -1;
		}
		/* The commands find the fifo by its name in MAKEFLAGS, unchanged. */
		js.old_makeflags = xstrdup(getenv("MAKEFLAGS"));
	} else {
		if (!found.fds_open) {
			/* make's own words, for the same cause. */
			sb_addf(warn, "jobserver unavailable: using -j1.  Add '+' to parent make "
				      "rule.\n");
			return -1;
		}
		js.rfd = reopen(found.r, O_RDONLY);
		js.wfd = js.rfd < 0 ? -1 : reopen(found.w, O_WRONLY);
		js.child_r = fcntl(found.r, F_DUPFD_CLOEXEC, FD_FLOOR);
		js.child_w = fcntl(found.w, F_DUPFD_CLOEXEC, FD_FLOOR);
		if (js.rfd < 0 || js.wfd < 0 || js.child_r < 0 || js.child_w < 0) {
			sb_addf(warn, "jobserver unavailable: cannot open make's pipe again (%s): "
				      "using -j1\n",
				strerror(errno));
			close_fd(&js.rfd);
			close_fd(&js.wfd);
			close_fd(&js.child_r);
			close_fd(&js.child_w);
			return -1;
		}
		if (found.make_jobs > 0)
			*jobs = found.make_jobs;
		set_makeflags(*jobs);
	}
	if (found.make_jobs > 0)
		*jobs = found.make_jobs;
	started(JOBSERVER_CLIENT);
	return 0;
}

static int start_server(int jobs, struct strbuf *err)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) < 0) {
		sb_addf(err, "cannot make the jobserver's pipe: %s", strerror(errno));
		return -1;
	}
	js.child_r = fcntl(p[0], F_DUPFD_CLOEXEC, FD_FLOOR);
	js.child_w = fcntl(p[1], F_DUPFD_CLOEXEC, FD_FLOOR);
	close(p[0]);
	close(p[1]);
	if (js.child_r >= 0 && js.child_w >= 0) {
		js.rfd = reopen(js.child_r, O_RDONLY);
		js.wfd = reopen(js.child_w, O_WRONLY);
	}
	if (js.rfd < 0 || js.wfd < 0) {
		sb_addf(err, "cannot set up the jobserver's pipe: %s", strerror(errno));
		close_fd(&js.rfd);
		close_fd(&js.wfd);
		close_fd(&js.child_r);
		close_fd(&js.child_w);
		return -1;
	}
	int tokens = jobs - 1;
	if (tokens > 4096)
		(void)fcntl(js.wfd, F_SETPIPE_SZ, tokens); /* else as many as fit */
	char buf[4096];
	memset(buf, '+', sizeof(buf));
	while (js.served < tokens) {
		size_t n = (size_t)(tokens - js.served);
		ssize_t w = write(js.wfd, buf, n < sizeof(buf) ? n : sizeof(buf));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		js.served += (int)w;
	}
	set_makeflags(jobs);
	started(JOBSERVER_SERVER);
	return 0;
}

int jobserver_start(int *jobs, bool client, struct strbuf *warn, struct strbuf *err)
{
	if (js.mode != JOBSERVER_NONE)
		jobserver_stop(warn);
	if (client && found.kind != AUTH_NONE) {
		if (start_client(jobs, warn) == 0)
			return JOBSERVER_CLIENT;
		/* As make does: on alone, one job at a time; the commands get a
		 * jobserver with no tokens, so they run one job at a time too. */
		*jobs = 1;
	}
	if (start_server(*jobs, err) < 0)
		return -1;
	return JOBSERVER_SERVER;
}

int jobserver_take(void)
{
	if (js.rfd < 0)
		return 0;
	char c;
	ssize_t n;
	while ((n = read(js.rfd, &c, 1)) < 0 && errno == EINTR) {
	}
	if (n != 1)
		return 0;
	if (js.held == js.cap) {
		js.cap = js.cap ? js.cap * 2 : 16;
		js.toks = xrealloc(js.toks, (size_t)js.cap);
	}
	js.toks[js.held++] = c;
	return 1;
}

void jobserver_keep(int keep)
{
	if (keep < 0)
		keep = 0;
	while (js.held > keep) {
		ssize_t n;
		while ((n = write(js.wfd, &js.toks[js.held - 1], 1)) < 0 && errno == EINTR) {
		}
		if (n != 1)
			js.lost++;
		js.held--;
	}
}

int jobserver_held(void)
{
	return js.held;
}

int jobserver_fd(void)
{
	return js.mode == JOBSERVER_NONE ? -1 : js.rfd;
}

bool jobserver_child_fds(int *r, int *w)
{
	if (js.mode == JOBSERVER_NONE || js.child_r < 0)
		return false;
	*r = js.child_r;
	*w = js.child_w;
	return true;
}

void jobserver_stop(struct strbuf *warn)
{
	if (js.mode == JOBSERVER_NONE)
		return;
	jobserver_keep(0);
	if (js.mode == JOBSERVER_SERVER) {
		int back = 0;
		char buf[4096];
		ssize_t n;
		while ((n = read(js.rfd, buf, sizeof(buf))) > 0 || (n < 0 && errno == EINTR))
			back += n > 0 ? (int)n : 0;
		if (back < js.served && warn)
			sb_addf(warn,
				"jobserver: %d of its %d tokens did not come back: a command kept "
				"them (a make or cargo that was killed, or that does not give tokens "
				"back)\n",
				js.served - back, js.served);
	}
	if (js.lost && warn)
		sb_addf(warn, "jobserver: %d tokens could not be given back to make: %s\n", js.lost,
			js.mode == JOBSERVER_CLIENT ? "make runs fewer jobs from now on"
						    : "a command closed the pipe");
	if (js.old_makeflags)
		setenv("MAKEFLAGS", js.old_makeflags, 1);
	else
		unsetenv("MAKEFLAGS");
	free(js.old_makeflags);
	js.old_makeflags = NULL;
	close_fd(&js.rfd);
	close_fd(&js.wfd);
	close_fd(&js.child_r);
	close_fd(&js.child_w);
	free(js.toks);
	js.toks = NULL;
	js.held = js.cap = js.served = js.lost = 0;
	js.mode = JOBSERVER_NONE;
}
