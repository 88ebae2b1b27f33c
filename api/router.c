/* router.c: the route tables, and matching a request to its route and parameters. */
#include "router.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "log.h"
#include "uuid.h"

static const struct route *const tables[] = {
    auth_routes,       projects_routes,       folders_routes,
    uploads_routes,    uploads_chunks_routes, uploads_complete_routes,
    files_routes,      storage_http_routes,   ops_routes,
    users_routes,      permissions_routes,    moves_routes,
    versions_routes,   providers_routes,      agents_routes,
    activities_routes, relations_routes,      provenance_search_routes,
    trashbin_routes,
};

/* The types a path parameter may have (":name:type" in a pattern), and the rule of each: a
 * segment that breaks it names nothing that exists (404). Every segment must be UTF-8 too
 * (it reaches Postgres as text). */
static const struct {
	const char *name;
	bool (*valid)(const char *segment);
} router_types[] = {
    {"uuid", uuid_valid},
    {"text", http_utf8},
};

/* The index in router_types of the type of the pattern segment at seg (":name:type", ended by
 * '/' or the end of the pattern), or -1 when it names none. */
static int
router_type(const char *seg)
{
	size_t len = strcspn(seg, "/");
	const char *colon = memchr(seg + 1, ':', len > 0 ? len - 1 : 0);

	for (size_t t = 0; colon != NULL && t < ARRAY_LEN(router_types); t++) {
		size_t n = (size_t)(seg + len - colon - 1);
		if (strlen(router_types[t].name) == n &&
		    strncmp(colon + 1, router_types[t].name, n) == 0)
			return (int)t;
	}
	return -1;
}

/* Compares one pattern with path segment by segment; ":name:type" takes any one segment. */
static bool
router_pattern(const char *pat, const char *path, struct req *r)
{
	int n = 0;

	while (*pat == '/' && *path == '/') {
		pat++;
		path++;
		size_t plen = strcspn(pat, "/"), slen = strcspn(path, "/");
		if (*pat == ':') {
			if (slen == 0 || n >= HTTP_MAX_PARAMS)
				return false;
			r->params[n++] = path; /* terminated below, once matched */
		} else if (plen != slen || strncmp(pat, path, plen) != 0) {
			return false;
		}
		pat += plen;
		path += slen;
	}
	/* A trailing slash is optional. */
	if (path[0] == '/' && path[1] == '\0')
		path++;
	if (*pat != '\0' || *path != '\0')
		return false;
	r->nparams = n;
	return true;
}

int
router_check(const char **bad)
{
	for (size_t t = 0; t < ARRAY_LEN(tables); t++) {
		for (const struct route *rt = tables[t]; rt->method != NULL; rt++) {
			for (const char *p = strchr(rt->pattern, ':'); p != NULL;
			     p = strchr(p + 1, ':')) {
				if (p[-1] == '/' && router_type(p) < 0) {
					*bad = rt->pattern;
					return -1;
				}
			}
		}
	}
	return 0;
}

const struct route *
router_match(const char *method, const char *path, struct req *r, bool *path_known)
{
	*path_known = false;
	for (size_t t = 0; t < ARRAY_LEN(tables); t++) {
		for (const struct route *rt = tables[t]; rt->method != NULL; rt++) {
			if (!router_pattern(rt->pattern, path, r))
				continue;
			if (strcmp(rt->method, method) != 0) {
				*path_known = true;
				continue;
			}
			return rt;
		}
	}
	return NULL;
}

/* Splits the captured segments into separate strings (owned by r->body-like buffer). */
static char *
router_split_params(struct req *r)
{
	char *copy = xstrdup(r->path);
	for (int i = 0; i < r->nparams; i++) {
		size_t off = (size_t)(r->params[i] - r->path);
		copy[off + strcspn(copy + off, "/")] = '\0';
		r->params[i] = copy + off;
	}
	return copy;
}

void
router_too_large(struct req *r)
{
	http_error(r, 413, "payload_too_large", "the request body is over the limit of 1 MiB",
	           "send a smaller body");
}

/* Every captured segment must keep the rule of its type (router_types). */
static bool
router_params_typed(struct req *r)
{
	const char *p = r->route->pattern;

	for (int i = 0; i < r->nparams; i++) {
		p = strstr(p, "/:") + 1;
		if (!router_types[router_type(p)].valid(r->params[i]))
			return false;
	}
	return true;
}

/* Counts the headers named like cls->name and keeps the last one's value. */
struct router_count {
	const char *name;
	const char *value;
	int n;
};

static enum MHD_Result
router_count_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct router_count *c = cls;

	(void)kind;
	if (strcasecmp(key, c->name) == 0) {
		c->n++;
		c->value = value;
	}
	return MHD_YES;
}

