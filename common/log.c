/* log.c: one line per event on stderr: time, level, program, id, message. */
#include "log.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <sys/time.h>
#include <time.h>

enum log_level log_min_level = LOG_INFO;

static const char *program = "settle";
static _Thread_local char thread_id[64];

static const char *const level_names[] = {"debug", "info", "warn", "error"};

/* A bounded output buffer: a piece that does not fit whole is not written. */
struct log_buf {
	char *s;
	size_t len, cap;
};

static bool
log_put(struct log_buf *b, const char *p, size_t n)
{
	if (b->len + n + 1 > b->cap)
		return false;
	memcpy(b->s + b->len, p, n);
	b->len += n;
	b->s[b->len] = '\0';
	return true;
}

/* Writes into out the escape of the UTF-8 sequence of len bytes at s (len 0: one byte that
 * is not UTF-8) and returns its length, or returns 0 when the sequence is written as is. */
static size_t
log_escape_seq(const unsigned char *s, size_t len, char out[16])
{
	static const char hex[] = "0123456789abcdef";
	static const char named[] = {'\\', '\\', '"', '"', '\n', 'n', '\r', 'r', '\t', 't'};
	size_t n = 0;

	for (size_t i = 0; len == 1 && i < sizeof(named); i += 2) {
		if (s[0] == (unsigned char)named[i]) {
			out[0] = '\\';
			out[1] = named[i + 1];
			return 2;
		}
	}
	bool control = len == 0 || (len == 1 && (s[0] < 0x20 || s[0] == 0x7f)) ||
	               (len == 2 && s[0] == 0xc2 && s[1] < 0xa0) ||
	               (len == 3 && s[0] == 0xe2 && s[1] == 0x80 && (s[2] == 0xa8 || s[2] == 0xa9));
	if (!control)
		return 0;
	for (size_t i = 0; i < (len == 0 ? 1 : len); i++) {
		out[n++] = '\\';
		out[n++] = 'x';
		out[n++] = hex[s[i] >> 4];
		out[n++] = hex[s[i] & 15];
	}
	return n;
}

/* True if the value s[0..n) must be quoted where the format does not quote it. */
static bool
log_needs_quotes(const char *s, size_t n)
{
	char esc[16];

	for (size_t i = 0; i < n;) {
		size_t len = util_utf8_len(s + i, n - i);
		if (s[i] == ' ' || s[i] == '=' ||
		    log_escape_seq((const unsigned char *)s + i, len, esc))
			return true;
		i += len == 0 ? 1 : len;
	}
	return false;
}

/* Appends the value s[0..n) escaped (see log_format); quoted: the format quotes it. */
static void
log_value(struct log_buf *b, const char *s, size_t n, bool quoted)
{
	bool quote = !quoted && log_needs_quotes(s, n);
	size_t used = 0;
	char esc[16];

	if (quote)
		(void)log_put(b, "\"", 1);
	for (size_t i = 0; i < n;) {
		size_t len = util_utf8_len(s + i, n - i);
		size_t elen = log_escape_seq((const unsigned char *)s + i, len, esc);
		const char *piece = elen > 0 ? esc : s + i;
		size_t plen = elen > 0 ? elen : len;

		/* Room is kept for the mark of a cut value and a closing quote. */
		if (used + plen > LOG_VALUE_MAX || b->len + plen + 5 > b->cap) {
			(void)log_put(b, "...", 3);
			break;
		}
		(void)log_put(b, piece, plen);
		used += plen;
		i += len == 0 ? 1 : len;
	}
	if (quote)
		(void)log_put(b, "\"", 1);
}

/* Reads a conversion's width or precision (digits, or '*' from ap) into spec. */
static const char *
log_spec_number(const char *f, struct log_buf *spec, int *value, va_list *ap)
{
	char digits[16];

	if (*f == '*') {
		*value = va_arg(*ap, int);
		f++;
	} else {
		*value = 0;
		while (*f >= '0' && *f <= '9' && *value < 100000)
			*value = *value * 10 + (*f++ - '0');
	}
	snprintf(digits, sizeof(digits), "%d", *value);
	(void)log_put(spec, digits, strlen(digits));
	return f;
}

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
/* Formats one number conversion (spec is its "%…" without length and conversion) with the
 * argument of the type its length modifier names. */
