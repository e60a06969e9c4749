/* kinds.c - the job kinds juggle knows. A new kind is one file and one
 * line here. */
#include "../engine/kind.h"

extern const struct job_kind kind_command, kind_cpu, kind_download;

const struct job_kind *const job_kinds[] = {
	&kind_command,
	&kind_cpu,
	&kind_download,
	NULL,
};
