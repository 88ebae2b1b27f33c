/* relay_batch.c: one batch of the outbox relay: claims due rows in a transaction, hands them
 * to the sink, retires the delivered rows into message_log and reschedules the put-off ones. */
#include "relay_internal.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "log.h"

#define RELAY_BAD_ROW_MS 3600000
#define RELAY_JOIN_MS    50

/* A growing list literal passed as one query parameter: a Postgres array "{a,b,c}" of
 * plain items (uuids, numbers) or, with open '[', a JSON array of JSON texts. */
struct relay_array {
	char open, close;
	char *s;
	size_t len, cap;
	int n;
};

#define RELAY_PG_ARRAY                                                                             \
	{                                                                                          \
		.open = '{', .close = '}'                                                          \
	}
#define RELAY_JSON_ARRAY                                                                           \
	{                                                                                          \
		.open = '[', .close = ']'                                                          \
	}

static void
relay_batch_array_put(struct relay_array *a, char sep, const char *item)
{
	size_t n = strlen(item);

	if (a->len + n + 3 > a->cap) {
		a->cap = (a->len + n + 3) * 2;
		a->s = xrealloc(a->s, a->cap);
	}
	a->s[a->len++] = sep;
	memcpy(a->s + a->len, item, n + 1);
	a->len += n;
}

static void
relay_batch_array_add(struct relay_array *a, const char *item)
{
	relay_batch_array_put(a, a->n++ == 0 ? a->open : ',', item);
}

/* Adds the items of b to a. */
static void
relay_batch_array_join(struct relay_array *a, const struct relay_array *b)
{
	if (b->n > 0) {
		relay_batch_array_put(a, a->n == 0 ? a->open : ',', b->s + 1);
		a->n += b->n;
	}
}

/* The literal so far, closed, in a new string the caller frees (a stays open). */
static char *
relay_batch_array_copy(const struct relay_array *a)
{
	return a->n == 0 ? xasprintf("%c%c", a->open, a->close) : xasprintf("%s%c", a->s, a->close);
}

/* Closes the literal and returns it (still owned by a). */
static const char *
relay_batch_array_end(struct relay_array *a)
{
	if (a->n == 0)
		relay_batch_array_put(a, a->open, "");
	relay_batch_array_put(a, a->close, "");
	return a->s;
}

/* Fills j from row i; false if the row cannot be a job (a column too long). */
static bool
relay_batch_row_job(const PGresult *r, int i, struct job *j)
{
	const char *id = db_get(r, i, RELAY_BATCH_CLAIM_C_ID);
	const char *kind = db_get(r, i, RELAY_BATCH_CLAIM_C_KIND);
	const char *res = db_get(r, i, RELAY_BATCH_CLAIM_C_RESOURCE_ID);

	memset(j, 0, sizeof(*j));
	if (strlen(id) >= sizeof(j->id) || strlen(kind) >= sizeof(j->kind) ||
	    strlen(res) >= sizeof(j->resource_id))
		return false;
	strcpy(j->id, id);
	strcpy(j->kind, kind);
	strcpy(j->resource_id, res);
	j->attempt = (int)db_get_i64(r, i, RELAY_BATCH_CLAIM_C_ATTEMPT);
	j->enqueued_at = db_get_i64(r, i, RELAY_BATCH_CLAIM_C_CREATED_MS);
	return true;
}

/* What one batch delivered (a JSON array of {"at": when published, "m": the message}) and
 * what it put off (ids, delays and next attempt numbers, Postgres arrays). */
struct relay_outcome {
	struct relay_array sent, retry_ids, retry_ms, retry_attempts, claimed;
	int rows;
	int64_t grace_ms; /* claim rows written at least this long ago */
};

#define RELAY_OUTCOME_INIT                                                                         \
	{                                                                                          \
		.sent = RELAY_JSON_ARRAY, .retry_ids = RELAY_PG_ARRAY, .retry_ms = RELAY_PG_ARRAY, \
		.retry_attempts = RELAY_PG_ARRAY, .claimed = RELAY_PG_ARRAY                        \
	}

static void
relay_outcome_free(struct relay_outcome *o)
{
	free(o->sent.s);
	free(o->retry_ids.s);
	free(o->retry_ms.s);
	free(o->retry_attempts.s);
	free(o->claimed.s);
}

/* Hands job j (NULL: row id cannot be a job, kind says what it was) of attempt number
 * attempt to the sink, and notes it in o as delivered or put off (a bad row for an hour).
 * 0 delivered or put off, -1 when the sink broke. */
