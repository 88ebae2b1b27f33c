/* idempotency.c: Idempotency-Key claims and stored answers. */
#include "idempotency.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "hash.h"
#include "log.h"

#define IDEMPOTENCY_KEY_MAX 255

/* True when key is 1 to IDEMPOTENCY_KEY_MAX printable ASCII bytes (API.md "Limits on
 * input"): the key is stored as text, which must be valid in the database's encoding. */
static bool
idempotency_key_valid(const char *key)
{
	size_t n = strlen(key);

	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
			return false;
	}
	return n >= 1 && n <= IDEMPOTENCY_KEY_MAX;
}

/* sha256 over method, path and body, NUL-separated. */
static void
idempotency_hash(struct req *r, char out[HASH_HEX_MAX])
{
	struct hash_set *h = hash_set_new(1u << HASH_SHA256);
	char digests[HASH_ALG_COUNT][HASH_HEX_MAX];

	hash_set_update(h, r->method, strlen(r->method) + 1);
	hash_set_update(h, r->path, strlen(r->path) + 1);
	if (r->body_len > 0)
		hash_set_update(h, r->body, r->body_len);
	hash_set_final(h, digests);
	memcpy(out, digests[HASH_SHA256], HASH_HEX_MAX);
}

/* Answers with the stored answer of an earlier request, or 422 if its body differed. */
static void
idempotency_replay(struct req *r, const char *key, const char *hash)
{
	const char *q[] = {r->user_id, key};
	PGresult *res = db_exec(r->db, SQL_IDEMPOTENCY_REPLAY, q);

	if (res == NULL || PQntuples(res) == 0 ||
	    db_get(res, 0, IDEMPOTENCY_REPLAY_C_RESPONSE_STATUS) == NULL) {
		http_db_error(r);
	} else if (strcmp(db_get(res, 0, IDEMPOTENCY_REPLAY_C_REQUEST_HASH), hash) != 0) {
		http_error(r, 422, "idempotency_key_reused",
		           "this Idempotency-Key was used with a different request",
		           "use a new key for a new request");
	} else {
		const char *body = db_get(res, 0, IDEMPOTENCY_REPLAY_C_RESPONSE_BODY);
		body = body != NULL ? body : "";
		struct MHD_Response *resp = MHD_create_response_from_buffer(
		    strlen(body), xstrdup(body), MHD_RESPMEM_MUST_FREE);
		MHD_add_response_header(resp, "Content-Type", "application/json");
		http_raw(r, (int)db_get_i64(res, 0, IDEMPOTENCY_REPLAY_C_RESPONSE_STATUS), resp);
		http_header(r, "Idempotent-Replayed", "true");
	}
	PQclear(res);
}

int
idempotency_begin(struct req *r)
{
	const char *key = http_req_header(r, "Idempotency-Key");
	char hash[HASH_HEX_MAX];
	PGresult *res;

	if (!idempotency_key_valid(key)) {
		http_invalid(r, "Idempotency-Key", "must be 1 to 255 printable ASCII characters");
		return 0;
	}
	idempotency_hash(r, hash);
	const char *q[] = {r->user_id, key, r->method, r->path, hash};
	if (db_begin(r->db) < 0) {
		http_db_error(r);
		return 0;
	}
	/* Blocks while a concurrent request holds the same key, until it commits or not. */
	res = db_exec(r->db, SQL_IDEMPOTENCY_CLAIM, q);
	if (res == NULL) {
		db_rollback(r->db);
		http_db_error(r);
		return 0;
	}
	if (PQntuples(res) == 1) {
		PQclear(res);
		r->idempotent = true;
		return 1;
	}
	PQclear(res);
	idempotency_replay(r, key, hash);
	db_rollback(r->db);
	return 0;
}

/* True when the handler's answer is final, so that a repeat must get it again: not a 5xx
 * (503 included), nor an answer that says Retry-After (404 resource_not_consistent, and
 * every 503): those say "not now", and a repeat must run the request again. */
static bool
idempotency_final(const struct req *r)
{
	return r->response != NULL && r->status < 500 && !http_has_header(r, "Retry-After");
}

void
idempotency_end(struct req *r)
{
	const char *key = http_req_header(r, "Idempotency-Key");
	char status[16];

	r->idempotent = false;
	snprintf(status, sizeof(status), "%d", r->status);
	const char *q[] = {r->user_id, key, status, r->answer_body};
	if (!idempotency_final(r)) {
		db_rollback(r->db);
		return;
	}
	/* The answer kept and the COMMIT in one round trip; on failure nothing was kept, and
	 * the answer the handler built is void. */
	PGresult *res = db_exec_commit(r->db, SQL_IDEMPOTENCY_STORE, q);
	if (res == NULL)
		http_db_error(r);
	PQclear(res);
}
