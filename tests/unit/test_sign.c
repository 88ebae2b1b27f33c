/* test_sign.c: signed storage URLs, stateless tokens, key hashes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sign.h"
#include "util.h"

#define TEST_KEY   "test-secret-key"
#define TEST_USER  "123e4567-e89b-42d3-a456-426614174000"
#define TEST_AGENT "9d4f0a52-1c37-4e8b-b0f5-3f1e2d6c7a80"
#define TEST_NOW   INT64_C(1700000000)

/* Splits "path?expires=E&signature=S" into its three parts (copies into the buffers). */
static void
test_sign_split(const char *url, char *path, char *expires, char *sig)
{
	const char *q = strchr(url, '?');
	const char *amp;

	assert_non_null(q);
	memcpy(path, url, (size_t)(q - url));
	path[q - url] = '\0';
	assert_int_equal(strncmp(q, "?expires=", 9), 0);
	amp = strchr(q, '&');
	assert_non_null(amp);
	memcpy(expires, q + 9, (size_t)(amp - q - 9));
	expires[amp - q - 9] = '\0';
	assert_int_equal(strncmp(amp, "&signature=", 11), 0);
	strcpy(sig, amp + 11);
}

static int
test_sign_setup(void **state)
{
	sign_set_key(TEST_KEY);
	return 0;
}

static void
test_sign_url_format(void **state)
{
	const char msg[] = "url\0PUT\0"
	                   "1700000060\0/storage/c/u/1";
	unsigned char md[32];
	unsigned int len = 0;
	char want[65], path[256], exp[32], sig[256];
	char *url = sign_url("PUT", "/storage/c/u/1", TEST_NOW + 60, 0);

	/* The MAC is HMAC-SHA256 over "url" NUL method NUL expires NUL path. */
	assert_non_null(HMAC(EVP_sha256(), TEST_KEY, (int)strlen(TEST_KEY),
	                     (const unsigned char *)msg, sizeof(msg) - 1, md, &len));
	util_hex(md, len, want);
	test_sign_split(url, path, exp, sig);
	assert_string_equal(path, "/storage/c/u/1");
	assert_string_equal(exp, "1700000060");
	assert_string_equal(sig, want);
	free(url);
}

static void
test_sign_url_round_trip(void **state)
{
	char path[256], exp[32], sig[256];
	char *url = sign_url("GET", "/storage/a/b/3", TEST_NOW + 300, 0);

	test_sign_split(url, path, exp, sig);
	assert_true(sign_url_verify("GET", path, exp, NULL, sig, TEST_NOW, NULL));
	assert_true(
	    sign_url_verify("GET", path, exp, NULL, sig, TEST_NOW + 300, NULL)); /* last second */
	free(url);
}

static void
test_sign_url_tampered(void **state)
{
	char path[256], exp[32], sig[256], bad[256];
	char *url = sign_url("PUT", "/storage/a/b/3", TEST_NOW + 300, 0);

	test_sign_split(url, path, exp, sig);
	/* method, path and expiry are all covered */
	assert_false(sign_url_verify("GET", path, exp, NULL, sig, TEST_NOW, NULL));
	assert_false(sign_url_verify("put", path, exp, NULL, sig, TEST_NOW, NULL));
	assert_false(sign_url_verify("PUT", "/storage/a/b/4", exp, NULL, sig, TEST_NOW, NULL));
	assert_false(sign_url_verify("PUT", "/storage/a/b/3/", exp, NULL, sig, TEST_NOW, NULL));
	assert_false(sign_url_verify("PUT", path, "1700000301", NULL, sig, TEST_NOW, NULL));
	assert_false(sign_url_verify("PUT", path, "01700000300", NULL, sig, TEST_NOW, NULL));
	/* each single hex digit of the signature */
	for (size_t i = 0; i < strlen(sig); i++) {
		strcpy(bad, sig);
		bad[i] = bad[i] == '0' ? '1' : '0';
		assert_false(sign_url_verify("PUT", path, exp, NULL, bad, TEST_NOW, NULL));
	}
	/* truncated, extended, upper case, empty */
	strcpy(bad, sig);
	bad[63] = '\0';
	assert_false(sign_url_verify("PUT", path, exp, NULL, bad, TEST_NOW, NULL));
	strcpy(bad, sig);
	strcat(bad, "0");
	assert_false(sign_url_verify("PUT", path, exp, NULL, bad, TEST_NOW, NULL));
	for (size_t i = 0; i < strlen(bad); i++)
		bad[i] = (char)(bad[i] >= 'a' ? bad[i] - 32 : bad[i]);
	bad[64] = '\0';
	if (strcmp(bad, sig) != 0)
		assert_false(sign_url_verify("PUT", path, exp, NULL, bad, TEST_NOW, NULL));
	assert_false(sign_url_verify("PUT", path, exp, NULL, "", TEST_NOW, NULL));
	/* another key */
	sign_set_key("another key");
	assert_false(sign_url_verify("PUT", path, exp, NULL, sig, TEST_NOW, NULL));
	sign_set_key(TEST_KEY);
	assert_true(sign_url_verify("PUT", path, exp, NULL, sig, TEST_NOW, NULL));
	free(url);
}

