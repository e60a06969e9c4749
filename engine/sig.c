/* sig.c - see sig.h. */
#define _GNU_SOURCE
#include "engine/sig.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

static int cancel_pipe[2] = {-1, -1};
static int kill_pipe[2] = {-1, -1};
static atomic_int count;
static atomic_int first_sig;

static void poke(int fd)
{
	int saved = errno;
	char c = 1;
	if (fd >= 0 && write(fd, &c, 1) < 0) {
		/* The pipe is full: it is readable already, which is all we need. */
	}
	errno = saved;
}

static void on_signal(int sig)
{
	int n = atomic_fetch_add(&count, 1);
	if (n == 0) {
		atomic_store(&first_sig, sig);
		poke(cancel_pipe[1]);
	} else {
		poke(kill_pipe[1]);
	}
}

static int make_pipes(void)
{
	for (int i = 0; i < 2; i++) {
		int *p = i ? kill_pipe : cancel_pipe;
		if (p[0] >= 0) {
			close(p[0]);
			close(p[1]);
		}
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
			return -1;
	}
	return 0;
}

int sig_install(void)
{
	if (make_pipes() < 0)
		return -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGINT, &sa, NULL) < 0 || sigaction(SIGTERM, &sa, NULL) < 0 ||
	    sigaction(SIGHUP, &sa, NULL) < 0)
		return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int sig_reinit(void)
{
	/* The pipes inherited are the parent's own: draining them would take
	 * a byte a signal put there for the parent, which then never sees it
	 * (a ^C that came while it forked this child left it waiting for
	 * good). Their descriptors are only closed here. */
	atomic_store(&count, 0);
	atomic_store(&first_sig, 0);
	return make_pipes();
}

int sig_cancel_fd(void)
{
	return cancel_pipe[0];
}

int sig_kill_fd(void)
{
	return kill_pipe[0];
}

bool cancel_requested(void)
{
	return atomic_load(&count) > 0;
}

bool kill_requested(void)
{
	return atomic_load(&count) > 1;
}

int sig_received(void)
{
	return atomic_load(&first_sig);
}

void cancel_request(int sig)
{
	on_signal(sig);
}
