/* jobs.h: the job message and the job functions that settle-worker (and settle-api in
 * inline mode) run. */
#ifndef SETTLE_JOBS_H
#define SETTLE_JOBS_H

#include <libpq-fe.h>
#include <stdint.h>

#include "job.h"
#include "util.h"

enum job_result {
	JOB_DONE = 0,  /* committed (including a permanent failure recorded on the resource) */
	JOB_DUPLICATE, /* already ran: nothing done */
	JOB_RETRY,     /* transient failure: nothing committed, try again later */
	JOB_INVALID    /* malformed or unknown job: drop it (dead-letter) */
};

/* Runs j on connection c in one transaction that also records j->id in job_runs.
 * *err gets a message (caller frees) on JOB_RETRY / JOB_INVALID. */
enum job_result jobs_run(PGconn *c, const struct job *j, char **err);

/* Records that j gave up after its last attempt: sets error_on / error_message on the
 * resource (state-guarded). 0 or -1. */
int jobs_give_up(PGconn *c, const struct job *j, const char *reason) MUSTCHECK;

/* Delay before attempt `next_attempt` (>= 2): exponential from cfg.retry_base_ms with
 * full jitter, capped. */
int64_t jobs_backoff_ms(int next_attempt);

/* Runs jobs reconciliation on c: in one transaction, re-enqueues through the outbox every
 * project not consistent (no error, not deleted) created more than older_than_s seconds ago
 * and every completed, unpurged upload not consistent (no error) completed more than
 * older_than_s seconds ago, skipping resources that already have an unsent outbox row.
 * *enqueued gets the number of jobs written. 0 or -1 (error logged). */
int jobs_reconcile(PGconn *c, int64_t older_than_s, int *enqueued) MUSTCHECK;

struct relay_sink;
/* The sink of settle-api's inline mode: runs each job with jobs_run on its own Postgres
 * connection to cfg.database_url (opened on first use). The caller owns the returned sink
 * and releases it with its free(). */
struct relay_sink jobs_inline_sink(void);

/* The job handlers, one file each; called by jobs_run only. run() executes inside the
 * transaction of jobs_run and sets *outcome to a static word recorded in job_runs. */
enum job_result project_initialize_run(PGconn *c, const struct job *j, const char **outcome,
                                       char **err);
enum job_result resource_delete_run(PGconn *c, const struct job *j, const char **outcome,
                                    char **err);

/* upload.complete runs in two steps: check() reads and hashes the stored bytes before the
 * transaction (no row locks held) and fills *v; apply() writes the verdict inside it. */
struct upload_verdict {
	bool noop;   /* nothing to do (already consistent or purged) */
	char *error; /* integrity mismatch message, or NULL when the upload is sound */
};
enum job_result upload_complete_check(PGconn *c, const struct job *j, struct upload_verdict *v,
                                      char **err);
enum job_result upload_complete_apply(PGconn *c, const struct job *j,
                                      const struct upload_verdict *v, const char **outcome,
                                      char **err);
/* Commits the verdict of check() and records the job in one statement: JOB_DONE,
 * JOB_DUPLICATE (the message already ran), or JOB_RETRY with *err. */
enum job_result upload_complete_commit(PGconn *c, const struct job *j,
                                       const struct upload_verdict *v, char **err);
/* Frees what check() stored in v. */
void upload_complete_verdict_clear(struct upload_verdict *v);

/* Housekeeping run with reconcile: forgets Idempotency-Keys older than 24 hours. 0 or -1. */
int jobs_housekeep(PGconn *c) MUSTCHECK;

#endif
