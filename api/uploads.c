/* uploads.c: uploads and their chunks (API.md "Uploads"): create, list, get, chunk URLs,
 * complete and further hashes. The bytes themselves go through storage_http.c. */
#include "uploads.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "outbox.h"
#include "router.h"
#include "uuid.h"
#include "views.h"
#include "wait.h"

#define TS(x) "to_char(" x " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Columns of UPLOADS_SELECT. */
enum {
	U_ID,
	U_NAME,
	U_CTYPE,
	U_SIZE,
	U_ETAG,
	U_PROJECT,
	U_CREATED,
	U_READY,
	U_COMPLETED,
	U_CONSISTENT,
	U_PURGED,
	U_ERROR_AT,
	U_ERROR_MSG,
	U_CHUNKS,
	U_HASHES,
	U_USER_ID,
	U_USERNAME,
	U_FULL_NAME,
	U_TOTAL,
};

/* clang-format off */
#define UPLOADS_SELECT \
	"SELECT u.id, u.name, u.content_type, u.size, u.etag, u.project_id, " \
	TS("u.created_at") ", u.completed_at IS NULL, " TS("u.completed_at") ", " \
	"u.is_consistent, " TS("u.purged_at") ", " TS("u.error_at") ", u.error_message, " \
	"coalesce((SELECT json_agg(json_build_object('number', c.number, 'size', c.size, " \
	"'hash', json_build_object('value', c.hash_value, 'algorithm', c.hash_algorithm)) " \
	"ORDER BY c.number) FROM chunks c WHERE c.upload_id = u.id), '[]'), " \
	VIEWS_SQL_HASHES("u.id") ", u.created_by, s.username, s.full_name, count(*) OVER () " \
	"FROM uploads u JOIN users s ON s.id = u.created_by "
/* clang-format on */

static const char *const uploads_project_sql = "SELECT project_id FROM uploads WHERE id = $1";

/* Parses a JSON array column (text made by json_agg); [] when it does not parse. */
static json_t *
uploads_jcol(const PGresult *res, int row, int col)
{
	const char *s = db_get(res, row, col);
	json_t *v = s != NULL ? json_loads(s, 0, NULL) : NULL;

	return v != NULL ? v : json_array();
}

/* Builds the upload JSON from row `row` of an UPLOADS_SELECT result. New reference. */
static json_t *
uploads_row_json(const PGresult *res, int row)
{
	json_t *status = json_pack(
	    "{s:o,s:b,s:o,s:b,s:o,s:o,s:o}", "initiated_on", http_jstr(db_get(res, row, U_CREATED)),
	    "ready_for_chunks", db_get_bool(res, row, U_READY), "completed_on",
	    http_jstr(db_get(res, row, U_COMPLETED)), "is_consistent",
	    db_get_bool(res, row, U_CONSISTENT), "purged_on", http_jstr(db_get(res, row, U_PURGED)),
	    "error_on", http_jstr(db_get(res, row, U_ERROR_AT)), "error_message",
	    http_jstr(db_get(res, row, U_ERROR_MSG)));
	json_t *audit = json_pack(
	    "{s:o,s:{s:s,s:s,s:s,s:n},s:n,s:n,s:n,s:n}", "created_on",
	    http_jstr(db_get(res, row, U_CREATED)), "created_by", "id", db_get(res, row, U_USER_ID),
	    "username", db_get(res, row, U_USERNAME), "full_name", db_get(res, row, U_FULL_NAME),
	    "agent", "last_updated_on", "last_updated_by", "deleted_on", "deleted_by");

	return json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:{s:s},s:o,s:o,s:o,s:o,s:o}", "kind",
	                 "dds-upload", "id", db_get(res, row, U_ID), "name",
	                 db_get(res, row, U_NAME), "content_type", db_get(res, row, U_CTYPE),
	                 "size", (json_int_t)db_get_i64(res, row, U_SIZE), "etag",
	                 db_get(res, row, U_ETAG), "project", "id", db_get(res, row, U_PROJECT),
	                 "storage_provider", views_storage_provider(), "chunks",
	                 uploads_jcol(res, row, U_CHUNKS), "hashes",
	                 uploads_jcol(res, row, U_HASHES), "status", status, "audit", audit);
}

