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

#endif
