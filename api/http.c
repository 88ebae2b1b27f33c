/* http.c: response builders, body parsing and field readers for settle-api handlers. */
#include "http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "form.h"
#include "json.h"
#include "names.h"
#include "config.h"
#include "stats.h"

static void
http_set(struct req *r, int status, struct MHD_Response *resp)
{
	if (r->response != NULL)
		MHD_destroy_response(r->response);
	r->status = status;
	r->response = resp;
}

/* Drops the fields named in exclude_response_fields ("a b", '+' decoded) from obj. */
static void
http_exclude(struct req *r, json_t *body)
{
	const char *ex = http_query(r, "exclude_response_fields");
	json_t *results;
	char *copy, *save = NULL;

	if (ex == NULL || *ex == '\0' || !json_is_object(body))
		return;
	results = json_object_get(body, "results");
	copy = xstrdup(ex);
	for (char *f = strtok_r(copy, " +,", &save); f; f = strtok_r(NULL, " +,", &save)) {
		if (json_is_array(results)) {
			size_t i;
			json_t *item;
			json_array_foreach(results, i, item) json_object_del(item, f);
		} else {
			json_object_del(body, f);
		}
	}
	free(copy);
}

void
http_json(struct req *r, int status, json_t *body)
{
	char *text;
	struct MHD_Response *resp;

	http_exclude(r, body);
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (r->idempotent) {
		free(r->answer_body);
		r->answer_body = xstrdup(text);
	}
	resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	http_set(r, status, resp);
}

void
http_error(struct req *r, int status, const char *code, const char *reason, const char *suggestion)
{
	http_json(r, status, json_error_body(status, code, reason, suggestion));
}

json_t *
http_invalid_body(const char *field, const char *message)
{
	json_t *body = json_error_body(400, "validation_failed", "validation failed",
	                               "Fix the following invalid fields and resubmit");
	json_object_set_new(body, "errors",
	                    json_pack("[{s:s,s:s}]", "field", field, "message", message));
	return body;
}

void
http_invalid(struct req *r, const char *field, const char *message)
{
	http_json(r, 400, http_invalid_body(field, message));
}

void
http_not_found(struct req *r, const char *what)
{
	char *reason = xasprintf("%s not found", what);
	http_error(r, 404, "not_found", reason, "you may have used an incorrect id");
	free(reason);
}

void
http_not_consistent(struct req *r)
{
	char secs[24];

	http_error(r, 404, "resource_not_consistent",
	           "resource changes are still being processed by system",
	           "this is a temporary state that will eventually be resolved by the system; "
	           "please retry request");
	snprintf(secs, sizeof(secs), "%lld", (long long)stats_retry_after());
	http_header(r, "Retry-After", secs);
}

void
http_forbidden(struct req *r)
{
	http_error(r, 403, "forbidden", "you hold no role on this project that allows this",
	           "ask a project administrator for access");
}

void
http_db_error(struct req *r)
{
	/* A broken connection is re-made by db_thread_conn on the next request. */
	if (db_last_was_connection()) {
		http_unavailable(r, "the database is not reachable", HTTP_RETRY_RECONNECT);
		return;
	}
	http_error(r, 500, "not_provided", "internal error",
	           "the request may or may not have taken effect; read the resource again");
}

void
http_unavailable_with(struct req *r, const char *what, enum http_retry_after retry_after,
                      json_t *extra)
{
	json_t *body = json_error_body(503, "service_unavailable", what,
	                               retry_after >= HTTP_RETRY_OPERATOR
	                                   ? "an operator must bring it back; retry later"
	                                   : "retry later");
	char secs[24];

	if (extra != NULL)
		json_object_update(body, extra);
	json_decref(extra);
	http_json(r, 503, body);
	snprintf(secs, sizeof(secs), "%d", (int)retry_after);
	http_header(r, "Retry-After", secs);
}

void
http_unavailable(struct req *r, const char *what, enum http_retry_after retry_after)
{
	http_unavailable_with(r, what, retry_after, NULL);
}

