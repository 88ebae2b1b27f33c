/* test_hash.c: md5/sha1/sha256 known answers, one pass over several, streaming. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "hash.h"

struct test_hash_vector {
	enum hash_alg alg;
	const char *input;
	const char *hex;
};

static const struct test_hash_vector test_hash_vectors[] = {
    {HASH_MD5, "", "d41d8cd98f00b204e9800998ecf8427e"},
    {HASH_MD5, "abc", "900150983cd24fb0d6963f7d28e17f72"},
    {HASH_SHA1, "", "da39a3ee5e6b4b0d3255bfef95601890afd80709"},
    {HASH_SHA1, "abc", "a9993e364706816aba3e25717850c26c9cd0d89d"},
    {HASH_SHA256, "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {HASH_SHA256, "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {HASH_SHA256, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
};

static void
test_hash_known_answers(void **state)
{
	char out[HASH_HEX_MAX];

	for (size_t i = 0; i < sizeof(test_hash_vectors) / sizeof(test_hash_vectors[0]); i++) {
		const struct test_hash_vector *v = &test_hash_vectors[i];
		hash_hex(v->alg, v->input, strlen(v->input), out);
		assert_string_equal(out, v->hex);
		assert_int_equal(strlen(out), hash_hex_len(v->alg));
	}
}

static void
test_hash_set_all_at_once(void **state)
{
	char out[HASH_ALG_COUNT][HASH_HEX_MAX];
	struct hash_set *h = hash_set_new(1u << HASH_MD5 | 1u << HASH_SHA1 | 1u << HASH_SHA256);

	hash_set_update(h, "abc", 3);
	hash_set_final(h, out);
	assert_string_equal(out[HASH_MD5], "900150983cd24fb0d6963f7d28e17f72");
	assert_string_equal(out[HASH_SHA1], "a9993e364706816aba3e25717850c26c9cd0d89d");
	assert_string_equal(out[HASH_SHA256],
	                    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void
test_hash_set_only_requested(void **state)
{
	char out[HASH_ALG_COUNT][HASH_HEX_MAX];
	struct hash_set *h = hash_set_new(1u << HASH_SHA1);

	memset(out, 'x', sizeof(out));
	hash_set_update(h, "", 0);
	hash_set_final(h, out);
	assert_string_equal(out[HASH_MD5], "");
	assert_string_equal(out[HASH_SHA1], "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	assert_string_equal(out[HASH_SHA256], "");
}

static void
test_hash_multi_update_equals_one_shot(void **state)
{
	enum { N = 100003 };
	char parts[HASH_ALG_COUNT][HASH_HEX_MAX], whole[HASH_HEX_MAX];
	unsigned char *buf = malloc(N);
	struct hash_set *h = hash_set_new(7);
	size_t off = 0, step = 1;

	assert_non_null(buf);
	for (size_t i = 0; i < N; i++)
		buf[i] = (unsigned char)(i * 131 + 7);
	while (off < N) {
		size_t n = step < N - off ? step : N - off;
		hash_set_update(h, buf + off, n);
		off += n;
		step = step * 3 + 1; /* uneven pieces, across block boundaries */
	}
	hash_set_final(h, parts);
	for (int alg = 0; alg < HASH_ALG_COUNT; alg++) {
		hash_hex((enum hash_alg)alg, buf, N, whole);
		assert_string_equal(parts[alg], whole);
	}
	free(buf);
}

static void
test_hash_free_unfinished(void **state)
{
	struct hash_set *h = hash_set_new(7);

	hash_set_update(h, "abc", 3);
	hash_set_free(h);
	hash_set_free(NULL);
}

static void
test_hash_names(void **state)
{
	enum hash_alg alg = HASH_SHA256;

	assert_true(hash_parse_alg("md5", &alg));
	assert_int_equal(alg, HASH_MD5);
	assert_true(hash_parse_alg("SHA1", &alg));
	assert_int_equal(alg, HASH_SHA1);
	assert_true(hash_parse_alg("Sha256", &alg));
	assert_int_equal(alg, HASH_SHA256);
	assert_false(hash_parse_alg("sha512", &alg));
	assert_false(hash_parse_alg("", &alg));
	assert_false(hash_parse_alg("md5 ", &alg));
	assert_false(hash_parse_alg(NULL, &alg));
	assert_int_equal(alg, HASH_SHA256);

	assert_string_equal(hash_alg_name(HASH_MD5), "md5");
	assert_string_equal(hash_alg_name(HASH_SHA1), "sha1");
	assert_string_equal(hash_alg_name(HASH_SHA256), "sha256");
	assert_int_equal(hash_hex_len(HASH_MD5), 32);
	assert_int_equal(hash_hex_len(HASH_SHA1), 40);
	assert_int_equal(hash_hex_len(HASH_SHA256), 64);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hash_known_answers),
	    cmocka_unit_test(test_hash_set_all_at_once),
	    cmocka_unit_test(test_hash_set_only_requested),
	    cmocka_unit_test(test_hash_multi_update_equals_one_shot),
	    cmocka_unit_test(test_hash_free_unfinished),
	    cmocka_unit_test(test_hash_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
