/* outbox.h: the transactional outbox: jobs written with the resource, published later. */
#ifndef SETTLE_OUTBOX_H
#define SETTLE_OUTBOX_H

#include <libpq-fe.h>

#include "util.h"

/* SQL of a data-modifying CTE named outbox_job, for a statement that writes a resource and
 * queues its job at once: inserts an outbox row (id, kind, resource_id) = (id, kind,
 * resource), three SQL expressions (id and kind typically parameters cast to uuid and
 * text, kind one of the JOB_* of job.h), for each row of the FROM list `from` (typically
 * the CTE that wrote the resource, so that no job is queued when nothing was written; it
 * must yield at most one row, there being one message id), and NOTIFYs channel
 * settle_outbox for it (delivered at COMMIT). Being data-modifying, it runs whether or not
 * the rest of the statement reads it; it returns resource_id. */
/* clang-format off */
#define OUTBOX_SQL_CTE(id, kind, resource, from) \
	"outbox_job AS (INSERT INTO outbox (id, kind, resource_id)" \
	" SELECT " id ", " kind ", " resource " FROM " from \
	" RETURNING resource_id)"
/* clang-format on */

/* Inserts a job row (new message id, attempt 1) for kind/resource_id inside the caller's
 * open transaction, and NOTIFYs channel "settle_outbox" (delivered at COMMIT).
 * 0 or -1 (error logged). */
int outbox_insert(PGconn *c, const char *kind, const char *resource_id) MUSTCHECK;

#endif