void
http_answer_result(struct req *r, int status, PGresult *res, const char *what,
                   json_t *(*build)(const PGresult *res, int row, int col))
{
	if (res == NULL)
		http_db_error(r);
	else if (PQntuples(res) == 0)
		http_not_found(r, what);
	else
		http_json(r, status, build(res, 0, 0));
	PQclear(res);
}

void
http_commit_result(struct req *r, int status, PGresult *res, const char *what,
                   json_t *(*build)(const PGresult *res, int row, int col))
{
	if (res != NULL && PQntuples(res) > 0 && db_commit(r->db) == 0) {
		http_json(r, status, build(res, 0, 0));
		PQclear(res);
		return;
	}
	if (res != NULL && PQntuples(res) == 0)
		http_not_found(r, what);
	else
		http_db_error(r);
	db_rollback(r->db);
	PQclear(res);
}

void
http_answer_row(struct req *r, int status, enum sql_unit u, const char *id, const char *what,
                json_t *(*build)(const PGresult *res, int row, int col))
{
	const char *params[1] = {id};

	http_answer_result(r, status, db_exec(r->db, u, params), what, build);
}

void
http_answer_page(struct req *r, PGresult *res, int total_col,
                 json_t *(*build)(const PGresult *res, int row, int col), enum sql_unit count,
                 const char *id, int64_t page, int64_t per_page)
{
	const char *params[1] = {id};

	http_answer_page_n(r, res, total_col, build, count, params, page, per_page);
}

/* The columns of a count unit: total, then (http_answer_page_k) per. */
enum { HTTP_COUNT_C_TOTAL, HTTP_COUNT_C_PER };

/* Answers one page: per_col < 0 for a page of per_page rows, else the column of res (and
 * HTTP_COUNT_C_PER of the unit count) that gives the page's size (http_answer_page_k). */
static void
http_page(struct req *r, PGresult *res, int total_col, int per_col,
          json_t *(*build)(const PGresult *res, int row, int col), enum sql_unit count,
          const char *const *params, int64_t page, int64_t per_page)
{
	json_t *results = json_array();
	int64_t total = 0;

	for (int i = 0; i < PQntuples(res); i++) {
		json_array_append_new(results, build(res, i, 0));
		total = db_get_i64(res, i, total_col);
		if (per_col >= 0)
			per_page = db_get_i64(res, i, per_col);
	}
	PQclear(res);
	if ((total == 0 && page > 1) || (per_col >= 0 && json_array_size(results) == 0)) {
		res = db_exec(r->db, count, params);
		if (res == NULL) {
			json_decref(results);
			http_db_error(r);
			return;
		}
		total = db_get_i64(res, 0, HTTP_COUNT_C_TOTAL);
		if (per_col >= 0)
			per_page = db_get_i64(res, 0, HTTP_COUNT_C_PER);
		PQclear(res);
	}
	http_paging_headers(r, page, per_page, total);
	http_json(r, 200, json_pack("{s:o}", "results", results));
}

void
http_answer_page_n(struct req *r, PGresult *res, int total_col,
                   json_t *(*build)(const PGresult *res, int row, int col), enum sql_unit count,
                   const char *const *params, int64_t page, int64_t per_page)
{
	http_page(r, res, total_col, -1, build, count, params, page, per_page);
}

void
http_answer_page_k(struct req *r, PGresult *res, int total_col,
                   json_t *(*build)(const PGresult *res, int row, int col), enum sql_unit count,
                   const char *const *params, int64_t page)
{
	http_page(r, res, total_col, total_col + 1, build, count, params, page, 1);
}

void
http_raw(struct req *r, int status, struct MHD_Response *resp)
{
	http_set(r, status, resp);
}

void
http_header(struct req *r, const char *name, const char *value)
{
	if (r->nheaders >= HTTP_MAX_HEADERS)
		return;
	r->headers[r->nheaders][0] = xstrdup(name);
	r->headers[r->nheaders][1] = xstrdup(value);
	r->nheaders++;
}

bool
http_has_header(const struct req *r, const char *name)
{
	for (int i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->headers[i][0], name) == 0)
			return true;
	}
	return false;
}

