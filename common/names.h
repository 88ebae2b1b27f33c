/* names.h: the rule of a name (of a project, folder, file or upload; docs/api.md "Names"), one
 * rule for every call that sets a name, and the safe form in which a name stored before the
 * rule is served. Also the character rule of the operator's user and agent names. */
#ifndef SETTLE_NAMES_H
#define SETTLE_NAMES_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/* API.md "Limits on input": a name is at most this many bytes. */
#define NAMES_MAX 1024

/* The messages of the rules (errors[].message of a 400). */
#define NAMES_RULE_LENGTH  "must be 1 to 1024 bytes"
#define NAMES_RULE_UTF8    "must be UTF-8"
#define NAMES_RULE_CONTROL "must not contain control characters"
#define NAMES_RULE_SLASH   "must not contain '/' or '\\'"
#define NAMES_RULE_DOT     "must not be '.' or '..'"
#define NAMES_RULE_SPACE   "must not be only whitespace"
#define NAMES_RULE_FORMAT  "must not contain Unicode format characters (such as U+200B or U+202E)"

/*
 * Checks the n bytes at s (which may hold NULs) against the rule of a name: 1 to 1024 bytes
 * of UTF-8; no control character (Unicode Cc, NUL among them), '/', '\' or format character
 * (Unicode Cf, such as U+202E or U+FEFF); not '.' or '..'; not only whitespace (Unicode
 * White_Space). Returns NULL when s follows it, else the NAMES_RULE_* message of the first
 * rule broken (static). Pure.
 */
const char *names_problem(const char *s, size_t n);

/*
 * The form in which a stored name is served: NULL when the NUL-terminated UTF-8 s can be
 * served as it is (no '/', '\', control or format character, not '.', '..', empty or only
 * whitespace), else a new string (the caller frees it) where each byte of such a character
 * is written %XX (upper-case hex), and every byte when the name is '.', '..' or only
 * whitespace ("..": "%2E%2E"); an empty name is "_". The result is one safe path component
 * that follows the rule but for its length. Pure.
 */
char *names_safe(const char *s);

/* The rule of a user's or agent's name given to the operator's CLI: UTF-8 without control
 * or format characters. NULL when the NUL-terminated s follows it, else the NAMES_RULE_*
 * message. Pure. */
const char *names_text_problem(const char *s);

/* docs/api.md "File versions, storage providers and the rest of DDS's small calls": a user's
 * email is at most this many bytes. */
#define NAMES_EMAIL_MAX 254

/* The messages of the email rule (errors[].message of a 400, and of `settle user create`). */
#define NAMES_EMAIL_LENGTH "must be 3 to 254 bytes"
#define NAMES_EMAIL_SPACE  "must not contain whitespace"
#define NAMES_EMAIL_AT     "must be an address of the form local-part@domain"

/* The rule of a user's email, for the API and the operator's CLI alike: 3 to
 * NAMES_EMAIL_MAX bytes of UTF-8 without control, format or whitespace characters, with
 * an '@' that has something before and after it. NULL when the n bytes at s follow it,
 * else the NAMES_RULE_* or NAMES_EMAIL_* message of the first rule broken (static). Pure. */
const char *names_email_problem(const char *s, size_t n);

/* True when the n bytes at s hold a control character (Unicode Cc, NUL among them), but
 * for tab, LF and CR when lines is true (text of several lines). Bytes that are not UTF-8
 * are passed over: check UTF-8 first. Pure. */
bool names_has_control(const char *s, size_t n, bool lines);

#endif
