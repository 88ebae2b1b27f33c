/* housekeep.c: what a worker does besides jobs, on a round of its own: reconciles pending
 * resources, forgets old Idempotency-Keys, purges expired uploads and the trash past its
 * TTL. */
#include "housekeep.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "db.h"
#include "kinds.h"
#include "log.h"
#include "outbox.h"
#include "resource_delete.h"
#include "trash.h"

#define HOUSEKEEP_PURGE_BATCH   100 /* expired uploads purged in one transaction */
#define HOUSEKEEP_PURGE_BATCHES 10  /* batches of one housekeeping round at most */

/* Enqueues kind for every id in the first column of r; adds to *n. 0 or -1. */
static int
housekeep_enqueue_all(PGconn *c, PGresult *r, const char *kind, int *n)
{
	for (int i = 0; i < PQntuples(r); i++) {
		if (outbox_insert(c, kind, db_get(r, i, 0)) < 0)
			return -1;
		log_info("reconcile kind=%s resource=%s", kind, db_get(r, i, 0));
		(*n)++;
	}
	return 0;
}

/* Re-enqueues pending resources (see housekeep.h): the pending_sql of every kind that has
 * one. A transaction-scoped advisory lock keeps two workers from reconciling at the same
 * moment; the loser enqueues nothing. */
int
housekeep_reconcile(PGconn *c, int64_t older_than_s, int *enqueued)
{
	char secs[32];
	PGresult *r = NULL;
	int rc = -1;

	*enqueued = 0;
	snprintf(secs, sizeof(secs), "%lld", (long long)older_than_s);
	const char *p[] = {secs};
	if (db_begin(c) < 0)
		return -1;
	r = db_exec(c, "SELECT pg_try_advisory_xact_lock(7450213)", 0, NULL);
	if (r == NULL)
		goto fail;
	if (!db_get_bool(r, 0, 0)) {
		rc = 0;
		goto fail;
	}
	for (int i = 0; i < kinds_count; i++) {
		if (kinds_all[i]->pending_sql == NULL)
			continue;
		PQclear(r);
		r = db_exec(c, kinds_all[i]->pending_sql, 1, p);
		if (r == NULL || housekeep_enqueue_all(c, r, kinds_all[i]->name, enqueued) < 0)
			goto fail;
	}
	if (db_commit(c) < 0)
		goto out;
	rc = 0;
	goto out;
fail:
	db_rollback(c);
	if (rc < 0)
		*enqueued = 0;
out:
	PQclear(r);
	return rc;
}

/* SQL: the upload alias u is not completed, not purged, and had no activity for $2 seconds:
 * not created, no chunk registered (chunks.created_at) nor stored (stored_at) since. */
#define HOUSEKEEP_SQL_EXPIRED                                                                      \
	"u.completed_at IS NULL AND u.purged_at IS NULL"                                           \
	" AND u.created_at < now() - make_interval(secs => $2)"                                    \
	" AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.upload_id = u.id"                         \
	" AND greatest(c.created_at, c.stored_at) >= now() - make_interval(secs => $2))"

/* Purges one batch of expired uploads (ttl: seconds, as text) in one transaction. The first
 * statement locks up to HOUSEKEEP_PURGE_BATCH of them, skipping any that a chunk registration,
 * storage PUT or complete in flight holds (or another worker purging it); the second
 * selects them again with a fresh snapshot, so an activity committed between the first
 * one's snapshot and its lock spares the upload. Their bytes are deleted and purged_at set
 * before COMMIT releases the locks: a request waiting for one then sees it purged. *purged
 * gets how many. table is unused (housekeep_batch_fn). 0 or -1 (error logged). */
static int
housekeep_purge_batch(PGconn *c, int table, const char *ttl, int *purged)
{
	char limit[16], *err = NULL;
	PGresult *r = NULL;
	int rc = -1;

	(void)table;
	*purged = 0;
	snprintf(limit, sizeof(limit), "%d", HOUSEKEEP_PURGE_BATCH);
	const char *p[] = {limit, ttl};
	if (db_begin(c) < 0)
		return -1;
	r = db_exec(c,
	            "SELECT coalesce(array_agg(id), '{}')::text FROM (SELECT u.id FROM uploads u"
	            " WHERE " HOUSEKEEP_SQL_EXPIRED " ORDER BY u.created_at LIMIT $1"
	            " FOR NO KEY UPDATE OF u SKIP LOCKED) x",
	            2, p);
	if (r == NULL)
		goto fail;
	const char *q[] = {db_get(r, 0, 0), ttl};
	if (resource_delete_purge(
	        c,
	        "SELECT u.id::text, u.storage_container, " RESOURCE_DELETE_SQL_CHUNK_NUMBERS(
	            "u") " FROM uploads u"
	                 " WHERE u.id = ANY($1::uuid[]) AND " HOUSEKEEP_SQL_EXPIRED
	                 " ORDER BY u.id",
	        2, q, purged, &err) < 0) {
		log_warn("upload_purge_failed error=\"%s\"", err);
		goto fail;
	}
	if (db_commit(c) < 0)
		goto out;
	rc = 0;
	goto out;
fail:
	db_rollback(c);
out:
	if (rc < 0)
		*purged = 0;
	free(err);
	PQclear(r);
	return rc;
}

