/* worker.c - `juggle worker HOST:PORT`: a worker of a Slurm allocation
 * (slurm_mode = allocation). It loads the same graph the run loads, connects
 * back to the run at HOST:PORT, proves it can read the run's key
 * (RESULT_KEY_PATH, through the shared filesystem) without sending it, and
 * then runs the attempts it is sent, one at a time, with the same code as
 * the processes backend's workers, answering each with its result
 * (engine/remote.h). It ends when the run closes the connection.
 *
 * A foreach over another job's output expands from the list or folder on
 * disk (the run's rounds: each round's allocation starts after the jobs
 * that settled them ended); a job the run sends that this graph lacks
 * makes the worker load the graph again, and when it is still not there,
 * that attempt fails saying so and the worker takes the next one. */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "engine/kind.h"
#include "engine/owndir.h"
#include "engine/remote.h"
#include "engine/sig.h"
#include "engine/state.h"
#include "engine/term.h"

static int connect_to(const char *addr)
{
	char *host = xstrdup(addr);
	char *colon = strrchr(host, ':');
	if (!colon) {
		free(host);
		errno = EINVAL;
		return -1;
	}
	*colon = '\0';
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *res = NULL;
	int fd = -1;
	if (getaddrinfo(host, colon + 1, &hints, &res) == 0) {
		for (struct addrinfo *ai = res; ai && fd < 0; ai = ai->ai_next) {
			fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0);
			if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
				close(fd);
				fd = -1;
			}
			/* One small line each way per job: Nagle's delay would
			 * wait for the ack of the last one. */
			int one = 1;
			if (fd >= 0)
				setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		}
		freeaddrinfo(res);
	} else {
		errno = EHOSTUNREACH;
	}
	free(host);
	return fd;
}

/* Watches the connection while jobs run: when the run is gone (killed,
 * its host lost), this worker stops its job as an interrupt would and
 * ends, rather than leave it running for nobody. */
static void *watch_run(void *arg)
{
	sigset_t all;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	struct pollfd pf = {*(int *)arg, POLLRDHUP, 0};
	for (;;) {
		int n = poll(&pf, 1, -1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			kill(getpid(), SIGTERM);
		return NULL;
	}
}

/* The job called name in *g; when there is none, the graph loaded again
 * first: the run loads it again too, in rounds, once a job made the list
 * or folder a foreach reads (a dynamic section), and its later jobs are
 * those items. NULL when it is not there either (or the graph no longer
 * loads: *g is then empty and cli_load() said why on stderr). */
static struct job *find_job(struct cli *c, struct graph *g, struct worker *w, const char *name)
{
	struct job *job = graph_job(g, name);
	if (job)
		return job;
	worker_release(w); /* a kind's cache may hold what the old graph had */
	graph_release(g);
	if (cli_load(c, g) != 0)
		return NULL;
	kinds_global_init(g);
	return graph_job(g, name);
}

/* Answers a request for a job this node's graph does not have with a
 * failed result that says so (the run reports it as the job's error).
 * EXIT_OK to go on with the next request, EXIT_FAILED when the answer
 * could not be written. */
static int answer_unknown(const struct cli *c, const struct graph *g,
                          const struct remote_request *req, int out)
{
	char node[256];
	remote_node_name(node, sizeof(node));
	struct result res;
	result_init(&res);
	if (!g->jobs.n && !g->sections.n)
		result_fail(&res,
		            "the worker on %s cannot run it: '%s' no longer loads there (its "
		            "errors are in the workers' log in .juggle/)",
		            node, c->file);
	else
		result_fail(&res,
		            "the worker on %s has no job '%s' in '%s', even after loading it "
		            "again: the node reads another foreach list or folder than this host "
		            "(is the graph's folder shared, and the same on both, and so is the "
		            "environment the graph reads?)",
		            node, req->job, c->file);
	res.retryable = false;
	char *text = result_to_json(&res);
	size_t len = strlen(text);
	text[len] = '\n'; /* replaces the NUL; the length is known */
	int rc = write_all(out, text, len + 1);
	free(text);
	result_release(&res);
	return rc < 0 ? EXIT_FAILED : EXIT_OK;
}

int cmd_worker(struct cli *c)
{
	if (c->nargs != 1) {
		error("worker takes the run's HOST:PORT");
		return EXIT_USAGE;
	}
	const char *addr = c->args[0];
	c->nargs = 0;
	c->load_warned = true; /* the run did */
	/* A foreach over another job's output expands from what is on disk:
	 * this allocation runs the round that follows that job's end. */
	c->settled_if_exists = true;
	struct graph g;
	int rc = cli_load(c, &g);
	if (rc) {
		graph_release(&g);
		return rc;
	}
	if (c->dry_run) { /* -n runs nothing, here neither */
		fputs("would connect to the run at ", stdout);
		term_fputs(addr, stdout);
		fputs(" and run the jobs it sends\n", stdout);
		graph_release(&g);
		return EXIT_OK;
	}
	unsigned char key[RESULT_KEY_LEN];
	if (result_key_read(RESULT_KEY_PATH, key) < 0) {
		error("cannot read the run's key '%s': %s (the run must be going, on a folder "
		      "this node shares)",
		      RESULT_KEY_PATH, strerror(errno));
		graph_release(&g);
		return EXIT_CANNOT_START;
	}
	int fd = connect_to(addr);
	if (fd < 0) {
		error("cannot connect to the run at %s: %s", addr, strerror(errno));
		graph_release(&g);
		return EXIT_CANNOT_START;
	}
	sig_install();
	kinds_global_init(&g);
	FILE *in = fdopen(fd, "r");
	int out = dup(fd);
	char *line = NULL;
	size_t cap = 0;
	rc = EXIT_FAILED;
	if (in && out >= 0 && getline(&line, &cap, in) > 0) {
		char *answer = remote_answer(line, key);
		if (answer && write_all(out, answer, strlen(answer)) == 0)
			rc = EXIT_OK;
		free(answer);
	}
	static int watched;
	watched = fd;
	pthread_t watcher;
	if (rc == EXIT_OK && pthread_create(&watcher, NULL, watch_run, &watched) == 0)
		pthread_detach(watcher);
	struct worker w = {.id = 0};
	while (rc == EXIT_OK && getline(&line, &cap, in) > 0) {
		struct remote_request req;
		if (cancel_requested()) {
			/* Slurm is ending this task (scancel, the allocation's
			 * time): take no more work; the run sees the connection
			 * end and gives the attempt to another worker. */
			rc = EXIT_INTERRUPTED;
			break;
		}
		if (remote_request_parse(line, &req) < 0) {
			error("the run at %s sent a line that is not a job to run; ending", addr);
			rc = EXIT_FAILED;
			break;
		}
		struct job *job = find_job(c, &g, &w, req.job);
		if (!job) {
			rc = answer_unknown(c, &g, &req, out);
		} else {
			/* The scheduler's run record is not in this copy of
			 * the graph: what the attempt reads of it comes along. */
			free(job->run.failed_upstream);
			job->run.failed_upstream = req.failed;
			req.failed = NULL;
			if (remote_run_attempt(job, &w, req.number > 0 ? req.number : 1, req.extra,
			                       out) < 0)
				rc = EXIT_FAILED;
		}
		remote_request_release(&req);
	}
	worker_release(&w);
	attempt_spare_release();
	free(line);
	if (in)
		fclose(in);
	else
		close(fd);
	if (out >= 0)
		close(out);
	graph_release(&g);
	return rc;
}
