/* http.h: the request of settle-api and the helpers every resource handler uses. */
#ifndef SETTLE_HTTP_H
#define SETTLE_HTTP_H

#include <jansson.h>
#include <libpq-fe.h>
#include <microhttpd.h>
#include <stdint.h>

#include "sql_units.h"
#include "util.h"

#define HTTP_MAX_BODY    (1024 * 1024)
#define HTTP_MAX_PARAMS  4
#define HTTP_MAX_HEADERS 16
/* docs/api.md "Limits on input": the request target (path and query as sent) and its query
 * parameters. libmicrohttpd 0.9.75 keeps each parameter in the connection's 32 KiB of
 * memory and hangs (answers nothing) when they do not fit: these bounds keep them far from
 * it. */
#define HTTP_MAX_TARGET       8192
#define HTTP_MAX_QUERY_PARAMS 64
/* docs/api.md "Limits on input": the most bytes of each free-text field a client sets (names
 * above). Read with http_field_text. */
#define HTTP_MAX_DESCRIPTION   (64 * 1024) /* a project's description (HTTP_TEXT_LINES) */
#define HTTP_MAX_LABEL         1024        /* a file version's label */
#define HTTP_MAX_CONTENT_TYPE  255         /* an upload's content_type (HTTP_TEXT_ASCII) */
#define HTTP_MAX_REPO_URL      2048        /* a software agent's repo_url */
#define HTTP_MAX_ACTIVITY_NAME 1024        /* an activity's name (its description: as above) */

struct req;

/* A route, declared with designated initializers: method + pattern
 * ("/api/v1/projects/:id:uuid/children"; ":name:type" captures one segment, available as
 * r->params[i] in order, of a type of router.c's router_types: "uuid", or "text" for any;
 * a segment not of its type answers 404 not_found). Plain handlers get the whole body (≤ 1 MiB) in
 * r->body; streaming handlers (ROUTE_STREAM) get it piece by piece. */
enum route_flags {
	ROUTE_AUTH = 1,    /* needs a valid token: sets r->user_id and agent_id, else 401 */
	ROUTE_STREAM = 2,  /* body handed over through stream_data, no size limit */
	ROUTE_NODB = 4,    /* does not need Postgres */
	ROUTE_JOBS = 8,    /* may queue a job: wakes this process's relay after a 2xx */
	ROUTE_SIGNED = 16, /* a signed storage URL: the lifecycle checks it (403) before anything
	                    * else, and a position it carries counts as a SESSION cookie's */
	ROUTE_SEES = 32, /* its read reads its own position (settle_position()::text, session_saw):
	                  * its statements need not be tracked (session_track) */
	ROUTE_PERMISSIONS = 64, /* may take access away: standbys decide access again only once
	                         * they replayed its commit (session_tracked) */
	ROUTE_SECRET = 128,     /* its answer may hold a secret (a key shown once): it is not
	                         * stored for an Idempotency-Key, which is refused (400) */
};

struct route {
	const char *method;
	const char *pattern;
	int flags;
	const char *name; /* for metrics, e.g. "projects.get" */
	/* Plain: called once, after the whole body arrived. Streaming: called after the
	 * last piece. Must set a response (http_json, http_error, …). */
	void (*handle)(struct req *r);
	/* Streaming only: called once before the first piece; return -1 after setting an
	 * error response to refuse the body. */
	int (*stream_begin)(struct req *r);
	/* Streaming only: each piece of the body; return -1 after setting an error response
	 * to stop. */
	int (*stream_data)(struct req *r, const char *data, size_t n);
	/* Streaming only: called when the request ends in any way, to free stream state. */
	void (*stream_free)(struct req *r);
};

