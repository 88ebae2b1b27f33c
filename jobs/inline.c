/* inline.c: the sink of settle-api's (and `settle relay`'s) inline mode: runs each job at
 * once with the dispatcher (jobs.h) instead of publishing it to RabbitMQ. */
#include "inline.h"

#include <stdlib.h>

#include "config.h"
#include "db.h"
#include "jobs.h"
#include "log.h"

/* The inline sink's state: a lazily opened connection. */
struct inline_state {
	PGconn *conn;
};

/* Returns the sink's connection, (re)opening it when missing or broken; NULL if down. */
static PGconn *
inline_conn(struct inline_state *s)
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
inline_deliver(void *arg, const struct job *j, const char *body, struct relay_retry *retry)
{
	struct inline_state *s = arg;
	PGconn *c = inline_conn(s);
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
inline_reset(void *arg)
{
	struct inline_state *s = arg;

	if (s->conn != NULL)
		PQfinish(s->conn);
	s->conn = db_connect(cfg.database_url, 1);
	return s->conn != NULL ? 0 : -1;
}

/* relay_sink.free: closes the connection and frees the state. */
static void
inline_free(void *arg)
{
	struct inline_state *s = arg;

	if (s == NULL)
		return;
	if (s->conn != NULL)
		PQfinish(s->conn);
	free(s);
}

/* The inline sink (see inline.h). The sink owns its state; call its free() when done. */
struct relay_sink
inline_sink(void)
{
	struct relay_sink sink = {
	    .deliver = inline_deliver,
	    .reset = inline_reset,
	    .free = inline_free,
	    .arg = xcalloc(1, sizeof(struct inline_state)),
	};
	return sink;
}
