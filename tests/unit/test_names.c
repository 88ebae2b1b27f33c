/* test_names.c: the rule of a name, the safe form of a stored name, the rule of the CLI's
 * user and agent names, and the rule of a user's email. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "names.h"

/* names_problem of a NUL-terminated s. */
static const char *
problem(const char *s)
{
	return names_problem(s, strlen(s));
}

static void
test_good_names(void **state)
{
	static const char *const good[] = {
	    "a",
	    "...",
	    ". .",
	    ".hidden",
	    "a..b",
	    "a b",
	    " lead",
	    "trail ",
	    "\xc3\xa9t\xc3\xa9",
	    "x:y",
	    "%2F",
	    "\xe6\xbc\xa2\xe5\xad\x97",
	    "\xf0\x9f\x98\x80", /* U+1F600 */
	    "a\xe2\x80\x8a",    /* a, then U+200A HAIR SPACE: not only whitespace */
	};
	char longest[NAMES_MAX + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		assert_null(problem(good[i]));
		assert_null(names_safe(good[i]));
	}
	memset(longest, 'x', NAMES_MAX);
	longest[NAMES_MAX] = '\0';
	assert_null(problem(longest));
}

static void
test_each_rule(void **state)
{
	char longer[NAMES_MAX + 2];

	(void)state;
	memset(longer, 'x', NAMES_MAX + 1);
	longer[NAMES_MAX + 1] = '\0';
	assert_string_equal(problem(longer), NAMES_RULE_LENGTH);
	assert_string_equal(problem(""), NAMES_RULE_LENGTH);
	assert_string_equal(problem("a\xff"), NAMES_RULE_UTF8);
	assert_string_equal(problem("\xc0\xaf"), NAMES_RULE_UTF8);     /* overlong '/' */
	assert_string_equal(problem("\xed\xa0\x80"), NAMES_RULE_UTF8); /* a surrogate */
	assert_string_equal(problem("\xe2\x80"), NAMES_RULE_UTF8);     /* cut short */
	assert_string_equal(names_problem("a\0b", 3), NAMES_RULE_CONTROL);
	assert_string_equal(problem("tab\there"), NAMES_RULE_CONTROL);
	assert_string_equal(problem("del\x7f"), NAMES_RULE_CONTROL);
	assert_string_equal(problem("c1\xc2\x85"), NAMES_RULE_CONTROL);
	assert_string_equal(problem("a/b"), NAMES_RULE_SLASH);
	assert_string_equal(problem("../../../../tmp/x"), NAMES_RULE_SLASH);
	assert_string_equal(problem("a\\b"), NAMES_RULE_SLASH);
	assert_string_equal(problem("."), NAMES_RULE_DOT);
	assert_string_equal(problem(".."), NAMES_RULE_DOT);
	assert_string_equal(problem(" "), NAMES_RULE_SPACE);
	assert_string_equal(problem("\xe3\x80\x80\xc2\xa0\xe2\x80\x83"), NAMES_RULE_SPACE);
	assert_string_equal(problem("\xe2\x80\xa8"), NAMES_RULE_SPACE); /* U+2028 */
	assert_string_equal(problem("evil\xe2\x80\xaetxt.exe"), NAMES_RULE_FORMAT);
	assert_string_equal(problem("zero\xe2\x80\x8bwidth"), NAMES_RULE_FORMAT);
	assert_string_equal(problem("\xef\xbb\xbf"
	                            "bom"),
	                    NAMES_RULE_FORMAT);
	assert_string_equal(problem("soft\xc2\xad"), NAMES_RULE_FORMAT);        /* U+00AD */
	assert_string_equal(problem("tag\xf3\xa0\x81\x81"), NAMES_RULE_FORMAT); /* U+E0041 */
	assert_string_equal(problem("\xf0\x93\x90\xbf"), NAMES_RULE_FORMAT);    /* U+1343F */
	/* The first rule broken is named: a control character before a slash. */
	assert_string_equal(problem("a/\x01"), NAMES_RULE_CONTROL);
}

/* names_safe(s) is want, and what it gives follows the rule. */
static void
assert_safe(const char *s, const char *want)
{
	char *got = names_safe(s);

	assert_non_null(got);
	assert_string_equal(got, want);
	assert_null(problem(got));
	free(got);
}