void
http_drop_answer(struct req *r)
{
	if (r->response != NULL)
		MHD_destroy_response(r->response);
	r->response = NULL;
	r->status = 0;
	for (int i = 0; i < r->nheaders; i++) {
		free(r->headers[i][0]);
		free(r->headers[i][1]);
	}
	r->nheaders = 0;
}

const char *
http_req_header(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *
http_query(struct req *r, const char *name)
{
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name);
}

bool
http_req_has_body(struct req *r)
{
	const char *clen = http_req_header(r, "Content-Length");
	int64_t len;

	if (http_req_header(r, "Transfer-Encoding") != NULL)
		return true;
	return clen != NULL && util_parse_i64(clen, &len) && len > 0;
}

bool
http_utf8(const char *s)
{
	json_t *t = json_string(s);
	bool ok = t != NULL;
	json_decref(t);
	return ok;
}

json_t *
http_body_object(struct req *r)
{
	const char *ctype = http_req_header(r, "Content-Type");
	json_error_t jerr;
	json_t *obj;

	if (r->body_len == 0)
		return json_object();
	/* curl and some clients label JSON as a form by default: a body that opens like a JSON
	 * object is read as JSON whatever the label says. */
	if (ctype != NULL && strncasecmp(ctype, "application/x-www-form-urlencoded", 33) == 0 &&
	    r->body[strspn(r->body, " \t\r\n")] != '{') {
		r->body_is_form = true;
		return form_parse(r->body, r->body_len);
	}
	obj = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (obj == NULL) {
		char *msg = xasprintf("malformed JSON: %s (line %d, column %d)", jerr.text,
		                      jerr.line, jerr.column);
		http_invalid(r, "body", msg);
		free(msg);
		return NULL;
	}
	if (!json_is_object(obj)) {
		json_decref(obj);
		http_invalid(r, "body", "must be a JSON object");
		return NULL;
	}
	return obj;
}

int
http_field_str(struct req *r, json_t *obj, const char *field, const char **out)
{
	json_t *v = json_object_get(obj, field);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		http_invalid(r, field, "must be a string");
		return -1;
	}
	*out = json_string_value(v);
	return 1;
}

int
http_field_name(struct req *r, json_t *obj, const char *field, const char **out)
{
	int rc = http_field_str(r, obj, field, out);
	const char *problem;

	if (rc <= 0)
		return rc;
	/* The length, not strlen: a form body's %00 leaves a NUL inside the string. */
	problem = names_problem(*out, json_string_length(json_object_get(obj, field)));
	if (problem != NULL) {
		http_invalid(r, field, problem);
		return -1;
	}
	return 1;
}

int
http_field_email(struct req *r, json_t *obj, const char *field, const char **out)
{
	int rc = http_field_str(r, obj, field, out);
	const char *problem;

	if (rc <= 0)
		return rc;
	problem = names_email_problem(*out, json_string_length(json_object_get(obj, field)));
	if (problem != NULL) {
		http_invalid(r, field, problem);
		return -1;
	}
	return 1;
}

/* True when the n bytes of text at s keep the rule of flags (see http_field_text). */
static bool
http_text_ok(const char *s, size_t n, int flags)
{
	const unsigned char *u = (const unsigned char *)s;

	if (flags & HTTP_TEXT_ASCII) {
		for (size_t i = 0; i < n; i++) {
			if (u[i] < 0x20 || u[i] > 0x7e)
				return false;
		}
		return true;
	}
	return http_utf8(s) && !names_has_control(s, n, flags & HTTP_TEXT_LINES);
}

int
http_field_text(struct req *r, json_t *obj, const char *field, size_t max, int flags,
                const char **out)
{
	int rc = http_field_str(r, obj, field, out);
	char *msg;

	if (rc <= 0)
		return rc;
	if (strlen(*out) <= max && http_text_ok(*out, strlen(*out), flags))
		return 1;
	if (flags & HTTP_TEXT_ASCII)
		msg = xasprintf("must be at most %zu bytes of printable ASCII", max);
	else
		msg = xasprintf("must be at most %zu bytes of UTF-8 without control characters%s",
		                max,
		                (flags & HTTP_TEXT_LINES) ? " other than tab and line breaks" : "");
	http_invalid(r, field, msg);
	free(msg);
	return -1;
}

