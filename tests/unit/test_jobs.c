/* test_jobs.c: the retry policy of jobs_next (what follows a failed run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "jobs.h"
#include "upload_complete.h"

#define BASE_MS 1000
#define NOW_MS  ((int64_t)1700000000000)

/* A job of attempt `attempt` enqueued age_ms before NOW_MS. */
static struct job
job_aged(int attempt, int64_t age_ms)
{
	struct job j = {.kind = JOB_UPLOAD_COMPLETE, .attempt = attempt};

	j.enqueued_at = NOW_MS - age_ms;
	return j;
}

static void
test_retry_uses_an_attempt(void **state)
{
	struct job j = job_aged(1, 0);
	struct jobs_next n = jobs_next(&j, JOB_RETRY, 3, BASE_MS, NOW_MS);

	assert_false(n.give_up);
	assert_int_equal(n.attempt, 2);
	assert_int_equal(n.step, 2);
	j.attempt = 2;
	n = jobs_next(&j, JOB_RETRY, 3, BASE_MS, NOW_MS);
	assert_false(n.give_up);
	assert_int_equal(n.attempt, 3);
	assert_int_equal(n.step, 3);
	j.attempt = 3;
	assert_true(jobs_next(&j, JOB_RETRY, 3, BASE_MS, NOW_MS).give_up);
	j.attempt = 1;
	assert_true(jobs_next(&j, JOB_RETRY, 1, BASE_MS, NOW_MS).give_up);
}

static void
test_unavailable_uses_no_attempt(void **state)
{
	struct job j = job_aged(1, 0);

	/* However long the outage lasts, the attempt number stays and the job is kept. */
	for (int64_t age = 0; age < 7 * 86400 * (int64_t)1000; age = age * 3 + 100) {
		j.enqueued_at = NOW_MS - age;
		struct jobs_next n = jobs_next(&j, JOB_UNAVAILABLE, 2, BASE_MS, NOW_MS);
		assert_false(n.give_up);
		assert_int_equal(n.attempt, 1);
	}
	/* Past its last attempt too (a message of an older version, or max lowered). */
	j = job_aged(9, 5000);
	struct jobs_next n = jobs_next(&j, JOB_UNAVAILABLE, 2, BASE_MS, NOW_MS);
	assert_false(n.give_up);
	assert_int_equal(n.attempt, 9);
}

static void
test_unavailable_backoff_grows_with_age_and_stops(void **state)
{
	struct job j;

	j = job_aged(1, 0);
	assert_int_equal(jobs_next(&j, JOB_UNAVAILABLE, 5, BASE_MS, NOW_MS).step, 2);
	j = job_aged(1, -5000); /* a clock behind the enqueuer's */
	assert_int_equal(jobs_next(&j, JOB_UNAVAILABLE, 5, BASE_MS, NOW_MS).step, 2);
	j = job_aged(1, BASE_MS);
	assert_int_equal(jobs_next(&j, JOB_UNAVAILABLE, 5, BASE_MS, NOW_MS).step, 2);
	j = job_aged(1, BASE_MS + 1); /* ceiling 2 s */
	assert_int_equal(jobs_next(&j, JOB_UNAVAILABLE, 5, BASE_MS, NOW_MS).step, 3);
	j = job_aged(1, 5000); /* ceiling 8 s */
	assert_int_equal(jobs_next(&j, JOB_UNAVAILABLE, 5, BASE_MS, NOW_MS).step, 5);
	/* 64 s is the first ceiling past the 60 s cap: no further growth. */
	j = job_aged(1, 40000);
	assert_int_equal(jobs_next(&j, JOB_UNAVAILABLE, 5, BASE_MS, NOW_MS).step, 8);
	j = job_aged(1, 30 * 86400 * (int64_t)1000);
	assert_int_equal(jobs_next(&j, JOB_UNAVAILABLE, 5, BASE_MS, NOW_MS).step, 8);
	j = job_aged(1, INT64_MAX / 2);
	assert_int_equal(jobs_next(&j, JOB_UNAVAILABLE, 5, 1, NOW_MS).step, 18);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_retry_uses_an_attempt),
	    cmocka_unit_test(test_unavailable_uses_no_attempt),
	    cmocka_unit_test(test_unavailable_backoff_grows_with_age_and_stops),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
