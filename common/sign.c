/* sign.c: HMAC-SHA256 signatures for storage URLs and stateless API tokens.
 *
 * Every MAC is HMAC-SHA256 with the key of sign_set_key over fields joined by NUL bytes, the
 * first field naming the purpose, so no two different inputs (and no URL and token) share a
 * message:
 *   URL:   "url" NUL method NUL expires NUL path
 *   URL carrying a database position: "url.lsn" NUL method NUL expires NUL lsn NUL path
 *   (lsn: 16 lower-case hex digits; see sign_url)
 *   token: "token.v2" NUL user_id NUL agent_id NUL issued_ms NUL expires
 *   SESSION cookie: "session" NUL lsn (16 lower-case hex digits); the cookie is
 *   "<lsn>.<hexmac>"
 * A token is "<user_uuid>.<agent_uuid>.<issued_ms>.<expires>.<hexmac>": URL-safe, about 163
 * characters. (Tokens of the first format, "<user_uuid>.<expires>.<hexmac>" with the MAC over
 * "token" NUL user_id NUL expires, no longer verify.)
 * Signatures and MACs travel as 64 lower-case hex digits and are compared in constant time.
 */
#include "sign.h"

#include <inttypes.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "uuid.h"

#define SIGN_MAC_LEN    32
#define SIGN_HEX_LEN    (2 * SIGN_MAC_LEN)
#define SIGN_MAX_DIGITS 19 /* INT64_MAX has 19 digits */

/* HMAC-SHA256 keyed once; each MAC works on a copy (EVP_MAC_CTX_dup), which is half the
 * cost of keying HMAC() every time and safe from any thread. */
static EVP_MAC_CTX *sign_template;

static void
sign_fatal(const char *what)
{
	fprintf(stderr, "settle: sign: %s\n", what);
	abort();
}

/*
 * Sets the key used by every other call; copies it. Call it once at start, before other
 * threads sign or verify. Signing without a key aborts rather than sign with no secret.
 */
void
sign_set_key(const char *key)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0),
	                       OSSL_PARAM_construct_end()};

	EVP_MAC_CTX_free(sign_template);
	sign_template = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
	EVP_MAC_free(mac); /* the context keeps its own reference */
	if (sign_template == NULL ||
	    !EVP_MAC_init(sign_template, (const unsigned char *)key, strlen(key), params))
		sign_fatal("cannot set up HMAC-SHA256");
}

