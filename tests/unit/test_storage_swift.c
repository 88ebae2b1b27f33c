/* test_storage_swift.c: the Swift provider's parts that need no Swift: temp-URL signatures
 * (Swift's tempurl middleware: HMAC-SHA256 over "METHOD\nEXPIRES\nPATH"). The provider
 * against a real Swift is tested by tests/integration/test_swift.py. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "storage_swift.h"

static void
test_sign_vector(void **state)
{
	char sig[65];

	(void)state;
	/* Python: hmac.new(b"tempkey", b"PUT\n1700000000\n/v1/AUTH_settle/p1/u1/3",
	 * hashlib.sha256).hexdigest() */
	storage_swift_sign("tempkey", "PUT", 1700000000, "/v1/AUTH_settle/p1/u1/3", sig);
	assert_string_equal(sig,
	                    "ba1d0fa29e2649abd3a6a7648278850eda0c4e90feeb8d3aa2e48467072d81f3");
}

/* Method, expiry, path and key each change the signature. */
static void
test_sign_binds_every_field(void **state)
{
	char base[65], other[65];

	(void)state;
	storage_swift_sign("k", "GET", 10, "/v1/a/c/o", base);
	storage_swift_sign("k", "PUT", 10, "/v1/a/c/o", other);
	assert_string_not_equal(base, other);
	storage_swift_sign("k", "GET", 11, "/v1/a/c/o", other);
	assert_string_not_equal(base, other);
	storage_swift_sign("k", "GET", 10, "/v1/a/c/p", other);
	assert_string_not_equal(base, other);
	storage_swift_sign("j", "GET", 10, "/v1/a/c/o", other);
	assert_string_not_equal(base, other);
	assert_int_equal(strlen(base), 64);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sign_vector),
	    cmocka_unit_test(test_sign_binds_every_field),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