static void
log_number(struct log_buf *b, struct log_buf *spec, const char *len, char conv, va_list *ap)
{
	char out[512];
	int n;

	if (strchr("di", conv) != NULL) {
		intmax_t v = strcmp(len, "hh") == 0   ? (signed char)va_arg(*ap, int)
		             : strcmp(len, "h") == 0  ? (short)va_arg(*ap, int)
		             : strcmp(len, "l") == 0  ? va_arg(*ap, long)
		             : strcmp(len, "ll") == 0 ? va_arg(*ap, long long)
		             : strcmp(len, "z") == 0  ? va_arg(*ap, ssize_t)
		             : strcmp(len, "j") == 0  ? va_arg(*ap, intmax_t)
		             : strcmp(len, "t") == 0  ? va_arg(*ap, ptrdiff_t)
		                                      : va_arg(*ap, int);
		(void)log_put(spec, "j", 1);
		(void)log_put(spec, &conv, 1);
		n = snprintf(out, sizeof(out), spec->s, v);
	} else if (strchr("ouxX", conv) != NULL) {
		uintmax_t v = strcmp(len, "hh") == 0   ? (unsigned char)va_arg(*ap, unsigned)
		              : strcmp(len, "h") == 0  ? (unsigned short)va_arg(*ap, unsigned)
		              : strcmp(len, "l") == 0  ? va_arg(*ap, unsigned long)
		              : strcmp(len, "ll") == 0 ? va_arg(*ap, unsigned long long)
		              : strcmp(len, "z") == 0  ? va_arg(*ap, size_t)
		              : strcmp(len, "j") == 0  ? va_arg(*ap, uintmax_t)
		              : strcmp(len, "t") == 0  ? (uintmax_t)va_arg(*ap, ptrdiff_t)
		                                       : va_arg(*ap, unsigned);
		(void)log_put(spec, "j", 1);
		(void)log_put(spec, &conv, 1);
		n = snprintf(out, sizeof(out), spec->s, v);
	} else if (strchr("fFeEgGaA", conv) != NULL) {
		long double v =
		    strcmp(len, "L") == 0 ? va_arg(*ap, long double) : va_arg(*ap, double);
		(void)log_put(spec, "L", 1);
		(void)log_put(spec, &conv, 1);
		n = snprintf(out, sizeof(out), spec->s, v);
	} else if (conv == 'p') {
		n = snprintf(out, sizeof(out), "%p", va_arg(*ap, void *));
	} else {
		n = snprintf(out, sizeof(out), "%%%c", conv); /* unknown: shown, no argument read */
	}
	if (n > 0)
		(void)log_put(b, out, (size_t)n < sizeof(out) ? (size_t)n : sizeof(out) - 1);
}
#pragma GCC diagnostic pop

/* log_format into b, with ap. */
static void
log_vformat(struct log_buf *b, const char *fmt, va_list *ap)
{
	for (const char *f = fmt; *f != '\0';) {
		const char *pct = strchr(f, '%');
		size_t lit = pct != NULL ? (size_t)(pct - f) : strlen(f);
		(void)log_put(b, f, lit);
		if (pct == NULL)
			return;
		bool quoted = pct > fmt && pct[-1] == '"';
		char spec_s[64], len[3] = "";
		struct log_buf spec = {spec_s, 0, sizeof(spec_s)};
		int width, prec = -1;

		f = pct + 1;
		(void)log_put(&spec, "%", 1);
		while (*f != '\0' && strchr("-+ #0'", *f) != NULL)
			(void)log_put(&spec, f++, 1);
		if (*f == '*' || (*f >= '0' && *f <= '9'))
			f = log_spec_number(f, &spec, &width, ap);
		if (*f == '.') {
			(void)log_put(&spec, f++, 1);
			f = log_spec_number(f, &spec, &prec, ap);
		}
		for (size_t i = 0; i < 2 && *f != '\0' && strchr("hlzjtL", *f) != NULL; i++)
			len[i] = *f++;
		if (*f == '\0')
			return;
		char conv = *f++;
		if (conv == '%') {
			(void)log_put(b, "%", 1);
		} else if (conv == 's') {
			const char *s = va_arg(*ap, const char *);
			if (s == NULL)
				s = "(null)";
			log_value(b, s, prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s), quoted);
		} else if (conv == 'c') {
			char c = (char)va_arg(*ap, int);
			log_value(b, &c, 1, quoted);
		} else {
			log_number(b, &spec, len, conv, ap);
		}
	}
}

size_t
log_format(char *out, size_t cap, const char *fmt, ...)
{
	struct log_buf b = {out, 0, cap};
	va_list ap;

	if (cap == 0)
		return 0;
	out[0] = '\0';
	va_start(ap, fmt);
	log_vformat(&b, fmt, &ap);
	va_end(ap);
	return b.len;
}

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
	struct log_buf b = {thread_id, 0, sizeof(thread_id)};

	thread_id[0] = '\0';
	if (id != NULL)
		log_value(&b, id, strlen(id), false);
}

void
log_write(enum log_level lvl, const char *fmt, ...)
{
	char msg[8192], stamp[32];
	struct log_buf b = {msg, 0, sizeof(msg)};
	struct timeval tv;
	struct tm tm;
	va_list ap;

	msg[0] = '\0';
	va_start(ap, fmt);
	log_vformat(&b, fmt, &ap);
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
