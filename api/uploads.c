/* uploads.c: uploads (API.md "Uploads"): create, list and get, and what the other upload
 * files share (uploads.h): rendering an upload, reading a hash. Chunks are registered in
 * uploads_chunks.c, complete and further hashes are in uploads_complete.c; the bytes
 * themselves go through storage_http.c. */
#include "uploads.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "config.h"
#include "db.h"
#include "hash.h"
#include "http.h"
#include "log.h"
#include "router.h"
#include "storage.h"
#include "storage_http.h"
#include "uuid.h"
#include "views.h"
#include "wait.h"

/* Parses a JSON array column (text made by json_agg); [] when it does not parse. */
static json_t *
uploads_jcol(const PGresult *res, int row, int col)
{
	const char *s = db_get(res, row, col);
	json_t *v = s != NULL ? json_loads(s, 0, NULL) : NULL;

	return v != NULL ? v : json_array();
}

json_t *
uploads_row_json(const PGresult *res, int row, int col)
{
	json_t *status = json_pack("{s:o,s:b,s:o,s:b,s:o,s:o,s:o}", "initiated_on",
	                           http_jstr(db_get(res, row, col + U_CREATED)), "ready_for_chunks",
	                           db_get_bool(res, row, col + U_READY), "completed_on",
	                           http_jstr(db_get(res, row, col + U_COMPLETED)), "is_consistent",
	                           db_get_bool(res, row, col + U_CONSISTENT), "purged_on",
	                           http_jstr(db_get(res, row, col + U_PURGED)), "error_on",
	                           http_jstr(db_get(res, row, col + U_ERROR_AT)), "error_message",
	                           http_jstr(db_get(res, row, col + U_ERROR_MSG)));
	json_t *audit = json_pack("{s:o,s:o,s:n,s:n,s:n,s:n}", "created_on",
	                          http_jstr(db_get(res, row, col + U_CREATED)), "created_by",
	                          views_json_col(res, row, col + U_CREATOR), "last_updated_on",
	                          "last_updated_by", "deleted_on", "deleted_by");

	json_t *upload = json_pack(
	    "{s:s,s:s,s:s,s:s,s:I,s:s,s:{s:s},s:o,s:o,s:o,s:o,s:o}", "kind", "dds-upload", "id",
	    db_get(res, row, col + U_ID), "name", db_get(res, row, col + U_NAME), "content_type",
	    db_get(res, row, col + U_CTYPE), "size", (json_int_t)db_get_i64(res, row, col + U_SIZE),
	    "etag", db_get(res, row, col + U_ETAG), "project", "id",
	    db_get(res, row, col + U_PROJECT), "storage_provider",
	    views_storage_provider(db_get(res, row, col + U_PROVIDER)), "chunks",
	    uploads_jcol(res, row, col + U_CHUNKS), "hashes",
	    uploads_jcol(res, row, col + U_HASHES), "status", status, "audit", audit);

	views_safe_names(upload);
	return upload;
}

int
uploads_json(PGconn *c, const char *upload_id, json_t **out)
{
	const char *params[1] = {upload_id};
	PGresult *res = db_exec(c, SQL_UPLOADS_ONE, params);
	int rc = -1;

	if (res == NULL)
		return -1;
	rc = PQntuples(res) > 0;
	if (rc)
		*out = uploads_row_json(res, 0, UPLOADS_ONE_C_ID);
	PQclear(res);
	return rc;
}

/* The name of member key of field for error messages ("hash[value]", or "value" alone when
 * field is empty). Caller frees. */
static char *
uploads_field(const char *field, const char *key)
{
	return field[0] != '\0' ? xasprintf("%s[%s]", field, key) : xstrdup(key);
}

int
uploads_parse_hash(struct req *r, json_t *h, const char *field, enum hash_alg *alg,
                   char value[HASH_HEX_MAX])
{
	const char *v = NULL, *a = "md5";
	char *name;
	size_t n;
	int rc;

	name = uploads_field(field, "value");
	rc = http_field_str(r, h, "value", &v);
	if (rc == 0)
		http_invalid(r, name, "is required");
	if (rc <= 0)
		goto fail;
	free(name);
	name = uploads_field(field, "algorithm");
	if (http_field_str(r, h, "algorithm", &a) < 0)
		goto fail;
	if (!hash_parse_alg(a, alg)) {
		http_invalid(r, name, "must be md5, sha1 or sha256");
		goto fail;
	}
	free(name);
	name = uploads_field(field, "value");
	n = strlen(v);
	for (size_t i = 0; i < n; i++) {
		if (!isxdigit((unsigned char)v[i]))
			n = 0;
	}
	if (n != hash_hex_len(*alg)) {
		http_invalid(r, name, "must be the hex digest of the algorithm");
		goto fail;
	}
	for (size_t i = 0; i <= n; i++)
		value[i] = (char)tolower((unsigned char)v[i]);
	free(name);
	return 1;
fail:
	free(name);
	return -1;
}

