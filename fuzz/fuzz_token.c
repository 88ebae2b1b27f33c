/* fuzz_token.c: token and URL signature checks on any bytes: never accept a forgery. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool keyed;
	char user[37], *s = strndup((const char *)data, size);

	if (!keyed) {
		sign_set_key("fuzzing-key-0123456789");
		keyed = true;
	}
	/* Random bytes are never a valid MAC (2^-256). */
	if (sign_token_verify(s, 0, user))
		abort();
	if (sign_url_verify("PUT", s, "99999999999", NULL, s, 0, NULL) ||
	    sign_url_verify("PUT", s, "99999999999", s, s, 0, NULL))
		abort();
	free(s);
	return 0;
}
