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

#endif
