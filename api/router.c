/* router.c: matches requests to routes, reads bodies, authenticates, answers. */
#include "router.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "auth.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "relay.h"
#include "session.h"
#include "stats.h"
#include "uuid.h"
#include "idempotency.h"
#include "wait.h"
#include "watchdog.h"

static const struct route *const tables[] = {
    auth_routes,         projects_routes,  folders_routes, uploads_routes,     files_routes,
    storage_http_routes, ops_routes,       users_routes,   permissions_routes, moves_routes,
    versions_routes,     providers_routes, agents_routes,  provenance_routes,  trashbin_routes,
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

/* Checks the token of an authenticated route; answers 401 when it fails. */
static bool
router_auth(struct req *r)
{
	const char *h = http_req_header(r, "Authorization");

	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0)
		h += 7;
	while (h != NULL && *h == ' ')
		h++;
	if (h == NULL || *h == '\0') {
		http_error(r, 401, "unauthorized", "no api token given",
		           "send the token of POST /software_agents/api_token in Authorization");
		return false;
	}
	return auth_token(r, h);
}

struct req_state {
	struct req r;
	char *param_buf;
	size_t body_cap;
	bool queued, too_large;
};

static void
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
static void
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

/* First call for a request: match the route, check what can be checked from headers. */
static struct req_state *
router_begin(struct MHD_Connection *conn, const char *url, const char *method)
{
	struct req_state *st = xcalloc(1, sizeof(*st));
	struct req *r = &st->r;
	bool known;
	const char *clen;
	int64_t len;

	r->conn = conn;
	r->method = method;
	r->path = url;
	r->started_ms = util_now_ms();
	router_request_id(r->id);
	if (!router_framing(r))
		return st;
	r->route = router_match(method, url, r, &known);
	if (r->route == NULL) {
		if (known)
			http_error(r, 405, "not_provided", "method not allowed on this path",
			           "see API.md for the methods of each path");
		else
			router_unknown(r);
		return st;
	}
	st->param_buf = router_split_params(r);
	if (!router_params_typed(r))
		http_not_found(r, "resource");
	clen = http_req_header(r, "Content-Length");
	if (!(r->route->flags & ROUTE_STREAM) && clen != NULL && util_parse_i64(clen, &len) &&
	    len > HTTP_MAX_BODY)
		router_too_large(r);
	return st;
}

