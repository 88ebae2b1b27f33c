/* names.c: the rule of a name and the safe form of a stored one (see names.h). */
#include "names.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A range of code points, both ends included. */
struct names_range {
	uint32_t lo, hi;
};

/* Unicode 15.1, general category Cf (format characters). */
static const struct names_range names_format[] = {
    {0xAD, 0xAD},       {0x600, 0x605},     {0x61C, 0x61C},     {0x6DD, 0x6DD},
    {0x70F, 0x70F},     {0x890, 0x891},     {0x8E2, 0x8E2},     {0x180E, 0x180E},
    {0x200B, 0x200F},   {0x202A, 0x202E},   {0x2060, 0x2064},   {0x2066, 0x206F},
    {0xFEFF, 0xFEFF},   {0xFFF9, 0xFFFB},   {0x110BD, 0x110BD}, {0x110CD, 0x110CD},
    {0x13430, 0x1343F}, {0x1BCA0, 0x1BCA3}, {0x1D173, 0x1D17A}, {0xE0001, 0xE0001},
    {0xE0020, 0xE007F},
};

/* Unicode's White_Space property. */
static const struct names_range names_space[] = {
    {0x9, 0xD},       {0x20, 0x20},     {0x85, 0x85},     {0xA0, 0xA0},     {0x1680, 0x1680},
    {0x2000, 0x200A}, {0x2028, 0x2029}, {0x202F, 0x202F}, {0x205F, 0x205F}, {0x3000, 0x3000},
};

static bool
names_in(const struct names_range *t, size_t n, uint32_t cp)
{
	for (size_t i = 0; i < n && t[i].lo <= cp; i++)
		if (cp <= t[i].hi)
			return true;
	return false;
}

/* Decodes the character at s[*i] (of n bytes) into *cp and moves *i past it. False, with
 * *i moved one byte, when the bytes there are not UTF-8 (util_utf8_len's rule). */
static bool
names_next(const unsigned char *s, size_t n, size_t *i, uint32_t *cp)
{
	size_t len = util_utf8_len((const char *)s + *i, n - *i);
	uint32_t v;

	if (len == 0) {
		(*i)++;
		return false;
	}
	v = len == 1 ? s[*i] : s[*i] & (0x7Fu >> len);
	for (size_t k = 1; k < len; k++)
		v = v << 6 | (s[*i + k] & 0x3Fu);
	*i += len;
	*cp = v;
	return true;
}

static bool
names_is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

static bool
names_is_format(uint32_t cp)
{
	return names_in(names_format, ARRAY_LEN(names_format), cp);
}

static bool
names_is_space(uint32_t cp)
{
	return names_in(names_space, ARRAY_LEN(names_space), cp);
}

/* True for a character a name may not hold anywhere: control, '/', '\', format. */
static bool
names_refused(uint32_t cp)
{
	return names_is_control(cp) || cp == '/' || cp == '\\' || names_is_format(cp);
}

static bool
names_is_dots(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

/* True when the n bytes at s are UTF-8 of White_Space characters only (n > 0). */
static bool
names_only_space(const char *s, size_t n)
{
	uint32_t cp;

	for (size_t i = 0; i < n;)
		if (!names_next((const unsigned char *)s, n, &i, &cp) || !names_is_space(cp))
			return false;
	return n > 0;
}

const char *
names_problem(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	bool control = false, slash = false, format = false;
	uint32_t cp;

	if (n < 1 || n > NAMES_MAX)
		return NAMES_RULE_LENGTH;
	for (size_t i = 0; i < n;) {
		if (!names_next(u, n, &i, &cp))
			return NAMES_RULE_UTF8;
		control |= names_is_control(cp);
		slash |= cp == '/' || cp == '\\';
		format |= names_is_format(cp);
	}
	if (control)
		return NAMES_RULE_CONTROL;
	if (slash)
		return NAMES_RULE_SLASH;
	if (format)
		return NAMES_RULE_FORMAT;
	if (names_is_dots(s, n))
		return NAMES_RULE_DOT;
	if (names_only_space(s, n))
		return NAMES_RULE_SPACE;
	return NULL;
}

/* The first rule of free text (UTF-8, no control, no format character; with spaces false
 * also no whitespace: space_rule) that the n bytes at s break, or NULL. */
static const char *
names_scan(const char *s, size_t n, bool spaces, const char *space_rule)
{
	uint32_t cp;

	for (size_t i = 0; i < n;) {
		if (!names_next((const unsigned char *)s, n, &i, &cp))
			return NAMES_RULE_UTF8;
		if (names_is_control(cp))
			return NAMES_RULE_CONTROL;
		if (names_is_format(cp))
			return NAMES_RULE_FORMAT;
		if (!spaces && names_is_space(cp))
			return space_rule;
	}
	return NULL;
}

const char *
names_text_problem(const char *s)
{
	return names_scan(s, strlen(s), true, NULL);
}

const char *
names_email_problem(const char *s, size_t n)
{
	const char *at = n > 0 ? memrchr(s, '@', n) : NULL;
	const char *problem;

	if (n < 3 || n > NAMES_EMAIL_MAX)
		return NAMES_EMAIL_LENGTH;
	if ((problem = names_scan(s, n, false, NAMES_EMAIL_SPACE)) != NULL)
		return problem;
	if (at == NULL || at == s || at == s + n - 1)
		return NAMES_EMAIL_AT;
	return NULL;
}

bool
names_has_control(const char *s, size_t n, bool lines)
{
	uint32_t cp;

	for (size_t i = 0; i < n;) {
		if (!names_next((const unsigned char *)s, n, &i, &cp))
			continue;
		if (names_is_control(cp) && !(lines && (cp == '\t' || cp == '\n' || cp == '\r')))
			return true;
	}
	return false;
}

/* Writes the n bytes at s into out as %XX each; returns the end of what it wrote. */
static char *
names_percent(char *out, const unsigned char *s, size_t n)
{
	for (size_t k = 0; k < n; k++)
		out += sprintf(out, "%%%02X", s[k]);
	return out;
}

/* Copies the n bytes at s into out (3n + 1 bytes), each byte of a refused character (or of
 * bytes that are not UTF-8) as %XX, every byte when all is true. True when it changed. */
static bool
names_encode(const char *s, size_t n, bool all, char *out)
{
	const unsigned char *u = (const unsigned char *)s;
	bool changed = false;
	uint32_t cp;

	for (size_t i = 0, start; i < n;) {
		start = i;
		bool good = names_next(u, n, &i, &cp);
		if (all || !good || names_refused(cp)) {
			out = names_percent(out, u + start, i - start);
			changed = true;
		} else {
			memcpy(out, s + start, i - start);
			out += i - start;
		}
	}
	*out = '\0';
	return changed;
}

char *
names_safe(const char *s)
{
	size_t n = strlen(s);
	char *out;
	bool changed;

	if (n == 0)
		return xstrdup("_");
	out = xmalloc(3 * n + 1);
	changed = names_encode(s, n, false, out);
	if (names_is_dots(out, strlen(out)) || names_only_space(out, strlen(out)))
		changed = names_encode(s, n, true, out);
	if (!changed) {
		free(out);
		return NULL;
	}
	return out;
}
