/* fuzz_job.c: job_parse on any bytes: it must reject or accept, never crash or leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct job j;
	char *err = NULL;

	if (job_parse((const char *)data, size, &j, &err) == 0) {
		char *again = job_serialize(&j);
		struct job k;
		/* What it accepted serialises to something it accepts again, unchanged. */
		if (job_parse(again, strlen(again), &k, &err) != 0 || strcmp(j.id, k.id) != 0 ||
		    strcmp(j.kind, k.kind) != 0 || j.attempt != k.attempt)
			abort();
		free(again);
	}
	free(err);
	return 0;
}
