/* compare.c - `juggle compare`: arrives with the concurrency backends. */
#include "cmd.h"

int cmd_compare(struct cli *c)
{
	(void)c;
	error("compare is not built yet: it needs the threads, processes and eventloop backends");
	return EXIT_USAGE;
}
