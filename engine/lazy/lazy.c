/* lazy.c - dlopen() a library on first use and resolve its functions. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

#include "engine/lazy/lazy.h"

/* pthread_once gives no argument to its routine, so the library being
 * loaded is handed over in a thread-local variable. */
static __thread struct lazy_lib *loading;

static void broken(const struct lazy_lib *lib, const char *what)
{
	fprintf(stderr,
		"juggle: %s are done by %s, which cannot be loaded: %s\n"
		"juggle: install Debian's %s, then run again\n",
		lib->needed_for, lib->soname, what ? what : "unknown error", lib->package);
	abort();
}

static void load_now(void)
{
	struct lazy_lib *lib = loading;
	/* RTLD_LOCAL: the library's symbols serve the slots only, never
	 * another library's lookups. */
	void *h = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		broken(lib, dlerror());
	for (size_t i = 0; i < lib->count; i++) {
		dlerror();
		void *f = dlsym(h, lib->names[i]);
		if (!f) {
			char what[256];
			snprintf(what, sizeof what, "it has no function %s", lib->names[i]);
			broken(lib, what);
		}
		lib->slots[i] = f;
	}
	__atomic_store_n(&lib->ready, 1, __ATOMIC_RELEASE);
}

void lazy_load(struct lazy_lib *lib)
{
	loading = lib;
	pthread_once(&lib->once, load_now);
	loading = NULL;
}