static void
test_sign_url_expired(void **state)
{
	char path[256], exp[32], sig[256];
	char *url = sign_url("GET", "/storage/a/b/1", TEST_NOW - 1, 0);

	test_sign_split(url, path, exp, sig);
	assert_false(sign_url_verify("GET", path, exp, NULL, sig, TEST_NOW, NULL));
	assert_true(sign_url_verify("GET", path, exp, NULL, sig, TEST_NOW - 1, NULL));
	free(url);
}

/* A URL carrying a database position: "?expires=E&lsn=L&signature=S", the MAC over "url.lsn"
 * NUL method NUL expires NUL lsn NUL path; the position cannot be changed, added or left
 * out. */
static void
test_sign_url_position(void **state)
{
	const char msg[] = "url.lsn\0GET\0"
	                   "1700000060\0"
	                   "000000010000a0b8\0/storage/u";
	unsigned char md[32];
	unsigned int len = 0;
	char want[65], head[128],
	    *url = sign_url("GET", "/storage/u", TEST_NOW + 60, UINT64_C(0x10000a0b8));
	const char *sig = strstr(url, "&signature=") + 11;
	uint64_t pos = 0;

	assert_non_null(HMAC(EVP_sha256(), TEST_KEY, (int)strlen(TEST_KEY),
	                     (const unsigned char *)msg, sizeof(msg) - 1, md, &len));
	util_hex(md, len, want);
	snprintf(head, sizeof(head), "%.*s", (int)(sig - url), url);
	assert_string_equal(head, "/storage/u?expires=1700000060&lsn=000000010000a0b8&signature=");
	assert_string_equal(sig, want);
	assert_true(sign_url_verify("GET", "/storage/u", "1700000060", "000000010000a0b8", sig,
	                            TEST_NOW, &pos));
	assert_int_equal(pos, UINT64_C(0x10000a0b8));
	/* altered, upper case, short, long, left out */
	assert_false(sign_url_verify("GET", "/storage/u", "1700000060", "000000010000a0b9", sig,
	                             TEST_NOW, NULL));
	assert_false(sign_url_verify("GET", "/storage/u", "1700000060", "000000010000A0B8", sig,
	                             TEST_NOW, NULL));
	assert_false(
	    sign_url_verify("GET", "/storage/u", "1700000060", "10000a0b8", sig, TEST_NOW, NULL));
	assert_false(sign_url_verify("GET", "/storage/u", "1700000060", "000000010000a0b80", sig,
	                             TEST_NOW, NULL));
	assert_false(sign_url_verify("GET", "/storage/u", "1700000060", NULL, sig, TEST_NOW, NULL));
	free(url);
	/* a URL without a position does not verify with one added */
	url = sign_url("GET", "/storage/u", TEST_NOW + 60, 0);
	sig = strstr(url, "&signature=") + 11;
	assert_null(strstr(url, "lsn="));
	assert_true(sign_url_verify("GET", "/storage/u", "1700000060", NULL, sig, TEST_NOW, &pos));
	assert_int_equal(pos, 0);
	assert_false(sign_url_verify("GET", "/storage/u", "1700000060", "0000000000000000", sig,
	                             TEST_NOW, NULL));
	free(url);
}