/* What POST /projects/{id}/uploads was given. */
struct uploads_new {
	const char *name, *ctype;
	int64_t size;
	bool chunked;
	bool has_hash;
	enum hash_alg alg;
	char value[HASH_HEX_MAX];
};

/* Reads and validates the create body into u; -1 after answering 400. */
static int
uploads_read_new(struct req *r, json_t *body, struct uploads_new *u)
{
	json_t *h = NULL;
	int64_t max = cfg.max_upload_size;
	int rc;

	u->ctype = "application/octet-stream";
	u->chunked = true;
	if ((rc = http_field_name(r, body, "name", &u->name)) < 0)
		return -1;
	if (rc == 0) {
		http_invalid(r, "name", "is required");
		return -1;
	}
	if (http_field_text(r, body, "content_type", HTTP_MAX_CONTENT_TYPE, HTTP_TEXT_ASCII,
	                    &u->ctype) < 0 ||
	    http_field_bool(r, body, "chunked", &u->chunked) < 0 ||
	    (rc = http_field_i64(r, body, "size", &u->size)) < 0 ||
	    http_field_obj(r, body, "hash", &h) < 0)
		return -1;
	if (!u->chunked && cfg.max_chunk_size < max)
		max = cfg.max_chunk_size;
	if (rc == 0 || u->size < 0 || u->size > max) {
		char *msg = xasprintf("must be a whole number from 0 to %lld", (long long)max);
		http_invalid(r, "size", msg);
		free(msg);
		return -1;
	}
	u->has_hash = h != NULL;
	if (h != NULL && uploads_parse_hash(r, h, "hash", &u->alg, u->value) < 0)
		return -1;
	return 0;
}

/* Inserts the upload id (and, when not chunked, its only chunk) of the configured storage
 * provider after checking the project r->params[0] and the caller, in one statement.
 * Returns the result (caller PQclear-s), or NULL on a database error. */
static PGresult *
uploads_insert(struct req *r, const struct uploads_new *u, const char *id)
{
	char size[24], etag[UUID_STR_LEN];
	const char *params[11] = {id,
	                          r->params[0],
	                          u->name,
	                          u->ctype,
	                          size,
	                          u->chunked ? "t" : "f",
	                          etag,
	                          r->user_id,
	                          u->has_hash ? u->value : "",
	                          hash_alg_name(u->has_hash ? u->alg : HASH_MD5),
	                          storage_name()};

	snprintf(size, sizeof(size), "%lld", (long long)u->size);
	uuid_generate(etag);
	return db_exec(r->db, SQL_UPLOADS_CREATE, params);
}

/* Adds the headers of a created upload (chunk or upload size limits) and, when it is not
 * chunked, its signed storage URL to out. -1 when storage cannot sign it. */
static int
uploads_created(struct req *r, const struct uploads_new *u, const char *id, const char *container,
                json_t *out)
{
	char buf[32];
	json_t *url;

	if (u->chunked) {
		snprintf(buf, sizeof(buf), "%lld", (long long)storage_min_chunk_size(u->size));
		http_header(r, "X-MIN-CHUNK-UPLOAD-SIZE", buf);
		snprintf(buf, sizeof(buf), "%lld", (long long)cfg.max_chunk_size);
		http_header(r, "X-MAX-CHUNK-UPLOAD-SIZE", buf);
		return 0;
	}
	if ((url = storage_http_url("PUT", container, id, 1, 0)) == NULL)
		return -1;
	json_object_set_new(out, "signed_url", url);
	snprintf(buf, sizeof(buf), "%lld",
	         (long long)(cfg.max_chunk_size < cfg.max_upload_size ? cfg.max_chunk_size
	                                                              : cfg.max_upload_size));
	http_header(r, "X-MAX-UPLOAD-SIZE", buf);
	return 0;
}

