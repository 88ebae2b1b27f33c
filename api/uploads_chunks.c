/* uploads_chunks.c: PUT /uploads/{id}/chunks (API.md "Uploads"): registers a chunk of an
 * upload within its limits (sql/uploads_chunks.sql) and answers the chunk's signed storage
 * URL. */
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

/* Answers 400 for the chunk limit that row 0 of res (unit uploads_chunks_register) says was
 * broken. */
static void
uploads_chunks_invalid(struct req *r, const PGresult *res)
{
	char *msg;

	if (!db_get_bool(res, 0, UPLOADS_CHUNKS_REGISTER_C_NUMBER_OK)) {
		msg =
		    xasprintf("must be at most %lld for the upload's size",
		              (long long)db_get_i64(res, 0, UPLOADS_CHUNKS_REGISTER_C_MAX_NUMBER));
		http_invalid(r, "number", msg);
	} else {
		msg = xasprintf("must be at most %lld: the upload's size less the other chunks",
		                (long long)db_get_i64(res, 0, UPLOADS_CHUNKS_REGISTER_C_ROOM));
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
	if ((res = db_exec(r->db, SQL_UPLOADS_CHUNKS_REGISTER, params)) == NULL) {
		http_db_error(r);
	} else if (access_verdict(r, res, UPLOADS_CHUNKS_REGISTER_C_FOUND, "upload") != 1) {
		/* answered */
	} else if (db_get_bool(res, 0, UPLOADS_CHUNKS_REGISTER_C_COMPLETED)) {
		http_error(r, 409, "conflict", "the upload is already completed",
		           "begin a new upload to send more chunks");
	} else if (db_get_bool(res, 0, UPLOADS_CHUNKS_REGISTER_C_PURGED)) {
		uploads_expired(r);
	} else if (!storage_http_holds(
	               r, db_get(res, 0, UPLOADS_CHUNKS_REGISTER_C_STORAGE_PROVIDER), 409)) {
		/* answered */
	} else if (!db_get_bool(res, 0, UPLOADS_CHUNKS_REGISTER_C_NUMBER_OK) ||
	           !db_get_bool(res, 0, UPLOADS_CHUNKS_REGISTER_C_SIZE_OK)) {
		uploads_chunks_invalid(r, res);
	} else if (!db_get_bool(res, 0, UPLOADS_CHUNKS_REGISTER_C_WRITTEN)) {
		http_db_error(r);
	} else {
		json_t *url = storage_http_url(
		    "PUT", db_get(res, 0, UPLOADS_CHUNKS_REGISTER_C_STORAGE_CONTAINER),
		    r->params[0], (int)ch.number, 0);
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
