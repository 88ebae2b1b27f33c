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

#define HOUSEKEEP_PURGE_BATCH   100 /* expired uploads purged in one transaction */
#define HOUSEKEEP_PURGE_BATCHES 10  /* batches of one housekeeping round at most */

/* Enqueues kind for every id in column col of r; adds to *n. 0 or -1. */
static int
housekeep_enqueue_all(PGconn *c, PGresult *r, int col, const char *kind, int *n)
{
	for (int i = 0; i < PQntuples(r); i++) {
		if (outbox_insert(c, kind, db_get(r, i, col)) < 0)
			return -1;
		log_info("reconcile kind=%s resource=%s", kind, db_get(r, i, col));
		(*n)++;
	}
	return 0;
}

/* Re-enqueues pending resources (see housekeep.h): the pending_unit of every kind that has
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
	r = db_exec(c, SQL_HOUSEKEEP_LOCK, NULL);
	if (r == NULL)
		goto fail;
	if (!db_get_bool(r, 0, HOUSEKEEP_LOCK_C_LOCKED)) {
		rc = 0;
		goto fail;
	}
	for (int i = 0; i < kinds_count; i++) {
		const struct job_kind *k = kinds_all[i];
		if (k->pending_unit == SQL_UNIT_COUNT)
			continue;
		PQclear(r);
		r = db_exec(c, k->pending_unit, p);
		if (r == NULL || housekeep_enqueue_all(c, r, k->pending_col, k->name, enqueued) < 0)
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
	r = db_exec(c, SQL_HOUSEKEEP_EXPIRED_LOCK, p);
	if (r == NULL)
		goto fail;
	const char *q[] = {db_get(r, 0, HOUSEKEEP_EXPIRED_LOCK_C_IDS), ttl};
	if (resource_delete_purge(c, SQL_HOUSEKEEP_EXPIRED_UPLOADS, q,
	                          HOUSEKEEP_EXPIRED_UPLOADS_C_ID, purged, &err) < 0) {
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
	static const enum sql_unit units[2] = {SQL_HOUSEKEEP_TRASH_FOLDERS,
	                                       SQL_HOUSEKEEP_TRASH_FILES};
	int col = files ? HOUSEKEEP_TRASH_FILES_C_ID : HOUSEKEEP_TRASH_FOLDERS_C_ID;
	char limit[16];
	PGresult *r = NULL;
	int rc = -1;

	*n = 0;
	snprintf(limit, sizeof(limit), "%d", HOUSEKEEP_PURGE_BATCH);
	const char *p[] = {ttl, limit};
	if (db_begin(c) < 0)
		return -1;
	if ((r = db_exec(c, units[files], p)) == NULL)
		goto fail;
	for (int i = 0; i < PQntuples(r); i++) {
		if (outbox_insert(c, JOB_RESOURCE_DELETE, db_get(r, i, col)) < 0)
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

	if (db_cmd(c, SQL_HOUSEKEEP_FORGET_KEYS, NULL) < 0)
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
