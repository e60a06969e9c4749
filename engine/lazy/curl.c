/* curl.c - libcurl, loaded when the first download (or URL check) needs
 * it (engine/lazy/lazy.h says why and how).
 *
 * The list holds every libcurl function juggle calls. The three that take
 * variable arguments (curl_easy_setopt, curl_multi_setopt,
 * curl_easy_getinfo) are written out below: libcurl documents which type
 * each option's argument has from the option's number (a long below
 * CURLOPTTYPE_OBJECTPOINT, then pointers, curl_off_t from
 * CURLOPTTYPE_OFF_T, a pointer again from CURLOPTTYPE_BLOB), which is how
 * libcurl itself reads them, and every CURLINFO argument is a pointer.
 *
 * soname: libcurl.so.4 is libcurl's ABI since 2006 (Debian's libcurl4).
 */
#define CURL_DISABLE_TYPECHECK /* the type-checking macros would rename these definitions */
#include <curl/curl.h>
#include <stdarg.h>

#include "engine/lazy/lazy.h"

#define LAZY_FUNCS(X, V, H)                                                                           \
	X(CURLcode, curl_global_init, (long flags), (flags))                                       \
	V(void, curl_global_cleanup, (void), ())                                                   \
	X(curl_version_info_data *, curl_version_info, (CURLversion v), (v))                       \
	X(CURL *, curl_easy_init, (void), ())                                                      \
	V(void, curl_easy_cleanup, (CURL * h), (h))                                                \
	V(void, curl_easy_reset, (CURL * h), (h))                                                  \
	X(CURLcode, curl_easy_perform, (CURL * h), (h))                                            \
	X(const char *, curl_easy_strerror, (CURLcode c), (c))                                     \
	X(struct curl_slist *, curl_slist_append, (struct curl_slist * l, const char *s), (l, s))  \
	V(void, curl_slist_free_all, (struct curl_slist * l), (l))                                 \
	V(void, curl_free, (void *p), (p))                                                         \
	X(CURLM *, curl_multi_init, (void), ())                                                    \
	X(CURLMcode, curl_multi_cleanup, (CURLM * m), (m))                                         \
	X(CURLMcode, curl_multi_add_handle, (CURLM * m, CURL * h), (m, h))                         \
	X(CURLMcode, curl_multi_remove_handle, (CURLM * m, CURL * h), (m, h))                      \
	X(CURLMcode, curl_multi_assign, (CURLM * m, curl_socket_t s, void *p), (m, s, p))          \
	X(CURLMcode, curl_multi_socket_action, (CURLM * m, curl_socket_t s, int ev, int *running), \
	  (m, s, ev, running))                                                                     \
	X(CURLMsg *, curl_multi_info_read, (CURLM * m, int *left), (m, left))                      \
	X(CURLU *, curl_url, (void), ())                                                           \
	V(void, curl_url_cleanup, (CURLU * u), (u))                                                \
	X(CURLUcode, curl_url_set, (CURLU * u, CURLUPart what, const char *part, unsigned int f),  \
	  (u, what, part, f))                                                                      \
	X(CURLUcode, curl_url_get, (CURLU * u, CURLUPart what, char **part, unsigned int f),       \
	  (u, what, part, f))                                                                      \
	H(CURLcode, curl_easy_setopt, (CURL * h, CURLoption o, ...), ())                           \
	H(CURLMcode, curl_multi_setopt, (CURLM * m, CURLMoption o, ...), ())                       \
	H(CURLcode, curl_easy_getinfo, (CURL * h, CURLINFO i, ...), ())

enum { LAZY_FUNCS(LAZY_SLOT, LAZY_SLOT, LAZY_SLOT) lazy_slot_count };
static const char *const names[] = {LAZY_FUNCS(LAZY_NAME, LAZY_NAME, LAZY_NAME)};
static void *slots[lazy_slot_count];
static struct lazy_lib curl = {
	.soname = "libcurl.so.4",
	.needed_for = "downloads",
	.package = "libcurl4",
	.names = names,
	.count = lazy_slot_count,
	.slots = slots,
	.once = PTHREAD_ONCE_INIT,
};

#define FORWARD(ret, name, params, args)      LAZY_FORWARD(curl, ret, name, params, args)
#define FORWARD_VOID(ret, name, params, args) LAZY_FORWARD_VOID(curl, ret, name, params, args)
#define BY_HAND(ret, name, params, args)
LAZY_FUNCS(FORWARD, FORWARD_VOID, BY_HAND)

/* The variadic three: the real function is called through its own
 * variadic type, with the one argument read as libcurl reads it. */
typedef CURLcode (*easy_setopt_fn)(CURL *, CURLoption, ...);
typedef CURLMcode (*multi_setopt_fn)(CURLM *, CURLMoption, ...);
typedef CURLcode (*easy_getinfo_fn)(CURL *, CURLINFO, ...);

CURLcode curl_easy_setopt(CURL *h, CURLoption o, ...)
{
	easy_setopt_fn f = (easy_setopt_fn)lazy_fn(&curl, lazy_slot_curl_easy_setopt);
	va_list ap;
	va_start(ap, o);
	CURLcode rc;
	if (o < CURLOPTTYPE_OBJECTPOINT)
		rc = f(h, o, va_arg(ap, long));
	else if (o < CURLOPTTYPE_OFF_T)
		rc = f(h, o, va_arg(ap, void *)); /* objects and function pointers */
	else if (o < CURLOPTTYPE_BLOB)
		rc = f(h, o, va_arg(ap, curl_off_t));
	else
		rc = f(h, o, va_arg(ap, void *));
	va_end(ap);
	return rc;
}

CURLMcode curl_multi_setopt(CURLM *m, CURLMoption o, ...)
{
	multi_setopt_fn f = (multi_setopt_fn)lazy_fn(&curl, lazy_slot_curl_multi_setopt);
	va_list ap;
	va_start(ap, o);
	CURLMcode rc;
	if (o < CURLOPTTYPE_OBJECTPOINT)
		rc = f(m, o, va_arg(ap, long));
	else if (o < CURLOPTTYPE_OFF_T)
		rc = f(m, o, va_arg(ap, void *));
	else
		rc = f(m, o, va_arg(ap, curl_off_t));
	va_end(ap);
	return rc;
}

CURLcode curl_easy_getinfo(CURL *h, CURLINFO i, ...)
{
	easy_getinfo_fn f = (easy_getinfo_fn)lazy_fn(&curl, lazy_slot_curl_easy_getinfo);
	va_list ap;
	va_start(ap, i);
	CURLcode rc = f(h, i, va_arg(ap, void *)); /* every CURLINFO argument is a pointer */
	va_end(ap);
	return rc;
}