/* Where a request is in its lifecycle (lifecycle.h): changed by lifecycle_change alone. */
enum req_state {
	REQ_READING,   /* its headers are read and the phases before its body ran; a body comes */
	REQ_RUNNING,   /* its body is read: its phases run */
	REQ_SUSPENDED, /* a phase suspended it (suspend.h): no thread holds it */
	REQ_RESUMED,   /* woken: the phase that suspended it runs again at the next call */
	REQ_ANSWERED,  /* its answer is queued */
};

/* How a request's last suspension ended (suspend_outcome). */
enum suspend_outcome {
	SUSPEND_NONE,      /* it was not suspended */
	SUSPEND_READY,     /* what it waited for came */
	SUSPEND_TIMED_OUT, /* its deadline came first (or the server stops) */
};

/* A request's place in a queue of suspended requests: written by suspend.c alone. */
struct suspend_wait {
	struct req *next;
	int64_t deadline_ms;
	char key[37];                       /* SUSPEND_CONSISTENT: the resource id */
	bool (*ready)(const struct req *r); /* SUSPEND_STANDBYS: whether to resume it */
	void (*then)(struct req *r);        /* SUSPEND_CONSISTENT: the handler's continuation */
	uint64_t seq;                       /* notifications seen at suspend_look */
	enum suspend_outcome outcome;
};

struct req {
	struct MHD_Connection *conn;
	const struct route *route;
	const char *method;
	const char *path;
	char id[37];       /* request id, for logs */
	char user_id[37];  /* set for ROUTE_AUTH routes */
	char agent_id[37]; /* set for ROUTE_AUTH routes: the software agent of the token */
	const char *params[HTTP_MAX_PARAMS];
	int nparams;
	char *body;
	size_t body_len;
	bool body_is_form; /* x-www-form-urlencoded, parsed into the same JSON shape */
	PGconn *db;        /* this thread's connection (NULL for ROUTE_NODB); see session.h */
	void *stream;      /* streaming handler's state */
	int64_t started_ms;
	/* The response, set by one of the http_* helpers. */
	int status;
	struct MHD_Response *response;
	char *headers[HTTP_MAX_HEADERS][2];
	int nheaders;
	/* The lifecycle (lifecycle.h): its state, and the phase that runs next (or that
	 * suspended it). */
	enum req_state state;
	int phase;
	struct suspend_wait wait; /* see suspend.h */
	/* Prefer: wait (see wait.h): when its wait ends, and the resource waited for. */
	int64_t wait_deadline_ms;
	char wait_id[37];
	/* Consistency sessions (see session.h), only with standbys configured. */
	uint64_t session_lsn;        /* the position the answer's SESSION cookie carries */
	int standby;                 /* 1-based standby serving the request, 0: the primary */
	bool session_cookie;         /* a position came (cookie or signed URL) */
	int64_t session_deadline_ms; /* a read waits for a standby until then (0: not yet) */
	int write_concern;           /* ?w=N of a write (0: none given) */
	/* Idempotency-Key (see idempotency.h): the JSON answer is kept to be stored. */
	bool idempotent;
	char *answer_body;
	/* The job the handler's transaction queued, told by lifecycle_job (kind NULL: none). */
	struct {
		char id[37];
		const char *kind;
		char resource_id[37];
	} job;
};

/* Whether column a of one unit and column b of another (their <UNIT>_C_<COLUMN> names,
 * values of two enums) are at the same place: for the build-time checks (_Static_assert) of
 * the units that one function reads alike. */
#define HTTP_SAME_COLUMN(a, b) ((int)(a) == (int)(b))

/* Answers status with a JSON body; steals the reference to body. exclude_response_fields
 * is applied here (to each object of "results", or to the object itself). */
void http_json(struct req *r, int status, json_t *body);
/* Answers the JSON error body of API.md. */
void http_error(struct req *r, int status, const char *code, const char *reason,
                const char *suggestion);
