/* fuzz_result.c - libFuzzer target: an attempt's result as the processes
 * backend reads it from a worker's pipe and the slurm backend from
 * .juggle/results/ (a file on a shared file system, possibly cut short).
 * Any bytes must parse or be refused without a crash, and what was
 * accepted must survive a round trip unchanged. Sealed, bytes are taken
 * only with the seal result_seal() gives them, for the same job, attempt
 * and key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "engine/result.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = xstrndup((const char *)data, size);
	struct result r, back;
	if (result_from_json(s, &r) == 0) {
		char *again = result_to_json(&r);
		if (!again || result_from_json(again, &back) < 0)
			abort(); /* what we read we can write and read back */
		if (back.status != r.status || back.exit_code != r.exit_code ||
		    back.signal != r.signal || back.bytes != r.bytes || back.n_outs != r.n_outs ||
		    !same_str(back.error, r.error) || !same_str(back.value, r.value) ||
		    !same_str(back.extra, r.extra))
			abort();
		for (uint32_t i = 0; i < r.n_outs; i++)
			if (strcmp(back.outs[i].path, r.outs[i].path) != 0 ||
			    memcmp(back.outs[i].hash, r.outs[i].hash, 16) != 0 ||
			    back.outs[i].size != r.outs[i].size)
				abort();
		result_release(&back);
		free(again);
	}
	result_release(&r);

	static const unsigned char key[RESULT_KEY_LEN] = {1, 2, 3};
	struct result u;
	int rc = result_unseal(s, "job", 1, key, &u);
	if (rc == 0) {
		char *resealed = result_seal(strchr(s, '\n') + 1, "job", 1, key);
		if (strcmp(resealed, s) != 0)
			abort(); /* accepted without this key's seal */
		free(resealed);
		result_release(&u);
	}
	char *sealed = result_seal(s, "job", 1, key);
	struct result plain;
	int want = result_from_json(s, &plain) == 0 ? 0 : -2;
	result_release(&plain);
	rc = result_unseal(sealed, "job", 1, key, &u);
	if (rc != want || result_unseal(sealed, "job", 2, key, &back) != -1)
		abort(); /* the seal is checked first, then the JSON */
	if (rc == 0)
		result_release(&u);
	free(sealed);
	free(s);
	return 0;
}
