/* jobs.c: runs one job in one transaction recorded in job_runs, gives up, backs off,
 * reconciles pending resources, purges expired uploads, and the inline sink of
 * settle-api. */
#include "jobs.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "outbox.h"
#include "relay.h"
#include "trash.h"

#define JOBS_BACKOFF_CAP_MS 60000
#define JOBS_PURGE_BATCH    100 /* expired uploads purged in one transaction */
#define JOBS_PURGE_BATCHES  10  /* batches of one housekeeping round at most */

/* Returns true if message id j->id already has a row in job_runs that records an effect (a
 * cheap pre-check that spares the work of a duplicate; the INSERT in jobs_run stays the
 * authority). A "gave_up" row committed nothing but the error mark, so the same message,
 * requeued from settle.dead by an operator, runs again. */
static bool
jobs_seen(PGconn *c, const struct job *j)
{
	const char *p[] = {j->id};
	PGresult *r = db_exec(c,
	                      "SELECT 1 FROM job_runs WHERE message_id = $1"
	                      " AND outcome <> 'gave_up'",
	                      1, p);
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
	PGresult *r =
	    db_exec(c,
	            "INSERT INTO job_runs (message_id, kind, resource_id, attempt, outcome)"
	            " VALUES ($1, $2, $3, $4, 'running')"
	            " ON CONFLICT (message_id) DO UPDATE SET attempt = EXCLUDED.attempt,"
	            " outcome = 'running', finished_at = now()"
	            " WHERE job_runs.outcome = 'gave_up' RETURNING 1",
	            4, p);
	int rc = -1;

	if (r == NULL)
		goto out;
	rc = PQntuples(r) > 0 ? 1 : 0;
out:
	PQclear(r);
	return rc;
}

enum job_result
jobs_storage_failed(int e)
{
	return e == EAGAIN ? JOB_UNAVAILABLE : JOB_RETRY;
}

/* True when this run should fail on purpose (SETTLE_FAULT_RATE, tests only). */
static bool
jobs_fault(void)
{
	return cfg.fault_rate > 0 && util_random() < cfg.fault_rate;
}

/* Dispatches j to its handler inside the transaction. */
static enum job_result
jobs_dispatch(PGconn *c, const struct job *j, const char **outcome, char **err)
{
	if (strcmp(j->kind, JOB_PROJECT_INITIALIZE) == 0)
		return project_initialize_run(c, j, outcome, err);
	if (strcmp(j->kind, JOB_RESOURCE_DELETE) == 0)
		return resource_delete_run(c, j, outcome, err);
	*err = xasprintf("unknown job kind %s", j->kind);
	return JOB_INVALID;
}