/* 400 validation_failed with errors [{field, message}]. */
void http_invalid(struct req *r, const char *field, const char *message);
/* The body of http_invalid's answer, a new reference. */
json_t *http_invalid_body(const char *field, const char *message);
/* 404 not_found for a resource kind ("project", "upload", …). */
void http_not_found(struct req *r, const char *what);
/* 404 resource_not_consistent with Retry-After. */
void http_not_consistent(struct req *r);
/* 403 forbidden. */
void http_forbidden(struct req *r);
/* 500 for a database failure (or http_unavailable if the database is gone). */
void http_db_error(struct req *r);
/* The Retry-After policy of every 503 (API.md: "a dependency is down; has Retry-After"), in
 * seconds: a dependency that comes back by itself (the database, the storage service: each is
 * connected to again at the next request) soon; one that only an operator can bring back (a
 * storage provider no longer configured) later. */
enum http_retry_after {
	HTTP_RETRY_RECONNECT = 1,
	HTTP_RETRY_OPERATOR = 60,
};
/* 503 service_unavailable because what (a reason: "the database is not reachable") is down,
 * with Retry-After: retry_after (HTTP_RETRY_*). Every 503 of settle-api is made here. */
void http_unavailable(struct req *r, const char *what, enum http_retry_after retry_after);
/* http_unavailable with the fields of extra (an object, stolen; NULL: none) added to the
 * error body, for an endpoint whose 503 has a body of its own (GET /api/v1/app/status). */
void http_unavailable_with(struct req *r, const char *what, enum http_retry_after retry_after,
                           json_t *extra);
/* Answers status with the object build() makes of row 0 of res (its columns from 0: a
 * settle_*_view's, in its order), 404 not_found for `what` when res has no row, or a
 * database error when res is NULL (the result of a failed db_exec). Frees res. */
void http_answer_result(struct req *r, int status, PGresult *res, const char *what,
                        json_t *(*build)(const PGresult *res, int row, int col));
/* In the transaction open on r->db, whose last statement gave res (NULL: it failed): commits
 * and answers status with build(res, 0, 0); else rolls back and answers 404 not_found for
 * `what` when res has no row, or a database error (a failed commit too). Frees res. */
void http_commit_result(struct req *r, int status, PGresult *res, const char *what,
                        json_t *(*build)(const PGresult *res, int row, int col));
/* Answers status with the object build() makes of the one row unit u ($1 = id) selects, as
 * http_answer_result, or 404 not_found for `what` when there is none, or a database error. */
void http_answer_row(struct req *r, int status, enum sql_unit u, const char *id, const char *what,
                     json_t *(*build)(const PGresult *res, int row, int col));
/* Answers one page of a collection and takes res (the page's rows, each with the
 * collection's size from count(*) OVER () in column total_col, a unit's <UNIT>_C_TOTAL):
 * build(res, row, 0) makes each item. A page past the end has no rows to carry the size:
 * the unit count ($1 = id) gives it then, in its first column. */
void http_answer_page(struct req *r, PGresult *res, int total_col,
                      json_t *(*build)(const PGresult *res, int row, int col), enum sql_unit count,
                      const char *id, int64_t page, int64_t per_page);
/* http_answer_page for a unit count that takes params (its nparams of them). */
void http_answer_page_n(struct req *r, PGresult *res, int total_col,
                        json_t *(*build)(const PGresult *res, int row, int col),
                        enum sql_unit count, const char *const *params, int64_t page,
                        int64_t per_page);
/* docs/api.md "Limits on input": a page of a collection whose items hold free text is
 * sized so that it holds at most HTTP_MAX_PAGE_BYTES of text, each item counted as its text
 * and HTTP_PAGE_ITEM_BYTES more (settle_page_per has the same numbers). */
#define HTTP_MAX_PAGE_BYTES  (2 * 1024 * 1024)
#define HTTP_PAGE_ITEM_BYTES 1024
/* http_answer_page_n for a unit that sizes its page with settle_page_per (migration 0021): each row
 * has total in total_col and per after it; the unit count (taking params) answers total and
 * per, its first two columns, when the page has no rows. The paging headers give per as
 * X-Per-Page. */
