/* json.h: the error body of API.md. */
#ifndef SETTLE_JSON_H
#define SETTLE_JSON_H

#include <jansson.h>

#include "util.h"

/* The JSON error body: {"error": status, "code", "reason", "suggestion"}. New reference. */
json_t *json_error_body(int status, const char *code, const char *reason, const char *suggestion);

#endif
