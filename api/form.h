/* form.h: form-urlencoded bodies (http_body_object reads them). */
#ifndef SETTLE_FORM_H
#define SETTLE_FORM_H

#include <jansson.h>
#include <stddef.h>

/* Parses an application/x-www-form-urlencoded body into a JSON object: "a=1" gives
 * {"a": "1"}, "a[b]=1" gives {"a": {"b": "1"}}; values stay strings; pairs that are not
 * UTF-8 are dropped. New reference, never NULL. */
json_t *form_parse(const char *body, size_t len);

#endif
