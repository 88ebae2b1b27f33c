/* hash.c: md5/sha1/sha256 over OpenSSL EVP, several digests in one pass. */
#include "hash.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const hash_names[HASH_ALG_COUNT] = {"md5", "sha1", "sha256"};
static const size_t hash_hex_lens[HASH_ALG_COUNT] = {32, 40, 64};

struct hash_set {
	EVP_MD_CTX *ctx[HASH_ALG_COUNT]; /* NULL for an algorithm not requested */
};

/* Aborts: a digest that cannot be computed leaves nothing sensible to do. */
static void
hash_fatal(const char *what, enum hash_alg alg)
{
	fprintf(stderr, "settle: %s failed for %s\n", what, hash_names[alg]);
	abort();
}

static const EVP_MD *
hash_md(enum hash_alg alg)
{
	switch (alg) {
	case HASH_MD5:
		return EVP_md5();
	case HASH_SHA1:
		return EVP_sha1();
	case HASH_SHA256:
		return EVP_sha256();
	default:
		return NULL;
	}
}

/* Parses "md5" / "sha1" / "sha256" (any case) into *out; false (and *out untouched) if
 * name is NULL or unknown. */
bool
hash_parse_alg(const char *name, enum hash_alg *out)
{
	if (name == NULL)
		return false;
	for (int i = 0; i < HASH_ALG_COUNT; i++) {
		if (strcasecmp(name, hash_names[i]) == 0) {
			*out = (enum hash_alg)i;
			return true;
		}
	}
	return false;
}

/* The lower-case name of alg (a static string), or "unknown" for a value out of range. */
const char *
hash_alg_name(enum hash_alg alg)
{
	if ((unsigned)alg >= HASH_ALG_COUNT)
		return "unknown";
	return hash_names[alg];
}

/* Length of the hex digest of alg: 32, 40 or 64; 0 for a value out of range. */
size_t
hash_hex_len(enum hash_alg alg)
{
	if ((unsigned)alg >= HASH_ALG_COUNT)
		return 0;
	return hash_hex_lens[alg];
}

/* Starts a set of digests, one per bit (1 << enum hash_alg) of algs; other bits are ignored.
 * The caller owns the set and ends it with hash_set_final or hash_set_free. */
struct hash_set *
hash_set_new(unsigned algs)
{
	struct hash_set *h = xcalloc(1, sizeof(*h));

	for (int i = 0; i < HASH_ALG_COUNT; i++) {
		if (!(algs & (1u << i)))
			continue;
		h->ctx[i] = EVP_MD_CTX_new();
		if (h->ctx[i] == NULL)
			hash_fatal("EVP_MD_CTX_new", (enum hash_alg)i);
		if (EVP_DigestInit_ex(h->ctx[i], hash_md((enum hash_alg)i), NULL) != 1)
			hash_fatal("EVP_DigestInit_ex", (enum hash_alg)i);
	}
	return h;
}

/* Feeds n bytes of data to every digest of the set. */
void
hash_set_update(struct hash_set *h, const void *data, size_t n)
{
	if (n == 0)
		return;
	for (int i = 0; i < HASH_ALG_COUNT; i++) {
		if (h->ctx[i] != NULL && EVP_DigestUpdate(h->ctx[i], data, n) != 1)
			hash_fatal("EVP_DigestUpdate", (enum hash_alg)i);
	}
}

/* Finishes the set: writes each requested digest as lower-case hex into out[alg] and an
 * empty string into the others. Frees h. */
void
hash_set_final(struct hash_set *h, char out[HASH_ALG_COUNT][HASH_HEX_MAX])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len;

	for (int i = 0; i < HASH_ALG_COUNT; i++) {
		out[i][0] = '\0';
		if (h->ctx[i] == NULL)
			continue;
		if (EVP_DigestFinal_ex(h->ctx[i], md, &len) != 1)
			hash_fatal("EVP_DigestFinal_ex", (enum hash_alg)i);
		util_hex(md, len, out[i]);
	}
	hash_set_free(h);
}

/* Frees a set without finishing it. NULL is fine. */
void
hash_set_free(struct hash_set *h)
{
	if (h == NULL)
		return;
	for (int i = 0; i < HASH_ALG_COUNT; i++)
		EVP_MD_CTX_free(h->ctx[i]);
	free(h);
}

/* One-shot lower-case hex digest of n bytes of data into out. */
void
hash_hex(enum hash_alg alg, const void *data, size_t n, char out[HASH_HEX_MAX])
{
	char all[HASH_ALG_COUNT][HASH_HEX_MAX];
	struct hash_set *h;

	if ((unsigned)alg >= HASH_ALG_COUNT) {
		out[0] = '\0';
		return;
	}
	h = hash_set_new(1u << alg);
	hash_set_update(h, data, n);
	hash_set_final(h, all);
	memcpy(out, all[alg], HASH_HEX_MAX);
}
