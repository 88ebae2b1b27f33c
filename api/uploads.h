/* uploads.h: what the upload handlers share (uploads.c: create, list, get;
 * uploads_chunks.c: chunks; uploads_complete.c: complete and further hashes): the columns
 * of a unit that answers an upload, rendering it, reading a hash. (The limits on chunks
 * that uploads_chunks.c and storage_http.c share are SQL functions: settle_chunk_max_number
 * and settle_chunk_room, migration 0022.) */
#ifndef SETTLE_UPLOADS_H
#define SETTLE_UPLOADS_H

#include <jansson.h>
#include <libpq-fe.h>

#include "hash.h"
#include "http.h"

/* The columns of an upload, in the order every unit that answers one selects them
 * (sql/uploads.sql), as offsets from the first, id (<UNIT>_C_ID). */
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
	U_CREATOR,  /* the creator's dds-user (settle_user_obj) */
	U_PROVIDER, /* the storage provider that holds its bytes (uploads.storage_provider) */
};

/* Builds the upload JSON from row `row` of a result with the columns U_ID to U_PROVIDER
 * from column col on (a unit's <UNIT>_C_ID). New reference. */
json_t *uploads_row_json(const PGresult *res, int row, int col);

/* The full upload JSON of API.md (kind dds-upload, status, chunks, hashes, …) for
 * upload_id. Returns 1 with *out set (new reference), 0 when there is no such upload, -1
 * on a database error. */
int uploads_json(PGconn *c, const char *upload_id, json_t **out) MUSTCHECK;

/* Reads a {"value", "algorithm"} hash object (algorithm defaults to md5): the value must be
 * hex of the algorithm's length. Returns 1 with *alg and a lower-case copy of the value in
 * value (HASH_HEX_MAX bytes), or -1 after answering 400 validation_failed for field. */
int uploads_parse_hash(struct req *r, json_t *h, const char *field, enum hash_alg *alg,
                       char value[HASH_HEX_MAX]) MUSTCHECK;

/* Answers 200 with the upload of res (a unit with the access verdict columns from column
 * found, access_verdict's, and the upload's from column id, NULL when it may not be seen),
 * or the error it tells: database, access, or no such upload. */
void uploads_answer_row(struct req *r, const PGresult *res, int found, int id);

/* Answers 409: the upload was purged before it was completed (SETTLE_UPLOAD_TTL). */
void uploads_expired(struct req *r);

#endif
