/* test_json.c: the error body and the jansson helpers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "json.h"

static void
test_json_error_body(void **state)
{
	json_t *body = json_error_body(404, "resource_not_consistent",
	                               "resource changes are still being processed by system",
	                               "please retry request");
	char *text;

	assert_int_equal(json_integer_value(json_object_get(body, "error")), 404);
	assert_string_equal(json_str(body, "code"), "resource_not_consistent");
	assert_string_equal(json_str(body, "reason"),
	                    "resource changes are still being processed by system");
	assert_string_equal(json_str(body, "suggestion"), "please retry request");
	assert_int_equal(json_object_size(body), 4);
	text = json_dump(body);
	assert_string_equal(text, "{\"error\":404,\"code\":\"resource_not_consistent\","
	                          "\"reason\":\"resource changes are still being processed by "
	                          "system\",\"suggestion\":\"please retry request\"}");
	free(text);
	json_decref(body);
}

static void
test_json_error_body_odd_strings(void **state)
{
	json_t *body = json_error_body(400, "validation_failed", "bad \xff\xfe byte", NULL);

	assert_string_equal(json_str(body, "reason"), "bad ?? byte");
	assert_true(json_is_null(json_object_get(body, "suggestion")));
	assert_null(json_str(body, "suggestion"));
	json_decref(body);
}

static void
test_json_str(void **state)
{
	json_error_t e;
	json_t *v = json_loads("{\"a\":\"x\",\"n\":1,\"z\":null,\"o\":{\"a\":\"y\"}}", 0, &e);
	json_t *arr = json_array();

	assert_non_null(v);
	assert_string_equal(json_str(v, "a"), "x");
	assert_null(json_str(v, "n"));
	assert_null(json_str(v, "z"));
	assert_null(json_str(v, "o"));
	assert_null(json_str(v, "missing"));
	assert_string_equal(json_str(json_object_get(v, "o"), "a"), "y");
	assert_null(json_str(NULL, "a"));
	assert_null(json_str(arr, "a"));
	assert_null(json_str(json_object_get(v, "a"), "a"));
	json_decref(arr);
	json_decref(v);
}

static void
test_json_dump(void **state)
{
	json_t *v = json_pack("{s:[i,i], s:s, s:b}", "list", 1, 2, "name", "caf\xc3\xa9", "ok", 1);
	json_t *n = json_integer(42);
	char *text;

	assert_non_null(v);
	text = json_dump(v);
	assert_string_equal(text, "{\"list\":[1,2],\"name\":\"caf\xc3\xa9\",\"ok\":true}");
	free(text);
	text = json_dump(n);
	assert_string_equal(text, "42");
	free(text);
	text = json_dump(NULL);
	assert_string_equal(text, "null");
	free(text);
	json_decref(n);
	json_decref(v);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_error_body),
	    cmocka_unit_test(test_json_error_body_odd_strings),
	    cmocka_unit_test(test_json_str),
	    cmocka_unit_test(test_json_dump),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
