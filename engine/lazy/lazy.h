/* lazy.h - libraries loaded on first use.
 *
 * libcurl (the download kind), libarchive (--archive) and libxml2 with
 * libxslt (the xmlcheck and xslt tasks, --junit) bring in some forty shared
 * libraries between them (TLS, Kerberos, LDAP, SSH, IDN, ICU, compressors). Linked the usual way, the dynamic loader maps and relocates
 * every one of them at each start of juggle, for `juggle --version` and for
 * a graph with no download as much as for one with a thousand: it was most
 * of the start-up time. juggle does not link them. engine/lazy/curl.c,
 * archive.c and xml.c define the functions of those libraries that juggle
 * calls, with the library's own prototypes (its header is included, so the
 * compiler checks each one); the first call of any of them dlopen()s the
 * library by its soname and resolves every function on the list at once, so
 * a call costs one indirect jump after that.
 *
 * A library that cannot be loaded is treated as memory that cannot be
 * allocated (engine/util.h): a message naming the library, what needs it and
 * the Debian package that provides it, then abort(). It is a broken
 * installation, not an input error; callers carry no branch for it.
 *
 * Adding a function juggle calls from one of these libraries is one line in
 * that library's list (LAZY_FUNCS in its .c file). A new lazily loaded
 * library is one more such file with its own list and a struct lazy_lib.
 */
#ifndef JUGGLE_LAZY_H
#define JUGGLE_LAZY_H

#include <pthread.h>
#include <stddef.h>

struct lazy_lib {
	const char *soname;     /* what dlopen() is given, e.g. "libcurl.so.4" */
	const char *needed_for; /* "downloads", for the message */
	const char *package;    /* the Debian package that ships it */
	const char *const *names; /* the functions to resolve, in slot order */
	size_t count;
	void **slots; /* filled with the functions' addresses on first use */
	pthread_once_t once;
	int ready; /* set (release) once every slot is filled */
};

/* Loads lib and fills its slots, once per process (thread-safe). Does not
 * return if the library or one of its functions cannot be found. */
void lazy_load(struct lazy_lib *lib);

/* Slot i of lib, loading lib first if this is its first use: what every
 * forwarding function calls. */
static inline void *lazy_fn(struct lazy_lib *lib, size_t i)
{
	if (!__atomic_load_n(&lib->ready, __ATOMIC_ACQUIRE))
		lazy_load(lib);
	return lib->slots[i];
}

/* Defines, from a list X(RET, NAME, (PARAMS), (ARGS)) of a library's
 * functions, the slot numbers and names (LAZY_TABLE) and the forwarding
 * functions (LAZY_FORWARD for functions that return a value,
 * LAZY_FORWARD_VOID for those that do not). See engine/lazy/curl.c. */
#define LAZY_SLOT(ret, name, params, args) lazy_slot_##name,
#define LAZY_NAME(ret, name, params, args) #name,
#define LAZY_FORWARD(lib, ret, name, params, args)                                                  \
	ret name params                                                                             \
	{                                                                                          \
		return ((ret(*) params)lazy_fn(&(lib), lazy_slot_##name)) args;                    \
	}
#define LAZY_FORWARD_VOID(lib, ret, name, params, args)                                             \
	ret name params                                                                             \
	{                                                                                          \
		((ret(*) params)lazy_fn(&(lib), lazy_slot_##name)) args;                           \
	}

#endif
