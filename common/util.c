/* util.c: allocation wrappers, clocks and small parsers. */
#include "util.h"

#include <errno.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
oom(size_t n)
{
	fprintf(stderr, "settle: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (p == NULL)
		oom(n * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	if (q == NULL)
		oom(n);
	return q;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom(strlen(fmt));
	va_end(ap);
	return s;
}

void
util_set_err(char **err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	char *s;

	if (err == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		oom(strlen(fmt));
	va_end(ap);
	free(*err);
	*err = s;
	errno = saved;
}

static int64_t
clock_ms(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
util_now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

int64_t
util_wall_ms(void)
{
	return clock_ms(CLOCK_REALTIME);
}

void
util_sleep_ms(int64_t ms, volatile const int *stop)
{
	int64_t end = util_now_ms() + ms;
	int64_t left;

	while ((left = end - util_now_ms()) > 0 && (stop == NULL || !*stop)) {
		if (left > 100 && stop != NULL)
			left = 100; /* wake up now and then to look at *stop */
		struct timespec ts = {left / 1000, (left % 1000) * 1000000};
		nanosleep(&ts, NULL);
	}
}

int64_t
util_backoff_next(struct util_backoff *b)
{
	int64_t ms = b->ms < b->min_ms ? b->min_ms : b->ms;

	b->ms = ms * 2 > b->max_ms ? b->max_ms : ms * 2;
	return ms - (int64_t)(util_random() * (double)ms / 4);
}

void
util_backoff_reset(struct util_backoff *b)
{
	b->ms = b->min_ms;
}

void
util_backoff_sleep(struct util_backoff *b, volatile const int *stop)
{
	util_sleep_ms(util_backoff_next(b), stop);
}

bool
util_parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0')
		return false;
	*out = v;
	return true;
}

size_t
util_utf8_len(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t len;
	unsigned lo = 0x80, hi = 0xbf; /* the range of the second byte */

	if (n == 0)
		return 0;
	if (u[0] < 0x80)
		return 1;
	if (u[0] >= 0xc2 && u[0] <= 0xdf)
		len = 2;
	else if (u[0] >= 0xe0 && u[0] <= 0xef)
		len = 3;
	else if (u[0] >= 0xf0 && u[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (u[0] == 0xe0)
		lo = 0xa0; /* overlong */
	else if (u[0] == 0xed)
		hi = 0x9f; /* surrogates */
	else if (u[0] == 0xf0)
		lo = 0x90; /* overlong */
	else if (u[0] == 0xf4)
		hi = 0x8f; /* over U+10FFFF */
	if (n < len || u[1] < lo || u[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++) {
		if (u[i] < 0x80 || u[i] > 0xbf)
			return 0;
	}
	return len;
}

void
util_hex(const unsigned char *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

double
util_random(void)
{
	uint64_t v;
	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = (uint64_t)rand() << 32 | (uint64_t)rand();
	return (double)(v >> 11) / (double)(1ULL << 53);
}
