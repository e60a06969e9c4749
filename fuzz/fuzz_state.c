/* fuzz_state.c - libFuzzer target: arbitrary bytes as .juggle/state. The
 * reader must accept, repair (a torn tail) or set aside every input, and
 * never crash; a log it accepted must be readable again after close. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../engine/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	if (!ready) {
		char tmpl[] = "/tmp/juggle-fuzz-state-XXXXXX";
		if (!mkdtemp(tmpl) || chdir(tmpl) < 0)
			abort();
		util_fsync = false; /* durability is not what is fuzzed here */
		ready = 1;
	}
	remove_tree(".juggle");
	mkdir_p(".juggle", 0777);
	/* Most inputs would fail the header check at once: give half of
	 * them a valid header so the fuzzer explores records. */
	struct strbuf sb = {0};
	if (size && (data[0] & 1))
		sb_adds(&sb, "# juggle state 1\n");
	sb_add(&sb, (const char *)data, size);
	write_file_atomic(".juggle/state", sb.buf ? sb.buf : "", sb.len);
	sb_release(&sb);
	struct state *st;
	struct strbuf warn = {0}, err = {0};
	if (state_open(&st, ".juggle", false, &warn, &err) == 0) {
		state_close(st);
		sb_reset(&warn);
		if (state_open(&st, ".juggle", true, &warn, &err) != 0 || warn.len)
			abort(); /* what we accepted and wrote back must load cleanly */
		state_close(st);
	}
	sb_release(&warn);
	sb_release(&err);
	return 0;
}
