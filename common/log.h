/* log.h: leveled, one-line key=value logging to stderr. Every string value (each %s and %c
 * of a format) is escaped, so that no value can end a line or forge a key: see log_format. */
#ifndef SETTLE_LOG_H
#define SETTLE_LOG_H

#include "util.h"

enum log_level { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR };

extern enum log_level log_min_level;

/* Parses "debug|info|warn|error"; false if unknown. */
bool log_parse_level(const char *s, enum log_level *out) MUSTCHECK;
/* Sets the program name printed on every line. */
void log_set_program(const char *name);
/* Sets (or clears with NULL) the request or message id of this thread; printed as id=. */
void log_set_id(const char *id);
void log_write(enum log_level lvl, const char *fmt, ...) PRINTFLIKE(2, 3);
/* Formats the message of a log line into out (cap bytes, always NUL-terminated; a message
 * that does not fit is cut) as log_write does: like snprintf, except that each %s and %c
 * value is escaped: a backslash becomes \\, a double quote \", newline, carriage return and tab
 * \n, \r, \t, and every other control character (C0, DEL, C1, U+2028, U+2029) and every byte
 * that is not part of well-formed UTF-8 \xHH (one per byte). A value the format does not
 * put between double quotes is quoted when it holds a space, '=', or anything escaped, so
 * that `key=%s` always stays one key=value pair. A value is cut after LOG_VALUE_MAX bytes
 * of output (marked with "..."). Returns the length of out. */
size_t log_format(char *out, size_t cap, const char *fmt, ...) PRINTFLIKE(3, 4);

#define LOG_VALUE_MAX 2048

/* Each macro checks the level before formatting. fmt is "event key=value ..." */
#define log_at(lvl, ...)                                                                           \
	do {                                                                                       \
		if ((lvl) >= log_min_level)                                                        \
			log_write((lvl), __VA_ARGS__);                                             \
	} while (0)
#define log_debug(...) log_at(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_at(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_ERROR, __VA_ARGS__)

#endif
