/* uploads.c: uploads and their chunks (API.md "Uploads"): create, list, get, chunk URLs,
 * complete and further hashes. The bytes themselves go through storage_http.c. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "config.h"
#include "db.h"
#include "hash.h"
#include "http.h"
#include "log.h"
#include "outbox.h"
#include "router.h"
#include "storage.h"
#include "storage_http.h"
#include "upload_complete.h"
#include "uploads.h"
#include "uuid.h"
#include "views.h"
#include "wait.h"

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
	U_CREATOR,  /* the creator's dds-user (VIEWS_SQL_USER_OBJ) */
	U_PROVIDER, /* the storage provider that holds its bytes (uploads.storage_provider) */
	U_TOTAL,
	U_VERDICT, /* access_verdict's columns, in the statements that check and write */
	/* complete: completed before, its hash; hashes: the value recorded for the algorithm */
	U_DONE = U_VERDICT + ACCESS_VERDICT_NCOLS,
	U_DONE_VALUE,
	U_DONE_ALG,
	U_DONE_RECORDED,          /* complete: the value recorded before for the algorithm */
	U_EXPIRED,                /* complete: purged before it was completed */
	U_HELD_BY,                /* complete: the provider that holds its bytes */
	U_NEW_CONTAINER = U_DONE, /* create: the new upload's storage container */
};

/* clang-format off */
/* SQL, one JSON column: the chunk list [{number, size, hash}] of the chunks rows (alias c)
 * that `from` selects. */
#define UPLOADS_SQL_CHUNKS(from) \
	"coalesce((SELECT json_agg(json_build_object('number', c.number, 'size', c.size, " \
	"'hash', json_build_object('value', c.hash_value, 'algorithm', c.hash_algorithm)) " \
	"ORDER BY c.number) FROM " from "), '[]')"

/* SQL: the columns U_ID to U_PROVIDER of an uploads row alias u joined with its creator's
 * users row alias s, with the chunks and hashes columns given. */
#define UPLOADS_SQL_COLS(chunks, hashes) \
	"u.id, u.name, u.content_type, u.size, u.etag, u.project_id, " \
	VIEWS_SQL_TS("u.created_at") ", u.completed_at IS NULL AND u.purged_at IS NULL, " \
	VIEWS_SQL_TS("u.completed_at") ", u.is_consistent, " VIEWS_SQL_TS("u.purged_at") ", " \
	VIEWS_SQL_TS("u.error_at") ", u.error_message, " \
	chunks ", " hashes ", " VIEWS_SQL_USER_OBJ("s") "::text, u.storage_provider"

#define UPLOADS_SELECT_COLS \
	UPLOADS_SQL_COLS(UPLOADS_SQL_CHUNKS("chunks c WHERE c.upload_id = u.id"), \
	VIEWS_SQL_HASHES("u"))
#define UPLOADS_SELECT_FROM "FROM uploads u JOIN users s ON s.id = u.created_by "
#define UPLOADS_SELECT \
	"SELECT " UPLOADS_SELECT_COLS ", count(*) OVER () " UPLOADS_SELECT_FROM

/* SQL: the bytes of an upload u in a list (see HTTP_SQL_PAGE_K): its text, and 128 for
 * each of its chunks. */
#define UPLOADS_TEXT_BYTES \
	"octet_length(u.name) + octet_length(u.content_type) + 128 * (SELECT count(*) FROM " \
	"chunks c WHERE c.upload_id = u.id)"
/* SQL: the uploads of project $1, $2 per page asked for (the CTE k). */
#define UPLOADS_LIST_K \
	HTTP_SQL_PAGE_K(UPLOADS_TEXT_BYTES, "FROM uploads u WHERE u.project_id = $1", "$2")

/* SQL: the end of a statement that checks and writes at once (see uploads_create_sql):
 * after the upload's columns, U_TOTAL (1) and the access verdict from the CTE acc
 * (columns id, member, is_deleted, is_consistent), with the upload from the row alias u
 * (none when nothing was written). */
#define UPLOADS_SQL_VERDICT \
	", 1, acc.id IS NOT NULL, acc.member, acc.is_deleted, acc.is_consistent"