static void
test_sign_url_garbage(void **state)
{
	char sig[65];

	memset(sig, 'a', 64);
	sig[64] = '\0';
	assert_false(sign_url_verify(NULL, "/p", "1", NULL, sig, 0, NULL));
	assert_false(sign_url_verify("GET", NULL, "1", NULL, sig, 0, NULL));
	assert_false(sign_url_verify("GET", "/p", NULL, NULL, sig, 0, NULL));
	assert_false(sign_url_verify("GET", "/p", "1", NULL, NULL, 0, NULL));
	assert_false(sign_url_verify("GET", "/p", "", NULL, sig, 0, NULL));
	assert_false(sign_url_verify("GET", "/p", "-5", NULL, sig, 0, NULL));
	assert_false(sign_url_verify("GET", "/p", " 5", NULL, sig, 0, NULL));
	assert_false(sign_url_verify("GET", "/p", "5x", NULL, sig, 0, NULL));
	assert_false(sign_url_verify("GET", "/p", "99999999999999999999999", NULL, sig, 0, NULL));
	assert_false(
	    sign_url_verify("GET", "/p", "9999999999999999999", NULL, sig, 0, NULL)); /* > INT64 */
	assert_false(sign_url_verify("GET", "/p", "1", NULL, sig, 0, NULL));
}

/* A token for TEST_USER and TEST_AGENT issued a minute before TEST_NOW. Caller frees. */
static char *
test_token(int64_t expires)
{
	struct sign_token t = {TEST_USER, TEST_AGENT, (TEST_NOW - 60) * 1000 + 123, expires};
	return sign_token(&t);
}

static void
test_sign_token_format(void **state)
{
	const char msg[] = "token.v2\0" TEST_USER "\0" TEST_AGENT "\0"
	                   "1699999940123\0"
	                   "1700003600";
	unsigned char md[32];
	unsigned int len = 0;
	char want[256], hex[65];
	char *tok = test_token(TEST_NOW + 3600);

	/* "<user>.<agent>.<issued_ms>.<expires>.<HMAC-SHA256 over "token.v2" NUL each field>" */
	assert_non_null(HMAC(EVP_sha256(), TEST_KEY, (int)strlen(TEST_KEY),
	                     (const unsigned char *)msg, sizeof(msg) - 1, md, &len));
	util_hex(md, len, hex);
	snprintf(want, sizeof(want), "%s.%s.1699999940123.1700003600.%s", TEST_USER, TEST_AGENT,
	         hex);
	assert_string_equal(tok, want);
	free(tok);
}

static void
test_sign_token_round_trip(void **state)
{
	char user[37] = "";
	struct sign_token t;
	char *tok = test_token(TEST_NOW + 3600);

	assert_int_equal(strspn(tok, "0123456789abcdefABCDEF-."), strlen(tok)); /* URL-safe */
	assert_true(sign_token_verify(tok, TEST_NOW, user));
	assert_string_equal(user, TEST_USER);
	assert_true(sign_token_read(tok, TEST_NOW + 3600, &t));
	assert_string_equal(t.user_id, TEST_USER);
	assert_string_equal(t.agent_id, TEST_AGENT);
	assert_int_equal(t.issued_ms, (TEST_NOW - 60) * 1000 + 123);
	assert_int_equal(t.expires, TEST_NOW + 3600);
	free(tok);
}

static void
test_sign_token_expired(void **state)
{
	char user[37] = "untouched";
	char *tok = test_token(TEST_NOW - 1);

	assert_false(sign_token_verify(tok, TEST_NOW, user));
	assert_string_equal(user, "untouched");
	free(tok);
}

