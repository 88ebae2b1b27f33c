/* jobs.c: the dispatcher: runs one job of any kind in one transaction recorded in job_runs,
 * or a batch of a batchable kind; gives up; backs off. */
#include "jobs.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "kinds.h"
#include "log.h"

#define JOBS_BACKOFF_CAP_MS 60000

/* Returns true if message id j->id already has a row in job_runs that records an effect (a
 * cheap pre-check that spares the work of a duplicate; the INSERT in jobs_run stays the
 * authority). A "gave_up" row committed nothing but the error mark, so the same message,
 * requeued from settle.dead by an operator, runs again. */
static bool
jobs_seen(PGconn *c, const struct job *j)
{
	const char *p[] = {j->id};
	PGresult *r = db_exec(c, SQL_JOBS_SEEN, p);
	bool seen = r != NULL && PQntuples(r) > 0;

	PQclear(r);
	return seen;
}

/* Inserts the job_runs row of j inside the open transaction, or takes over a "gave_up" row
 * of the same message id (a requeued dead letter): 1 recorded, 0 already ran, -1 on
 * error. */
static int
jobs_record(PGconn *c, const struct job *j)
{
	char attempt[16];
	snprintf(attempt, sizeof(attempt), "%d", j->attempt);
	const char *p[] = {j->id, j->kind, j->resource_id, attempt};
	PGresult *r = db_exec(c, SQL_JOBS_RECORD, p);
	int rc = -1;

	if (r == NULL)
		goto out;
	rc = PQntuples(r) > 0 ? 1 : 0;
out:
	PQclear(r);
	return rc;
}

/* True when this run should fail on purpose (SETTLE_FAULT_RATE, tests only). */
static bool
jobs_fault(void)
{
	return cfg.fault_rate > 0 && util_random() < cfg.fault_rate;
}

/* The transaction of jobs_run: BEGIN, record, dispatch, outcome, fault injection, COMMIT. */
static enum job_result
jobs_transaction(PGconn *c, const struct job_kind *k, const struct job *j, char **err)
{
	const char *outcome = "done";
	enum job_result res = JOB_RETRY;
	int rec;

	if (db_begin(c) < 0) {
		*err = xstrdup("database: BEGIN failed");
		return JOB_RETRY;
	}
	rec = jobs_record(c, j);
	if (rec < 0) {
		*err = xstrdup("database: recording the job failed");
		goto fail;
	}
	if (rec == 0) {
		res = JOB_DUPLICATE;
		goto fail;
	}
	res = k->run(c, j, &outcome, err);
	if (res != JOB_DONE)
		goto fail;
	const char *p[] = {j->id, outcome};
	if (db_cmd(c, SQL_JOBS_FINISH, p) < 0) {
		*err = xstrdup("database: updating job_runs failed");
		res = JOB_RETRY;
		goto fail;
	}
	if (db_cmd(c, SQL_JOBS_NOTIFY, (const char *[]){j->resource_id}) < 0) {
		*err = xstrdup("database: notify failed");
		res = JOB_RETRY;
		goto fail;
	}
	if (jobs_fault()) {
		*err = xstrdup("injected fault");
		res = JOB_RETRY;
		goto fail;
	}
	if (db_commit(c) < 0) {
		*err = xstrdup("database: COMMIT failed");
		return JOB_RETRY;
	}
	return JOB_DONE;
fail:
	db_rollback(c);
	return res;
}

/* Runs j on c in one transaction that also records j->id in job_runs (see jobs.h). A job of
 * a batchable kind is a batch of one: it reads and checks first, then commits its verdict
 * and its job_runs row in one statement. */
enum job_result
jobs_run(PGconn *c, const struct job *j, char **err)
{
	const struct job_kind *k = kinds_find(j->kind);
	struct jobs_item it = {.j = j};

	*err = NULL;
	if (k == NULL) {
		*err = xasprintf("unknown job kind %s", j->kind);
		return JOB_INVALID;
	}
	if (!kind_batchable(k)) {
		if (jobs_seen(c, j))
			return JOB_DUPLICATE;
		return jobs_transaction(c, k, j, err);
	}
	k->check(c, &it, 1, INT64_MAX);           /* its load tells duplicates too */
	if (it.res == JOB_DONE && jobs_fault()) { /* fails before its only statement */
		it.res = JOB_RETRY;
		it.err = xstrdup("injected fault");
	} else if (it.res == JOB_DONE && k->commit(c, &it, 1) < 0) {
		it.res = JOB_RETRY;
		it.err = xstrdup("database: recording the verdict failed");
	}
	k->clear(&it.v);
	*err = it.err;
	return it.res;
}