/* Appends a piece of a plain body, answering 413 beyond the limit. */
static void
router_body(struct req_state *st, const char *data, size_t n)
{
	struct req *r = &st->r;

	if (r->body_len + n > HTTP_MAX_BODY) {
		router_too_large(r);
		return;
	}
	if (r->body_len + n + 1 > st->body_cap) {
		st->body_cap = (r->body_len + n + 1) * 2;
		if (st->body_cap > HTTP_MAX_BODY + 1)
			st->body_cap = HTTP_MAX_BODY + 1;
		r->body = xrealloc(r->body, st->body_cap);
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

/* Auth, signature, database and stream_begin: what runs before a handler sees any body. */
static bool
router_prepare(struct req_state *st)
{
	struct req *r = &st->r;
	uint64_t lsn;

	log_set_id(r->id);
	if ((r->route->flags & ROUTE_AUTH) && !router_auth(r))
		return false;
	if (r->route->flags & ROUTE_SIGNED) {
		if (!http_storage_signed(r, &lsn))
			return false;
		session_signed(r, lsn);
	}
	if (!session_check(r))
		return false;
	if (!(r->route->flags & ROUTE_NODB)) {
		r->db = session_db(r);
		if (r->db == NULL) {
			http_unavailable(r, "the database is not reachable", HTTP_RETRY_RECONNECT);
			return false;
		}
	}
	if ((r->route->flags & ROUTE_STREAM) && r->route->stream_begin(r) < 0)
		return false;
	return true;
}

static bool
router_fault(struct req *r)
{
	return cfg.fault_rate > 0 && (r->route->flags & ROUTE_AUTH) &&
	       strcmp(r->method, "GET") != 0;
}

/* Runs the handler (with fault injection when configured). */
static void
router_run(struct req *r)
{
	double roll = router_fault(r) ? util_random() : 1.0;

	if (roll < cfg.fault_rate / 2) {
		http_error(r, 500, "not_provided", "injected fault before commit",
		           "retry the request");
		return;
	}
	if ((r->route->flags & ROUTE_SECRET) && http_req_header(r, "Idempotency-Key") != NULL) {
		http_invalid(r, "Idempotency-Key",
		             "is not accepted here: the answer holds a key that is shown once and "
		             "never stored");
		return;
	}
	if (strcmp(r->method, "POST") == 0 && (r->route->flags & ROUTE_AUTH) &&
	    http_req_header(r, "Idempotency-Key") != NULL) {
		if (idempotency_begin(r) != 1)
			return;
		r->route->handle(r);
		idempotency_end(r);
	} else {
		r->route->handle(r);
	}
	if ((r->route->flags & ROUTE_JOBS) &&
	    (r->suspended || (r->status >= 200 && r->status < 300)))
		relay_wake(); /* its job is committed: publish it now, not at the next sweep */
	if (roll < cfg.fault_rate && !r->suspended && r->status < 300) {
		http_error(r, 500, "not_provided", "injected fault after commit",
		           "the request may have taken effect; read the resource or retry");
	}
}

static enum MHD_Result
router_queue(struct req_state *st)
{
	struct req *r = &st->r;
	enum MHD_Result ret;

	if (r->response == NULL)
		http_error(r, 500, "not_provided", "handler gave no answer", "report this bug");
	session_answer(r);
	for (int i = 0; i < r->nheaders; i++)
		MHD_add_response_header(r->response, r->headers[i][0], r->headers[i][1]);
	ret = MHD_queue_response(r->conn, (unsigned)r->status, r->response);
	st->queued = true;
	return ret;
}

/* True if the request announced a body (Content-Length > 0 or chunked). */
static bool
router_has_body(struct req *r)
{
	const char *clen = http_req_header(r, "Content-Length");
	int64_t len;

	if (http_req_header(r, "Transfer-Encoding") != NULL)
		return true;
	return clen != NULL && util_parse_i64(clen, &len) && len > 0;
}

/* libmicrohttpd calls this once with the headers, once per piece of body, and once at the
 * end. A response is queued at the end, so that the connection stays open; an error known
 * from the headers alone (among them a missing or bad token) is queued at once when a body
 * follows, so that it is not read (libmicrohttpd then closes the connection). An error found
 * in the middle of a body is answered at the end, the rest of the body being read and
 * dropped. The watchdog is told when the headers are complete, of each piece of body, and
 * when the body is. */
enum MHD_Result
router_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
              const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct req_state *st = *con_cls;
	struct req *r;

	if (st == NULL) {
		watchdog_set(conn, WATCHDOG_BODY);
		st = router_begin(conn, url, method);
		*con_cls = st;
		r = &st->r;
		/* The token is checked now, before any body is read: a body sent without one is
		 * never buffered. */
		if (r->response == NULL)
			(void)router_prepare(st);
		if (r->response != NULL && router_has_body(r)) {
			watchdog_set(conn, WATCHDOG_HANDLER);
			return router_queue(st);
		}
		return MHD_YES;
	}
	r = &st->r;
	if (st->queued) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		watchdog_body(conn, n);
		if (r->response != NULL)
			return MHD_YES; /* answered already: drop the rest of the body */
		if (!(r->route->flags & ROUTE_STREAM))
			router_body(st, upload_data, n);
		else
			(void)r->route->stream_data(r, upload_data, n);
		return MHD_YES;
	}
	watchdog_set(conn, WATCHDOG_HANDLER);
	log_set_id(r->id);
	if (r->resumed) {
		/* Back from Prefer: wait: answer with the resource's state now. */
		r->resumed = false;
		r->suspended = false;
		r->wait_seq = wait_seq();
		session_resume(r);
		r->wait_answer(r);
		session_tracked(r);
		session_concern(r);
	} else if (r->response == NULL) {
		r->wait_seq = wait_seq();
		session_track(r);
		router_run(r);
		if (session_retry(r))
			router_run(r);
		session_tracked(r);
		session_concern(r);
	}
	if (r->suspended)
		return MHD_YES;
	return router_queue(st);
}

void
router_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                 enum MHD_RequestTerminationCode toe)
{
	struct req_state *st = *con_cls;
	struct req *r;

	watchdog_set(conn, WATCHDOG_IDLE);
	if (st == NULL)
		return;
	r = &st->r;
	if (r->route != NULL && (r->route->flags & ROUTE_STREAM) && r->route->stream_free)
		r->route->stream_free(r);
	stats_request(r->route ? r->route->name : "unknown", r->status,
	              util_now_ms() - r->started_ms);
	/* standby: the 1-based standby that served it (0: the primary, or no database). */
	log_debug("request method=%s path=%s status=%d ms=%lld standby=%d", r->method, r->path,
	          r->status, (long long)(util_now_ms() - r->started_ms), r->standby);
	log_set_id(NULL);
	if (r->response != NULL)
		MHD_destroy_response(r->response);
	for (int i = 0; i < r->nheaders; i++) {
		free(r->headers[i][0]);
		free(r->headers[i][1]);
	}
	free(r->body);
	free(r->answer_body);
	free(st->param_buf);
	free(st);
	*con_cls = NULL;
}
