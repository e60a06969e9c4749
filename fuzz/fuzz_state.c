/* fuzz_state.c - libFuzzer target: arbitrary bytes as .juggle/state. The
 * reader must accept, repair (a torn tail) or set aside every input, and
 * never crash; a log it accepted must be readable again after close. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "engine/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Looks up the job named by each "S\tNAME\t" line of the log as the
 * up-to-date check would, and reads every file signature of its record. */
static void visit_records(const struct state *st, const char *log, size_t len)
{
	for (const char *p = log; p && p < log + len;) {
		const char *nl = memchr(p, '\n', (size_t)(log + len - p));
		if (p[0] == 'S' && p[1] == '\t') {
			const char *b = p + 2;
			size_t n = strcspn(b, "\t\n");
			char *name = xstrndup(b, n), *w = name;
			for (char *r = name; *r; r++) { /* %XX as the log escapes */
				unsigned x;
				if (*r == '%' && sscanf(r + 1, "%2x", &x) == 1 && r[1] && r[2])
					*w++ = (char)x, r += 2;
				else
					*w++ = *r;
			}
			*w = '\0';
			const struct state_rec *rec = state_find(st, name);
			if (rec) {
				size_t sum = strlen(rec->name) + strlen(rec->extra);
				/* As engine/uptodate.c and sched.c walk them. */
				for (uint32_t i = 0; i < rec->n_in; i++)
					sum += strlen(rec->files[i].path) + rec->files[i].hash[0];
				for (uint32_t i = 0; i < rec->n_out; i++)
					sum += strlen(rec->files[rec->n_in + i].path);
				if (sum == 0)
					abort(); /* never: a name is not empty */
			}
			free(name);
		}
		p = nl ? nl + 1 : NULL;
	}
}

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
	/* Most inputs would fail the header check at once, and nearly all
	 * records the CRC check: the first byte says whether to add a valid
	 * header (bit 0) and a valid CRC to every line (bit 1), so the fuzzer
	 * explores the records' fields too. */
	struct strbuf sb = {0};
	unsigned mode = size ? data[0] : 0;
	if (mode & 1)
		sb_adds(&sb, "# juggle state 1\n");
	if (mode & 2) {
		const char *p = (const char *)data + 1, *end = (const char *)data + size;
		while (p < end) {
			const char *nl = memchr(p, '\n', (size_t)(end - p));
			size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
			sb_add(&sb, p, n);
			if (nl)
				sb_addf(&sb, "\t%08lx\n", crc32(0, (const Bytef *)p, (uInt)n));
			p += n + (nl != NULL);
		}
	} else {
		sb_add(&sb, (const char *)data, size);
	}
	write_file_atomic(".juggle/state", sb.buf ? sb.buf : "", sb.len);
	struct state *st;
	struct strbuf warn = {0}, err = {0};
	if (state_open(&st, ".juggle", false, &warn, &err) == 0) {
		visit_records(st, sb.buf ? sb.buf : "", sb.len);
		state_close(st);
		sb_reset(&warn);
		if (state_open(&st, ".juggle", true, &warn, &err) != 0 || warn.len)
			abort(); /* what we accepted and wrote back must load cleanly */
		state_close(st);
	}
	sb_release(&sb);
	sb_release(&warn);
	sb_release(&err);
	return 0;
}
