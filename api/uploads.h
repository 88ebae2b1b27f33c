/* uploads.h: what the upload handlers share (uploads.c: create, list, get;
 * uploads_chunks.c: chunks; uploads_complete.c: complete and further hashes): the columns
 * of a statement that answers an upload, rendering it, reading a hash. (The limits on chunks
 * that uploads_chunks.c and storage_http.c share are SQL functions: settle_chunk_max_number
 * and settle_chunk_room, migration 0018.) */
#ifndef SETTLE_UPLOADS_H
#define SETTLE_UPLOADS_H

#include <jansson.h>
#include <libpq-fe.h>

#include "access.h"
#include "hash.h"
#include "http.h"
#include "views.h"

/* Columns of UPLOADS_SELECT (uploads.c) and of every statement that answers an upload. */
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

/* SQL: the end of a statement that checks and writes at once (see uploads_create_sql in uploads.c):
 * after the upload's columns, U_TOTAL (1) and the access verdict from the CTE acc
 * (columns id, member, is_deleted, is_consistent), with the upload from the row alias u
 * (none when nothing was written). */
#define UPLOADS_SQL_VERDICT \
	", 1, acc.id IS NOT NULL, acc.member, acc.is_deleted, acc.is_consistent"
#define UPLOADS_SQL_FROM(written) \
	" FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN " written " u ON true" \
	" LEFT JOIN users s ON s.id = u.created_by"
/* clang-format on */

/* Builds the upload JSON from row `row` of a result in the columns U_ID to U_PROVIDER.
 * New reference. */
json_t *uploads_row_json(const PGresult *res, int row);

/* The full upload JSON of API.md (kind dds-upload, status, chunks, hashes, …) for
 * upload_id. Returns 1 with *out set (new reference), 0 when there is no such upload, -1
 * on a database error. */
int uploads_json(PGconn *c, const char *upload_id, json_t **out) MUSTCHECK;

/* Reads a {"value", "algorithm"} hash object (algorithm defaults to md5): the value must be
 * hex of the algorithm's length. Returns 1 with *alg and a lower-case copy of the value in
 * value (HASH_HEX_MAX bytes), or -1 after answering 400 validation_failed for field. */
int uploads_parse_hash(struct req *r, json_t *h, const char *field, enum hash_alg *alg,
                       char value[HASH_HEX_MAX]) MUSTCHECK;

/* Answers 200 with the upload of res (a statement ending in the access verdict columns and
 * the upload's row), or the error it tells: database, access, or no such upload. */
void uploads_answer_row(struct req *r, const PGresult *res);

/* Answers 409: the upload was purged before it was completed (SETTLE_UPLOAD_TTL). */
void uploads_expired(struct req *r);

#endif
