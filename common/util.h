/* util.h: memory wrappers that abort on exhaustion, and small string helpers. */
#ifndef SETTLE_UTIL_H
#define SETTLE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MUSTCHECK        __attribute__((warn_unused_result))
#define PRINTFLIKE(f, a) __attribute__((format(printf, f, a)))
#define ARRAY_LEN(a)     (sizeof(a) / sizeof((a)[0]))

/* Allocation wrappers: never return NULL; print a message and abort instead. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Formats into a new string the caller frees. */
char *xasprintf(const char *fmt, ...) PRINTFLIKE(1, 2);

/* Sets *err (when err is not NULL) to a new formatted message the caller frees, freeing a
 * message already there. Keeps errno. */
void util_set_err(char **err, const char *fmt, ...) PRINTFLIKE(2, 3);

/* Milliseconds of CLOCK_MONOTONIC and of the wall clock. */
int64_t util_now_ms(void);
int64_t util_wall_ms(void);
/* Sleeps ms milliseconds (restarts on EINTR unless *stop becomes true). */
void util_sleep_ms(int64_t ms, volatile const int *stop);

/* Reconnect backoff: the one policy every loop that waits for a dependency uses. Waits
 * start at min_ms and double up to max_ms; util_backoff_reset goes back to min_ms once the
 * dependency works again. A small cap keeps a loop probing about every max_ms while a
 * dependency is down, so it resumes soon after the dependency does. */
struct util_backoff {
	int64_t ms, min_ms, max_ms;
};
#define UTIL_BACKOFF_MIN_MS 50
#define UTIL_BACKOFF_MAX_MS 1000
#define UTIL_BACKOFF_INIT                                                                          \
	{                                                                                          \
		UTIL_BACKOFF_MIN_MS, UTIL_BACKOFF_MIN_MS, UTIL_BACKOFF_MAX_MS                      \
	}
/* Returns the wait due now (with up to 25% jitter, so many processes do not probe in step)
 * and doubles the next one, up to max_ms. */
int64_t util_backoff_next(struct util_backoff *b);
/* The dependency works again: the next wait is min_ms. */
void util_backoff_reset(struct util_backoff *b);
/* Sleeps util_backoff_next(b) ms, returning early when *stop becomes true. */
void util_backoff_sleep(struct util_backoff *b, volatile const int *stop);

/* Parses a whole decimal integer; false on junk, overflow or empty input. */
bool util_parse_i64(const char *s, int64_t *out) MUSTCHECK;

/* The length (1 to 4) of the well-formed UTF-8 sequence at s[0..n), or 0 when the bytes
 * there are not one (a stray or truncated byte, an overlong form, a surrogate, or a code
 * point over U+10FFFF). */
size_t util_utf8_len(const char *s, size_t n);

/* Lower-case hex of n bytes into out (2n+1 bytes). */
void util_hex(const unsigned char *in, size_t n, char *out);

/* Uniform random double in [0,1) from OpenSSL's RAND_bytes. */
double util_random(void);

#endif
