/* uv-curl.c - the download kind on an event loop (the eventloop and auto
 * backends): ONE curl multi handle per libuv loop, kept in the loop's cache
 * slot, drives every transfer on that loop through the multi_socket API.
 * curl's sockets become uv_poll handles and its timer a uv_timer; a
 * transfer curl reports done is ended with download_finish() and handed
 * back to the backend from the loop's check phase. The transfers
 * themselves are transfer.c's, the same as on the blocking path.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <stdlib.h>
#include <uv.h>

#include "engine/kind.h"
#include "jobs/download/download-internal.h"

struct dl_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct dl_loop *L;
	struct dl_sock *prev, *next;
};

struct dl_async {
	struct download d;
	struct async_attempt *aa;
	struct dl_loop *L;
	int rc;                  /* for a deferred done */
	bool in_multi;
	struct dl_async *next;   /* in L->deferred */
	struct dl_async *lprev, *lnext; /* in L->live */
};

struct dl_loop {
	CURLM *multi;
	uv_loop_t *loop;
	uv_timer_t timer;        /* curl's timeout */
	uv_check_t check;        /* hands ended attempts back (after the poll) */
	uv_idle_t idle;          /* keeps that poll from blocking meanwhile */
	struct dl_async *deferred, **deferred_tail;
	struct dl_sock *socks;   /* every poll handle open */
	struct dl_async *live;   /* every attempt not yet handed back */
	long n_live, peak_live;  /* attempts in live; the most there have been */
	VEC(CURL *) spare;       /* easy handles to reuse */
	bool closing;
	int open_handles;        /* timer, check, idle, until their close callbacks */
};

static void check_done(struct dl_loop *L);

static void on_sock_closed(uv_handle_t *h)
{
	free(h->data);
}

static void sock_close(struct dl_sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		s->L->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	uv_close((uv_handle_t *)&s->poll, on_sock_closed);
}

static void on_poll(uv_poll_t *h, int status, int events)
{
	struct dl_sock *s = h->data;
	struct dl_loop *L = s->L;
	int flags = 0, running;
	if (status < 0)
		flags = CURL_CSELECT_ERR;
	if (events & UV_READABLE)
		flags |= CURL_CSELECT_IN;
	if (events & UV_WRITABLE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(L->multi, s->fd, flags, &running);
	check_done(L);
}

/* CURLMOPT_SOCKETFUNCTION: curl says which socket to watch for what. */
static int on_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
	struct dl_loop *L = userp;
	struct dl_sock *s = socketp;
	(void)easy;
	if (L->closing)
		return 0;
	if (what == CURL_POLL_REMOVE) {
		if (s) {
			curl_multi_assign(L->multi, fd, NULL);
			uv_poll_stop(&s->poll);
			sock_close(s);
		}
		return 0;
	}
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->fd = fd;
		s->L = L;
		if (uv_poll_init_socket(L->loop, &s->poll, fd) < 0) {
			free(s);
			return -1;
		}
		s->poll.data = s;
		s->next = L->socks;
		if (L->socks)
			L->socks->prev = s;
		L->socks = s;
		curl_multi_assign(L->multi, fd, s);
	}
	int ev = (what & CURL_POLL_IN ? UV_READABLE : 0) | (what & CURL_POLL_OUT ? UV_WRITABLE : 0);
	uv_poll_start(&s->poll, ev, on_poll);
	return 0;
}

static void on_timeout(uv_timer_t *t)
{
	struct dl_loop *L = t->data;
	int running;
	curl_multi_socket_action(L->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	check_done(L);
}

/* CURLMOPT_TIMERFUNCTION: one timer for the whole multi handle. */
static int on_timer(CURLM *multi, long ms, void *userp)
{
	struct dl_loop *L = userp;
	(void)multi;
	if (L->closing)
		return 0;
	if (ms < 0)
		uv_timer_stop(&L->timer);
	else
		uv_timer_start(&L->timer, on_timeout, (uint64_t)ms, 0);
	return 0;
}

static void spare_push(struct dl_loop *L, CURL *easy)
{
	VEC_PUSH(&L->spare, easy);
}

/* The attempt is over: hand it back to the backend. Nothing of x is used
 * after done, which may start or cancel other attempts. */
static void live_remove(struct dl_async *x)
{
	x->L->n_live--;
	if (x->lprev)
		x->lprev->lnext = x->lnext;
	else
		x->L->live = x->lnext;
	if (x->lnext)
		x->lnext->lprev = x->lprev;
}

static void async_end(struct dl_async *x, int rc)
{
	struct async_attempt *aa = x->aa;
	spare_push(x->L, x->d.easy);
	live_remove(x);
	free(x);
	aa->kpriv = NULL;
	aa->done(aa, rc);
}

static void on_check(uv_check_t *h)
{
	struct dl_loop *L = h->data;
	while (L->deferred) {
		struct dl_async *x = L->deferred;
		L->deferred = x->next;
		if (!L->deferred)
			L->deferred_tail = &L->deferred;
		async_end(x, x->rc);
	}
	uv_check_stop(&L->check);
	uv_idle_stop(&L->idle);
}

static void on_idle(uv_idle_t *h)
{
	(void)h;
}

/* Calls done for x later, from the loop's check phase, which follows the
 * I/O poll of the same iteration; an active idle handle makes that poll
 * return at once. So done is never called from inside start_async() or
 * cancel_async() (libuv's rule for callbacks), and never from a timer
 * callback either: a backend that runs uv_run(UV_RUN_ONCE) until its done
 * callback sets a flag would otherwise block in the poll that follows the
 * timers (file:// transfers and timeouts end in curl's timer). */
static void defer_done(struct dl_async *x, int rc)
{
	struct dl_loop *L = x->L;
	x->rc = rc;
	x->next = NULL;
	*L->deferred_tail = x;
	L->deferred_tail = &x->next;
	uv_check_start(&L->check, on_check);
	uv_idle_start(&L->idle, on_idle);
}

static void check_done(struct dl_loop *L)
{
	CURLMsg *m;
	int left;
	while ((m = curl_multi_info_read(L->multi, &left))) {
		if (m->msg != CURLMSG_DONE)
			continue;
		CURL *easy = m->easy_handle;
		CURLcode cc = m->data.result;
		struct dl_async *x = NULL;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&x);
		curl_multi_remove_handle(L->multi, easy);
		x->in_multi = false;
		defer_done(x, download_finish(&x->d, cc));
	}
}