void http_answer_page_k(struct req *r, PGresult *res, int total_col,
                        json_t *(*build)(const PGresult *res, int row, int col),
                        enum sql_unit count, const char *const *params, int64_t page);
/* Answers with a response built by the handler (e.g. a streaming download). Takes it. */
void http_raw(struct req *r, int status, struct MHD_Response *resp);
/* Adds a header to the answer (copied). */
void http_header(struct req *r, const char *name, const char *value);
/* True when the answer has a header called name (any case). */
bool http_has_header(const struct req *r, const char *name);
/* Drops the answer made so far (status, response and headers). */
void http_drop_answer(struct req *r);

/* The request header or query argument, or NULL. Borrowed. */
const char *http_req_header(struct req *r, const char *name);
const char *http_query(struct req *r, const char *name);
/* True if the request announced a body (Content-Length > 0, or chunked). */
bool http_req_has_body(struct req *r);

/* Parses the body as a JSON object (or form-urlencoded with bracketed keys into the same
 * shape). On failure answers 400 and returns NULL. New reference. An empty body is {}. */
json_t *http_body_object(struct req *r);

/* True when s is valid UTF-8 (Postgres refuses anything else). */
bool http_utf8(const char *s);

/* Field readers for handler input. Each returns 1 when present and valid, 0 when absent
 * (or JSON null), and -1 after answering 400 validation_failed for field when present but
 * wrong (form bodies give numbers and booleans as strings; these accept that). */
int http_field_str(struct req *r, json_t *obj, const char *field, const char **out) MUSTCHECK;
/* A name (of a project, folder, file or upload): a string that follows names_problem's
 * rule (API.md "Limits on input" and docs/api.md "Names"); anything else is answered 400 with
 * the message of the rule it breaks. */
int http_field_name(struct req *r, json_t *obj, const char *field, const char **out) MUSTCHECK;
/* A user's email: a string that follows names_email_problem's rule; anything else is
 * answered 400 with the message of the rule it breaks. */
int http_field_email(struct req *r, json_t *obj, const char *field, const char **out) MUSTCHECK;
/* What http_field_text allows besides UTF-8 without control characters. */
enum http_text_flags {
	HTTP_TEXT_LINES = 1, /* tab, LF and CR too: text of several lines */
	HTTP_TEXT_ASCII = 2, /* printable ASCII only: text that may become a header value */
};
/* Free text: a string of max bytes at most (HTTP_MAX_*), UTF-8 without control characters
 * (flags: HTTP_TEXT_*); anything else is answered 400 validation_failed naming field and the
 * limit. Empty is allowed. *out is borrowed from obj. */
int http_field_text(struct req *r, json_t *obj, const char *field, size_t max, int flags,
                    const char **out) MUSTCHECK;
int http_field_i64(struct req *r, json_t *obj, const char *field, int64_t *out) MUSTCHECK;
int http_field_bool(struct req *r, json_t *obj, const char *field, bool *out) MUSTCHECK;
int http_field_obj(struct req *r, json_t *obj, const char *field, json_t **out) MUSTCHECK;

/* Paging: reads page/per_page (answers 400 and returns -1 if bad); writes the matching
 * LIMIT and OFFSET as text (SQL parameters) into limit and offset unless they are NULL. */
int http_paging_args(struct req *r, int64_t *page, int64_t *per_page, char limit[24],
                     char offset[24]) MUSTCHECK;
/* Sets X-Total, X-Total-Pages, X-Page, X-Per-Page, X-Next-Page, X-Prev-Page and Link. */
void http_paging_headers(struct req *r, int64_t page, int64_t per_page, int64_t total);

/* A new JSON string of s (a column's text), or JSON null for NULL. Timestamps come as the
 * API's text from the query itself (settle_ts). */
json_t *http_jstr(const char *s_or_null);

#endif
