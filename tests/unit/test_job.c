/* test_job.c: job message parse and serialise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "job.h"

#define ID  "0b0e5f0c-8c1a-4b59-9d7e-4f1e2a3b4c5d"
#define RES "a1b2c3d4-e5f6-4789-abcd-ef0123456789"

static int
parse(const char *s, struct job *j, char **err)
{
	return job_parse(s, strlen(s), j, err);
}

static void
test_round_trip(void **state)
{
	struct job j = {.id = ID, .kind = "upload.complete", .resource_id = RES, .attempt = 3};
	struct job back;
	char *err = NULL, *s;

	j.enqueued_at = INT64_C(1795478400123); /* 2026-11-24T00:00:00.123Z */
	s = job_serialize(&j);
	assert_non_null(s);
	assert_non_null(strstr(s, "\"enqueued_at\":\"2026-11-24T00:00:00.123Z\""));
	assert_int_equal(parse(s, &back, &err), 0);
	assert_null(err);
	assert_string_equal(back.id, ID);
	assert_string_equal(back.kind, "upload.complete");
	assert_string_equal(back.resource_id, RES);
	assert_int_equal(back.attempt, 3);
	assert_int_equal(back.enqueued_at, j.enqueued_at);
	free(s);
}

static void
test_time_forms(void **state)
{
	struct job j;
	char *err = NULL;

	assert_int_equal(parse("{\"id\":\"" ID
	                       "\",\"kind\":\"resource.delete\",\"resource_id\":\"" RES
	                       "\",\"attempt\":1,\"enqueued_at\":1795478400000}",
	                       &j, &err),
	                 0);
	assert_int_equal(j.enqueued_at, INT64_C(1795478400000));
	assert_int_equal(parse("{\"id\":\"" ID
	                       "\",\"kind\":\"project.initialize\",\"resource_id\":\"" RES
	                       "\",\"attempt\":1,\"enqueued_at\":\"2026-11-24T00:00:00Z\"}",
	                       &j, &err),
	                 0);
	assert_int_equal(j.enqueued_at, INT64_C(1795478400000));
	assert_int_equal(parse("{\"id\":\"" ID
	                       "\",\"kind\":\"project.initialize\",\"resource_id\":\"" RES
	                       "\",\"attempt\":1,\"enqueued_at\":\"2026-11-24T00:00:01.5+00:00\"}",
	                       &j, &err),
	                 0);
	assert_int_equal(j.enqueued_at, INT64_C(1795478401500));
	assert_null(err);
}

static void
test_epoch_zero_and_negative_format(void **state)
{
	struct job j = {.id = ID, .kind = "resource.delete", .resource_id = RES, .attempt = 1};
	char *s;

	j.enqueued_at = 0;
	s = job_serialize(&j);
	assert_non_null(strstr(s, "1970-01-01T00:00:00.000Z"));
	free(s);
	j.enqueued_at = -1;
	s = job_serialize(&j);
	assert_non_null(strstr(s, "1969-12-31T23:59:59.999Z"));
	free(s);
}

static void
test_rejects_junk(void **state)
{
	static const char *const bad[] = {
	    "",
	    "null",
	    "[]",
	    "\"x\"",
	    "{",
	    "{}",
	    "{\"id\":\"" ID "\"}",
	    /* bad uuid */
	    "{\"id\":\"nope\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":0}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "x\",\"attempt\":1,\"enqueued_at\":0}",
	    /* kind not a word (an unknown kind: test_kinds.c), kind empty, too long, not a
	     * string */
	    "{\"id\":\"" ID "\",\"kind\":\"upload nope\",\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":0}",
	    "{\"id\":\"" ID "\",\"kind\":\"\",\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":0}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete.upload.complete.upload.complete.x\","
	    "\"resource_id\":\"" RES "\",\"attempt\":1,\"enqueued_at\":0}",
	    "{\"id\":\"" ID "\",\"kind\":7,\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":0}",
	    /* attempt missing, zero, negative, fractional, string, huge */
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"enqueued_at\":0}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":0,\"enqueued_at\":0}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":-2,\"enqueued_at\":0}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":1.5,\"enqueued_at\":0}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":\"1\",\"enqueued_at\":0}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":99999999999,\"enqueued_at\":0}",
	    /* enqueued_at missing, negative, malformed, not UTC */
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":1}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":-5}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":\"yesterday\"}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":\"2026-13-01T00:00:00Z\"}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":\"2026-11-24T00:00:00\"}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":\"2026-11-24T00:00:00.Z\"}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":\"2026-11-24T00:00:00+02:00\"}",
	    "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":\"2026-11-24\"}",
	    /* duplicate key */
	    "{\"id\":\"" ID "\",\"id\":\"" ID
	    "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	    "\",\"attempt\":1,\"enqueued_at\":0}",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct job j;
		char *err = NULL;

		print_message("case %zu: %s\n", i, bad[i]);
		assert_int_equal(parse(bad[i], &j, &err), -1);
		assert_non_null(err);
		assert_string_equal(j.id, "");
		free(err);
	}
}

static void
test_embedded_nul(void **state)
{
	static const char body[] = "{\"id\":\"" ID "\\u0000\",\"kind\":\"upload.complete\","
	                           "\"resource_id\":\"" RES "\",\"attempt\":1,\"enqueued_at\":0}";
	struct job j;
	char *err = NULL;

	assert_int_equal(job_parse(body, strlen(body), &j, &err), -1);
	free(err);
	/* Not NUL-terminated input of the right length parses. */
	char buf[256];
	const char *ok = "{\"id\":\"" ID "\",\"kind\":\"upload.complete\",\"resource_id\":\"" RES
	                 "\",\"attempt\":2,\"enqueued_at\":0}";
	memset(buf, 'x', sizeof(buf));
	memcpy(buf, ok, strlen(ok));
	assert_int_equal(job_parse(buf, strlen(ok), &j, &err), 0);
	assert_int_equal(j.attempt, 2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_time_forms),
	    cmocka_unit_test(test_epoch_zero_and_negative_format),
	    cmocka_unit_test(test_rejects_junk),
	    cmocka_unit_test(test_embedded_nul),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