static struct dl_loop *loop_get(struct async_attempt *aa)
{
	if (*aa->loop_cache)
		return *aa->loop_cache;
	struct dl_loop *L = xcalloc(1, sizeof(*L));
	L->loop = aa->loop;
	L->multi = curl_multi_init();
	L->deferred_tail = &L->deferred;
	uv_timer_init(aa->loop, &L->timer);
	uv_check_init(aa->loop, &L->check);
	uv_idle_init(aa->loop, &L->idle);
	L->timer.data = L->check.data = L->idle.data = L;
	L->open_handles = 3;
	curl_multi_setopt(L->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(L->multi, CURLMOPT_SOCKETDATA, L);
	curl_multi_setopt(L->multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(L->multi, CURLMOPT_TIMERDATA, L);
	/* HTTP/2 streams of one host share its connection (curl's default,
	 * said here because the report's connection count relies on it). */
	curl_multi_setopt(L->multi, CURLMOPT_PIPELINING, CURLPIPE_MULTIPLEX);
	*aa->loop_cache = L;
	return L;
}

int download_start_async(struct async_attempt *aa)
{
	struct dl_loop *L = loop_get(aa);
	if (!L->multi) {
		result_fail(aa->a.res, "cannot create a curl multi handle");
		return -1;
	}
	CURL *easy = L->spare.n ? L->spare.v[--L->spare.n] : curl_easy_init();
	if (!easy) {
		result_fail(aa->a.res, "cannot create a curl handle");
		return -1;
	}
	struct dl_async *x = xcalloc(1, sizeof(*x));
	x->aa = aa;
	x->L = L;
	int rc = download_begin(&x->d, &aa->a, easy);
	if (rc < 0) {
		spare_push(L, easy);
		free(x);
		return -1;
	}
	aa->kpriv = x;
	x->lnext = L->live;
	if (L->live)
		L->live->lprev = x;
	L->live = x;
	if (++L->n_live > L->peak_live) {
		/* The connection cache holds as many connections as transfers
		 * have been in flight at once. curl's default, four per easy
		 * handle in the multi handle now, shrinks as a wave of
		 * transfers ends together and each is removed: the idle
		 * connections beyond it were closed, and the next wave opened
		 * new ones (500 downloads at 50 at a time from one server
		 * opened 80 to 140 connections instead of 50). Bounded by the
		 * lanes, as the descriptors are. */
		L->peak_live = L->n_live;
		curl_multi_setopt(L->multi, CURLMOPT_MAXCONNECTS, L->peak_live);
	}
	if (rc == 0) {
		defer_done(x, 0);
		return 0;
	}
	curl_easy_setopt(easy, CURLOPT_PRIVATE, (char *)x);
	if (curl_multi_add_handle(L->multi, easy) != CURLM_OK) {
		download_fail(&x->d, true, "cannot add a transfer to the curl multi handle");
		download_release(&x->d);
		spare_push(L, easy);
		live_remove(x);
		aa->kpriv = NULL;
		free(x);
		return -1;
	}
	x->in_multi = true;
	return 0;
}

void download_cancel_async(struct async_attempt *aa)
{
	struct dl_async *x = aa->kpriv;
	if (!x || !x->in_multi)
		return; /* over, or its done is already on the way */
	curl_multi_remove_handle(x->L->multi, x->d.easy);
	x->in_multi = false;
	x->d.cancelled = true;
	defer_done(x, download_finish(&x->d, CURLE_ABORTED_BY_CALLBACK));
}

static void on_loop_handle_closed(uv_handle_t *h)
{
	struct dl_loop *L = h->data;
	if (--L->open_handles == 0)
		free(L);
}

/* Called when the loop is done with downloads. Closes every handle this
 * kind opened on it; their close callbacks free the rest, so the backend
 * must run the loop once more (as it must for its own handles) before
 * uv_loop_close(). */
void download_loop_release(void *cache)
{
	struct dl_loop *L = cache;
	if (!L)
		return;
	L->closing = true;
	/* The backend hands the loop back with nothing in flight. Should an
	 * attempt remain, it ends here without its done (the loop is going
	 * away), its temporary file removed. */
	while (L->live) {
		struct dl_async *x = L->live;
		if (x->in_multi) {
			curl_multi_remove_handle(L->multi, x->d.easy);
			x->d.cancelled = true;
			download_finish(&x->d, CURLE_ABORTED_BY_CALLBACK);
		}
		curl_easy_cleanup(x->d.easy);
		live_remove(x);
		free(x);
	}
	L->deferred = NULL;
	while (L->socks) {
		uv_poll_stop(&L->socks->poll);
		sock_close(L->socks);
	}
	for (size_t i = 0; i < L->spare.n; i++)
		curl_easy_cleanup(L->spare.v[i]);
	free(L->spare.v);
	curl_multi_cleanup(L->multi);
	uv_close((uv_handle_t *)&L->timer, on_loop_handle_closed);
	uv_close((uv_handle_t *)&L->check, on_loop_handle_closed);
	uv_close((uv_handle_t *)&L->idle, on_loop_handle_closed);
}
