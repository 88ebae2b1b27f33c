/* jobs.h: the job message and the job functions that settle-worker (and settle-api in
 * inline mode) run. */
#ifndef SETTLE_JOBS_H
#define SETTLE_JOBS_H

#include <libpq-fe.h>
#include <stdint.h>

#include "job.h"
#include "util.h"

enum job_result {
	JOB_DONE = 0,   /* committed (including a permanent failure recorded on the resource) */
	JOB_DUPLICATE,  /* already ran: nothing done */
	JOB_RETRY,      /* transient failure: nothing committed, try again later */
	JOB_INVALID,    /* malformed or unknown job: drop it (dead-letter) */
	JOB_UNAVAILABLE /* storage unavailable (errno EAGAIN): nothing committed; try again
	                   later, as JOB_RETRY, but never give up for it */
};

/* The result of a job whose storage call failed with errno e (see storage.h). */
enum job_result jobs_storage_failed(int e);

/* Runs j on connection c in one transaction that also records j->id in job_runs.
 * *err gets a message (caller frees) on JOB_RETRY / JOB_INVALID / JOB_UNAVAILABLE. */
enum job_result jobs_run(PGconn *c, const struct job *j, char **err);

/* Records that j gave up after its last attempt: sets error_on / error_message on the
 * resource (state-guarded). 0 or -1. */
int jobs_give_up(PGconn *c, const struct job *j, const char *reason) MUSTCHECK;

/* Delay before a run whose backoff step is `step` (>= 2; the attempt number, for a real
 * retry): exponential from cfg.retry_base_ms with full jitter, capped at 60 s. */
int64_t jobs_backoff_ms(int step);

/* What follows a run that ended in JOB_RETRY or JOB_UNAVAILABLE. */
struct jobs_next {
	bool give_up; /* that was the last attempt: record the failure, dead-letter the job */
	int attempt;  /* else the attempt number the next run carries */
	int step;     /* and the backoff step of the delay before it (jobs_backoff_ms,
	                 mq_retry_queue) */
};

/* The retry policy, for the worker's consumer and the inline sink alike. JOB_RETRY uses up
 * an attempt: attempt + 1 and step attempt + 1, or give_up after max_attempts. A run that
 * found storage unavailable (JOB_UNAVAILABLE) uses up none and never gives up: the attempt
 * number stays, and the step grows with the job's age (now_ms - j->enqueued_at) so that the
 * delay's ceiling is about that age, up to the 60 s cap. */
struct jobs_next jobs_next(const struct job *j, enum job_result res, int max_attempts,
                           int64_t base_ms, int64_t now_ms);

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
/* SQL, one column: the chunk numbers registered for uploads row alias u, as a Postgres array
 * text ("{1,2,3}"): the names of its chunks in the store (resource_delete_purge). */
#define JOBS_SQL_CHUNK_NUMBERS(u)                                                                  \
	"(SELECT coalesce(array_agg(c.number ORDER BY c.number), '{}') FROM chunks c"              \
	" WHERE c.upload_id = " u ".id)::text"
/* SQL, one boolean: whether no live file version uses the uploads row alias u: only then
 * are its bytes purged with a deleted version or file (one upload may back several versions
 * of a file: POST /file_versions/{id}/current). */
#define JOBS_SQL_UPLOAD_UNUSED(u)                                                                  \
	"NOT EXISTS (SELECT 1 FROM file_versions uv WHERE uv.upload_id = " u ".id"                 \
	" AND NOT uv.is_deleted)"
/* Deletes through the storage provider the stored bytes of every upload that sql (with
 * its nparams params) selects as (id, storage_container, JOBS_SQL_CHUNK_NUMBERS), by those
 * chunk numbers (no store listing needed), and sets its purged_at, inside
 * the caller's transaction; adds their number to *purged. Missing bytes are fine, so a
 * second run succeeds. resource.delete and the purge of expired uploads both use it.
 * 0, or -1 with *err (caller frees) and errno (EAGAIN: storage is unavailable). */
int resource_delete_purge(PGconn *c, const char *sql, int nparams, const char *const *params,
                          int *purged, char **err) MUSTCHECK;

/* The verdict of an upload.complete check. */
struct upload_verdict {
	bool noop;   /* nothing to do (already consistent or purged) */
	char *error; /* integrity mismatch message, or NULL when the upload is sound */
};

/* One job of a batch (jobs_run_batch, and upload.complete's two steps). */
struct jobs_item {
	const struct job *j;
	enum job_result res; /* out */
	char *err;           /* out: a message unless JOB_DONE / JOB_DUPLICATE; caller frees */
	bool deferred;       /* out: not run, it has too many bytes to read for a batch */
	struct upload_verdict v;
};

/* Runs n upload.complete jobs (distinct or not) as one batch on c, in one transaction: one
 * statement loads every upload with its chunks, the checks run in memory (reading the few
 * stored bytes they need), one statement writes every verdict with its job_runs row and
 * notifies. A
 * job that would read more than JOBS_BATCH_READ_MAX stored bytes is not run: it comes
 * back `deferred`, to be run alone with jobs_run so it never holds the others up. When
 * the common statement fails, each job is committed on its own, so one bad job fails
 * alone. Sets res (and err) of every item. */
#define JOBS_BATCH_READ_MAX (4 * 1024 * 1024)
void jobs_run_batch(PGconn *c, struct jobs_item *items, int n);

/* upload.complete in two steps. check() loads the uploads and chunks of n jobs in one
 * statement and verifies them, reading at most read_max stored bytes a job (more: the job
 * is `deferred`); it sets res to JOB_DONE with a verdict in v, or JOB_DUPLICATE,
 * JOB_INVALID, JOB_RETRY with err. No row locks are held while bytes are read. */
void upload_complete_check(PGconn *c, struct jobs_item *items, int n, int64_t read_max);
/* Commits, in one statement, the verdicts of the items with res JOB_DONE and not deferred,
 * with their job_runs rows, and notifies waiters: each such item becomes JOB_DONE or
 * JOB_DUPLICATE (the message already ran, or an earlier item has the same message id).
 * consistent_at is the time of the statement. 0, or -1 if the statement failed (the
 * items with a repeated message id are marked duplicates even then). */
int upload_complete_commit(PGconn *c, struct jobs_item *items, int n) MUSTCHECK;
/* Frees what check() stored in v. */
void upload_complete_verdict_clear(struct upload_verdict *v);

/* Housekeeping run with reconcile: forgets Idempotency-Keys older than 24 hours, then purges
 * uploads not completed and without activity (creation, chunk registration, storage PUT)
 * for cfg.upload_ttl seconds, in bounded batches, then purges the trash roots deleted more
 * than cfg.trash_ttl seconds ago (through their resource.delete jobs). Safe with any number
 * of workers at once.
 * 0 or -1 (error logged). */
int jobs_housekeep(PGconn *c) MUSTCHECK;

#endif
