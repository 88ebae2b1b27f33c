/* test_log.c: the escaping of logged values (issue 18 item 5: no value forges a line or a
 * key). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "log.h"
#include "util.h"

static char out[4096];

static void
test_log_plain_values_are_kept(void **state)
{
	log_format(out, sizeof(out), "request method=%s path=%s status=%d ms=%lld x=%08x", "GET",
	           "/api/v1/projects", 200, 12LL, 0xabcu);
	assert_string_equal(out,
	                    "request method=GET path=/api/v1/projects status=200 ms=12 x=00000abc");
	log_format(out, sizeof(out), "a=%zu b=%g c=%c d=%.3s e=%.*s f=%%", (size_t)7, 1.5, 'q',
	           "abcdef", 2, "xyz");
	assert_string_equal(out, "a=7 b=1.5 c=q d=abc e=xy f=%");
	log_format(out, sizeof(out), "name=%s", "caf\xc3\xa9 \xe2\x9c\x93");
	assert_string_equal(out, "name=\"caf\xc3\xa9 \xe2\x9c\x93\"");
}

static void
test_log_control_characters_are_escaped(void **state)
{
	log_format(out, sizeof(out), "request path=%s status=%d", "/x\nFAKE level=error", 404);
	assert_string_equal(out, "request path=\"/x\\nFAKE level=error\" status=404");
	assert_null(strchr(out, '\n'));
	log_format(out, sizeof(out), "e error=\"%s\"", "a\r\tb\x01\x1b[31m\x7f\\\"end");
	assert_string_equal(out, "e error=\"a\\r\\tb\\x01\\x1b[31m\\x7f\\\\\\\"end\"");
	/* C1 controls and the Unicode line and paragraph separators. */
	log_format(out, sizeof(out), "v=\"%s\"", "\xc2\x85\xc2\x9b\xe2\x80\xa8\xe2\x80\xa9");
	assert_string_equal(out, "v=\"\\xc2\\x85\\xc2\\x9b\\xe2\\x80\\xa8\\xe2\\x80\\xa9\"");
}

static void
test_log_bytes_that_are_not_utf8_are_escaped(void **state)
{
	log_format(out, sizeof(out), "path=%s", "/a\xff\xc3\x28\xed\xa0\x80\xc0\xaf");
	assert_string_equal(out, "path=\"/a\\xff\\xc3(\\xed\\xa0\\x80\\xc0\\xaf\"");
	log_format(out, sizeof(out), "c=%c", (int)(unsigned char)'\xff');
	assert_string_equal(out, "c=\"\\xff\"");
}

static void
test_log_unquoted_values_stay_one_pair(void **state)
{
	log_format(out, sizeof(out), "k=%s j=%s i=%s h=%s", "a b", "a=b", "a\"b", "");
	assert_string_equal(out, "k=\"a b\" j=\"a=b\" i=\"a\\\"b\" h=");
}

static void
test_log_long_values_are_cut_whole(void **state)
{
	static char big[LOG_VALUE_MAX * 2];
	char small[32];

	memset(big, '\n', sizeof(big) - 1);
	log_format(out, sizeof(out), "v=\"%s\" end=1", big);
	assert_true(strlen(out) <= LOG_VALUE_MAX + 20);
	assert_non_null(strstr(out, "\\n...\" end=1"));
	/* A buffer too small: cut, terminated, no half escape, closing quote kept. */
	log_format(small, sizeof(small), "v=%s", "\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n\n");
	assert_true(strlen(small) < sizeof(small));
	assert_int_equal(small[strlen(small) - 1], '"');
	assert_non_null(strstr(small, "\\n...\""));
}

static void
test_log_utf8_len(void **state)
{
	assert_int_equal(util_utf8_len("a", 1), 1);
	assert_int_equal(util_utf8_len("\xc3\xa9", 2), 2);
	assert_int_equal(util_utf8_len("\xe2\x9c\x93", 3), 3);
	assert_int_equal(util_utf8_len("\xf0\x9f\x98\x80", 4), 4);
	assert_int_equal(util_utf8_len("\xc3", 1), 0);             /* truncated */
	assert_int_equal(util_utf8_len("\xc0\xaf", 2), 0);         /* overlong */
	assert_int_equal(util_utf8_len("\xe0\x80\xaf", 3), 0);     /* overlong */
	assert_int_equal(util_utf8_len("\xed\xa0\x80", 3), 0);     /* surrogate */
	assert_int_equal(util_utf8_len("\xf4\x90\x80\x80", 4), 0); /* over U+10FFFF */
	assert_int_equal(util_utf8_len("\x80", 1), 0);             /* stray */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_log_plain_values_are_kept),
	    cmocka_unit_test(test_log_control_characters_are_escaped),
	    cmocka_unit_test(test_log_bytes_that_are_not_utf8_are_escaped),
	    cmocka_unit_test(test_log_unquoted_values_stay_one_pair),
	    cmocka_unit_test(test_log_long_values_are_cut_whole),
	    cmocka_unit_test(test_log_utf8_len),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
