/* log.h: leveled, one-line key=value logging to stderr. */
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
