/* outbox.h: the transactional outbox: jobs written with the resource, published later. */
#ifndef SETTLE_OUTBOX_H
#define SETTLE_OUTBOX_H

#include <libpq-fe.h>

#include "util.h"

/* Inserts a job row (new message id, attempt 1) for kind/resource_id inside the caller's
 * open transaction, and NOTIFYs channel "settle_outbox" (delivered at COMMIT).
 * 0 or -1 (error logged). */
int outbox_insert(PGconn *c, const char *kind, const char *resource_id) MUSTCHECK;

#endif
