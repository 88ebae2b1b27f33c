/* idempotency.h: "Idempotency-Key" on POST: a repeat with the same key and body gets the
 * first answer again and creates nothing; the same key with another body gets 422. The key
 * and the answer are stored in the same transaction as the handler's writes. */
#ifndef SETTLE_IDEMPOTENCY_H
#define SETTLE_IDEMPOTENCY_H

#include "http.h"

/* Before the handler: opens a transaction and claims the key (waiting for a concurrent
 * request with the same key to finish). Returns 1 when the handler should run, 0 when the
 * request was answered (a replay, 422, 400 or a database error). */
int idempotency_begin(struct req *r) MUSTCHECK;
/* After the handler: stores its answer with the key and commits; a transient answer (a
 * 5xx, or one with Retry-After such as 404 resource_not_consistent) or a handler that rolled
 * back rolls everything back so the key stays free for the repeat. */
void idempotency_end(struct req *r);

#endif