#define UPLOADS_SQL_FROM(written) \
	" FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN " written " u ON true" \
	" LEFT JOIN users s ON s.id = u.created_by"

/* SQL, one JSON column: the hashes of the upload row alias u after a CTE fp wrote the
 * fingerprint of algorithm alg (returning algorithm, value), which the statement's own
 * snapshot of fingerprints does not show. */
#define UPLOADS_SQL_HASHES_WITH_FP(alg) \
	"coalesce((SELECT json_agg(" VIEWS_SQL_HASH_OBJ("h", "u") " ORDER BY h.algorithm) FROM" \
	" (SELECT algorithm, value FROM fingerprints WHERE upload_id = u.id AND algorithm <> " alg \
	" UNION ALL SELECT algorithm, value FROM fp) h), '[]'::json)"

/* SQL: the end of an INSERT INTO fingerprints that never replaces the value recorded for
 * an algorithm (API.md "Limits on input"): on a conflict it returns the recorded value (the
 * newest committed one, whatever the statement's snapshot) for the caller to compare. */
#define UPLOADS_SQL_FP_KEEP \
	" ON CONFLICT (upload_id, algorithm) DO UPDATE SET value = fingerprints.value" \
	" RETURNING algorithm, value"

/* SQL, one column: the value of algorithm alg recorded for the uploads row alias u that
 * binds its complete: one its creator reported. One another user (a project admin)
 * reported before complete gives way to the hash given at complete, which the worker
 * verifies (docs/api.md "Reported and verified hashes"). */
#define UPLOADS_SQL_BINDING_HASH(u, alg) \
	"(SELECT f.value FROM fingerprints f WHERE f.upload_id = " u ".id AND f.algorithm = " alg \
	" AND f.reported_by = " u ".created_by)"

/* POST /projects/{id}/uploads in one statement: checks the project ($2) and the caller
 * ($8), inserts the upload (its bytes to be held by storage provider $11) and, when it is
 * not chunked, its only chunk, and answers the upload rendered from what was inserted
 * (data-modifying CTEs are not seen by the final SELECT, so the chunk list comes from ch),
 * then the verdict. */
static const char uploads_create_sql[] =
	"WITH acc AS (SELECT p.id, p.storage_container, p.is_deleted, p.is_consistent, "
	ACCESS_SQL_CAN("p", "$8::uuid", ACCESS_LIT(ACCESS_CREATE)) " AS member FROM projects p "
	"WHERE p.id = $2::uuid), "
	"ins AS (INSERT INTO uploads (id, project_id, name, content_type, size, chunked, etag, "
	"storage_container, created_by, storage_provider) SELECT $1::uuid, acc.id, $3::text, "
	"$4::text, $5::bigint, $6::boolean, $7::text, acc.storage_container, $8::uuid, $11::text "
	"FROM acc WHERE acc.member "
	"AND NOT acc.is_deleted AND acc.is_consistent RETURNING *), "
	"ch AS (INSERT INTO chunks (upload_id, number, size, hash_value, hash_algorithm) "
	"SELECT id, 1, size, $9::text, $10::text FROM ins WHERE NOT chunked "
	"RETURNING number, size, hash_value, hash_algorithm) "
	"SELECT " UPLOADS_SQL_COLS(UPLOADS_SQL_CHUNKS("ch c"), "'[]'::json") UPLOADS_SQL_VERDICT
	", u.storage_container" UPLOADS_SQL_FROM("ins");

/* PUT /uploads/{id}/complete in one statement: locks the upload ($1) and reads its latest
 * state (a concurrent complete or purge is waited for and seen), checks the caller ($5),
 * marks it completed with the hash ($2 value, $3 algorithm) when it is not yet, not purged,
 * held by the configured storage provider ($8) and no other value that binds it is
 * recorded for that algorithm (UPLOADS_SQL_BINDING_HASH), records the fingerprint ($4,
 * reported by $5, in place of one that did not bind) and queues the upload.complete job
 * ($6 message id, $7 kind). Answers the upload as completed
 * (its hashes: those recorded before, with this one), the verdict, then whether it was
 * completed before and with which hash, the value recorded before for the algorithm
 * (U_DONE_*), whether it was purged (U_EXPIRED) and its storage provider (U_HELD_BY). */