/* Replaces the token's field number `field` (0: user … 3: expires) with value. */
static char *
test_token_with(const char *tok, int field, const char *value)
{
	const char *start = tok, *end;

	for (int i = 0; i < field; i++)
		start = strchr(start, '.') + 1;
	end = strchr(start, '.');
	return xasprintf("%.*s%s%s", (int)(start - tok), tok, value, end);
}

static void
test_sign_token_forged(void **state)
{
	char user[37] = "untouched";
	char *tok = test_token(TEST_NOW + 3600);
	static const char *const swaps[] = {"00000000-0000-4000-8000-000000000000",
	                                    "00000000-0000-4000-8000-000000000000", "1700000000000",
	                                    "1800000000"};
	char *mixed;
	size_t len = strlen(tok);

	/* every single-character change */
	for (size_t i = 0; i < len; i++) {
		char *bad = strdup(tok);
		assert_non_null(bad);
		bad[i] = bad[i] == '0' ? '1' : '0';
		assert_false(sign_token_verify(bad, TEST_NOW, user));
		free(bad);
	}
	/* another user, another agent, a later issue time, a longer expiry: each is signed */
	for (int f = 0; f < 4; f++) {
		mixed = test_token_with(tok, f, swaps[f]);
		assert_false(sign_token_verify(mixed, TEST_NOW, user));
		free(mixed);
	}
	/* user and agent swapped */
	mixed = xasprintf("%s.%s%s", TEST_AGENT, TEST_USER, tok + 2 * 37 - 1);
	assert_false(sign_token_verify(mixed, TEST_NOW, user));
	free(mixed);
	sign_set_key("another key");
	assert_false(sign_token_verify(tok, TEST_NOW, user));
	sign_set_key(TEST_KEY);
	assert_string_equal(user, "untouched");
	/* a token is no URL signature and the other way round */
	assert_false(sign_url_verify("GET", TEST_USER, "1700003600", NULL, strrchr(tok, '.') + 1,
	                             TEST_NOW, NULL));
	free(tok);
}

/* A token of the first format ("<user>.<expires>.<HMAC over "token" NUL user NUL expires>",
 * correctly signed with the key) no longer verifies. */
static void
test_sign_token_old_format(void **state)
{
	const char msg[] = "token\0" TEST_USER "\0"
	                   "1700003600";
	unsigned char md[32];
	unsigned int len = 0;
	char old[256], hex[65], user[37] = "untouched";

	assert_non_null(HMAC(EVP_sha256(), TEST_KEY, (int)strlen(TEST_KEY),
	                     (const unsigned char *)msg, sizeof(msg) - 1, md, &len));
	util_hex(md, len, hex);
	snprintf(old, sizeof(old), "%s.1700003600.%s", TEST_USER, hex);
	assert_false(sign_token_verify(old, TEST_NOW, user));
	assert_string_equal(user, "untouched");
}

