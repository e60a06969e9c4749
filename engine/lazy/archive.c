/* archive.c - libarchive, loaded when a run writes its --archive
 * (engine/lazy/lazy.h says why and how). The list holds every libarchive
 * function juggle calls.
 *
 * soname: libarchive.so.13 is libarchive's ABI since 3.0 (Debian's
 * libarchive13).
 */
#include <archive.h>
#include <archive_entry.h>

#include "engine/lazy/lazy.h"

typedef struct archive A;
typedef struct archive_entry E;

#define LAZY_FUNCS(X, V)                                                                           \
	X(A *, archive_write_new, (void), ())                                                      \
	X(int, archive_write_free, (A * a), (a))                                                   \
	X(int, archive_write_close, (A * a), (a))                                                  \
	X(const char *, archive_error_string, (A * a), (a))                                        \
	X(int, archive_write_set_format_pax_restricted, (A * a), (a))                              \
	X(int, archive_write_set_format_zip, (A * a), (a))                                         \
	X(int, archive_write_add_filter_gzip, (A * a), (a))                                        \
	X(int, archive_write_add_filter_xz, (A * a), (a))                                          \
	X(int, archive_write_add_filter_zstd, (A * a), (a))                                        \
	X(int, archive_write_set_filter_option, (A * a, const char *m, const char *o, const char *v), \
	  (a, m, o, v))                                                                            \
	X(int, archive_write_set_format_option, (A * a, const char *m, const char *o, const char *v), \
	  (a, m, o, v))                                                                            \
	X(int, archive_write_set_bytes_in_last_block, (A * a, int n), (a, n))                      \
	X(int, archive_write_open_fd, (A * a, int fd), (a, fd))                                    \
	X(int, archive_write_header, (A * a, E * e), (a, e))                                       \
	X(la_ssize_t, archive_write_data, (A * a, const void *p, size_t n), (a, p, n))             \
	X(E *, archive_entry_new, (void), ())                                                      \
	V(void, archive_entry_free, (E * e), (e))                                                  \
	V(void, archive_entry_set_pathname, (E * e, const char *p), (e, p))                        \
	V(void, archive_entry_set_filetype, (E * e, unsigned int t), (e, t))                       \
	V(void, archive_entry_set_perm, (E * e, __LA_MODE_T m), (e, m))                            \
	V(void, archive_entry_set_size, (E * e, la_int64_t n), (e, n))                             \
	V(void, archive_entry_set_uid, (E * e, la_int64_t n), (e, n))                              \
	V(void, archive_entry_set_gid, (E * e, la_int64_t n), (e, n))                              \
	V(void, archive_entry_set_mtime, (E * e, time_t t, long ns), (e, t, ns))

enum { LAZY_FUNCS(LAZY_SLOT, LAZY_SLOT) lazy_slot_count };
static const char *const names[] = {LAZY_FUNCS(LAZY_NAME, LAZY_NAME)};
static void *slots[lazy_slot_count];
static struct lazy_lib archive = {
	.soname = "libarchive.so.13",
	.needed_for = "archives (--archive)",
	.package = "libarchive13",
	.names = names,
	.count = lazy_slot_count,
	.slots = slots,
	.once = PTHREAD_ONCE_INIT,
};

#define FORWARD(ret, name, params, args)      LAZY_FORWARD(archive, ret, name, params, args)
#define FORWARD_VOID(ret, name, params, args) LAZY_FORWARD_VOID(archive, ret, name, params, args)
LAZY_FUNCS(FORWARD, FORWARD_VOID)
