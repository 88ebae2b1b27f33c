/* json.c: jansson helpers and the error body of API.md. */
#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* jansson returns NULL only when out of memory here: abort like xmalloc does. */
static json_t *
json_check(json_t *v)
{
	if (v == NULL) {
		fprintf(stderr, "settle: out of memory in jansson\n");
		abort();
	}
	return v;
}

/* A JSON string for s: null for NULL, and s with every byte outside printable ASCII replaced
 * by '?' when s is not valid UTF-8. New reference. */
static json_t *
json_text(const char *s)
{
	json_t *v;
	char *copy;

	if (s == NULL)
		return json_check(json_null());
	v = json_string(s);
	if (v != NULL)
		return v;
	copy = xstrdup(s);
	for (char *p = copy; *p != '\0'; p++) {
		if ((unsigned char)*p >= 0x80)
			*p = '?';
	}
	v = json_check(json_string(copy));
	free(copy);
	return v;
}

/*
 * Builds the error body of API.md: {"error": status, "code", "reason", "suggestion"}.
 * A NULL string becomes null; invalid UTF-8 is made safe. Returns a new reference the caller
 * releases with json_decref (or hands to a stealing `_new` call).
 */
json_t *
json_error_body(int status, const char *code, const char *reason, const char *suggestion)
{
	json_t *body = json_check(json_object());

	json_object_set_new(body, "error", json_check(json_integer(status)));
	json_object_set_new(body, "code", json_text(code));
	json_object_set_new(body, "reason", json_text(reason));
	json_object_set_new(body, "suggestion", json_text(suggestion));
	return body;
}
