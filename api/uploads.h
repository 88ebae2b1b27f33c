/* uploads.h: upload JSON builders and checks that files.c shares with uploads.c. */
#ifndef SETTLE_UPLOADS_H
#define SETTLE_UPLOADS_H

#include <jansson.h>
#include <libpq-fe.h>

#include "hash.h"
#include "http.h"

/* The full upload JSON of API.md (kind dds-upload, status, chunks, hashes, …) for
 * upload_id. Returns 1 with *out set (new reference), 0 when there is no such upload, -1
 * on a database error. */
int uploads_json(PGconn *c, const char *upload_id, json_t **out) MUSTCHECK;

/* Reads a {"value", "algorithm"} hash object (algorithm defaults to md5): the value must be
 * hex of the algorithm's length. Returns 1 with *alg and a lower-case copy of the value in
 * value (HASH_HEX_MAX bytes), or -1 after answering 400 validation_failed for field. */
int uploads_parse_hash(struct req *r, json_t *h, const char *field, enum hash_alg *alg,
                       char value[HASH_HEX_MAX]) MUSTCHECK;

/* API.md "Limits on input" for chunks, the one place that chunk registration (uploads.c)
 * and the storage PUT (storage_http.c) both use. SQL, for the chunks of the uploads row
 * alias u: UPLOADS_SQL_MAX_NUMBER, the highest chunk number its size needs at the minimum
 * chunk size `min` (0 counts as 1; one chunk at least); UPLOADS_SQL_ROOM, the bytes left
 * for chunk `number` by the sizes registered for the other numbers (a number registered
 * again replaces its chunk). Registration runs under a share lock of the upload, so
 * concurrent ones may overshoot the room together: the storage PUT checks it again. */
#define UPLOADS_SQL_MAX_NUMBER(min)                                                                \
	"greatest(1, ceil(u.size::numeric / greatest(" min ", 1)))::bigint"
#define UPLOADS_SQL_ROOM(number)                                                                   \
	"(u.size - (SELECT coalesce(sum(lc.size), 0) FROM chunks lc WHERE lc.upload_id = u.id"     \
	" AND lc.number <> (" number ")))::bigint"

#endif