/* POST /projects/{id}/uploads: a new upload, 201. One statement checks and inserts. */
static void
uploads_create(struct req *r)
{
	struct uploads_new u = {0};
	json_t *body = http_body_object(r), *out;
	PGresult *res = NULL;
	char id[UUID_STR_LEN];

	if (body == NULL || uploads_read_new(r, body, &u) < 0)
		goto out;
	uuid_generate(id);
	if ((res = uploads_insert(r, &u, id)) == NULL) {
		http_db_error(r);
		goto out;
	}
	if (access_verdict(r, res, UPLOADS_CREATE_C_FOUND, "project") != 1)
		goto out;
	if (!db_get_bool(res, 0, UPLOADS_CREATE_C_CONSISTENT)) {
		/* Under Prefer: wait this handler runs again once the project is consistent
		 * (notifications carry ids as Postgres writes them: lower case). */
		for (size_t i = 0; i < sizeof(id) - 1; i++)
			id[i] = (char)tolower((unsigned char)r->params[0][i]);
		if (!wait_for(r, id, uploads_create))
			http_not_consistent(r);
		goto out;
	}
	if (db_get(res, 0, UPLOADS_CREATE_C_ID) == NULL) {
		http_db_error(r);
		goto out;
	}
	out = uploads_row_json(res, 0, UPLOADS_CREATE_C_ID);
	if (uploads_created(r, &u, id, db_get(res, 0, UPLOADS_CREATE_C_STORAGE_CONTAINER), out) <
	    0) {
		json_decref(out);
		storage_http_unavailable(r);
		goto out;
	}
	http_json(r, 201, out);
out:
	PQclear(res);
	json_decref(body);
}

/* One item of an upload list, for http_answer_page. */
static json_t *
uploads_item(const PGresult *res, int row, int col)
{
	(void)col;
	return uploads_row_json(res, row, UPLOADS_LIST_C_ID);
}

/* GET /projects/{id}/uploads: the project's uploads, paged (page $3) in pages of at most
 * HTTP_MAX_PAGE_BYTES (their chunk lists counted). */
static void
uploads_list(struct req *r)
{
	struct access_project p;
	int64_t page, per_page;
	char lim[24], pg[24];
	const char *params[3] = {r->params[0], lim, pg};
	PGresult *res = NULL;

	if (http_paging_args(r, &page, &per_page, lim, NULL) < 0 ||
	    access_project(r, r->params[0], ACCESS_VIEW, &p) != 1)
		return;
	snprintf(pg, sizeof(pg), "%lld", (long long)page);
	res = db_exec(r->db, SQL_UPLOADS_LIST, params);
	if (res == NULL)
		http_db_error(r);
	else
		http_answer_page_k(r, res, UPLOADS_LIST_C_TOTAL, uploads_item,
		                   SQL_UPLOADS_LIST_COUNT, params, page);
}

void
uploads_answer_row(struct req *r, const PGresult *res, int found, int id)
{
	if (res == NULL)
		http_db_error(r);
	else if (access_verdict(r, res, found, "upload") != 1)
		; /* answered */
	else if (db_get(res, 0, id) == NULL)
		http_not_found(r, "upload");
	else
		http_json(r, 200, uploads_row_json(res, 0, id));
}

/* GET /uploads/{id}: one statement. */
static void
uploads_get(struct req *r)
{
	const char *q[] = {r->params[0], r->user_id};
	PGresult *res;

	res = db_exec(r->db, SQL_UPLOADS_GET, q);
	uploads_answer_row(r, res, UPLOADS_GET_C_FOUND, UPLOADS_GET_C_ID);
	PQclear(res);
}

void
uploads_expired(struct req *r)
{
	http_error(r, 409, "conflict",
	           "the upload expired: it had no activity for too long and its stored bytes were "
	           "purged",
	           "begin a new upload process");
}

const struct route uploads_routes[] = {
    {.method = "POST",
     .pattern = "/api/v1/projects/:id:uuid/uploads",
     .flags = ROUTE_AUTH,
     .name = "uploads.create",
     .handle = uploads_create},
    {.method = "GET",
     .pattern = "/api/v1/projects/:id:uuid/uploads",
     .flags = ROUTE_AUTH,
     .name = "uploads.list",
     .handle = uploads_list},
    {.method = "GET",
     .pattern = "/api/v1/uploads/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "uploads.get",
     .handle = uploads_get},
    {.method = NULL},
};