static const char uploads_complete_sql[] =
	"WITH acc AS (SELECT u.id, u.completed_at IS NOT NULL AS completed, "
	"u.completed_hash_value, u.completed_hash_algorithm, p.is_deleted, true AS is_consistent, "
	"u.purged_at IS NOT NULL AS purged, u.storage_provider, "
	ACCESS_SQL_CAN("p", "$5::uuid", ACCESS_LIT(ACCESS_CREATE)) " AS member, "
	UPLOADS_SQL_BINDING_HASH("u", "$3::text") " AS recorded FROM uploads u "
	"JOIN projects p ON p.id = u.project_id WHERE u.id = $1::uuid FOR UPDATE OF u), "
	"upd AS (UPDATE uploads u SET completed_at = now(), completed_hash_value = $2::text, "
	"completed_hash_algorithm = $3::text FROM acc WHERE u.id = acc.id AND acc.member AND "
	"NOT acc.is_deleted AND NOT acc.completed AND NOT acc.purged "
	"AND acc.storage_provider = $8::text AND coalesce(acc.recorded = $2::text, true) "
	"RETURNING u.*), "
	"fp AS (INSERT INTO fingerprints (id, upload_id, algorithm, value, reported_by) SELECT "
	"$4::uuid, id, $3::text, $2::text, $5::uuid FROM upd ON CONFLICT (upload_id, algorithm) "
	"DO UPDATE SET value = EXCLUDED.value, reported_by = EXCLUDED.reported_by "
	"RETURNING algorithm, value), "
	OUTBOX_SQL_CTE("$6::uuid", "$7::text", "upd.id", "upd") " "
	"SELECT " UPLOADS_SQL_COLS(UPLOADS_SQL_CHUNKS("chunks c WHERE c.upload_id = u.id"),
	UPLOADS_SQL_HASHES_WITH_FP("$3::text"))
	UPLOADS_SQL_VERDICT ", acc.completed, acc.completed_hash_value, acc.completed_hash_algorithm, "
	"acc.recorded, acc.purged, acc.storage_provider" UPLOADS_SQL_FROM("upd");

/* PUT /uploads/{id}/chunks in one statement: share-locks the upload ($1; complete and the
 * purge of expired uploads wait for it, and it for them), checks the caller ($6) and
 * registers or replaces chunk $2 ($3 size, $4 hash value, $5 algorithm) while the upload is
 * not completed nor purged, is held by the configured storage provider ($9) and the chunk
 * fits its limits ($7 the minimum chunk size, $8 the most chunks storage takes; see
 * UPLOADS_SQL_MAX_NUMBER). Answers the verdict, whether the upload is completed, whether
 * the chunk was written, then (UC_*) whether the number and the size are within the
 * limits, the highest number, the room, whether the upload is purged, its container and
 * its storage provider. */
static const char uploads_chunk_sql[] =
	"WITH acc AS (SELECT u.id, u.completed_at IS NOT NULL AS completed, p.is_deleted, "
	"u.purged_at IS NOT NULL AS purged, u.storage_container, u.storage_provider, "
	ACCESS_SQL_CAN("p", "$6::uuid", ACCESS_LIT(ACCESS_CREATE)) " AS member, "
	UPLOADS_SQL_MAX_NUMBER("$7::bigint, ceil(u.size::numeric / $8::bigint)::bigint")
	" AS max_number, "
	UPLOADS_SQL_ROOM("$2::integer") " AS room FROM uploads u JOIN projects p ON "
	"p.id = u.project_id WHERE u.id = $1::uuid FOR SHARE OF u), "
	"lim AS (SELECT acc.*, $2::bigint <= acc.max_number AS number_ok, "
	"$3::bigint <= acc.room AS size_ok FROM acc), "
	"ins AS (INSERT INTO chunks (upload_id, number, size, hash_value, hash_algorithm) "
	"SELECT lim.id, $2::integer, $3::bigint, $4::text, $5::text FROM lim WHERE lim.member "
	"AND NOT lim.is_deleted AND NOT lim.completed AND NOT lim.purged AND lim.number_ok "
	"AND lim.size_ok AND lim.storage_provider = $9::text "
	"ON CONFLICT (upload_id, number) DO UPDATE "
	"SET size = EXCLUDED.size, hash_value = EXCLUDED.hash_value, hash_algorithm = "
	"EXCLUDED.hash_algorithm, stored_size = NULL, stored_md5 = NULL, stored_sha1 = NULL, "
	"stored_sha256 = NULL, stored_at = NULL, created_at = now() RETURNING number) "
	"SELECT lim.id IS NOT NULL, lim.member, lim.is_deleted, true, lim.completed, "
	"EXISTS (SELECT 1 FROM ins), lim.number_ok, lim.size_ok, lim.max_number, lim.room, "
	"lim.purged, lim.storage_container, lim.storage_provider "
	"FROM (VALUES (1)) one LEFT JOIN lim ON true";

