/* uuid.h: random (v4) UUIDs in their 36-character text form. */
#ifndef SETTLE_UUID_H
#define SETTLE_UUID_H

#include <stdbool.h>

#define UUID_STR_LEN 37

/* Writes a new random v4 UUID, lower case, NUL-terminated, into out. */
void uuid_generate(char out[UUID_STR_LEN]);
/* True if s is exactly 8-4-4-4-12 hex digits (any case). */
bool uuid_valid(const char *s);

#endif
