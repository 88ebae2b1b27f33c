/* uploads_chunks.c: PUT /uploads/{id}/chunks (API.md "Uploads"): registers a chunk of an
 * upload within its limits (uploads.h) and answers the chunk's signed storage URL. */
#include <stdio.h>
#include <stdlib.h>

#include "access.h"
#include "config.h"
#include "db.h"
#include "hash.h"
#include "http.h"
#include "log.h"
#include "router.h"
#include "storage.h"
#include "storage_http.h"
#include "uploads.h"

/* clang-format off */
/* PUT /uploads/{id}/chunks in one statement: share-locks the upload ($1; complete and the
 * purge of expired uploads wait for it, and it for them), checks the caller ($6) and
 * registers or replaces chunk $2 ($3 size, $4 hash value, $5 algorithm) while the upload is
 * not completed nor purged, is held by the configured storage provider ($9) and the chunk
 * fits its limits ($7 the minimum chunk size, $8 the most chunks storage takes; see
 * UPLOADS_SQL_MAX_NUMBER). Answers the verdict, whether the upload is completed, whether
 * the chunk was written, then (UC_*) whether the number and the size are within the
 * limits, the highest number, the room, whether the upload is purged, its container and
 * its storage provider. */
static const char uploads_chunks_sql[] =
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

/* Columns of uploads_chunks_sql after the verdict. */
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
/* clang-format on */

/* What PUT /uploads/{id}/chunks was given. */
struct uploads_chunks_given {
	int64_t number, size;
	enum hash_alg alg;
	char value[HASH_HEX_MAX];
};

/* Reads and validates the chunk body into ch; -1 after answering 400. */
static int
uploads_chunks_read(struct req *r, json_t *body, struct uploads_chunks_given *ch)
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

/* Answers 400 for the chunk limit that row 0 of res (uploads_chunks_sql) says was broken. */
static void
uploads_chunks_invalid(struct req *r, const PGresult *res)
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
	struct uploads_chunks_given ch = {0};
	json_t *body = http_body_object(r);
	char num[24], size[24], min[24], maxn[24];
	const char *params[9] = {r->params[0], num, size, ch.value,      NULL,
	                         r->user_id,   min, maxn, storage_name()};
	PGresult *res = NULL;

	if (body == NULL || uploads_chunks_read(r, body, &ch) < 0)
		goto out;
	snprintf(num, sizeof(num), "%lld", (long long)ch.number);
	snprintf(size, sizeof(size), "%lld", (long long)ch.size);
	snprintf(min, sizeof(min), "%lld", (long long)cfg.min_chunk_size);
	snprintf(maxn, sizeof(maxn), "%lld", (long long)storage_max_chunks());
	params[4] = hash_alg_name(ch.alg);
	if ((res = db_exec(r->db, uploads_chunks_sql, 9, params)) == NULL) {
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
		uploads_chunks_invalid(r, res);
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

const struct route uploads_chunks_routes[] = {
    {.method = "PUT",
     .pattern = "/api/v1/uploads/:id:uuid/chunks",
     .flags = ROUTE_AUTH,
     .name = "uploads.chunks",
     .handle = uploads_chunks},
    {.method = NULL},
};
