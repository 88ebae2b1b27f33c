/* test_json.c: the error body. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "json.h"

/* The string member key of obj, or NULL. */
static const char *
json_str(const json_t *obj, const char *key)
{
	return json_string_value(json_object_get(obj, key));
}

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
	text = json_dumps(body, JSON_COMPACT | JSON_PRESERVE_ORDER);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_json_error_body),
	    cmocka_unit_test(test_json_error_body_odd_strings),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
