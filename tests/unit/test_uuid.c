/* test_uuid.c: v4 uuid generation and validation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "uuid.h"

static void
test_uuid_generate_format(void **state)
{
	char u[UUID_STR_LEN];

	for (int i = 0; i < 200; i++) {
		uuid_generate(u);
		assert_int_equal(strlen(u), 36);
		assert_true(uuid_valid(u));
		assert_int_equal(u[14], '4');           /* version */
		assert_non_null(strchr("89ab", u[19])); /* variant */
		for (int j = 0; j < 36; j++)
			assert_null(strchr("ABCDEF", u[j])); /* lower case */
	}
}

static int
test_uuid_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static void
test_uuid_generate_unique(void **state)
{
	enum { N = 2000 };
	char(*u)[UUID_STR_LEN] = calloc(N, UUID_STR_LEN);

	assert_non_null(u);
	for (int i = 0; i < N; i++)
		uuid_generate(u[i]);
	qsort(u, N, UUID_STR_LEN, test_uuid_cmp);
	for (int i = 1; i < N; i++)
		assert_string_not_equal(u[i - 1], u[i]);
	free(u);
}

static void
test_uuid_valid(void **state)
{
	assert_true(uuid_valid("123e4567-e89b-12d3-a456-426614174000"));
	assert_true(uuid_valid("123E4567-E89B-12D3-A456-426614174ABC"));
	assert_true(uuid_valid("00000000-0000-0000-0000-000000000000"));

	assert_false(uuid_valid(NULL));
	assert_false(uuid_valid(""));
	assert_false(uuid_valid("123e4567-e89b-12d3-a456-42661417400"));   /* short */
	assert_false(uuid_valid("123e4567-e89b-12d3-a456-4266141740000")); /* long */
	assert_false(uuid_valid("123e4567-e89b-12d3-a456-42661417400g"));  /* not hex */
	assert_false(uuid_valid("123e4567e-89b-12d3-a456-426614174000"));  /* dash moved */
	assert_false(uuid_valid("123e4567-e89b-12d3-a456_426614174000"));
	assert_false(uuid_valid("{23e4567-e89b-12d3-a456-426614174000}"));
	assert_false(uuid_valid("123e4567-e89b-12d3-a456-426614174000 "));
	assert_false(uuid_valid("../../../etc/passwd-aaaa-aaaaaaaaaaaa"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_uuid_generate_format),
	    cmocka_unit_test(test_uuid_generate_unique),
	    cmocka_unit_test(test_uuid_valid),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
