/* form.c: application/x-www-form-urlencoded bodies, read into the JSON shape of a JSON
 * body. */
#include "form.h"

#include <stdlib.h>
#include <string.h>

#include "http.h"

/* Decodes s[0..n) as a form field into a new string: '+' is a space (libmicrohttpd's
 * unescaping does not do that part), then %XX as libmicrohttpd decodes it. Its length
 * (a %00 leaves a NUL inside) goes to *len unless len is NULL. */
static char *
form_urldecode(const char *s, size_t n, size_t *len)
{
	char *out = xstrndup(s, n);
	size_t m;

	for (char *c = out; *c != '\0'; c++) {
		if (*c == '+')
			*c = ' ';
	}
	m = MHD_http_unescape(out);
	out[m] = '\0';
	if (len != NULL)
		*len = m;
	return out;
}

/* Sets obj[key] or obj[a][b] for a key "a[b]" to value (a JSON string; stolen). */
static void
form_set(json_t *obj, char *key, json_t *value)
{
	char *open = strchr(key, '[');
	char *close = open ? strchr(open, ']') : NULL;

	if (open == NULL || close == NULL || close[1] != '\0' || open == key) {
		json_object_set_new(obj, key, value);
		return;
	}
	*open = '\0';
	*close = '\0';
	json_t *inner = json_object_get(obj, key);
	if (!json_is_object(inner)) {
		inner = json_object();
		json_object_set_new(obj, key, inner);
	}
	json_object_set_new(inner, open + 1, value);
}

json_t *
form_parse(const char *body, size_t len)
{
	json_t *obj = json_object();
	const char *p = body, *end = body + len;

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		if (stop > p) {
			size_t vlen = 0;
			char *key = form_urldecode(p, (size_t)((eq ? eq : stop) - p), NULL);
			char *val = eq ? form_urldecode(eq + 1, (size_t)(stop - eq - 1), &vlen)
			               : xstrdup("");
			/* A value keeps a NUL a %00 made (the field readers that care see it); keys
			 * and values that are not UTF-8 are dropped, like unknown fields. */
			json_t *v = json_stringn(val, vlen);
			if (*key != '\0' && http_utf8(key) && v != NULL)
				form_set(obj, key, v);
			else
				json_decref(v);
			free(key);
			free(val);
		}
		p = stop + 1;
	}
	return obj;
}