int
uploads_json(PGconn *c, const char *upload_id, json_t **out)
{
	const char *params[1] = {upload_id};
	PGresult *res = db_exec(c, UPLOADS_SELECT "WHERE u.id = $1", 1, params);
	int rc = -1;

	if (res == NULL)
		return -1;
	rc = PQntuples(res) > 0;
	if (rc)
		*out = uploads_row_json(res, 0);
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

/* Answers status with the upload JSON of id (or the matching error). */
static void
uploads_answer(struct req *r, int status, const char *id)
{
	json_t *body = NULL;
	int rc = uploads_json(r->db, id, &body);

	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)
		http_not_found(r, "upload");
	else
		http_json(r, status, body);
}

/* Checks the caller may act on upload r->params[0] (a member of a live project). */
static int
uploads_access(struct req *r)
{
	struct access_project p;
	int rc = access_check(r, uploads_project_sql, r->params[0], "upload", &p);

	if (rc == 1 && p.is_deleted) {
		http_not_found(r, "upload");
		return 0;
	}
	return rc;
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
	if ((rc = http_field_str(r, body, "name", &u->name)) < 0)
		return -1;
	if (rc == 0 || u->name[0] == '\0') {
		http_invalid(r, "name", "can't be blank");
		return -1;
	}
	if (http_field_str(r, body, "content_type", &u->ctype) < 0 ||
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

/* Inserts the upload (and, when not chunked, its only chunk) in one transaction. */
static int
uploads_insert(struct req *r, const struct access_project *p, const struct uploads_new *u,
               const char *id)
{
	char size[24], etag[UUID_STR_LEN];
	const char *params[9] = {id,        p->id,
	                         u->name,   u->ctype,
	                         size,      u->chunked ? "t" : "f",
	                         etag,      p->storage_container,
	                         r->user_id};
	const char *chunk[4] = {id, size, u->has_hash ? u->value : "",
	                        hash_alg_name(u->has_hash ? u->alg : HASH_MD5)};

	snprintf(size, sizeof(size), "%lld", (long long)u->size);
	uuid_generate(etag);
	if (db_begin(r->db) < 0)
		return -1;
	if (db_cmd(r->db,
	           "INSERT INTO uploads (id, project_id, name, content_type, size, chunked, etag, "
	           "storage_container, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
	           9, params) < 0)
		goto fail;
	if (!u->chunked &&
	    db_cmd(r->db,
	           "INSERT INTO chunks (upload_id, number, size, hash_value, hash_algorithm) "
	           "VALUES ($1, 1, $2, $3, $4)",
	           4, chunk) < 0)
		goto fail;
	if (db_commit(r->db) < 0)
		goto fail;
	return 0;
fail:
	db_rollback(r->db);
	return -1;
}

/* POST /projects/{id}/uploads: a new upload, 201. */
static void
uploads_create(struct req *r)
{
	struct access_project p;
	struct uploads_new u = {0};
	json_t *body = http_body_object(r), *out = NULL;
	char id[UUID_STR_LEN], buf[32], *path = NULL;

	if (body == NULL || uploads_read_new(r, body, &u) < 0)
		goto out;
	if (access_project(r, r->params[0], &p) != 1)
		goto out;
	if (!p.is_consistent) {
		/* Under Prefer: wait this handler runs again once the project is consistent. */
		if (!wait_for(r, p.id, uploads_create))
			http_not_consistent(r);
		goto out;
	}
	uuid_generate(id);
	if (uploads_insert(r, &p, &u, id) < 0 || uploads_json(r->db, id, &out) != 1) {
		http_db_error(r);
		goto out;
	}
	if (u.chunked) {
		snprintf(buf, sizeof(buf), "%lld", (long long)cfg.min_chunk_size);
		http_header(r, "X-MIN-CHUNK-UPLOAD-SIZE", buf);
		snprintf(buf, sizeof(buf), "%lld", (long long)cfg.max_chunk_size);
		http_header(r, "X-MAX-CHUNK-UPLOAD-SIZE", buf);
	} else {
		path = xasprintf("/storage/%s/1", id);
		json_object_set_new(out, "signed_url", http_signed_url("PUT", path));
		snprintf(buf, sizeof(buf), "%lld",
		         (long long)(cfg.max_chunk_size < cfg.max_upload_size
		                         ? cfg.max_chunk_size
		                         : cfg.max_upload_size));
		http_header(r, "X-MAX-UPLOAD-SIZE", buf);
	}
	http_json(r, 201, out);
out:
	free(path);
	json_decref(body);
}

/* One item of an upload list, for http_answer_page. */
static json_t *
uploads_item(const PGresult *res, int row, int col)
{
	(void)col;
	return uploads_row_json(res, row);
}

/* GET /projects/{id}/uploads: the project's uploads, paged. */
static void
uploads_list(struct req *r)
{
	struct access_project p;
	int64_t page, per_page;
	char lim[24], off[24];
	const char *params[3] = {r->params[0], lim, off};
	PGresult *res = NULL;

	if (http_paging_args(r, &page, &per_page) < 0 || access_project(r, r->params[0], &p) != 1)
		return;
	snprintf(lim, sizeof(lim), "%lld", (long long)per_page);
	snprintf(off, sizeof(off), "%lld", (long long)((page - 1) * per_page));
	res = db_exec(r->db,
	              UPLOADS_SELECT "WHERE u.project_id = $1 ORDER BY u.created_at, u.id "
	                             "LIMIT $2 OFFSET $3",
	              3, params);
	if (res == NULL)
		http_db_error(r);
	else
		http_answer_page(r, res, U_TOTAL, uploads_item,
		                 "SELECT count(*) FROM uploads WHERE project_id = $1", r->params[0],
		                 page, per_page);
}

/* GET /uploads/{id}. */
static void
uploads_get(struct req *r)
{
	if (uploads_access(r) == 1)
		uploads_answer(r, 200, r->params[0]);
}

/* What PUT /uploads/{id}/chunks was given. */
struct uploads_chunk {
	int64_t number, size;
	enum hash_alg alg;
	char value[HASH_HEX_MAX];
};

/* Reads and validates the chunk body into ch; -1 after answering 400. */
static int
uploads_read_chunk(struct req *r, json_t *body, struct uploads_chunk *ch)
{
	json_t *h = NULL;
	int rc;

	if ((rc = http_field_i64(r, body, "number", &ch->number)) < 0)
		return -1;
	if (rc == 0 || ch->number < 1 || ch->number > INT32_MAX) {
		http_invalid(r, "number", "must be a whole number of at least 1");
		return -1;
	}
	if ((rc = http_field_i64(r, body, "size", &ch->size)) < 0)
		return -1;
	if (rc == 0 || ch->size < 0 || ch->size > cfg.max_chunk_size) {
		char *msg = xasprintf("must be a whole number from 0 to %lld",
		                      (long long)cfg.max_chunk_size);
		http_invalid(r, "size", msg);
		free(msg);
		return -1;
	}
	if ((rc = http_field_obj(r, body, "hash", &h)) < 0)
		return -1;
	if (rc == 0) {
		http_invalid(r, "hash", "is required");
		return -1;
	}
	return uploads_parse_hash(r, h, "hash", &ch->alg, ch->value) < 0 ? -1 : 0;
}

/* Registers (or replaces) the chunk while the upload is not completed. 1 done, 0 completed
 * already, -1 database error. */
static int
uploads_put_chunk(struct req *r, const struct uploads_chunk *ch)
{
	char num[24], size[24];
	const char *params[5] = {r->params[0], num, size, ch->value, hash_alg_name(ch->alg)};
	PGresult *res = NULL;
	int rc = -1;

	snprintf(num, sizeof(num), "%lld", (long long)ch->number);
	snprintf(size, sizeof(size), "%lld", (long long)ch->size);
	if (db_begin(r->db) < 0)
		return -1;
	res =
	    db_exec(r->db, "SELECT completed_at IS NOT NULL FROM uploads WHERE id = $1 FOR UPDATE",
	            1, params);
	if (res == NULL || PQntuples(res) != 1)
		goto fail;
	if (db_get_bool(res, 0, 0)) {
		rc = 0;
		goto fail;
	}
	if (db_cmd(r->db,
	           "INSERT INTO chunks (upload_id, number, size, hash_value, hash_algorithm) "
	           "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (upload_id, number) DO UPDATE SET "
	           "size = EXCLUDED.size, hash_value = EXCLUDED.hash_value, hash_algorithm = "
	           "EXCLUDED.hash_algorithm, stored_size = NULL, stored_md5 = NULL, stored_sha1 = "
	           "NULL, stored_sha256 = NULL, stored_at = NULL, created_at = now()",
	           5, params) < 0 ||
	    db_commit(r->db) < 0)
		goto fail;
	PQclear(res);
	return 1;
fail:
	PQclear(res);
	db_rollback(r->db);
	return rc;
}

/* PUT /uploads/{id}/chunks: registers a chunk, answers its signed storage URL. */
static void
uploads_chunks(struct req *r)
{
	struct uploads_chunk ch = {0};
	json_t *body = http_body_object(r);
	char *path = NULL;
	int rc;

	if (body == NULL || uploads_read_chunk(r, body, &ch) < 0 || uploads_access(r) != 1)
		goto out;
	rc = uploads_put_chunk(r, &ch);
	if (rc < 0) {
		http_db_error(r);
	} else if (rc == 0) {
		http_error(r, 409, "conflict", "the upload is already completed",
		           "begin a new upload to send more chunks");
	} else {
		path = xasprintf("/storage/%s/%lld", r->params[0], (long long)ch.number);
		http_json(r, 200, http_signed_url("PUT", path));
	}
out:
	free(path);
	json_decref(body);
}

/* Marks the upload completed with the hash (once), records the fingerprint and the job.
 * 1 done (or repeated with the same hash), 0 completed with another hash, -1 db error. */
static int
uploads_mark_complete(struct req *r, enum hash_alg alg, const char *value)
{
	char fid[UUID_STR_LEN];
	const char *params[4] = {r->params[0], value, hash_alg_name(alg), fid};
	PGresult *res = NULL;
	int rc = -1;

	uuid_generate(fid);
	if (db_begin(r->db) < 0)
		return -1;
	res = db_exec(r->db,
	              "SELECT completed_at IS NOT NULL, completed_hash_value, "
	              "completed_hash_algorithm FROM uploads WHERE id = $1 FOR UPDATE",
	              1, params);
	if (res == NULL || PQntuples(res) != 1)
		goto fail;
	if (db_get_bool(res, 0, 0)) {
		const char *v = db_get(res, 0, 1), *a = db_get(res, 0, 2);
		rc = v != NULL && a != NULL && strcasecmp(v, value) == 0 &&
		     strcasecmp(a, hash_alg_name(alg)) == 0;
		goto fail; /* nothing to write */
	}
	if (db_cmd(r->db,
	           "UPDATE uploads SET completed_at = now(), completed_hash_value = $2, "
	           "completed_hash_algorithm = $3 WHERE id = $1 AND completed_at IS NULL",
	           3, params) < 0 ||
	    db_cmd(r->db,
	           "INSERT INTO fingerprints (id, upload_id, algorithm, value) VALUES ($4, $1, $3, "
	           "$2) ON CONFLICT (upload_id, algorithm) DO UPDATE SET value = EXCLUDED.value",
	           4, params) < 0 ||
	    outbox_insert(r->db, "upload.complete", r->params[0]) < 0 || db_commit(r->db) < 0)
		goto fail;
	PQclear(res);
	return 1;
fail:
	PQclear(res);
	db_rollback(r->db);
	return rc;
}

/* Answers a completed upload: 202 while verification runs (after waiting as Prefer: wait
 * asks, running again when the upload is consistent), 200 once a wait saw it finish. */
static void
uploads_completed(struct req *r)
{
	json_t *body = NULL;
	int rc = uploads_json(r->db, r->params[0], &body);
	bool done;

	if (rc <= 0) {
		if (rc < 0)
			http_db_error(r);
		else
			http_not_found(r, "upload");
		return;
	}
	done = json_is_true(json_object_get(json_object_get(body, "status"), "is_consistent"));
	if (!done && wait_for(r, r->params[0], uploads_completed)) {
		json_decref(body);
		return;
	}
	if (done && wait_preferred(r) > 0) {
		wait_applied(r);
		http_json(r, 200, body);
		return;
	}
	http_json(r, 202, body);
}

/* PUT /uploads/{id}/complete {"hash": {"value", "algorithm"}}: 202, verification follows. */
static void
uploads_complete(struct req *r)
{
	json_t *body = http_body_object(r), *h = NULL;
	enum hash_alg alg;
	char value[HASH_HEX_MAX];
	int rc;

	if (body == NULL || (rc = http_field_obj(r, body, "hash", &h)) < 0)
		goto out;
	if (rc == 0) {
		http_invalid(r, "hash", "is required");
		goto out;
	}
	if (uploads_parse_hash(r, h, "hash", &alg, value) < 0 || uploads_access(r) != 1)
		goto out;
	rc = uploads_mark_complete(r, alg, value);
	if (rc < 0) {
		http_db_error(r);
	} else if (rc == 0) {
		http_error(r, 409, "conflict", "the upload was completed with another hash",
		           "begin a new upload process");
	} else {
		uploads_completed(r);
	}
out:
	json_decref(body);
}

/* PUT /uploads/{id}/hashes {"value", "algorithm"}: records a further whole-file hash. */
static void
uploads_hashes(struct req *r)
{
	json_t *body = http_body_object(r);
	enum hash_alg alg;
	char value[HASH_HEX_MAX], fid[UUID_STR_LEN];
	const char *params[4] = {fid, r->params[0], NULL, value};

	if (body == NULL || uploads_parse_hash(r, body, "", &alg, value) < 0 ||
	    uploads_access(r) != 1)
		goto out;
	uuid_generate(fid);
	params[2] = hash_alg_name(alg);
	if (db_cmd(r->db,
	           "INSERT INTO fingerprints (id, upload_id, algorithm, value) VALUES ($1, $2, $3, "
	           "$4) ON CONFLICT (upload_id, algorithm) DO UPDATE SET value = EXCLUDED.value",
	           4, params) < 0) {
		http_db_error(r);
		goto out;
	}
	uploads_answer(r, 200, r->params[0]);
out:
	json_decref(body);
}

const struct route uploads_routes[] = {
    {"POST", "/api/v1/projects/:id/uploads", ROUTE_AUTH, "uploads.create", uploads_create, NULL,
     NULL, NULL},
    {"GET", "/api/v1/projects/:id/uploads", ROUTE_AUTH, "uploads.list", uploads_list, NULL, NULL,
     NULL},
    {"GET", "/api/v1/uploads/:id", ROUTE_AUTH, "uploads.get", uploads_get, NULL, NULL, NULL},
    {"PUT", "/api/v1/uploads/:id/chunks", ROUTE_AUTH, "uploads.chunks", uploads_chunks, NULL, NULL,
     NULL},
    {"PUT", "/api/v1/uploads/:id/complete", ROUTE_AUTH, "uploads.complete", uploads_complete, NULL,
     NULL, NULL},
    {"PUT", "/api/v1/uploads/:id/hashes", ROUTE_AUTH, "uploads.hashes", uploads_hashes, NULL, NULL,
     NULL},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