static int
relay_batch_deliver(struct relay_loop *l, const struct job *j, const char *id, const char *kind,
                    int attempt, struct relay_outcome *o)
{
	struct relay_retry retry = {.attempt = attempt + 1, .delay_ms = RELAY_BAD_ROW_MS};
	char *body = NULL, buf[24];
	int rc = 1;

	log_set_id(id);
	if (j == NULL || (body = job_serialize(j)) == NULL)
		log_error("relay_bad_row kind=\"%.48s\"", kind);
	else
		rc = l->sink.deliver(l->sink.arg, j, body, &retry);
	log_set_id(NULL);
	if (rc == 0) {
		char *sent = xasprintf("{\"at\":%" PRId64 ",\"m\":%s}", util_wall_ms(), body);

		relay_batch_array_add(&o->sent, sent);
		free(sent);
	} else if (rc > 0) {
		relay_batch_array_add(&o->retry_ids, id);
		snprintf(buf, sizeof(buf), "%" PRId64, retry.delay_ms > 0 ? retry.delay_ms : 0);
		relay_batch_array_add(&o->retry_ms, buf);
		snprintf(buf, sizeof(buf), "%d", retry.attempt);
		relay_batch_array_add(&o->retry_attempts, buf);
	}
	free(body);
	return rc < 0 ? -1 : 0;
}

/* Hands row i of a claim to the sink (relay_batch_deliver). */
static int
relay_batch_deliver_row(struct relay_loop *l, const PGresult *r, int i, struct relay_outcome *o)
{
	struct job j;
	bool ok = relay_batch_row_job(r, i, &j);

	return relay_batch_deliver(l, ok ? &j : NULL, db_get(r, i, RELAY_BATCH_CLAIM_C_ID),
	                           db_get(r, i, RELAY_BATCH_CLAIM_C_KIND),
	                           (int)db_get_i64(r, i, RELAY_BATCH_CLAIM_C_ATTEMPT), o);
}

/* Retires the delivered rows and reschedules the put-off ones, in the open transaction.
 * 0 or -1. */
static int
relay_batch_record(struct relay_loop *l, struct relay_outcome *o)
{
	const char *p[3];

	p[0] = relay_batch_array_end(&o->sent);
	if (o->sent.n > 0 && db_cmd(l->conn, SQL_RELAY_BATCH_SENT, p) < 0)
		return -1;
	p[0] = relay_batch_array_end(&o->retry_ids);
	p[1] = relay_batch_array_end(&o->retry_ms);
	p[2] = relay_batch_array_end(&o->retry_attempts);
	if (o->retry_ids.n > 0 && db_cmd(l->conn, SQL_RELAY_BATCH_RETRY, p) < 0)
		return -1;
	return 0;
}

/* The ids a claim must skip: the rows this batch claimed, and the jobs handed over to the
 * relay and not yet retired (their hand-over publishes and retires them). A new string the caller
 * frees. */
static char *
relay_batch_skip(const struct relay_loop *l, const struct relay_outcome *o)
{
	struct relay_array a = RELAY_PG_ARRAY;
	char *s;

	relay_batch_array_join(&a, &o->claimed);
	if (l->retiring != NULL)
		relay_batch_array_join(&a, &l->retiring->claimed);
	if (l->hands != NULL) {
		pthread_mutex_lock(&l->hands->mu);
		for (int i = 0; i < l->hands->n; i++)
			relay_batch_array_add(&a, l->hands->jobs[i].id);
		pthread_mutex_unlock(&l->hands->mu);
	}
	s = relay_batch_array_copy(&a);
	free(a.s);
	return s;
}

/* Claims up to RELAY_BATCH - o->rows more due rows in the open transaction and hands them
 * to the sink. The number claimed, -1 on a database error, -2 when the sink broke. */
static int
relay_batch_claim(struct relay_loop *l, struct relay_outcome *o)
{
	char limit[16], grace[24], *skip = relay_batch_skip(l, o);
	const char *p[3] = {limit, skip, grace};
	PGresult *r;
	int n = -1;

	snprintf(limit, sizeof(limit), "%d", RELAY_BATCH - o->rows);
	snprintf(grace, sizeof(grace), "%" PRId64, o->grace_ms);
	r = db_exec(l->conn, SQL_RELAY_BATCH_CLAIM, p);
	free(skip);
	if (r == NULL)
		return -1;
	for (n = 0; n < PQntuples(r); n++) {
		relay_batch_array_add(&o->claimed, db_get(r, n, RELAY_BATCH_CLAIM_C_ID));
		if (relay_batch_deliver_row(l, r, n, o) < 0) {
			n = -2;
			break;
		}
	}
	if (n >= 0)
		o->rows += n;
	PQclear(r);
	return n;
}

/* Waits until the sink has everything delivered so far. While it waits (at most
 * RELAY_JOIN_MS, up to RELAY_BATCH rows), jobs that arrive meanwhile join the batch: a poke
 * has more() take and deliver them at once (claimed rows, or hand-overs), so they wait for
 * their own confirm, not for this batch's first. 0, -1 (database) or -2 (sink). */
static int
relay_batch_flush(struct relay_loop *l, struct relay_outcome *o,
                  int (*more)(struct relay_loop *, struct relay_outcome *))
{
	int64_t until = util_now_ms() + RELAY_JOIN_MS;
	char buf[64];

	while (o->sent.n > 0 && l->sink.flush != NULL) {
		bool join = o->rows < RELAY_BATCH && util_now_ms() < until;
		int rc = l->sink.flush(l->sink.arg, join ? l->wake_fd : -1);

		if (rc < 0)
			return -2;
		if (rc == 0)
			return 0;
		while (read(l->wake_fd, buf, sizeof(buf)) > 0)
			;
		if ((rc = more(l, o)) < 0)
			return rc;
	}
	return 0;
}