/* The transaction of jobs_run: BEGIN, record, dispatch, outcome, fault injection, COMMIT. */
static enum job_result
jobs_transaction(PGconn *c, const struct job *j, char **err)
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
	res = jobs_dispatch(c, j, &outcome, err);
	if (res != JOB_DONE)
		goto fail;
	const char *p[] = {j->id, outcome};
	if (db_cmd(c, "UPDATE job_runs SET outcome = $2, finished_at = now() WHERE message_id = $1",
	           2, p) < 0) {
		*err = xstrdup("database: updating job_runs failed");
		res = JOB_RETRY;
		goto fail;
	}
	/* Wakes API requests waiting (Prefer: wait) for this resource or, for an upload, its
	 * project; delivered at COMMIT. */
	if (db_cmd(c,
	           "SELECT pg_notify('settle_consistent', $1), pg_notify('settle_consistent',"
	           " coalesce((SELECT project_id::text FROM uploads WHERE id = $1::uuid), $1))",
	           1, (const char *[]){j->resource_id}) < 0) {
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

/* Runs j on c in one transaction that also records j->id in job_runs (see jobs.h). An
 * upload.complete job reads and hashes its bytes first, then commits its verdict and its
 * job_runs row in one statement: the batch's path with a batch of one. */
enum job_result
jobs_run(PGconn *c, const struct job *j, char **err)
{
	struct jobs_item it = {.j = j};

	*err = NULL;
	if (!job_kind_valid(j->kind)) {
		*err = xasprintf("unknown job kind %s", j->kind);
		return JOB_INVALID;
	}
	if (strcmp(j->kind, JOB_UPLOAD_COMPLETE) != 0) {
		if (jobs_seen(c, j))
			return JOB_DUPLICATE;
		return jobs_transaction(c, j, err);
	}
	upload_complete_check(c, &it, 1, INT64_MAX); /* its load tells duplicates too */
	if (it.res == JOB_DONE && jobs_fault()) {    /* fails before its only statement */
		it.res = JOB_RETRY;
		it.err = xstrdup("injected fault");
	} else if (it.res == JOB_DONE && upload_complete_commit(c, &it, 1) < 0) {
		it.res = JOB_RETRY;
		it.err = xstrdup("database: recording the upload's verdict failed");
	}
	upload_complete_verdict_clear(&it.v);
	*err = it.err;
	return it.res;
}

/* The batch's common statement failed: commits each verdict on its own, so a job that
 * breaks the statement fails alone. */
static void
jobs_batch_one_by_one(PGconn *c, struct jobs_item *items, int n)
{
	for (int i = 0; i < n; i++) {
		if (items[i].res != JOB_DONE || items[i].deferred)
			continue;
		if (PQstatus(c) != CONNECTION_OK || upload_complete_commit(c, &items[i], 1) < 0) {
			items[i].res = JOB_RETRY;
			items[i].err = xstrdup("database: recording the upload's verdict failed");
		}
	}
}

/* Runs a batch of upload.complete jobs (see jobs.h). */
void
jobs_run_batch(PGconn *c, struct jobs_item *items, int n)
{
	/* One transaction for the load and the commit (the reads in between are small), so a
	 * batch costs Postgres one transaction. */
	bool tx = db_begin(c) == 0;

	upload_complete_check(c, items, n, JOBS_BATCH_READ_MAX);
	for (int i = 0; i < n; i++)
		if (items[i].res == JOB_DONE && !items[i].deferred && jobs_fault()) {
			items[i].res = JOB_RETRY;
			items[i].err = xstrdup("injected fault");
		}
	if (upload_complete_commit(c, items, n) < 0 || (tx && db_commit(c) < 0)) {
		if (tx)
			db_rollback(c);
		jobs_batch_one_by_one(c, items, n);
	}
	for (int i = 0; i < n; i++)
		upload_complete_verdict_clear(&items[i].v);
}

/* Records that j gave up after its last attempt: error_at / error_message on the upload
 * (upload.complete) or the project (project.initialize, resource.delete of a project),
 * guarded so that a resource already consistent or already failed is left alone; and a
 * job_runs row with outcome "gave_up". 0 or -1. */
int
jobs_give_up(PGconn *c, const struct job *j, const char *reason)
{
	const char *sql = NULL;
	char attempt[16];
	int rc = -1;

	if (strcmp(j->kind, JOB_UPLOAD_COMPLETE) == 0)
		sql = "UPDATE uploads SET error_at = now(), error_message = $2"
		      " WHERE id = $1 AND NOT is_consistent AND error_at IS NULL";
	else if (strcmp(j->kind, JOB_PROJECT_INITIALIZE) == 0)
		sql = "UPDATE projects SET error_at = now(), error_message = $2"
		      " WHERE id = $1 AND NOT is_consistent AND error_at IS NULL";
	else if (strcmp(j->kind, JOB_RESOURCE_DELETE) == 0)
		sql = "UPDATE projects SET error_at = now(), error_message = $2"
		      " WHERE id = $1 AND error_at IS NULL";
	if (sql == NULL)
		return 0;
	snprintf(attempt, sizeof(attempt), "%d", j->attempt);
	char *msg = xasprintf("gave up after %d attempts: %s", j->attempt,
	                      reason != NULL ? reason : "unknown error");
	const char *p[] = {j->resource_id, msg};
	const char *pr[] = {j->id, j->kind, j->resource_id, attempt};

	if (db_begin(c) < 0)
		goto out;
	if (db_cmd(c, sql, 2, p) < 0 ||
	    db_cmd(c,
	           "INSERT INTO job_runs (message_id, kind, resource_id, attempt, outcome)"
	           " VALUES ($1, $2, $3, $4, 'gave_up') ON CONFLICT (message_id) DO NOTHING",
	           4, pr) < 0) {
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

/* Enqueues kind for every id in the first column of r; adds to *n. 0 or -1. */
static int
jobs_enqueue_all(PGconn *c, PGresult *r, const char *kind, int *n)
{
	for (int i = 0; i < PQntuples(r); i++) {
		if (outbox_insert(c, kind, db_get(r, i, 0)) < 0)
			return -1;
		log_info("reconcile kind=%s resource=%s", kind, db_get(r, i, 0));
		(*n)++;
	}
	return 0;
}

/* Re-enqueues pending resources (see jobs.h). A transaction-scoped advisory lock keeps two
 * workers from reconciling at the same moment; the loser enqueues nothing. */
int
jobs_reconcile(PGconn *c, int64_t older_than_s, int *enqueued)
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
	PQclear(r);
	r = db_exec(c,
	            "SELECT p.id FROM projects p WHERE NOT p.is_consistent AND p.error_at IS NULL"
	            " AND NOT p.is_deleted AND p.created_at < now() - make_interval(secs => $1)"
	            " AND NOT EXISTS (SELECT 1 FROM outbox o"
	            " WHERE o.resource_id = p.id)",
	            1, p);
	if (r == NULL || jobs_enqueue_all(c, r, JOB_PROJECT_INITIALIZE, enqueued) < 0)
		goto fail;
	PQclear(r);
	r = db_exec(c,
	            "SELECT u.id FROM uploads u WHERE u.completed_at IS NOT NULL"
	            " AND NOT u.is_consistent AND u.error_at IS NULL AND u.purged_at IS NULL"
	            " AND u.completed_at < now() - make_interval(secs => $1)"
	            " AND NOT EXISTS (SELECT 1 FROM outbox o"
	            " WHERE o.resource_id = u.id)",
	            1, p);
	if (r == NULL || jobs_enqueue_all(c, r, JOB_UPLOAD_COMPLETE, enqueued) < 0)
		goto fail;
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

/* The inline sink's state: a lazily opened connection. */
struct jobs_inline {
	PGconn *conn;
};

/* Returns the sink's connection, (re)opening it when missing or broken; NULL if down. */
static PGconn *
jobs_inline_conn(struct jobs_inline *s)
{
	if (s->conn != NULL && PQstatus(s->conn) != CONNECTION_OK) {
		PQfinish(s->conn);
		s->conn = NULL;
	}
	if (s->conn == NULL)
		s->conn = db_connect(cfg.database_url, 1);
	return s->conn;
}

/* relay_sink.deliver: runs j now. 0 handed over for good, 1 retry as *retry says (the
 * policy of jobs_next), -1 when the database is unreachable. */
static int
jobs_inline_deliver(void *arg, const struct job *j, const char *body, struct relay_retry *retry)
{
	struct jobs_inline *s = arg;
	PGconn *c = jobs_inline_conn(s);
	char *err = NULL;
	int64_t t0 = util_now_ms();
	int rc = 0;

	(void)body;
	if (c == NULL)
		return -1;
	log_set_id(j->id);
	enum job_result res = jobs_run(c, j, &err);
	static const char *const names[] = {"done", "duplicate", "retry", "invalid", "unavailable"};
	if (err != NULL)
		log_info("job kind=%s resource=%s attempt=%d outcome=%s ms=%lld error=\"%s\"",
		         j->kind, j->resource_id, j->attempt, names[res],
		         (long long)(util_now_ms() - t0), err);
	else
		log_info("job kind=%s resource=%s attempt=%d outcome=%s ms=%lld", j->kind,
		         j->resource_id, j->attempt, names[res], (long long)(util_now_ms() - t0));
	if (res != JOB_RETRY && res != JOB_UNAVAILABLE)
		goto out;
	if (PQstatus(c) != CONNECTION_OK) {
		rc = -1; /* the database went away: not the job's fault, keep its attempt */
		goto out;
	}
	struct jobs_next next =
	    jobs_next(j, res, cfg.max_attempts, cfg.retry_base_ms, util_now_ms());
	if (!next.give_up) {
		retry->attempt = next.attempt;
		retry->delay_ms = jobs_backoff_ms(next.step);
		rc = 1;
		goto out;
	}
	if (jobs_give_up(c, j, err) < 0) {
		rc = -1;
		goto out;
	}
	log_warn("job_gave_up kind=%s resource=%s attempt=%d", j->kind, j->resource_id, j->attempt);
out:
	free(err);
	log_set_id(NULL);
	return rc;
}

/* relay_sink.reset: drops and re-opens the connection. 0 when connected, else -1. */
static int
jobs_inline_reset(void *arg)
{
	struct jobs_inline *s = arg;

	if (s->conn != NULL)
		PQfinish(s->conn);
	s->conn = db_connect(cfg.database_url, 1);
	return s->conn != NULL ? 0 : -1;
}

/* relay_sink.free: closes the connection and frees the state. */
static void
jobs_inline_free(void *arg)
{
	struct jobs_inline *s = arg;

	if (s == NULL)
		return;
	if (s->conn != NULL)
		PQfinish(s->conn);
	free(s);
}

/* The inline sink (see jobs.h). The sink owns its state; call its free() when done. */
struct relay_sink
jobs_inline_sink(void)
{
	struct relay_sink sink = {
	    .deliver = jobs_inline_deliver,
	    .reset = jobs_inline_reset,
	    .free = jobs_inline_free,
	    .arg = xcalloc(1, sizeof(struct jobs_inline)),
	};
	return sink;
}

/* SQL: the upload alias u is not completed, not purged, and had no activity for $2 seconds:
 * not created, no chunk registered (chunks.created_at) nor stored (stored_at) since. */
#define JOBS_SQL_EXPIRED                                                                           \
	"u.completed_at IS NULL AND u.purged_at IS NULL"                                           \
	" AND u.created_at < now() - make_interval(secs => $2)"                                    \
	" AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.upload_id = u.id"                         \
	" AND greatest(c.created_at, c.stored_at) >= now() - make_interval(secs => $2))"

/* Purges one batch of expired uploads (ttl: seconds, as text) in one transaction. The first
 * statement locks up to JOBS_PURGE_BATCH of them, skipping any that a chunk registration,
 * storage PUT or complete in flight holds (or another worker purging it); the second
 * selects them again with a fresh snapshot, so an activity committed between the first
 * one's snapshot and its lock spares the upload. Their bytes are deleted and purged_at set
 * before COMMIT releases the locks: a request waiting for one then sees it purged. *purged
 * gets how many. 0 or -1 (error logged). */
static int
jobs_purge_batch(PGconn *c, const char *ttl, int *purged)
{
	char limit[16], *err = NULL;
	PGresult *r = NULL;
	int rc = -1;

	*purged = 0;
	snprintf(limit, sizeof(limit), "%d", JOBS_PURGE_BATCH);
	const char *p[] = {limit, ttl};
	if (db_begin(c) < 0)
		return -1;
	r = db_exec(c,
	            "SELECT coalesce(array_agg(id), '{}')::text FROM (SELECT u.id FROM uploads u"
	            " WHERE " JOBS_SQL_EXPIRED " ORDER BY u.created_at LIMIT $1"
	            " FOR NO KEY UPDATE OF u SKIP LOCKED) x",
	            2, p);
	if (r == NULL)
		goto fail;
	const char *q[] = {db_get(r, 0, 0), ttl};
	if (resource_delete_purge(c,
	                          "SELECT u.id::text, u.storage_container, " JOBS_SQL_CHUNK_NUMBERS(
	                              "u") " FROM uploads u"
	                                   " WHERE u.id = ANY($1::uuid[]) AND " JOBS_SQL_EXPIRED
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

/* Purges one batch of the trash roots of table (folders or files) deleted more than ttl
 * seconds ago (SETTLE_TRASH_TTL), in one transaction: marks up to JOBS_PURGE_BATCH of them
 * purged, skipping rows a restore or purge holds, and queues the resource.delete job of
 * each, which purges what was trashed with it and the bytes. *n gets how many. 0 or -1. */
static int
jobs_trash_batch(PGconn *c, bool files, const char *ttl, int *n)
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
	snprintf(limit, sizeof(limit), "%d", JOBS_PURGE_BATCH);
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

/* Purges the trash roots older than cfg.trash_ttl, at most JOBS_PURGE_BATCHES batches of
 * folders and of files a round. 0 or -1. */
static int
jobs_trash_expire(PGconn *c)
{
	char ttl[24];
	int n = 0, total = 0;

	snprintf(ttl, sizeof(ttl), "%lld", (long long)cfg.trash_ttl);
	for (int files = 0; files < 2; files++) {
		for (int i = 0; i < JOBS_PURGE_BATCHES; i++) {
			if (jobs_trash_batch(c, files, ttl, &n) < 0)
				return -1;
			total += n;
			if (n < JOBS_PURGE_BATCH)
				break;
		}
	}
	if (total > 0)
		log_info("trash_expired purged=%d ttl_s=%s", total, ttl);
	return 0;
}

/* Forgets old Idempotency-Keys, then purges expired uploads, at most JOBS_PURGE_BATCHES
 * batches a round, then the trash past its TTL (see jobs.h). */
int
jobs_housekeep(PGconn *c)
{
	char ttl[24];
	int n = 0, total = 0;

	if (db_cmd(c, "DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'",
	           0, NULL) < 0)
		return -1;
	snprintf(ttl, sizeof(ttl), "%lld", (long long)cfg.upload_ttl);
	for (int i = 0; i < JOBS_PURGE_BATCHES; i++) {
		if (jobs_purge_batch(c, ttl, &n) < 0)
			return -1;
		total += n;
		if (n < JOBS_PURGE_BATCH)
			break;
	}
	if (total > 0)
		log_info("uploads_expired purged=%d ttl_s=%s", total, ttl);
	return jobs_trash_expire(c);
}