/* Columns of uploads_chunk_sql after the verdict. */
enum {
	UC_COMPLETED = ACCESS_VERDICT_NCOLS,
	UC_WRITTEN,
	UC_NUMBER_OK,
	UC_SIZE_OK,
	UC_MAX_NUMBER,
	UC_ROOM,
	UC_PURGED,
	UC_CONTAINER,
	UC_PROVIDER,
};

/* GET /uploads/{id} in one statement: the upload ($1) when the caller ($2) may see it, then
 * the verdict. */
static const char uploads_get_sql[] =
	"WITH acc AS (" ACCESS_SQL("SELECT project_id FROM uploads WHERE id = $1",
	ACCESS_LIT(ACCESS_VIEW)) ") "
	"SELECT " UPLOADS_SQL_COLS(UPLOADS_SQL_CHUNKS("chunks c WHERE c.upload_id = u.id"),
	VIEWS_SQL_HASHES("u")) UPLOADS_SQL_VERDICT
	UPLOADS_SQL_FROM("(SELECT x.* FROM uploads x, acc WHERE x.id = $1::uuid AND acc.member "
	"AND NOT acc.is_deleted)");

/* PUT /uploads/{id}/hashes in one statement: share-locks the upload ($1; complete waits
 * for it and it for complete), checks the caller ($2: create_file, and the upload's creator
 * or a project admin) and records the fingerprint ($5) of the upload, algorithm $3, value
 * $4, reported by the caller, unless that algorithm has one; answers the upload with the
 * algorithm's recorded hash, the verdict, then (at U_DONE) the value recorded for the
 * algorithm, which differs from $4 on a conflict. */
static const char uploads_hashes_sql[] =
	"WITH acc AS (SELECT u.id, p.is_deleted, true AS is_consistent, "
	ACCESS_SQL_CAN("p", "$2::uuid", ACCESS_LIT(ACCESS_CREATE)) " AND "
	ACCESS_SQL_OWNER_OR_ADMIN("p", "$2::uuid", "u.created_by") " AS member "
	"FROM uploads u JOIN projects p ON p.id = u.project_id WHERE u.id = $1::uuid "
	"FOR SHARE OF u), "
	"fp AS (INSERT INTO fingerprints (id, upload_id, algorithm, value, reported_by) SELECT "
	"$5::uuid, acc.id, $3::text, $4::text, $2::uuid FROM acc WHERE acc.member AND NOT "
	"acc.is_deleted" UPLOADS_SQL_FP_KEEP ") "
	"SELECT " UPLOADS_SQL_COLS(UPLOADS_SQL_CHUNKS("chunks c WHERE c.upload_id = u.id"),
	UPLOADS_SQL_HASHES_WITH_FP("$3::text")) UPLOADS_SQL_VERDICT ", (SELECT value FROM fp)"
	UPLOADS_SQL_FROM("(SELECT x.* FROM uploads x, acc WHERE x.id = $1::uuid AND acc.member "
	"AND NOT acc.is_deleted)");
