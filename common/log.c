/* log.c: one line per event on stderr: time, level, program, id, message. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

enum log_level log_min_level = LOG_INFO;

static const char *program = "settle";
static _Thread_local char thread_id[64];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

bool
log_parse_level(const char *s, enum log_level *out)
{
	for (int i = 0; i < (int)ARRAY_LEN(level_names); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return true;
		}
	}
	return false;
}

void
log_set_program(const char *name)
{
	program = name;
}

void
log_set_id(const char *id)
{
	if (id == NULL)
		thread_id[0] = '\0';
	else
		snprintf(thread_id, sizeof(thread_id), "%s", id);
}

void
log_write(enum log_level lvl, const char *fmt, ...)
{
	char msg[2048], stamp[32];
	struct timeval tv;
	struct tm tm;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	/* One fprintf call per line keeps lines whole between threads. */
	if (thread_id[0] != '\0')
		fprintf(stderr, "%s.%03ldZ level=%s prog=%s id=%s %s\n", stamp,
		        (long)tv.tv_usec / 1000, level_names[lvl], program, thread_id, msg);
	else
		fprintf(stderr, "%s.%03ldZ level=%s prog=%s %s\n", stamp, (long)tv.tv_usec / 1000,
		        level_names[lvl], program, msg);
}
