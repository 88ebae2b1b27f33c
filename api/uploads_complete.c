/* uploads_complete.c: PUT /uploads/{id}/complete (the hash that binds the upload, then the
 * upload.complete job verifies it) and PUT /uploads/{id}/hashes (further whole-file hashes):
 * the calls that record an upload's fingerprints (API.md "Uploads"). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
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

/* clang-format off */
/* SQL, one JSON column: the hashes of the upload row alias u after a CTE fp wrote the
 * fingerprint of algorithm alg (returning algorithm, value), which the statement's own
 * snapshot of fingerprints does not show. */
#define UPLOADS_COMPLETE_SQL_HASHES_WITH_FP(alg) \
	"coalesce((SELECT json_agg(" VIEWS_SQL_HASH_OBJ("h", "u") " ORDER BY h.algorithm) FROM" \
	" (SELECT algorithm, value FROM fingerprints WHERE upload_id = u.id AND algorithm <> " alg \
	" UNION ALL SELECT algorithm, value FROM fp) h), '[]'::json)"

/* SQL: the end of an INSERT INTO fingerprints that never replaces the value recorded for
 * an algorithm (API.md "Limits on input"): on a conflict it returns the recorded value (the
 * newest committed one, whatever the statement's snapshot) for the caller to compare. */
#define UPLOADS_COMPLETE_SQL_FP_KEEP \
	" ON CONFLICT (upload_id, algorithm) DO UPDATE SET value = fingerprints.value" \
	" RETURNING algorithm, value"

/* SQL, one column: the value of algorithm alg recorded for the uploads row alias u that
 * binds its complete: one its creator reported. One another user (a project admin)
 * reported before complete gives way to the hash given at complete, which the worker
 * verifies (docs/api.md "Reported and verified hashes"). */
#define UPLOADS_COMPLETE_SQL_BINDING_HASH(u, alg) \
	"(SELECT f.value FROM fingerprints f WHERE f.upload_id = " u ".id AND f.algorithm = " alg \
	" AND f.reported_by = " u ".created_by)"

/* PUT /uploads/{id}/complete in one statement: locks the upload ($1) and reads its latest
 * state (a concurrent complete or purge is waited for and seen), checks the caller ($5),
 * marks it completed with the hash ($2 value, $3 algorithm) when it is not yet, not purged,
 * held by the configured storage provider ($8) and no other value that binds it is
 * recorded for that algorithm (UPLOADS_COMPLETE_SQL_BINDING_HASH), records the fingerprint ($4,
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
	UPLOADS_COMPLETE_SQL_BINDING_HASH("u", "$3::text") " AS recorded FROM uploads u "
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
	UPLOADS_COMPLETE_SQL_HASHES_WITH_FP("$3::text"))
	UPLOADS_SQL_VERDICT ", acc.completed, acc.completed_hash_value, acc.completed_hash_algorithm, "
	"acc.recorded, acc.purged, acc.storage_provider" UPLOADS_SQL_FROM("upd");

/* PUT /uploads/{id}/hashes in one statement: share-locks the upload ($1; complete waits
 * for it and it for complete), checks the caller ($2: create_file, and the upload's creator
 * or a project admin) and records the fingerprint ($5) of the upload, algorithm $3, value
 * $4, reported by the caller, unless that algorithm has one; answers the upload with the
 * algorithm's recorded hash, the verdict, then (at U_DONE) the value recorded for the
 * algorithm, which differs from $4 on a conflict. */
static const char uploads_complete_hashes_sql[] =
	"WITH acc AS (SELECT u.id, p.is_deleted, true AS is_consistent, "
	ACCESS_SQL_CAN("p", "$2::uuid", ACCESS_LIT(ACCESS_CREATE)) " AND "
	ACCESS_SQL_OWNER_OR_ADMIN("p", "$2::uuid", "u.created_by") " AS member "
	"FROM uploads u JOIN projects p ON p.id = u.project_id WHERE u.id = $1::uuid "
	"FOR SHARE OF u), "
	"fp AS (INSERT INTO fingerprints (id, upload_id, algorithm, value, reported_by) SELECT "
	"$5::uuid, acc.id, $3::text, $4::text, $2::uuid FROM acc WHERE acc.member AND NOT "
	"acc.is_deleted" UPLOADS_COMPLETE_SQL_FP_KEEP ") "
	"SELECT " UPLOADS_SQL_COLS(UPLOADS_SQL_CHUNKS("chunks c WHERE c.upload_id = u.id"),
	UPLOADS_COMPLETE_SQL_HASHES_WITH_FP("$3::text")) UPLOADS_SQL_VERDICT ", (SELECT value FROM fp)"
	UPLOADS_SQL_FROM("(SELECT x.* FROM uploads x, acc WHERE x.id = $1::uuid AND acc.member "
	"AND NOT acc.is_deleted)");
/* clang-format on */

static void uploads_complete_reload(struct req *r);

/* Answers body (the upload just completed; taken): 202 while verification runs (after
 * waiting as Prefer: wait asks, running uploads_complete_reload again when the upload is
 * consistent), 200 once a wait saw it finish. */
static void
uploads_complete_answer(struct req *r, json_t *body)
{
	bool done = json_is_true(json_object_get(json_object_get(body, "status"), "is_consistent"));

	if (!done && wait_for(r, r->params[0], uploads_complete_reload)) {
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

/* Answers the completed upload as it is now (see uploads_complete_answer). */
static void
uploads_complete_reload(struct req *r)
{
	json_t *body = NULL;
	int rc = uploads_json(r->db, r->params[0], &body);

	if (rc < 0)
		http_db_error(r);
	else if (rc == 0)
		http_not_found(r, "upload");
	else
		uploads_complete_answer(r, body);
}

/* Marks the upload completed with the hash (once), records the fingerprint and queues the
 * job, in one statement, and answers. A repeat with the same hash answers the upload as it
 * is (a second statement: this one's snapshot may predate the first complete's commit);
 * another hash, or a hash that contradicts one recorded for its algorithm, is a 409. */
static void
uploads_complete_mark(struct req *r, enum hash_alg alg, const char *value)
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
		uploads_complete_answer(r, uploads_row_json(res, 0));
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
		uploads_complete_reload(r);
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
	uploads_complete_mark(r, alg, value);
out:
	json_decref(body);
}

/* PUT /uploads/{id}/hashes {"value", "algorithm"}: records a further whole-file hash;
 * one statement checks, writes and answers the upload (200), or 409 when the algorithm
 * has another value recorded. */
static void
uploads_complete_hashes(struct req *r)
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
	res = db_exec(r->db, uploads_complete_hashes_sql, 5, params);
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

const struct route uploads_complete_routes[] = {
    {.method = "PUT",
     .pattern = "/api/v1/uploads/:id:uuid/complete",
     .flags = ROUTE_AUTH | ROUTE_JOBS,
     .name = "uploads.complete",
     .handle = uploads_complete},
    {.method = "PUT",
     .pattern = "/api/v1/uploads/:id:uuid/hashes",
     .flags = ROUTE_AUTH,
     .name = "uploads.hashes",
     .handle = uploads_complete_hashes},
    {.method = NULL},
};
