/* job.c: the job message: JSON parse and serialise with jansson. */
#include "job.h"

#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uuid.h"

/* True if kind is a word of letters, digits, '.' and '_' (what a routing key and a queue
 * name take as they are). */
static bool
job_kind_word(const char *kind)
{
	return kind[0] != '\0' &&
	       strspn(kind, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._") ==
	           strlen(kind);
}

/* Reads n decimal digits at *p into *out and advances *p. False if any is not a digit. */
static bool
job_digits(const char **p, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return false;
		v = v * 10 + (c - '0');
	}
	*p += n;
	*out = v;
	return true;
}

/*
 * Parses "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+00:00)" (UTC only) into epoch milliseconds.
 * Digits of the fraction past the third are ignored. False on anything else.
 */
static bool
job_parse_time(const char *s, int64_t *out)
{
	struct tm tm;
	int y, mo, d, h, mi, sec, ms = 0;
	const char *p = s;
	time_t t;

	if (!job_digits(&p, 4, &y) || *p++ != '-' || !job_digits(&p, 2, &mo) || *p++ != '-' ||
	    !job_digits(&p, 2, &d))
		return false;
	if (*p != 'T' && *p != 't')
		return false;
	p++;
	if (!job_digits(&p, 2, &h) || *p++ != ':' || !job_digits(&p, 2, &mi) || *p++ != ':' ||
	    !job_digits(&p, 2, &sec))
		return false;
	if (*p == '.') {
		int n = 0, digit;
		p++;
		while (*p >= '0' && *p <= '9') {
			if (!job_digits(&p, 1, &digit))
				return false;
			if (n++ < 3)
				ms = ms * 10 + digit;
		}
		if (n == 0)
			return false;
		for (; n < 3; n++)
			ms *= 10;
	}
	if (strcmp(p, "Z") != 0 && strcmp(p, "z") != 0 && strcmp(p, "+00:00") != 0)
		return false;
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*out = (int64_t)t * 1000 + ms;
	return true;
}

/* Copies the string member key of o into buf (size n). Error text in *err on failure. */
static int
job_get_str(json_t *o, const char *key, char *buf, size_t n, char **err)
{
	json_t *v = json_object_get(o, key);
	const char *s;

	if (!json_is_string(v)) {
		util_set_err(err, "job message: \"%s\" missing or not a string", key);
		return -1;
	}
	s = json_string_value(v);
	if (json_string_length(v) >= n || strlen(s) != json_string_length(v)) {
		util_set_err(err, "job message: \"%s\" is too long or has a NUL byte", key);
		return -1;
	}
	memcpy(buf, s, json_string_length(v) + 1);
	return 0;
}

static int
job_get_time(json_t *o, int64_t *out, char **err)
{
	json_t *v = json_object_get(o, "enqueued_at");

	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && job_parse_time(json_string_value(v), out))
		return 0;
	util_set_err(err, "job message: \"enqueued_at\" must be an ISO 8601 UTC time or epoch ms");
	return -1;
}

/*
 * Parses a job message (see job.h) into *j. Every field is required; ids must be UUIDs,
 * kind a word, attempt an integer >= 1. 0, or -1 with *err (caller frees).
 */
int
job_parse(const char *body, size_t len, struct job *j, char **err)
{
	json_error_t jerr;
	json_t *o = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	json_t *attempt;
	int rc = -1;

	memset(j, 0, sizeof(*j));
	if (o == NULL) {
		util_set_err(err, "job message is not JSON: %s", jerr.text);
		goto out;
	}
	if (!json_is_object(o)) {
		util_set_err(err, "job message is not a JSON object");
		goto out;
	}
	if (job_get_str(o, "id", j->id, sizeof(j->id), err) < 0 ||
	    job_get_str(o, "kind", j->kind, sizeof(j->kind), err) < 0 ||
	    job_get_str(o, "resource_id", j->resource_id, sizeof(j->resource_id), err) < 0 ||
	    job_get_time(o, &j->enqueued_at, err) < 0)
		goto out;
	if (!uuid_valid(j->id) || !uuid_valid(j->resource_id)) {
		util_set_err(err, "job message: \"id\" and \"resource_id\" must be UUIDs");
		goto out;
	}
	if (!job_kind_word(j->kind)) {
		util_set_err(err, "job message: kind \"%s\" is not a word", j->kind);
		goto out;
	}
	attempt = json_object_get(o, "attempt");
	if (!json_is_integer(attempt) || json_integer_value(attempt) < 1 ||
	    json_integer_value(attempt) > INT_MAX) {
		util_set_err(err, "job message: \"attempt\" must be an integer >= 1");
		goto out;
	}
	j->attempt = (int)json_integer_value(attempt);
	rc = 0;
out:
	json_decref(o);
	if (rc < 0)
		memset(j, 0, sizeof(*j));
	return rc;
}

#define JOB_TIME_LEN 80 /* room for any int year gmtime_r can give */

/* Formats epoch ms as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf. */
static void
job_format_time(int64_t ms, char buf[JOB_TIME_LEN])
{
	int64_t secs = ms / 1000, rem = ms % 1000;
	time_t t;
	struct tm tm;

	if (rem < 0) {
		rem += 1000;
		secs--;
	}
	t = (time_t)secs;
	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	snprintf(buf, JOB_TIME_LEN, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)rem);
}

/*
 * Serialises j as compact JSON with enqueued_at as an ISO 8601 UTC string with
 * milliseconds. Returns a new string the caller frees, or NULL if j holds text that is not
 * UTF-8 (never for a job that came from job_parse or the database).
 */
char *
job_serialize(const struct job *j)
{
	char when[JOB_TIME_LEN];
	json_t *o;
	char *s;

	job_format_time(j->enqueued_at, when);
	o = json_pack("{s:s, s:s, s:s, s:i, s:s}", "id", j->id, "kind", j->kind, "resource_id",
	              j->resource_id, "attempt", j->attempt, "enqueued_at", when);
	if (o == NULL)
		return NULL;
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s;
}
