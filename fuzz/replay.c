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

#include "../engine/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		size_t len;
		char *data = read_file(argv[i], &len);
		if (!data) {
			perror(argv[i]);
			return 1;
		}
		/* An exact-size copy, so ASan sees a read past the end. */
		uint8_t *exact = xmalloc(len ? len : 1);
		memcpy(exact, data, len);
		free(data);
		LLVMFuzzerTestOneInput(exact, len);
		free(exact);
	}
	printf("replayed %d input%s\n", argc - 1, argc == 2 ? "" : "s");
	return 0;
}