/* Lower-case hex HMAC-SHA256 of the n fields joined by NUL bytes into out (65 bytes). */
static void
sign_mac_hex(const char *const *fields, size_t n, char out[SIGN_HEX_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	size_t md_len = 0;
	EVP_MAC_CTX *ctx;

	if (sign_template == NULL)
		sign_fatal("no key set (sign_set_key was not called)");
	if ((ctx = EVP_MAC_CTX_dup(sign_template)) == NULL)
		sign_fatal("HMAC-SHA256 failed");
	for (size_t i = 0; i < n; i++)
		if (!EVP_MAC_update(ctx, (const unsigned char *)fields[i],
		                    strlen(fields[i]) + (i + 1 < n ? 1 : 0)))
			sign_fatal("HMAC-SHA256 failed");
	if (!EVP_MAC_final(ctx, md, &md_len, sizeof(md)) || md_len != SIGN_MAC_LEN)
		sign_fatal("HMAC-SHA256 failed");
	EVP_MAC_CTX_free(ctx);
	util_hex(md, md_len, out);
}

/* True when s is 1 to 19 decimal digits forming an int64; stores the value in *out. */
static bool
sign_parse_digits(const char *s, size_t len, int64_t *out)
{
	char buf[SIGN_MAX_DIGITS + 1];

	if (len == 0 || len > SIGN_MAX_DIGITS)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	return util_parse_i64(buf, out);
}

/* Constant-time equality of a computed hex MAC and a received one of any length. */
static bool
sign_hex_equal(const char *want, const char *got)
{
	if (strnlen(got, SIGN_HEX_LEN + 1) != SIGN_HEX_LEN)
		return false;
	return CRYPTO_memcmp(want, got, SIGN_HEX_LEN) == 0;
}

#define SIGN_LSN_LEN 16

/* True when s is a position as sign_url and sign_session write it: 16 lower-case hex
 * digits, then end (end: '\0') or '.' (end: '.'). */
static bool
sign_lsn_text(const char *s, char end)
{
	return strspn(s, "0123456789abcdef") == SIGN_LSN_LEN && s[SIGN_LSN_LEN] == end;
}

/* The MAC of a URL; lsn NULL for a URL without a position. */
static void
sign_url_mac(const char *method, const char *path, const char *expires, const char *lsn,
             char out[SIGN_HEX_LEN + 1])
{
	const char *fields[] = {"url", method, expires, path};
	const char *with_lsn[] = {"url.lsn", method, expires, lsn, path};

	if (lsn == NULL)
		sign_mac_hex(fields, ARRAY_LEN(fields), out);
	else
		sign_mac_hex(with_lsn, ARRAY_LEN(with_lsn), out);
}

/*
 * Returns "path?expires=E&signature=HEX" that lets its holder call method on path until epoch
 * second `expires` (inclusive); with a database position lsn other than 0,
 * "path?expires=E&lsn=L&signature=HEX", L signed too. path must not contain '?'. The caller
 * frees the result.
 */
char *
sign_url(const char *method, const char *path, int64_t expires, uint64_t lsn)
{
	char exp[32], hex[SIGN_LSN_LEN + 1], mac[SIGN_HEX_LEN + 1];

	snprintf(exp, sizeof(exp), "%" PRId64, expires);
	if (lsn == 0) {
		sign_url_mac(method, path, exp, NULL, mac);
		return xasprintf("%s?expires=%s&signature=%s", path, exp, mac);
	}
	snprintf(hex, sizeof(hex), "%016" PRIx64, lsn);
	sign_url_mac(method, path, exp, hex, mac);
	return xasprintf("%s?expires=%s&lsn=%s&signature=%s", path, exp, hex, mac);
}

/*
 * Checks the expires, lsn (NULL when absent) and signature query values of a signed URL for
 * method and path: true when the signature is the MAC sign_url made for exactly these and
 * expires >= now; *pos (unless NULL) then gets the position (0 without lsn). Any argument
 * may be NULL or garbage (false then). The MAC compare is constant-time.
 */
bool
sign_url_verify(const char *method, const char *path, const char *expires, const char *lsn,
                const char *sig, int64_t now, uint64_t *pos)
{
	char mac[SIGN_HEX_LEN + 1];
	int64_t exp;

	if (method == NULL || path == NULL || expires == NULL || sig == NULL)
		return false;
	if (!sign_parse_digits(expires, strnlen(expires, SIGN_MAX_DIGITS + 1), &exp))
		return false;
	if (lsn != NULL && !sign_lsn_text(lsn, '\0'))
		return false;
	sign_url_mac(method, path, expires, lsn, mac);
	if (!sign_hex_equal(mac, sig) || exp < now)
		return false;
	if (pos != NULL)
		*pos = lsn != NULL ? strtoull(lsn, NULL, 16) : 0;
	return true;
}

/* The MAC of a token's fields, as text, into mac (65 bytes). */
static void
sign_token_mac(const char *user, const char *agent, const char *issued, const char *expires,
               char mac[SIGN_HEX_LEN + 1])
{
	const char *fields[] = {"token.v2", user, agent, issued, expires};
	sign_mac_hex(fields, ARRAY_LEN(fields), mac);
}

/*
 * Returns a stateless token "<user>.<agent>.<issued_ms>.<expires>.<hexmac>" for t, valid
 * until epoch second t->expires (inclusive). A token made for ids that are not uuids never
 * verifies. The caller frees the result.
 */
char *
sign_token(const struct sign_token *t)
{
	char issued[32], exp[32], mac[SIGN_HEX_LEN + 1];

	snprintf(issued, sizeof(issued), "%" PRId64, t->issued_ms);
	snprintf(exp, sizeof(exp), "%" PRId64, t->expires);
	sign_token_mac(t->user_id, t->agent_id, issued, exp, mac);
	return xasprintf("%s.%s.%s.%s.%s", t->user_id, t->agent_id, issued, exp, mac);
}

/* Reads a uuid and the '.' after it at *p into out; moves *p past the dot. */
static bool
sign_take_uuid(const char **p, char out[UUID_STR_LEN])
{
	if (strnlen(*p, UUID_STR_LEN) < UUID_STR_LEN || (*p)[UUID_STR_LEN - 1] != '.')
		return false;
	memcpy(out, *p, UUID_STR_LEN - 1);
	out[UUID_STR_LEN - 1] = '\0';
	*p += UUID_STR_LEN;
	return uuid_valid(out);
}

/* Reads 1 to 19 digits and the '.' after them at *p into text and *value; moves *p past
 * the dot. */
static bool
sign_take_number(const char **p, char text[SIGN_MAX_DIGITS + 1], int64_t *value)
{
	const char *dot = memchr(*p, '.', strnlen(*p, SIGN_MAX_DIGITS + 1));
	size_t len;

	if (dot == NULL)
		return false;
	len = (size_t)(dot - *p);
	if (!sign_parse_digits(*p, len, value))
		return false;
	memcpy(text, *p, len);
	text[len] = '\0';
	*p = dot + 1;
	return true;
}

/*
 * Verifies a token made by sign_token: on success fills *out and returns true. False, with
 * *out untouched, when the token is NULL, malformed, forged or expired at `now` (epoch
 * seconds). Garbage of any length is fine. The MAC compare is constant-time.
 */
bool
sign_token_read(const char *token, int64_t now, struct sign_token *out)
{
	char issued[SIGN_MAX_DIGITS + 1], exp[SIGN_MAX_DIGITS + 1], mac[SIGN_HEX_LEN + 1];
	struct sign_token t;
	const char *p = token;

	if (token == NULL || !sign_take_uuid(&p, t.user_id) || !sign_take_uuid(&p, t.agent_id) ||
	    !sign_take_number(&p, issued, &t.issued_ms) || !sign_take_number(&p, exp, &t.expires))
		return false;
	sign_token_mac(t.user_id, t.agent_id, issued, exp, mac);
	if (!sign_hex_equal(mac, p) || t.expires < now)
		return false;
	*out = t;
	return true;
}

/* sign_token_read that copies the user id alone (36 characters + NUL) into user_id. */
bool
sign_token_verify(const char *token, int64_t now, char user_id[37])
{
	struct sign_token t;

	if (!sign_token_read(token, now, &t))
		return false;
	memcpy(user_id, t.user_id, UUID_STR_LEN);
	return true;
}

/* Lower-case hex SHA-256 of an api key, as stored in api_keys.key_hash. out: 65 bytes. */
void
sign_key_hash(const char *key, char out[65])
{
	hash_hex(HASH_SHA256, key, strlen(key), out);
}

/* Writes a new random key, 32 bytes from RAND_bytes as 64 hex digits, into out (65 bytes).
 * Aborts if the random generator fails. */
void
sign_random_key(char out[65])
{
	unsigned char b[32];

	if (RAND_bytes(b, sizeof(b)) != 1)
		sign_fatal("RAND_bytes failed");
	util_hex(b, sizeof(b), out);
}

char *
sign_session(uint64_t lsn)
{
	char hex[SIGN_LSN_LEN + 1], mac[SIGN_HEX_LEN + 1];
	const char *fields[] = {"session", hex};

	snprintf(hex, sizeof(hex), "%016" PRIx64, lsn);
	sign_mac_hex(fields, ARRAY_LEN(fields), mac);
	return xasprintf("%s.%s", hex, mac);
}

bool
sign_session_read(const char *value, uint64_t *lsn)
{
	char hex[SIGN_LSN_LEN + 1], mac[SIGN_HEX_LEN + 1];
	const char *fields[] = {"session", hex};

	if (value == NULL || !sign_lsn_text(value, '.'))
		return false;
	memcpy(hex, value, SIGN_LSN_LEN);
	hex[SIGN_LSN_LEN] = '\0';
	sign_mac_hex(fields, ARRAY_LEN(fields), mac);
	if (!sign_hex_equal(mac, value + SIGN_LSN_LEN + 1))
		return false;
	*lsn = strtoull(hex, NULL, 16);
	return true;
}
