/* fdlimit.c - enough file descriptors for a run, or a smaller run.
 *
 * A job in flight holds the few descriptors its backend says it needs
 * (backend.h: fds_per_job, fds_per_net_job): its log, a pidfd or a worker's
 * two pipes, a temporary output, a pipe of libuv's. A download on the event
 * loop holds its socket (two while curl races IPv6 against IPv4), its
 * temporary file and its log. With --net-jobs 5000 that is far beyond the
 * usual soft limit of 1024, and running out mid-run fails jobs with
 * EMFILE. So before a run juggle raises its soft RLIMIT_NOFILE as far as the
 * run needs (never lower, never past the hard limit), and when even the
 * hard limit is too few, runs fewer downloads (then fewer jobs) at once and
 * says so. A run that needs no more than it has changes nothing, so the
 * programs it starts inherit the limit juggle was given.
 */
#include <errno.h>
#include <string.h>
#include <sys/resource.h>

#include "cmd/cmd.h"
#include "engine/backends/backend.h"
#include "engine/kind.h"

#define FDS_BASE 64 /* stdio, state, lock, reports, libuv, curl, libc */

/* What one attempt in flight holds on the backend (see backend.h). */
struct fds {
	int job, net;
};

static rlim_t fds_needed(const struct fds *per, int jobs, int net)
{
	return FDS_BASE + (rlim_t)jobs * per->job + (rlim_t)net * per->net;
}

void fd_budget(const struct graph *g, struct run_opts *o)
{
	/* What can be in flight at once: no more than there are jobs. */
	size_t n_jobs = 0, n_net = 0;
	for (size_t i = 0; i < g->jobs.n; i++) {
		const struct job *j = g->jobs.v[i];
		if (!j->run.wanted)
			continue;
		n_jobs++;
		n_net += j->sec->kind->network;
	}
	struct fds per = {o->backend->fds_per_job, o->backend->fds_per_net_job};
	int jobs = o->jobs < (long)n_jobs ? o->jobs : (int)n_jobs;
	int net = !per.net ? 0 : o->net_jobs < (long)n_net ? o->net_jobs : (int)n_net;
	rlim_t need = fds_needed(&per, jobs, net);

	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	if (rl.rlim_cur == RLIM_INFINITY || need <= rl.rlim_cur)
		return;
	struct rlimit want = rl;
	want.rlim_cur = rl.rlim_max == RLIM_INFINITY || need <= rl.rlim_max ? need : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &want) == 0)
		rl.rlim_cur = want.rlim_cur;
	if (need <= rl.rlim_cur)
		return;

	/* Too few even so: fewer downloads first, since each is cheap to
	 * queue, then fewer jobs; at least one of each. */
	rlim_t have = rl.rlim_cur;
	int net0 = net, jobs0 = jobs;
	while (net > 1 && fds_needed(&per, jobs, net) > have)
		net = have > fds_needed(&per, jobs, 0) + (rlim_t)per.net
			      ? (int)((have - fds_needed(&per, jobs, 0)) / (rlim_t)per.net)
			      : 1;
	while (jobs > 1 && per.job > 0 && fds_needed(&per, jobs, net) > have)
		jobs = have > fds_needed(&per, 0, net) + (rlim_t)per.job
			       ? (int)((have - fds_needed(&per, 0, net)) / (rlim_t)per.job)
			       : 1;
	if (net != net0)
		warning("--net-jobs %d needs %llu file descriptors; the limit is %llu: using %d",
			net0, (unsigned long long)need, (unsigned long long)have, net);
	if (jobs != jobs0)
		warning("-j %d needs %llu file descriptors; the limit is %llu: using %d", jobs0,
			(unsigned long long)fds_needed(&per, jobs0, net), (unsigned long long)have, jobs);
	if (net != net0)
		o->net_jobs = net;
	if (jobs != jobs0)
		o->jobs = jobs;
}
