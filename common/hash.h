/* hash.h: streaming md5/sha1/sha256 over OpenSSL EVP. */
#ifndef SETTLE_HASH_H
#define SETTLE_HASH_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

enum hash_alg { HASH_MD5 = 0, HASH_SHA1, HASH_SHA256, HASH_ALG_COUNT };

#define HASH_HEX_MAX 65 /* sha256 hex + NUL */

/* Parses "md5" / "sha1" / "sha256" (case-insensitive); false if unknown. */
bool hash_parse_alg(const char *name, enum hash_alg *out) MUSTCHECK;
const char *hash_alg_name(enum hash_alg alg);
/* Length of the hex digest of alg (32, 40, 64). */
size_t hash_hex_len(enum hash_alg alg);

/* A set of digests computed in one pass. `algs` is a bit mask of (1 << enum hash_alg). */
struct hash_set;
struct hash_set *hash_set_new(unsigned algs);
void hash_set_update(struct hash_set *h, const void *data, size_t n);
/* Finishes; writes each requested digest as lower-case hex into out[alg]. Frees h. */
void hash_set_final(struct hash_set *h, char out[HASH_ALG_COUNT][HASH_HEX_MAX]);
void hash_set_free(struct hash_set *h);

/* One-shot hex digest of a buffer. */
void hash_hex(enum hash_alg alg, const void *data, size_t n, char out[HASH_HEX_MAX]);

#endif