/* clang-format on */

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
	json_t *audit = json_pack("{s:o,s:o,s:n,s:n,s:n,s:n}", "created_on",
	                          http_jstr(db_get(res, row, U_CREATED)), "created_by",
	                          views_json_col(res, row, U_CREATOR), "last_updated_on",
	                          "last_updated_by", "deleted_on", "deleted_by");

	json_t *upload = json_pack(
	    "{s:s,s:s,s:s,s:s,s:I,s:s,s:{s:s},s:o,s:o,s:o,s:o,s:o}", "kind", "dds-upload", "id",
	    db_get(res, row, U_ID), "name", db_get(res, row, U_NAME), "content_type",
	    db_get(res, row, U_CTYPE), "size", (json_int_t)db_get_i64(res, row, U_SIZE), "etag",
	    db_get(res, row, U_ETAG), "project", "id", db_get(res, row, U_PROJECT),
	    "storage_provider", views_storage_provider(db_get(res, row, U_PROVIDER)), "chunks",
	    uploads_jcol(res, row, U_CHUNKS), "hashes", uploads_jcol(res, row, U_HASHES), "status",
	    status, "audit", audit);

	views_safe_names(upload);
	return upload;
}

/* The full upload JSON of API.md (kind dds-upload, status, chunks, hashes, …) for
 * upload_id. Returns 1 with *out set (new reference), 0 when there is no such upload, -1
 * on a database error. */
static int
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

/* Reads a {"value", "algorithm"} hash object (algorithm defaults to md5): the value must be
 * hex of the algorithm's length. Returns 1 with *alg and a lower-case copy of the value in
 * value (HASH_HEX_MAX bytes), or -1 after answering 400 validation_failed for field. */
static int
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
	return db_exec(r->db, uploads_create_sql, 11, params);
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
	if (access_verdict(r, res, U_VERDICT, "project") != 1)
		goto out;
	if (!db_get_bool(res, 0, U_VERDICT + 3)) {
		/* Under Prefer: wait this handler runs again once the project is consistent
		 * (notifications carry ids as Postgres writes them: lower case). */
		for (size_t i = 0; i < sizeof(id) - 1; i++)
			id[i] = (char)tolower((unsigned char)r->params[0][i]);
		if (!wait_for(r, id, uploads_create))
			http_not_consistent(r);
		goto out;
	}
	if (db_get(res, 0, U_ID) == NULL) {
		http_db_error(r);
		goto out;
	}
	out = uploads_row_json(res, 0);
	if (uploads_created(r, &u, id, db_get(res, 0, U_NEW_CONTAINER), out) < 0) {
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
	return uploads_row_json(res, row);
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
	res = db_exec(r->db,
	              UPLOADS_LIST_K "SELECT " UPLOADS_SELECT_COLS ", " HTTP_SQL_PAGE_COLS
	                             " " UPLOADS_SELECT_FROM
	                             "WHERE u.project_id = $1 ORDER BY u.created_at,"
	                             " u.id" HTTP_SQL_PAGE_LIMIT("$3"),
	              3, params);
	if (res == NULL)
		http_db_error(r);
	else
		http_answer_page_k(r, res, U_TOTAL, uploads_item,
		                   UPLOADS_LIST_K "SELECT total, per FROM k", 2, params, page);
}

/* Answers 200 with the upload of res (a statement ending in the access verdict columns and
 * the upload's row), or the error it tells: database, access, or no such upload. */
static void
uploads_answer_row(struct req *r, const PGresult *res)
{
	if (res == NULL)
		http_db_error(r);
	else if (access_verdict(r, res, U_VERDICT, "upload") != 1)
		; /* answered */
	else if (db_get(res, 0, U_ID) == NULL)
		http_not_found(r, "upload");
	else
		http_json(r, 200, uploads_row_json(res, 0));
}