int
http_field_i64(struct req *r, json_t *obj, const char *field, int64_t *out)
{
	json_t *v = json_object_get(obj, field);
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return 1;
	}
	if (r->body_is_form && json_is_string(v) && util_parse_i64(json_string_value(v), out))
		return 1;
	http_invalid(r, field, "must be an integer");
	return -1;
}

int
http_field_bool(struct req *r, json_t *obj, const char *field, bool *out)
{
	json_t *v = json_object_get(obj, field);
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 1;
	}
	if (r->body_is_form && json_is_string(v)) {
		const char *s = json_string_value(v);
		if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
			*out = s[0] == 't';
			return 1;
		}
	}
	http_invalid(r, field, "must be true or false");
	return -1;
}

int
http_field_obj(struct req *r, json_t *obj, const char *field, json_t **out)
{
	json_t *v = json_object_get(obj, field);
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_object(v)) {
		http_invalid(r, field, "must be an object");
		return -1;
	}
	*out = v;
	return 1;
}

/* Reads a positive integer query argument, default def. */
static int
http_query_pos(struct req *r, const char *name, int64_t def, int64_t max, int64_t *out)
{
	const char *v = http_query(r, name);
	if (v == NULL || *v == '\0') {
		*out = def;
		return 0;
	}
	if (!util_parse_i64(v, out) || *out < 1) {
		http_invalid(r, name, "must be a whole number of at least 1");
		return -1;
	}
	if (*out > max)
		*out = max;
	return 0;
}

int
http_paging_args(struct req *r, int64_t *page, int64_t *per_page, char limit[24], char offset[24])
{
	if (http_query_pos(r, "page", 1, INT32_MAX, page) < 0 ||
	    http_query_pos(r, "per_page", 100, 1000, per_page) < 0)
		return -1;
	if (limit != NULL)
		snprintf(limit, 24, "%lld", (long long)*per_page);
	if (offset != NULL)
		snprintf(offset, 24, "%lld", (long long)((*page - 1) * *per_page));
	return 0;
}

void
http_paging_headers(struct req *r, int64_t page, int64_t per_page, int64_t total)
{
	int64_t pages = total == 0 ? 1 : (total + per_page - 1) / per_page;
	char buf[32];
	char *link, *tmp;

	snprintf(buf, sizeof(buf), "%lld", (long long)total);
	http_header(r, "X-Total", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)pages);
	http_header(r, "X-Total-Pages", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)page);
	http_header(r, "X-Page", buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)per_page);
	http_header(r, "X-Per-Page", buf);
	if (page < pages)
		snprintf(buf, sizeof(buf), "%lld", (long long)page + 1);
	else
		buf[0] = '\0';
	http_header(r, "X-Next-Page", buf);
	if (page > 1)
		snprintf(buf, sizeof(buf), "%lld",
		         (long long)(page - 1 < pages ? page - 1 : pages));
	else
		buf[0] = '\0';
	http_header(r, "X-Prev-Page", buf);

	link =
	    xasprintf("<%s%s?page=1&per_page=%lld>; rel=\"first\", <%s%s?page=%lld&per_page=%lld>; "
	              "rel=\"last\"",
	              cfg.public_url, r->path, (long long)per_page, cfg.public_url, r->path,
	              (long long)pages, (long long)per_page);
	if (page < pages) {
		tmp = xasprintf("%s, <%s%s?page=%lld&per_page=%lld>; rel=\"next\"", link,
		                cfg.public_url, r->path, (long long)page + 1, (long long)per_page);
		free(link);
		link = tmp;
	}
	if (page > 1 && page - 1 <= pages) {
		tmp = xasprintf("%s, <%s%s?page=%lld&per_page=%lld>; rel=\"prev\"", link,
		                cfg.public_url, r->path, (long long)page - 1, (long long)per_page);
		free(link);
		link = tmp;
	}
	http_header(r, "Link", link);
	free(link);
}

json_t *
http_jstr(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}