/* Purges one batch of the trash roots of table (folders 0, files 1) deleted more than ttl
 * seconds ago (SETTLE_TRASH_TTL), in one transaction: marks up to HOUSEKEEP_PURGE_BATCH of them
 * purged, skipping rows a restore or purge holds, and queues the resource.delete job of
 * each, which purges what was trashed with it and the bytes. *n gets how many. 0 or -1. */
static int
housekeep_trash_batch(PGconn *c, int files, const char *ttl, int *n)
{
	static const char *const sqls[2] = {
	    TRASH_SQL_PURGE("folders", "SELECT t.id FROM folders t WHERE " TRASH_SQL_ROOT(
	                                   "t") " AND t.deleted_at < now() - make_interval(secs =>"
	                                        " $1) ORDER BY t.deleted_at LIMIT $2"
	                                        " FOR UPDATE SKIP LOCKED"),
	    TRASH_SQL_PURGE("files", "SELECT t.id FROM files t WHERE " TRASH_SQL_ROOT(
	                                 "t") " AND t.deleted_at < now() - make_interval(secs =>"
	                                      " $1) ORDER BY t.deleted_at LIMIT $2"
	                                      " FOR UPDATE SKIP LOCKED"),
	};
	char limit[16];
	PGresult *r = NULL;
	int rc = -1;

	*n = 0;
	snprintf(limit, sizeof(limit), "%d", HOUSEKEEP_PURGE_BATCH);
	const char *p[] = {ttl, limit};
	if (db_begin(c) < 0)
		return -1;
	if ((r = db_exec(c, sqls[files], 2, p)) == NULL)
		goto fail;
	for (int i = 0; i < PQntuples(r); i++) {
		if (outbox_insert(c, JOB_RESOURCE_DELETE, db_get(r, i, 0)) < 0)
			goto fail;
	}
	if (db_commit(c) < 0)
		goto out;
	*n = PQntuples(r);
	rc = 0;
	goto out;
fail:
	db_rollback(c);
out:
	PQclear(r);
	return rc;
}

/* One batch of a housekeeping purge: on c, for table (its own meaning), with ttl (seconds,
 * as text); *n gets how many it purged. 0 or -1. */
typedef int (*housekeep_batch_fn)(PGconn *c, int table, const char *ttl, int *n);

/* Runs batch until one purges less than HOUSEKEEP_PURGE_BATCH, at most
 * HOUSEKEEP_PURGE_BATCHES times (a round stays bounded); adds to *total. 0 or -1. */
static int
housekeep_batches(PGconn *c, housekeep_batch_fn batch, int table, const char *ttl, int *total)
{
	int n = 0;

	for (int i = 0; i < HOUSEKEEP_PURGE_BATCHES; i++) {
		if (batch(c, table, ttl, &n) < 0)
			return -1;
		*total += n;
		if (n < HOUSEKEEP_PURGE_BATCH)
			break;
	}
	return 0;
}

/* Forgets old Idempotency-Keys, then purges expired uploads, then the trash roots (folders,
 * then files) past cfg.trash_ttl, each at most HOUSEKEEP_PURGE_BATCHES batches a round (see
 * housekeep.h). */
int
housekeep_round(PGconn *c)
{
	char ttl[24];
	int total = 0;

	if (db_cmd(c, "DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'",
	           0, NULL) < 0)
		return -1;
	snprintf(ttl, sizeof(ttl), "%lld", (long long)cfg.upload_ttl);
	if (housekeep_batches(c, housekeep_purge_batch, 0, ttl, &total) < 0)
		return -1;
	if (total > 0)
		log_info("uploads_expired purged=%d ttl_s=%s", total, ttl);
	total = 0;
	snprintf(ttl, sizeof(ttl), "%lld", (long long)cfg.trash_ttl);
	for (int files = 0; files < 2; files++)
		if (housekeep_batches(c, housekeep_trash_batch, files, ttl, &total) < 0)
			return -1;
	if (total > 0)
		log_info("trash_expired purged=%d ttl_s=%s", total, ttl);
	return 0;
}