/* GET /uploads/{id}: one statement. */
static void
uploads_get(struct req *r)
{
	const char *q[] = {r->params[0], r->user_id};
	PGresult *res;

	res = db_exec(r->db, uploads_get_sql, 2, q);
	uploads_answer_row(r, res);
	PQclear(res);
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

/* Answers 409: the upload was purged before it was completed (SETTLE_UPLOAD_TTL). */
static void
uploads_expired(struct req *r)
{
	http_error(r, 409, "conflict",
	           "the upload expired: it had no activity for too long and its stored bytes were "
	           "purged",
	           "begin a new upload process");
}

/* Answers 400 for the chunk limit that row 0 of res (uploads_chunk_sql) says was broken. */
static void
uploads_chunk_invalid(struct req *r, const PGresult *res)
{
	char *msg;

	if (!db_get_bool(res, 0, UC_NUMBER_OK)) {
		msg = xasprintf("must be at most %lld for the upload's size",
		                (long long)db_get_i64(res, 0, UC_MAX_NUMBER));
		http_invalid(r, "number", msg);
	} else {
		msg = xasprintf("must be at most %lld: the upload's size less the other chunks",
		                (long long)db_get_i64(res, 0, UC_ROOM));
		http_invalid(r, "size", msg);
	}
	free(msg);
}

/* PUT /uploads/{id}/chunks: registers a chunk, answers its signed storage URL. One
 * statement checks the caller, the upload and the limits, and writes the chunk. */
static void
uploads_chunks(struct req *r)
{
	struct uploads_chunk ch = {0};
	json_t *body = http_body_object(r);
	char num[24], size[24], min[24], maxn[24];
	const char *params[9] = {r->params[0], num, size, ch.value,      NULL,
	                         r->user_id,   min, maxn, storage_name()};
	PGresult *res = NULL;

	if (body == NULL || uploads_read_chunk(r, body, &ch) < 0)
		goto out;
	snprintf(num, sizeof(num), "%lld", (long long)ch.number);
	snprintf(size, sizeof(size), "%lld", (long long)ch.size);
	snprintf(min, sizeof(min), "%lld", (long long)cfg.min_chunk_size);
	snprintf(maxn, sizeof(maxn), "%lld", (long long)storage_max_chunks());
	params[4] = hash_alg_name(ch.alg);
	if ((res = db_exec(r->db, uploads_chunk_sql, 9, params)) == NULL) {
		http_db_error(r);
	} else if (access_verdict(r, res, 0, "upload") != 1) {
		/* answered */
	} else if (db_get_bool(res, 0, UC_COMPLETED)) {
		http_error(r, 409, "conflict", "the upload is already completed",
		           "begin a new upload to send more chunks");
	} else if (db_get_bool(res, 0, UC_PURGED)) {
		uploads_expired(r);
	} else if (!storage_http_holds(r, db_get(res, 0, UC_PROVIDER), 409)) {
		/* answered */
	} else if (!db_get_bool(res, 0, UC_NUMBER_OK) || !db_get_bool(res, 0, UC_SIZE_OK)) {
		uploads_chunk_invalid(r, res);
	} else if (!db_get_bool(res, 0, UC_WRITTEN)) {
		http_db_error(r);
	} else {
		json_t *url = storage_http_url("PUT", db_get(res, 0, UC_CONTAINER), r->params[0],
		                               (int)ch.number, 0);
		if (url != NULL)
			http_json(r, 200, url);
		else
			storage_http_unavailable(r);
	}
out:
	PQclear(res);
	json_decref(body);
}

static void uploads_completed(struct req *r);

/* Answers body (the upload just completed; taken): 202 while verification runs (after
 * waiting as Prefer: wait asks, running uploads_completed again when the upload is
 * consistent), 200 once a wait saw it finish. */
static void
uploads_completed_answer(struct req *r, json_t *body)
{
	bool done = json_is_true(json_object_get(json_object_get(body, "status"), "is_consistent"));

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

/* Answers the completed upload as it is now (see uploads_completed_answer). */
static void
uploads_completed(struct req *r)
{
	json_t *body = NULL;
	int rc = uploads_json(r->db, r->params[0], &body);

	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)
		http_not_found(r, "upload");
	else
		uploads_completed_answer(r, body);
}

/* Marks the upload completed with the hash (once), records the fingerprint and queues the
 * job, in one statement, and answers. A repeat with the same hash answers the upload as it
 * is (a second statement: this one's snapshot may predate the first complete's commit);
 * another hash, or a hash that contradicts one recorded for its algorithm, is a 409. */
static void
uploads_mark_complete(struct req *r, enum hash_alg alg, const char *value)
{
	char fid[UUID_STR_LEN], mid[UUID_STR_LEN];
	const char *params[8] = {r->params[0], value, hash_alg_name(alg),  fid,
	                         r->user_id,   mid,   JOB_UPLOAD_COMPLETE, storage_name()};
	PGresult *res;
	const char *v, *a;

	uuid_generate(fid);
	uuid_generate(mid);
	if ((res = db_exec(r->db, uploads_complete_sql, 8, params)) == NULL) {
		http_db_error(r);
		return;
	}
	if (access_verdict(r, res, U_VERDICT, "upload") != 1) {
		/* answered */
	} else if (db_get(res, 0, U_ID) != NULL) {
		uploads_completed_answer(r, uploads_row_json(res, 0));
	} else if (!db_get_bool(res, 0, U_DONE) && db_get_bool(res, 0, U_EXPIRED)) {
		uploads_expired(r);
	} else if (!db_get_bool(res, 0, U_DONE) &&
	           !storage_http_holds(r, db_get(res, 0, U_HELD_BY), 409)) {
		/* answered */
	} else if (!db_get_bool(res, 0, U_DONE) && db_get(res, 0, U_DONE_RECORDED) != NULL) {
		http_error(r, 409, "conflict",
		           "another hash of this algorithm is recorded for the upload",
		           "complete it with the recorded hash or begin a new upload process");
	} else if (!db_get_bool(res, 0, U_DONE)) {
		http_db_error(r); /* neither completed before nor now, nor purged: cannot happen */
	} else if ((v = db_get(res, 0, U_DONE_VALUE)) != NULL &&
	           (a = db_get(res, 0, U_DONE_ALG)) != NULL && strcasecmp(v, value) == 0 &&
	           strcasecmp(a, hash_alg_name(alg)) == 0) {
		uploads_completed(r);
	} else {
		http_error(r, 409, "conflict", "the upload was completed with another hash",
		           "begin a new upload process");
	}
	PQclear(res);
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
	if (uploads_parse_hash(r, h, "hash", &alg, value) < 0)
		goto out;
	uploads_mark_complete(r, alg, value);
out:
	json_decref(body);
}

/* PUT /uploads/{id}/hashes {"value", "algorithm"}: records a further whole-file hash;
 * one statement checks, writes and answers the upload (200), or 409 when the algorithm
 * has another value recorded. */
static void
uploads_hashes(struct req *r)
{
	json_t *body = http_body_object(r);
	enum hash_alg alg;
	char value[HASH_HEX_MAX], fid[UUID_STR_LEN];
	const char *params[5] = {r->params[0], r->user_id, NULL, value, fid};
	PGresult *res = NULL;

	if (body == NULL || uploads_parse_hash(r, body, "", &alg, value) < 0)
		goto out;
	uuid_generate(fid);
	params[2] = hash_alg_name(alg);
	res = db_exec(r->db, uploads_hashes_sql, 5, params);
	if (res != NULL && db_get(res, 0, U_ID) != NULL && db_get(res, 0, U_DONE) != NULL &&
	    strcmp(db_get(res, 0, U_DONE), value) != 0)
		http_error(r, 409, "conflict",
		           "another hash of this algorithm is recorded for the upload",
		           "a recorded hash cannot be replaced");
	else
		uploads_answer_row(r, res);
out:
	PQclear(res);
	json_decref(body);
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
    {.method = "PUT",
     .pattern = "/api/v1/uploads/:id:uuid/chunks",
     .flags = ROUTE_AUTH,
     .name = "uploads.chunks",
     .handle = uploads_chunks},
    {.method = "PUT",
     .pattern = "/api/v1/uploads/:id:uuid/complete",
     .flags = ROUTE_AUTH | ROUTE_JOBS,
     .name = "uploads.complete",
     .handle = uploads_complete},
    {.method = "PUT",
     .pattern = "/api/v1/uploads/:id:uuid/hashes",
     .flags = ROUTE_AUTH,
     .name = "uploads.hashes",
     .handle = uploads_hashes},
    {.method = NULL},
};
