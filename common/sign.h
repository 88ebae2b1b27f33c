/* sign.h: HMAC-SHA256 signatures for storage URLs and API tokens (key: SETTLE_SECRET). */
#ifndef SETTLE_SIGN_H
#define SETTLE_SIGN_H

#include <stdint.h>

#include "util.h"

/* Sets the key used by every other call. Copies it. */
void sign_set_key(const char *key);

/* Returns "path?expires=E&signature=HEX" for method+path valid until epoch second E, or
 * "path?expires=E&lsn=L&signature=HEX" carrying database position lsn (not 0; signed too).
 * path must not contain '?'. Caller frees. */
char *sign_url(const char *method, const char *path, int64_t expires, uint64_t lsn);
/* Checks a signed URL's query values (lsn NULL when the URL has none): true when they are
 * those sign_url made for method+path and expires >= now, *pos (unless NULL) set to the
 * position (0 without one). Constant-time compare. */
bool sign_url_verify(const char *method, const char *path, const char *expires, const char *lsn,
                     const char *sig, int64_t now, uint64_t *pos) MUSTCHECK;

/* What a token names: the user, the software agent acting for it, when it was issued
 * (epoch milliseconds, by the database's clock) and until when it is valid (epoch seconds). */
struct sign_token {
	char user_id[37];
	char agent_id[37];
	int64_t issued_ms;
	int64_t expires;
};

/* Returns a stateless token for t (ids: uuids). Caller frees. */
char *sign_token(const struct sign_token *t);
/* Verifies a token; on success fills *out and returns true. False, *out untouched, when
 * forged, malformed or expired at `now` (epoch seconds). */
bool sign_token_read(const char *token, int64_t now, struct sign_token *out) MUSTCHECK;
/* sign_token_read that gives the user id alone (37 bytes). */
bool sign_token_verify(const char *token, int64_t now, char user_id[37]) MUSTCHECK;

/* The value of a SESSION cookie carrying database position lsn: "<16 hex>.<hexmac>".
 * Caller frees. */
char *sign_session(uint64_t lsn);
/* Reads a SESSION cookie value: true with *lsn set when it is one sign_session made with
 * this key; false (untouched) when forged or malformed. */
bool sign_session_read(const char *value, uint64_t *lsn) MUSTCHECK;

/* Hex SHA-256 of an api key, as stored in api_keys.key_hash. out: 65 bytes. */
void sign_key_hash(const char *key, char out[65]);
/* A new random key: 32 bytes of randomness, hex. out: 65 bytes. */
void sign_random_key(char out[65]);

#endif
