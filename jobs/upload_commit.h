/* upload_commit.h: step two of the upload.complete job (see upload_complete.h). */
#ifndef SETTLE_UPLOAD_COMMIT_H
#define SETTLE_UPLOAD_COMMIT_H

#include "kind.h"
#include "util.h"

/* Commits, in one statement, the verdicts of the items with res JOB_DONE and not deferred,
 * with their job_runs rows, and notifies waiters: each such item becomes JOB_DONE or
 * JOB_DUPLICATE (the message already ran, or an earlier item has the same message id).
 * consistent_at is the time of the statement. 0, or -1 if the statement failed (the items
 * with a repeated message id are marked duplicates even then). */
int upload_commit_run(PGconn *c, struct jobs_item *items, int n) MUSTCHECK;
/* Frees what check stored in v and resets it. */
void upload_commit_clear(struct job_verdict *v);

#endif
