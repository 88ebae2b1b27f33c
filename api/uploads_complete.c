/* uploads_complete.c: PUT /uploads/{id}/complete (the hash that binds the upload, then the
 * upload.complete job verifies it) and PUT /uploads/{id}/hashes (further whole-file hashes):
 * the calls that record an upload's hashes (API.md "Uploads"). */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "db.h"
#include "hash.h"
#include "http.h"
#include "lifecycle.h"
#include "log.h"
#include "router.h"
#include "storage.h"
#include "storage_http.h"
#include "upload_complete.h"
#include "uploads.h"
#include "uuid.h"
#include "wait.h"

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

/* Marks the upload completed with the hash (once; the upload's row records it) and queues
 * the job, in one statement, and answers. A repeat with the same hash answers the upload as it
 * is (a second statement: this one's snapshot may predate the first complete's commit);
 * another hash, or a hash that contradicts one recorded for its algorithm, is a 409. */
static void
uploads_complete_mark(struct req *r, enum hash_alg alg, const char *value)
{
	char mid[UUID_STR_LEN];
	const char *params[7] = {r->params[0],  value, hash_alg_name(alg),
	                         r->user_id,    mid,   JOB_UPLOAD_COMPLETE,
	                         storage_name()};
	PGresult *res;
	const char *v, *a;

	uuid_generate(mid);
	if ((res = db_exec(r->db, SQL_UPLOADS_COMPLETE_MARK, params)) == NULL) {
		http_db_error(r);
		return;
	}
	if (access_verdict(r, res, UPLOADS_COMPLETE_MARK_C_FOUND, "upload") != 1) {
		/* answered */
	} else if (db_get(res, 0, UPLOADS_COMPLETE_MARK_C_ID) != NULL) {
		lifecycle_job(r, mid, JOB_UPLOAD_COMPLETE, r->params[0]);
		uploads_complete_answer(r, uploads_row_json(res, 0, UPLOADS_COMPLETE_MARK_C_ID));
	} else if (!db_get_bool(res, 0, UPLOADS_COMPLETE_MARK_C_DONE) &&
	           db_get_bool(res, 0, UPLOADS_COMPLETE_MARK_C_PURGED)) {
		uploads_expired(r);
	} else if (!db_get_bool(res, 0, UPLOADS_COMPLETE_MARK_C_DONE) &&
	           !storage_http_holds(r, db_get(res, 0, UPLOADS_COMPLETE_MARK_C_HELD_BY), 409)) {
		/* answered */
	} else if (!db_get_bool(res, 0, UPLOADS_COMPLETE_MARK_C_DONE) &&
	           db_get(res, 0, UPLOADS_COMPLETE_MARK_C_RECORDED) != NULL) {
		http_error(r, 409, "conflict",
		           "another hash of this algorithm is recorded for the upload",
		           "complete it with the recorded hash or begin a new upload process");
	} else if (!db_get_bool(res, 0, UPLOADS_COMPLETE_MARK_C_DONE)) {
		http_db_error(r); /* neither completed before nor now, nor purged: cannot happen */
	} else if ((v = db_get(res, 0, UPLOADS_COMPLETE_MARK_C_DONE_VALUE)) != NULL &&
	           (a = db_get(res, 0, UPLOADS_COMPLETE_MARK_C_DONE_ALGORITHM)) != NULL &&
	           strcasecmp(v, value) == 0 && strcasecmp(a, hash_alg_name(alg)) == 0) {
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
	res = db_exec(r->db, SQL_UPLOADS_COMPLETE_HASHES, params);
	if (res != NULL && db_get(res, 0, UPLOADS_COMPLETE_HASHES_C_ID) != NULL &&
	    db_get(res, 0, UPLOADS_COMPLETE_HASHES_C_RECORDED) != NULL &&
	    strcmp(db_get(res, 0, UPLOADS_COMPLETE_HASHES_C_RECORDED), value) != 0)
		http_error(r, 409, "conflict",
		           "another hash of this algorithm is recorded for the upload",
		           "a recorded hash cannot be replaced");
	else
		uploads_answer_row(r, res, UPLOADS_COMPLETE_HASHES_C_FOUND,
		                   UPLOADS_COMPLETE_HASHES_C_ID);
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
