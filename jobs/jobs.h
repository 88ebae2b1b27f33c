/* jobs.h: the dispatcher: runs a job of any kind (kinds.h) in one transaction recorded in
 * job_runs, or a batch of a batchable kind, gives a job up after its last attempt, and says
 * what follows a failed run (the retry policy). settle-worker's consumer and the inline sink
 * of settle-api (inline.h) call it. */
#ifndef SETTLE_JOBS_H
#define SETTLE_JOBS_H

#include <libpq-fe.h>
#include <stdint.h>

#include "kind.h"
#include "util.h"

/* Runs j on connection c in one transaction that also records j->id in job_runs.
 * *err gets a message (caller frees) on JOB_RETRY / JOB_INVALID / JOB_UNAVAILABLE. */
enum job_result jobs_run(PGconn *c, const struct job *j, char **err);

/* Records that j gave up after its last attempt: sets error_on / error_message on the
 * resource (its kind's give_up_unit, state-guarded). 0 or -1. */
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

/* Runs n jobs of one batchable kind k (distinct or not) as one batch on c, in one
 * transaction: k->check loads them all and runs the checks in memory (reading the few stored
 * bytes they need), k->commit writes every verdict with its job_runs row and notifies. A
 * job that would read more than JOBS_BATCH_READ_MAX stored bytes is not run: it comes back
 * `deferred`, to be run alone with jobs_run so it never holds the others up. When the
 * common statement fails, each job is committed on its own, so one bad job fails alone.
 * Sets res (and err) of every item. */
#define JOBS_BATCH_READ_MAX (4 * 1024 * 1024)
void jobs_run_batch(PGconn *c, const struct job_kind *k, struct jobs_item *items, int n);

#endif
