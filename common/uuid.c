/* uuid.c: random (v4) UUIDs from OpenSSL's RAND_bytes. */
#include "uuid.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/*
 * Writes a new random v4 UUID (RFC 9562), lower case and NUL-terminated, into out.
 * A failure of the random generator aborts: an id that might repeat is worse than none.
 */
void
uuid_generate(char out[UUID_STR_LEN])
{
	unsigned char b[16];
	char hex[33];

	if (RAND_bytes(b, sizeof(b)) != 1) {
		fprintf(stderr, "settle: RAND_bytes failed, cannot make a uuid\n");
		abort();
	}
	b[6] = (b[6] & 0x0f) | 0x40; /* version 4 */
	b[8] = (b[8] & 0x3f) | 0x80; /* variant 10xx */
	util_hex(b, sizeof(b), hex);
	memcpy(out, hex, 8);
	out[8] = '-';
	memcpy(out + 9, hex + 8, 4);
	out[13] = '-';
	memcpy(out + 14, hex + 12, 4);
	out[18] = '-';
	memcpy(out + 19, hex + 16, 4);
	out[23] = '-';
	memcpy(out + 24, hex + 20, 12);
	out[36] = '\0';
}

static bool
uuid_is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * True if s is exactly 8-4-4-4-12 hex digits (any case) and nothing more. Any version is
 * accepted. NULL is not valid. Reads at most 37 bytes of s.
 */
bool
uuid_valid(const char *s)
{
	if (s == NULL)
		return false;
	for (int i = 0; i < 36; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		if (dash ? s[i] != '-' : !uuid_is_hex(s[i]))
			return false;
	}
	return s[36] == '\0';
}