static void
test_sign_token_garbage(void **state)
{
	char user[37] = "untouched";
	char *tok = test_token(TEST_NOW + 3600);
	static const char *const junk[] = {
	    "",
	    ".",
	    "..",
	    "abc",
	    TEST_USER,
	    TEST_USER ".",
	    TEST_USER "..",
	    TEST_USER ".1700003600",
	    TEST_USER ".1700003600.",
	    TEST_USER "..aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    TEST_USER ".99999999999999999999999999.aaaa",
	    TEST_USER ".-1.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    "Bearer " TEST_USER ".1.aaaa",
	    TEST_USER "." TEST_AGENT,
	    TEST_USER "." TEST_AGENT ".1.2",
	    TEST_USER "." TEST_AGENT ".1.2.",
	    TEST_USER "." TEST_AGENT
	              "..2.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    TEST_USER "." TEST_AGENT
	              ".1..aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	    TEST_USER "." TEST_USER
	              ".x.2.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	char *big;

	assert_false(sign_token_verify(NULL, TEST_NOW, user));
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		assert_false(sign_token_verify(junk[i], TEST_NOW, user));
	/* a valid token with trailing bytes, truncated at every length */
	big = xasprintf("%sX", tok);
	assert_false(sign_token_verify(big, TEST_NOW, user));
	for (size_t n = 0; n < strlen(tok); n++) {
		big[n] = '\0';
		assert_false(sign_token_verify(big, TEST_NOW, user));
		memcpy(big, tok, strlen(tok));
	}
	free(big);
	/* very long input */
	big = malloc(1 << 20);
	assert_non_null(big);
	memset(big, '.', (1 << 20) - 1);
	big[(1 << 20) - 1] = '\0';
	assert_false(sign_token_verify(big, TEST_NOW, user));
	memcpy(big, tok, strlen(tok));
	assert_false(sign_token_verify(big, TEST_NOW, user));
	free(big);
	/* random bytes of random lengths */
	for (int i = 0; i < 2000; i++) {
		unsigned char len, buf[257];
		assert_int_equal(RAND_bytes(&len, 1), 1);
		assert_int_equal(RAND_bytes(buf, len), 1);
		buf[len] = '\0';
		assert_false(sign_token_verify((char *)buf, TEST_NOW, user));
	}
	assert_string_equal(user, "untouched");
	free(tok);
}

static void
test_sign_key_hash(void **state)
{
	char out[65], a[65], b[65];

	sign_key_hash("abc", out);
	assert_string_equal(out,
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	sign_random_key(a);
	sign_random_key(b);
	assert_int_equal(strlen(a), 64);
	assert_int_equal(strspn(a, "0123456789abcdef"), 64);
	assert_string_not_equal(a, b);
}

/* The SESSION cookie: round trip, and anything not made with this key is refused. */
static void
test_sign_session(void **state)
{
	char *v = sign_session(UINT64_C(0x16B374D848));
	uint64_t lsn = 7;
	char buf[128];

	assert_int_equal(strlen(v), 16 + 1 + 64);
	assert_int_equal(strncmp(v, "00000016b374d848.", 17), 0);
	assert_true(sign_session_read(v, &lsn));
	assert_true(lsn == UINT64_C(0x16B374D848));
	snprintf(buf, sizeof(buf), "%s", v);
	buf[0] = '1'; /* another position, same MAC */
	assert_false(sign_session_read(buf, &lsn));
	snprintf(buf, sizeof(buf), "%s", v);
	buf[strlen(buf) - 1] = buf[strlen(buf) - 1] == '0' ? '1' : '0';
	assert_false(sign_session_read(buf, &lsn));
	snprintf(buf, sizeof(buf), "%s0", v); /* too long */
	assert_false(sign_session_read(buf, &lsn));
	assert_false(sign_session_read("", &lsn));
	assert_false(sign_session_read("00000016b374d848", &lsn));
	assert_false(sign_session_read("00000016B374D848.x", &lsn));
	assert_false(sign_session_read(NULL, &lsn));
	assert_true(lsn == UINT64_C(0x16B374D848));
	sign_set_key("another key");
	assert_false(sign_session_read(v, &lsn));
	sign_set_key(TEST_KEY);
	free(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_url_format),
	    cmocka_unit_test(test_sign_url_round_trip),
	    cmocka_unit_test(test_sign_url_tampered),
	    cmocka_unit_test(test_sign_url_expired),
	    cmocka_unit_test(test_sign_url_position),
	    cmocka_unit_test(test_sign_url_garbage),
	    cmocka_unit_test(test_sign_token_format),
	    cmocka_unit_test(test_sign_token_round_trip),
	    cmocka_unit_test(test_sign_token_expired),
	    cmocka_unit_test(test_sign_token_forged),
	    cmocka_unit_test(test_sign_token_old_format),
	    cmocka_unit_test(test_sign_token_garbage),
	    cmocka_unit_test(test_sign_key_hash),
	    cmocka_unit_test(test_sign_session),
	};
	return cmocka_run_group_tests(tests, test_sign_setup, NULL);
}
