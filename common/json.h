/* json.h: jansson helpers and the error body of API.md. */
#ifndef SETTLE_JSON_H
#define SETTLE_JSON_H

#include <jansson.h>

#include "util.h"

/* The JSON error body: {"error": status, "code", "reason", "suggestion"}. New reference. */
json_t *json_error_body(int status, const char *code, const char *reason, const char *suggestion);

/* Borrowed string member or NULL when absent or not a string. */
const char *json_str(const json_t *obj, const char *key);
/* Compact UTF-8 dump; caller frees. */
char *json_dump(const json_t *v);

#endif
