/* backend.c - the backend registry (the one table of backends) and what
 * backends share: lanes and waiting; see backend.h. */
#define _GNU_SOURCE
#include "engine/backends/backend.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util.h"
#include "engine/sig.h"

const struct backend_ops *const backends[] = {
	&backend_serial,
	&backend_threads,
	&backend_processes,
	&backend_eventloop,
	&backend_auto,
	&backend_slurm,
	NULL,
};

const struct backend_ops *const backend_default = &backend_auto;

const struct backend_ops *backend_by_name(const char *name)
{
	for (size_t i = 0; backends[i]; i++)
		if (strcmp(backends[i]->name, name) == 0)
			return backends[i];
	return NULL;
}

const char *backend_closest_name(const char *name)
{
	const char *names[ARRAY_SIZE(backends)];
	size_t n = 0;
	for (; backends[n]; n++)
		names[n] = backends[n]->name;
	return closest_word(name, names, n);
}

void backend_names_join(struct strbuf *sb, const char *sep, bool only_local)
{
	const char *between = "";
	for (size_t i = 0; backends[i]; i++) {
		if (only_local && !backends[i]->local)
			continue;
		sb_adds(sb, between);
		sb_adds(sb, backends[i]->name);
		between = sep;
	}
}

void backend_idle_wait(double timeout)
{
	if (timeout == 0)
		return;
	struct pollfd p = {sig_cancel_fd(), POLLIN, 0};
	int ms = timeout < 0 ? -1 : (int)(timeout * 1000) + 1;
	if (cancel_requested())
		return;
	while (poll(&p, 1, ms) < 0 && errno == EINTR) {
	}
}

void lanes_init(struct lanes *l, int n)
{
	l->n = n > 0 ? n : 1;
	l->used = xcalloc((size_t)l->n, sizeof(*l->used));
	l->in_use = 0;
}

int lanes_take(struct lanes *l)
{
	for (int i = 0; i < l->n; i++) {
		if (!l->used[i]) {
			l->used[i] = true;
			l->in_use++;
			return i;
		}
	}
	return -1;
}

void lanes_take_at(struct lanes *l, int lane)
{
	if (lane >= 0 && lane < l->n && !l->used[lane]) {
		l->used[lane] = true;
		l->in_use++;
	}
}

void lanes_put(struct lanes *l, int lane)
{
	if (lane >= 0 && lane < l->n && l->used[lane]) {
		l->used[lane] = false;
		l->in_use--;
	}
}

void lanes_release(struct lanes *l)
{
	free(l->used);
	l->used = NULL;
}

int backend_poll_fd(int fd, double timeout)
{
	struct pollfd p[2] = {{fd, POLLIN, 0}, {sig_cancel_fd(), POLLIN, 0}};
	int n = cancel_requested() ? 1 : 2;
	int ms = timeout < 0 ? -1 : (int)(timeout * 1000) + 1;
	int r;
	while ((r = poll(p, (nfds_t)n, ms)) < 0 && errno == EINTR) {
	}
	return r > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0;
}