/* The batch's common statement failed: commits each verdict on its own, so a job that
 * breaks the statement fails alone. */
static void
jobs_batch_one_by_one(PGconn *c, const struct job_kind *k, struct jobs_item *items, int n)
{
	for (int i = 0; i < n; i++) {
		if (items[i].res != JOB_DONE || items[i].deferred)
			continue;
		if (PQstatus(c) != CONNECTION_OK || k->commit(c, &items[i], 1) < 0) {
			items[i].res = JOB_RETRY;
			items[i].err = xstrdup("database: recording the verdict failed");
		}
	}
}

/* Runs a batch of jobs of the batchable kind k (see jobs.h). */
void
jobs_run_batch(PGconn *c, const struct job_kind *k, struct jobs_item *items, int n)
{
	/* One transaction for the load and the commit (the reads in between are small), so a
	 * batch costs Postgres one transaction and two round trips: its BEGIN goes with the
	 * load, its COMMIT with the commit statement (db_exec_commit), or alone when the batch
	 * has nothing to commit. */
	bool tx = db_begin(c) == 0;

	k->check(c, items, n, JOBS_BATCH_READ_MAX);
	for (int i = 0; i < n; i++)
		if (items[i].res == JOB_DONE && !items[i].deferred && jobs_fault()) {
			items[i].res = JOB_RETRY;
			items[i].err = xstrdup("injected fault");
		}
	if (k->commit(c, items, n) < 0 || (tx && db_in_transaction(c) && db_commit(c) < 0)) {
		db_rollback(c); /* when the failure left it open */
		jobs_batch_one_by_one(c, k, items, n);
	}
	for (int i = 0; i < n; i++)
		k->clear(&items[i].v);
}

/* Records that j gave up after its last attempt: the error on its resource (its kind's
 * give_up_unit, guarded so that a resource already consistent or already failed is left
 * alone) and a job_runs row with outcome "gave_up". 0 (also for an unknown kind) or -1. */
int
jobs_give_up(PGconn *c, const struct job *j, const char *reason)
{
	const struct job_kind *k = kinds_find(j->kind);
	char attempt[16];
	int rc = -1;

	if (k == NULL)
		return 0;
	snprintf(attempt, sizeof(attempt), "%d", j->attempt);
	char *msg = xasprintf("gave up after %d attempts: %s", j->attempt,
	                      reason != NULL ? reason : "unknown error");
	const char *p[] = {j->resource_id, msg};
	const char *pr[] = {j->id, j->kind, j->resource_id, attempt};

	if (db_begin(c) < 0)
		goto out;
	if (db_cmd(c, k->give_up_unit, p) < 0 || db_cmd(c, SQL_JOBS_GAVE_UP, pr) < 0) {
		db_rollback(c);
		goto out;
	}
	if (db_commit(c) < 0)
		goto out;
	rc = 0;
out:
	free(msg);
	return rc;
}

/* Delay in ms before a run of backoff step `step` (>= 2): a uniform random value in
 * [1, min(cap, cfg.retry_base_ms * 2^(step-2))] (full jitter), cap 60 s. */
int64_t
jobs_backoff_ms(int step)
{
	int64_t ceiling = cfg.retry_base_ms > 0 ? cfg.retry_base_ms : 1;
	int shift = step - 2;

	for (int i = 0; i < shift && ceiling < JOBS_BACKOFF_CAP_MS; i++)
		ceiling *= 2;
	if (ceiling > JOBS_BACKOFF_CAP_MS)
		ceiling = JOBS_BACKOFF_CAP_MS;
	int64_t d = (int64_t)(util_random() * (double)ceiling);
	return d < 1 ? 1 : d;
}

/* The retry policy (see jobs.h). The step of an unavailable run is the first whose ceiling
 * base_ms * 2^(step-2) reaches the job's age, or the cap: each delay is then drawn under
 * about the time the job has already waited, so an outage costs a job O(log(age)) runs up
 * to the cap, then one a minute at most. */
struct jobs_next
jobs_next(const struct job *j, enum job_result res, int max_attempts, int64_t base_ms,
          int64_t now_ms)
{
	struct jobs_next n = {.attempt = j->attempt, .step = 2};
	int64_t ceiling = base_ms > 0 ? base_ms : 1, age = now_ms - j->enqueued_at;

	if (res != JOB_UNAVAILABLE) {
		n.give_up = j->attempt >= max_attempts;
		if (!n.give_up)
			n.attempt = n.step = j->attempt + 1;
		return n;
	}
	for (; ceiling < age && ceiling < JOBS_BACKOFF_CAP_MS; n.step++)
		ceiling *= 2;
	return n;
}