/*
 * One transaction: claims up to RELAY_BATCH due rows (written grace_ms ago or earlier, and
 * not handed over), delivers them, flushes the sink
 * (claiming the rows that arrive meanwhile), retires the delivered rows (into
 * message_log) or schedules their retry, commits. Returns the number of rows claimed, -1 on
 * a database error, -2 when the sink broke (the transaction is rolled back either way, so
 * every row is claimed again later).
 */
int
relay_batch(struct relay_loop *l, int64_t grace_ms)
{
	struct relay_outcome o = RELAY_OUTCOME_INIT;
	int rc;

	o.grace_ms = grace_ms;
	if (db_begin(l->conn) < 0) {
		rc = -1;
		goto fail;
	}
	if ((rc = relay_batch_claim(l, &o)) < 0 ||
	    (rc = relay_batch_flush(l, &o, relay_batch_claim)) < 0)
		goto fail;
	if (relay_batch_record(l, &o) < 0 || db_commit(l->conn) < 0) {
		rc = -1;
		goto fail;
	}
	rc = o.rows;
	relay_count_published(RELAY_VIA_CLAIM, o.sent.n);
	log_debug("relay_batch rows=%d sent=%d retried=%d", rc, o.sent.n, o.retry_ids.n);
	goto out;
fail:
	db_rollback(l->conn);
out:
	relay_outcome_free(&o);
	return rc;
}

/* Takes the first jobs handed over, at most max, into jobs; their number. */
static int
relay_batch_take_hands(struct relay_loop *l, struct job *jobs, int max)
{
	int n;

	pthread_mutex_lock(&l->hands->mu);
	n = l->hands->n < max ? l->hands->n : max;
	memcpy(jobs, l->hands->jobs, (size_t)n * sizeof(*jobs));
	memmove(l->hands->jobs, l->hands->jobs + n, (size_t)(l->hands->n - n) * sizeof(*jobs));
	l->hands->n -= n;
	pthread_mutex_unlock(&l->hands->mu);
	return n;
}

static struct relay_outcome *
relay_outcome_new(void)
{
	struct relay_outcome *o = xmalloc(sizeof(*o));

	*o = (struct relay_outcome)RELAY_OUTCOME_INIT;
	return o;
}

void
relay_batch_free(struct relay_loop *l)
{
	if (l->retiring != NULL) {
		relay_outcome_free(l->retiring);
		free(l->retiring);
	}
	l->retiring = NULL;
	l->retire_at = 0;
}

/* Takes the jobs handed over and delivers them, noting them in o (their ids in
 * o->claimed). The number taken, or -2 when the sink broke. */
static int
relay_batch_deliver_hands(struct relay_loop *l, struct relay_outcome *o)
{
	static _Thread_local struct job jobs[RELAY_BATCH];
	int n = relay_batch_take_hands(l, jobs, RELAY_BATCH - o->rows);

	for (int i = 0; i < n; i++) {
		relay_batch_array_add(&o->claimed, jobs[i].id);
		if (relay_batch_deliver(l, &jobs[i], jobs[i].id, jobs[i].kind, jobs[i].attempt, o) <
		    0)
			return -2;
	}
	o->rows += n;
	return n;
}

/* Publishes the jobs handed over (see relay_internal.h). */
int
relay_batch_hands(struct relay_loop *l)
{
	int rc;

	if (l->hands == NULL)
		return 0;
	if (l->retiring == NULL)
		l->retiring = relay_outcome_new();
	if ((rc = relay_batch_deliver_hands(l, l->retiring)) < 0 ||
	    (rc > 0 && (rc = relay_batch_flush(l, l->retiring, relay_batch_deliver_hands)) < 0)) {
		relay_batch_free(l);
		return rc;
	}
	if (l->retiring->rows > 0 && l->retire_at == 0)
		l->retire_at = util_now_ms() + RELAY_RETIRE_MS;
	if (l->retiring->rows >= RELAY_BATCH && relay_batch_retire(l, true) < 0)
		return -1;
	return 0;
}

/* Retires the hand-overs published (see relay_internal.h). */
int
relay_batch_retire(struct relay_loop *l, bool now)
{
	struct relay_outcome *o = l->retiring;
	int rc = 0;

	if (o == NULL || o->rows == 0 || (!now && util_now_ms() < l->retire_at))
		return 0;
	if (relay_batch_record(l, o) < 0)
		rc = -1;
	else
		relay_count_published(RELAY_VIA_HANDOFF, o->sent.n);
	log_debug("relay_hands rows=%d sent=%d retried=%d rc=%d", o->rows, o->sent.n,
	          o->retry_ids.n, rc);
	relay_batch_free(l);
	return rc;
}
