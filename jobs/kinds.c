/* kinds.c - the job kinds juggle knows. A new kind is one file and one
 * line here. */
#include "engine/kind.h"

extern const struct job_kind kind_command, kind_cpu, kind_download;

const struct job_kind *const job_kinds[] = {
	&kind_command,
	&kind_cpu,
	&kind_download,
	NULL,
};

/* A worker keeps one cache per kind (engine/attempt.h); kinds_init()
 * checks the same at load time for a table a test defines. */
_Static_assert(sizeof(job_kinds) / sizeof(job_kinds[0]) - 1 <= KIND_SLOTS,
	       "more job kinds than KIND_SLOTS (engine/attempt.h)");