/* The framing of the body must be unambiguous (RFC 9112 6.1, 6.3): at most one
 * Content-Length of plain digits, at most one Transfer-Encoding, which is "chunked", and
 * not both. Otherwise answers 400 and closes the connection (a proxy in front may have
 * framed the body differently), before any handler runs. */
static bool
router_framing(struct req *r)
{
	struct router_count cl = {"Content-Length", NULL, 0}, te = {"Transfer-Encoding", NULL, 0};
	const char *field = NULL, *message = NULL;

	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, router_count_header, &cl);
	MHD_get_connection_values(r->conn, MHD_HEADER_KIND, router_count_header, &te);
	if (cl.n > 0 && te.n > 0) {
		field = "Transfer-Encoding";
		message = "must not come with Content-Length";
	} else if (cl.n > 1 ||
	           (cl.n == 1 &&
	            (cl.value[0] == '\0' || strspn(cl.value, "0123456789") != strlen(cl.value)))) {
		field = "Content-Length";
		message = "must be given once, as plain digits";
	} else if (te.n > 1 || (te.n == 1 && strcasecmp(te.value, "chunked") != 0)) {
		field = "Transfer-Encoding";
		message = "must be given once, as chunked (the only transfer coding served)";
	}
	if (field == NULL)
		return true;
	http_invalid(r, field, message);
	http_header(r, "Connection", "close");
	return false;
}

void *
router_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	const char *q = strchr(uri, '?');
	size_t params = 0;

	(void)cls;
	for (const char *p = q; p != NULL; p = strchr(p + 1, '&'))
		params++;
	if (strlen(uri) <= HTTP_MAX_TARGET && params <= HTTP_MAX_QUERY_PARAMS)
		return NULL;
	/* libmicrohttpd would parse the parameters next and may never answer: the answer is
	 * written here, and the shut socket makes libmicrohttpd close the connection. */
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	char *msg = xasprintf("must be at most %d bytes with at most %d query parameters",
	                      HTTP_MAX_TARGET, HTTP_MAX_QUERY_PARAMS);
	json_t *body = http_invalid_body("url", msg);
	char *text = json_dumps(body, JSON_COMPACT);
	char *answer = xasprintf("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
	                         "Connection: close\r\nContent-Length: %zu\r\n\r\n%s",
	                         strlen(text), text);

	log_info("request_refused reason=url_too_long bytes=%zu params=%zu", strlen(uri), params);
	if (ci != NULL) {
		(void)!send(ci->connect_fd, answer, strlen(answer), MSG_NOSIGNAL | MSG_DONTWAIT);
		shutdown(ci->connect_fd, SHUT_RDWR);
	}
	free(answer);
	free(text);
	json_decref(body);
	free(msg);
	return NULL;
}

static char router_prefix[UUID_STR_LEN];
static pthread_once_t router_once = PTHREAD_ONCE_INIT;
static atomic_uint_fast64_t router_counter;

static void
router_prefix_init(void)
{
	uuid_generate(router_prefix);
}

/* A request id for the logs, shaped like a UUID: the first 24 characters of one random
 * UUID per process, then a counter as the last 12 hex digits (a random UUID per request
 * costs a getpid and the random generator every time). */
void
router_request_id(char out[37])
{
	unsigned long long n = atomic_fetch_add(&router_counter, 1) & 0xffffffffffffULL;

	pthread_once(&router_once, router_prefix_init);
	snprintf(out, 37, "%.24s%012llx", router_prefix, n);
}

/* 404 for a path no route knows, telling it apart from a wrong id (API.md). */
static void
router_unknown(struct req *r)
{
	char *reason = xasprintf("no such endpoint: %s %s", r->method, r->path);

	http_error(r, 404, "not_found", reason, "see API.md for the endpoints Settle serves");
	free(reason);
}

char *
router_route(struct req *r)
{
	bool known;
	const char *clen;
	int64_t len;
	char *param_buf;

	if (!router_framing(r))
		return NULL;
	r->route = router_match(r->method, r->path, r, &known);
	if (r->route == NULL) {
		if (known)
			http_error(r, 405, "not_provided", "method not allowed on this path",
			           "see API.md for the methods of each path");
		else
			router_unknown(r);
		return NULL;
	}
	param_buf = router_split_params(r);
	if (!router_params_typed(r))
		http_not_found(r, "resource");
	clen = http_req_header(r, "Content-Length");
	if (!(r->route->flags & ROUTE_STREAM) && clen != NULL && util_parse_i64(clen, &len) &&
	    len > HTTP_MAX_BODY)
		router_too_large(r);
	return param_buf;
}