static void
test_safe_form(void **state)
{
	(void)state;
	assert_safe("..", "%2E%2E");
	assert_safe(".", "%2E");
	assert_safe("../x/y", "..%2Fx%2Fy");
	assert_safe("..\\..\\x", "..%5C..%5Cx");
	assert_safe(" ", "%20");
	assert_safe("\xe3\x80\x80", "%E3%80%80");
	assert_safe("evil\xe2\x80\xaetxt.exe", "evil%E2%80%AEtxt.exe");
	assert_safe("nl\n", "nl%0A");
	assert_safe("\xe2\x80\x8b", "%E2%80%8B");
	assert_safe("/", "%2F");
	assert_safe("a\xff", "a%FF");
	assert_safe("", "_");
	/* After the characters are written %XX, a name of dots or spaces is written whole. */
	assert_safe(".\xe2\x80\x8b.", ".%E2%80%8B.");
}

static void
test_text_rule(void **state)
{
	(void)state;
	assert_null(names_text_problem("alice"));
	assert_null(names_text_problem("Ren\xc3\xa9 M\xc3\xbcller"));
	assert_null(names_text_problem("a/b")); /* user names are no paths */
	assert_string_equal(names_text_problem("bad\x1b[31m"), NAMES_RULE_CONTROL);
	assert_string_equal(names_text_problem("nl\n"), NAMES_RULE_CONTROL);
	assert_string_equal(names_text_problem("rtl\xe2\x80\xae"), NAMES_RULE_FORMAT);
	assert_string_equal(names_text_problem("\xff"), NAMES_RULE_UTF8);
}

/* The control characters of free text: C0, DEL and C1; tab, LF and CR only in lines. */
static void
test_has_control(void **state)
{
	(void)state;
	assert_false(names_has_control("plain text", 10, false));
	assert_true(names_has_control("a\nb", 3, false));
	assert_false(names_has_control("a\nb\r\tc", 6, true));
	assert_true(names_has_control("a\x00b", 3, true));
	assert_true(names_has_control("esc\x1b", 4, true));
	assert_true(names_has_control("del\x7f", 4, true));
	assert_true(names_has_control("c1\xc2\x85", 4, true));      /* U+0085 NEL */
	assert_false(names_has_control("\xc2\xa0 nbsp", 7, false)); /* U+00A0 is no control */
}

/* names_email_problem of a NUL-terminated s. */
static const char *
email(const char *s)
{
	return names_email_problem(s, strlen(s));
}

/* The rule of a user's email (issue 19 item 5). */
static void
test_email_rule(void **state)
{
	char longest[NAMES_EMAIL_MAX + 2];

	(void)state;
	assert_null(email("a@b"));
	assert_null(email("bob.q+tag@example.org"));
	assert_null(email("\"odd@local\"@example.org")); /* the last '@' splits */
	assert_null(email("ren\xc3\xa9@exampl\xc3\xa9.fr"));
	assert_string_equal(email(""), NAMES_EMAIL_LENGTH);
	assert_string_equal(email("@b"), NAMES_EMAIL_LENGTH);
	memset(longest, 'x', sizeof(longest) - 1); /* "x@xxx…": 254 bytes, then 255 */
	longest[1] = '@';
	longest[NAMES_EMAIL_MAX + 1] = '\0';
	assert_null(names_email_problem(longest, NAMES_EMAIL_MAX));
	assert_string_equal(email(longest), NAMES_EMAIL_LENGTH);
	assert_string_equal(email("no-at-sign"), NAMES_EMAIL_AT);
	assert_string_equal(email("@example.org"), NAMES_EMAIL_AT);
	assert_string_equal(email("alice@"), NAMES_EMAIL_AT);
	assert_string_equal(email("a b@example.org"), NAMES_EMAIL_SPACE);
	assert_string_equal(email("a@example.org\xe3\x80\x80"), NAMES_EMAIL_SPACE); /* U+3000 */
	assert_string_equal(email("a@b\x07"
	                          "c"),
	                    NAMES_RULE_CONTROL);
	assert_string_equal(names_email_problem("a@b\0c", 5), NAMES_RULE_CONTROL);
	assert_string_equal(email("a@b\xe2\x80\xae"
	                          "c"),
	                    NAMES_RULE_FORMAT);
	assert_string_equal(email("a@\xff"), NAMES_RULE_UTF8);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_names),  cmocka_unit_test(test_each_rule),
	    cmocka_unit_test(test_safe_form),   cmocka_unit_test(test_text_rule),
	    cmocka_unit_test(test_has_control), cmocka_unit_test(test_email_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
