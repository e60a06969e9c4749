/* replay.c - runs a fuzz target without libFuzzer: each file named on the
 * command line is read and handed to LLVMFuzzerTestOneInput() once, as
 * libFuzzer would. `make` links one replayer per target
 * (build/fuzz-replay-NAME), and the test suite replays every saved crash
 * input and the seed corpus through it, under the normal build and under
 * ASan+UBSan, so a fixed crash stays fixed without clang or libFuzzer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	/* Every file is read before the first run: a target may chdir(). */
	uint8_t **data = xmalloc(sizeof(*data) * (size_t)(argc > 1 ? argc : 1));
	size_t *len = xmalloc(sizeof(*len) * (size_t)(argc > 1 ? argc : 1));
	for (int i = 1; i < argc; i++) {
		char *text = read_file(argv[i], &len[i]);
		if (!text) {
			perror(argv[i]);
			return 1;
		}
		/* An exact-size copy, so ASan sees a read past the end. */
		data[i] = xmalloc(len[i] ? len[i] : 1);
		memcpy(data[i], text, len[i]);
		free(text);
	}
	for (int i = 1; i < argc; i++) {
		LLVMFuzzerTestOneInput(data[i], len[i]);
		free(data[i]);
	}
	free(data);
	free(len);
	printf("replayed %d input%s\n", argc - 1, argc == 2 ? "" : "s");
	return 0;
}
