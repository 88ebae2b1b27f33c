/* fuzz_route.c: route matching on any path: a match has its captures inside the path. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const methods[] = {"GET", "PUT", "POST", "DELETE"};
	char *path;
	struct req r;
	bool known;

	if (size < 1)
		return 0;
	path = strndup((const char *)data + 1, size - 1);
	memset(&r, 0, sizeof(r));
	if (router_match(methods[data[0] % 4], path, &r, &known) != NULL)
		for (int i = 0; i < r.nparams; i++)
			if (r.params[i] < path || r.params[i] > path + strlen(path))
				abort();
	free(path);
	return 0;
}
