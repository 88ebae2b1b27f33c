/* housekeep.h: what a worker does besides jobs, on its housekeeping thread (settle-worker's
 * housekeeper.c) and through `settle reconcile`. Every function here is safe with any number
 * of workers at once, and may wait on storage for long (a Swift delete: up to 600 s). */
#ifndef SETTLE_HOUSEKEEP_H
#define SETTLE_HOUSEKEEP_H

#include <libpq-fe.h>
#include <stdint.h>

#include "util.h"

/* Runs jobs reconciliation on c: in one transaction, re-enqueues through the outbox every
 * resource that a kind's pending_unit selects as pending for more than older_than_s seconds
 * (a project not consistent, no error, not deleted; a completed, unpurged upload not
 * consistent, no error), skipping resources that already have an unsent outbox row.
 * *enqueued gets the number of jobs written. 0 or -1 (error logged). */
int housekeep_reconcile(PGconn *c, int64_t older_than_s, int *enqueued) MUSTCHECK;

/* One round after reconcile: forgets Idempotency-Keys older than 24 hours, then purges
 * uploads not completed and without activity (creation, chunk registration, storage PUT)
 * for cfg.upload_ttl seconds, in bounded batches, then purges the trash roots deleted more
 * than cfg.trash_ttl seconds ago (through their resource.delete jobs). 0 or -1 (error
 * logged). */
int housekeep_round(PGconn *c) MUSTCHECK;

#endif
