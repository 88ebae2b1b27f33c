/* relay.c: the outbox relay: claims unsent outbox rows in batches and hands them to a sink. */
#include "relay.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db.h"
#include "log.h"
#include "mq.h"

#define RELAY_BATCH        200
#define RELAY_COUNT_MS     1000
#define RELAY_KEEPALIVE_MS 5000
#define RELAY_STOP_POLL_MS 100
#define RELAY_BAD_ROW_MS   3600000
#define RELAY_HEARTBEAT_S  30
#define RELAY_CONFIRM_MS   30000
#define RELAY_JOIN_MS      50

/* Claims due rows not claimed yet by this transaction ($2): statement_timestamp(), not
 * now(), so that a claim later in the transaction sees rows committed since it began. */
static const char relay_select_sql[] =
    "SELECT id, kind, resource_id, attempt, (extract(epoch from created_at) * 1000)::bigint "
    "FROM outbox WHERE available_at <= statement_timestamp() AND id <> ALL($2::uuid[]) "
    "ORDER BY available_at LIMIT $1 FOR UPDATE SKIP LOCKED";
/* Retires the delivered rows: $1 is a JSON array of their messages. Each row leaves the
 * outbox and its message enters the audit log, in one statement; logged_at is the moment
 * of this statement, just after the broker confirmed the batch. */
static const char relay_sent_sql[] =
    "WITH m AS (SELECT e FROM jsonb_array_elements($1::jsonb) AS e),"
    " sent AS (DELETE FROM outbox o USING m WHERE o.id = (m.e->>'id')::uuid RETURNING o.id)"
    " INSERT INTO message_log (message_id, routing_key, payload, logged_at)"
    " SELECT m.e->>'id', m.e->>'kind', m.e, clock_timestamp()"
    " FROM m JOIN sent ON sent.id = (m.e->>'id')::uuid";
static const char relay_retry_sql[] =
    "UPDATE outbox o SET attempt = d.attempt, "
    "available_at = now() + d.ms * interval '1 millisecond' "
    "FROM unnest($1::uuid[], $2::bigint[], $3::int[]) AS d(id, ms, attempt) WHERE o.id = d.id";
static const char relay_count_sql[] = "SELECT count(*) FROM outbox";

static int64_t relay_backlog_rows; /* accessed with __atomic builtins */
static struct relay *relay_local;  /* the relay thread of this process (__atomic) */

/* The state of one running relay loop. */
struct relay_loop {
	const char *url;
	struct relay_sink sink;
	int64_t sweep_ms;
	volatile int *stop;
	int wake_fd; /* read end of the self-pipe, or -1: then poll in short slices */
	bool listen; /* LISTEN settle_outbox (a relay alone); else woken through wake_fd */
	PGconn *conn;
	bool sink_ok;
	struct util_backoff backoff;
	int64_t next_sweep, next_count, next_keepalive;
};

struct relay {
	pthread_t thread;
	char *url;
	struct relay_sink sink;
	int64_t sweep_ms;
	volatile int stop;
	int pipe[2];
};

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
relay_array_put(struct relay_array *a, char sep, const char *item)
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
relay_array_add(struct relay_array *a, const char *item)
{
	relay_array_put(a, a->n++ == 0 ? a->open : ',', item);
}

/* The literal so far, closed, in a new string the caller frees (a stays open). */
static char *
relay_array_copy(const struct relay_array *a)
{
	return a->n == 0 ? xasprintf("%c%c", a->open, a->close) : xasprintf("%s%c", a->s, a->close);
}

/* Closes the literal and returns it (still owned by a). */
static const char *
relay_array_end(struct relay_array *a)
{
	if (a->n == 0)
		relay_array_put(a, a->open, "");
	relay_array_put(a, a->close, "");
	return a->s;
}

/* ---- the RabbitMQ sink ---- */

struct relay_mq {
	char *url;
	const char *const *kinds; /* whose queues the topology declares */
	struct mq *mq;
};

static void
relay_mq_drop(struct relay_mq *m)
{
	mq_close(m->mq);
	m->mq = NULL;
}

/* Publishes without waiting; relay_mq_flush collects the confirms of the whole batch. */
static int
relay_mq_deliver(void *arg, const struct job *j, const char *body, struct relay_retry *retry)
{
	struct relay_mq *m = arg;
	char *err = NULL;

	(void)retry;
	if (m->mq == NULL)
		return -1;
	if (mq_publish_nowait(m->mq, MQ_EXCHANGE, j->kind, j->id, body, strlen(body), 0, &err) <
	    0) {
		log_warn("relay_publish_failed kind=%s error=\"%s\"", j->kind, err);
		relay_mq_drop(m);
		free(err);
		return -1;
	}
	return 0;
}

/* Waits for the confirms of everything published since the last flush, or until wake_fd
 * is readable (1). 0, 1 or -1. */
static int
relay_mq_flush(void *arg, int wake_fd)
{
	struct relay_mq *m = arg;
	char *err = NULL;
	int rc;

	if (m->mq == NULL)
		return -1;
	rc = mq_wait_confirms_or(m->mq, RELAY_CONFIRM_MS, wake_fd, &err);
	if (rc >= 0)
		return rc;
	log_warn("relay_confirm_failed error=\"%s\"", err);
	free(err);
	relay_mq_drop(m);
	return -1;
}

static int
relay_mq_keepalive(void *arg)
{
	struct relay_mq *m = arg;
	char *err = NULL;

	if (m->mq == NULL || mq_keepalive(m->mq, &err) == 0)
		return 0;
	log_warn("relay_mq_lost error=\"%s\"", err);
	free(err);
	relay_mq_drop(m);
	return -1;
}

static int
relay_mq_reset(void *arg)
{
	struct relay_mq *m = arg;
	char *err = NULL;

	relay_mq_drop(m);
	m->mq = mq_connect(m->url, RELAY_HEARTBEAT_S, &err);
	if (m->mq == NULL || mq_declare_topology(m->mq, m->kinds, &err) < 0) {
		log_warn("relay_mq_connect_failed error=\"%s\"", err);
		relay_mq_drop(m);
		free(err);
		return -1;
	}
	log_info("relay_mq_connected");
	return 0;
}

static void
relay_mq_free(void *arg)
{
	struct relay_mq *m = arg;

	relay_mq_drop(m);
	free(m->url);
	free(m);
}

/*
 * A sink publishing each job to settle.jobs (routing key = kind, message id = job id),
 * a batch at a time, with publisher confirms. It starts disconnected: reset() connects and
 * declares the topology, so RabbitMQ being down only delays delivery. The sink owns a copy
 * of url; kinds is static.
 */
struct relay_sink
relay_mq_sink(const char *url, const char *const *kinds)
{
	struct relay_mq *m = xcalloc(1, sizeof(*m));

	m->url = xstrdup(url);
	m->kinds = kinds;
	return (struct relay_sink){.deliver = relay_mq_deliver,
	                           .flush = relay_mq_flush,
	                           .keepalive = relay_mq_keepalive,
	                           .reset = relay_mq_reset,
	                           .free = relay_mq_free,
	                           .arg = m};
}

/* ---- the loop ---- */

static bool
relay_stopping(const struct relay_loop *l)
{
	return __atomic_load_n(l->stop, __ATOMIC_ACQUIRE) != 0;
}

enum relay_woke { RELAY_TIMEOUT, RELAY_SOCKET, RELAY_POKED };

/* Sleeps up to ms or until stop, waking early when fd becomes readable (RELAY_SOCKET) or
 * relay_wake() was called (RELAY_POKED; the pokes are consumed). */
static enum relay_woke
relay_wait(struct relay_loop *l, int64_t ms, int fd)
{
	int64_t deadline = util_now_ms() + ms;
	char buf[64];

	while (!relay_stopping(l)) {
		struct pollfd p[2] = {{.fd = fd, .events = POLLIN},
		                      {.fd = l->wake_fd, .events = POLLIN}};
		int64_t left = deadline - util_now_ms();
		int rc;

		if (left <= 0)
			return RELAY_TIMEOUT;
		if (l->wake_fd < 0 && left > RELAY_STOP_POLL_MS)
			left = RELAY_STOP_POLL_MS;
		rc = poll(p, 2, (int)left);
		if (rc < 0 && errno != EINTR)
			return RELAY_TIMEOUT;
		if (rc > 0 && (p[1].revents & POLLIN)) {
			while (read(l->wake_fd, buf, sizeof(buf)) > 0)
				;
			return RELAY_POKED;
		}
		if (rc > 0 && (p[0].revents & (POLLIN | POLLERR | POLLHUP)))
			return RELAY_SOCKET;
	}
	return RELAY_TIMEOUT;
}

static void
relay_backoff(struct relay_loop *l)
{
	(void)relay_wait(l, util_backoff_next(&l->backoff), -1);
}

/*
 * Connects and, for a relay alone, listens for new rows. A relay inside settle-api does
 * not LISTEN: Postgres makes every listening connection run a transaction for each NOTIFY
 * in the database (the workers' too), and its own API wakes it directly (relay_wake); rows
 * written elsewhere (reconcile) wait for the sweep. The relay's commits are asynchronous
 * (synchronous_commit off for this session only): if one is lost in a crash, its rows are
 * still in the outbox and get published again, and the workers skip the duplicate; so
 * nothing is lost, and the relay does not wait for a WAL flush between batches.
 */
static int
relay_connect(struct relay_loop *l)
{
	l->conn = db_connect(l->url, 1);
	if (l->conn == NULL)
		return -1;
	if (db_cmd(l->conn, "SET synchronous_commit = off", 0, NULL) < 0 ||
	    (l->listen && db_cmd(l->conn, "LISTEN settle_outbox", 0, NULL) < 0)) {
		PQfinish(l->conn);
		l->conn = NULL;
		return -1;
	}
	log_info("relay_db_connected");
	return 0;
}

/* After a failed statement: drops the connection if it is the connection that failed. */
static void
relay_db_failed(struct relay_loop *l)
{
	if (l->conn != NULL && PQstatus(l->conn) != CONNECTION_OK) {
		log_warn("relay_db_lost");
		PQfinish(l->conn);
		l->conn = NULL;
	}
}

/* Reads input and discards the notifications that arrived. Their count, or -1. */
static int
relay_take_notifies(struct relay_loop *l)
{
	PGnotify *n;
	int count = 0;

	if (!PQconsumeInput(l->conn))
		return -1;
	while ((n = PQnotifies(l->conn)) != NULL) {
		PQfreemem(n);
		count++;
	}
	return count;
}

/* Fills j from row i; false if the row cannot be a job (a column too long). */
static bool
relay_row_job(const PGresult *r, int i, struct job *j)
{
	const char *id = db_get(r, i, 0), *kind = db_get(r, i, 1), *res = db_get(r, i, 2);

	memset(j, 0, sizeof(*j));
	if (strlen(id) >= sizeof(j->id) || strlen(kind) >= sizeof(j->kind) ||
	    strlen(res) >= sizeof(j->resource_id))
		return false;
	strcpy(j->id, id);
	strcpy(j->kind, kind);
	strcpy(j->resource_id, res);
	j->attempt = (int)db_get_i64(r, i, 3);
	j->enqueued_at = db_get_i64(r, i, 4);
	return true;
}

/* What one batch delivered (messages, a JSON array) and what it put off (ids, delays and
 * next attempt numbers, Postgres arrays). */
struct relay_outcome {
	struct relay_array sent, retry_ids, retry_ms, retry_attempts, claimed;
	int rows;
};

/* Hands row i to the sink. 0 delivered or put off, -1 when the sink broke. */
static int
relay_deliver_row(struct relay_loop *l, const PGresult *r, int i, struct relay_outcome *o)
{
	struct relay_retry retry = {.attempt = (int)db_get_i64(r, i, 3) + 1,
	                            .delay_ms = RELAY_BAD_ROW_MS};
	char *body = NULL, buf[24];
	struct job j;
	int rc = 1;

	log_set_id(db_get(r, i, 0));
	if (!relay_row_job(r, i, &j) || (body = job_serialize(&j)) == NULL)
		log_error("relay_bad_row kind=\"%.48s\"", db_get(r, i, 1));
	else
		rc = l->sink.deliver(l->sink.arg, &j, body, &retry);
	log_set_id(NULL);
	if (rc == 0) {
		relay_array_add(&o->sent, body);
	} else if (rc > 0) {
		relay_array_add(&o->retry_ids, db_get(r, i, 0));
		snprintf(buf, sizeof(buf), "%" PRId64, retry.delay_ms > 0 ? retry.delay_ms : 0);
		relay_array_add(&o->retry_ms, buf);
		snprintf(buf, sizeof(buf), "%d", retry.attempt);
		relay_array_add(&o->retry_attempts, buf);
	}
	free(body);
	return rc < 0 ? -1 : 0;
}

/* Retires the delivered rows and reschedules the put-off ones, in the open transaction.
 * 0 or -1. */
static int
relay_record(struct relay_loop *l, struct relay_outcome *o)
{
	const char *p[3];

	p[0] = relay_array_end(&o->sent);
	if (o->sent.n > 0 && db_cmd(l->conn, relay_sent_sql, 1, p) < 0)
		return -1;
	p[0] = relay_array_end(&o->retry_ids);
	p[1] = relay_array_end(&o->retry_ms);
	p[2] = relay_array_end(&o->retry_attempts);
	if (o->retry_ids.n > 0 && db_cmd(l->conn, relay_retry_sql, 3, p) < 0)
		return -1;
	return 0;
}

/* Claims up to RELAY_BATCH - o->rows more due rows in the open transaction and hands them
 * to the sink. The number claimed, -1 on a database error, -2 when the sink broke. */
static int
relay_claim(struct relay_loop *l, struct relay_outcome *o)
{
	char limit[16], *claimed = relay_array_copy(&o->claimed);
	const char *p[2] = {limit, claimed};
	PGresult *r;
	int n = -1;

	snprintf(limit, sizeof(limit), "%d", RELAY_BATCH - o->rows);
	r = db_exec(l->conn, relay_select_sql, 2, p);
	free(claimed);
	if (r == NULL)
		return -1;
	for (n = 0; n < PQntuples(r); n++) {
		relay_array_add(&o->claimed, db_get(r, n, 0));
		if (relay_deliver_row(l, r, n, o) < 0) {
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
 * RELAY_JOIN_MS, up to RELAY_BATCH rows), rows committed meanwhile join the batch: a poke
 * claims and delivers them at once, so they wait for their own confirm, not for this
 * batch's first. 0, -1 (database) or -2 (sink). */
static int
relay_flush(struct relay_loop *l, struct relay_outcome *o)
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
		if ((rc = relay_claim(l, o)) < 0)
			return rc;
	}
	return 0;
}

/*
 * One transaction: claims up to RELAY_BATCH due rows, delivers them, flushes the sink
 * (claiming the rows that arrive meanwhile), retires the delivered rows (into
 * message_log) or schedules their retry, commits. Returns the number of rows claimed, -1 on
 * a database error, -2 when the sink broke (the transaction is rolled back either way, so
 * every row is claimed again later).
 */
static int
relay_batch(struct relay_loop *l)
{
	struct relay_outcome o = {.sent = RELAY_JSON_ARRAY,
	                          .retry_ids = RELAY_PG_ARRAY,
	                          .retry_ms = RELAY_PG_ARRAY,
	                          .retry_attempts = RELAY_PG_ARRAY,
	                          .claimed = RELAY_PG_ARRAY};
	int rc;

	if (db_begin(l->conn) < 0) {
		rc = -1;
		goto fail;
	}
	if ((rc = relay_claim(l, &o)) < 0 || (rc = relay_flush(l, &o)) < 0)
		goto fail;
	if (relay_record(l, &o) < 0 || db_commit(l->conn) < 0) {
		rc = -1;
		goto fail;
	}
	rc = o.rows;
	log_debug("relay_batch rows=%d sent=%d retried=%d", rc, o.sent.n, o.retry_ids.n);
	goto out;
fail:
	db_rollback(l->conn);
out:
	free(o.sent.s);
	free(o.retry_ids.s);
	free(o.retry_ms.s);
	free(o.retry_attempts.s);
	free(o.claimed.s);
	return rc;
}

/* Runs batches until one comes back short. 0, -1 (database) or -2 (sink). */
static int
relay_drain(struct relay_loop *l)
{
	int n;

	do {
		n = relay_batch(l);
		if (n < 0)
			return n;
	} while (n == RELAY_BATCH && !relay_stopping(l));
	return 0;
}

static int
relay_count(struct relay_loop *l)
{
	PGresult *r = db_exec(l->conn, relay_count_sql, 0, NULL);

	if (r == NULL)
		return -1;
	__atomic_store_n(&relay_backlog_rows, db_get_i64(r, 0, 0), __ATOMIC_RELAXED);
	PQclear(r);
	return 0;
}

/* Brings the connection and the sink up. true when both are usable. The backoff starts
 * again from its minimum as soon as both work, so the next outage is probed quickly. */
static bool
relay_ready(struct relay_loop *l)
{
	if (l->conn == NULL && relay_connect(l) < 0) {
		relay_backoff(l);
		return false;
	}
	if (!l->sink_ok) {
		if (l->sink.reset != NULL && l->sink.reset(l->sink.arg) < 0) {
			relay_backoff(l);
			return false;
		}
		l->sink_ok = true;
	}
	util_backoff_reset(&l->backoff);
	return true;
}

/* Does whatever is due: drain (on wake or sweep), backlog count, keepalive.
 * 0, -1 (database) or -2 (sink). */
static int
relay_tick(struct relay_loop *l, bool woke)
{
	int64_t now = util_now_ms();
	int rc;

	if (woke || now >= l->next_sweep) {
		if ((rc = relay_drain(l)) < 0)
			return rc;
		if (now >= l->next_sweep)
			l->next_sweep = now + l->sweep_ms;
	}
	if (now >= l->next_count) {
		if (relay_count(l) < 0)
			return -1;
		l->next_count = now + (l->sweep_ms < RELAY_COUNT_MS ? l->sweep_ms : RELAY_COUNT_MS);
	}
	if (now >= l->next_keepalive) {
		if (l->sink.keepalive != NULL && l->sink.keepalive(l->sink.arg) < 0)
			return -2;
		l->next_keepalive = now + RELAY_KEEPALIVE_MS;
	}
	return 0;
}

static int64_t
relay_min(int64_t a, int64_t b)
{
	return a < b ? a : b;
}

static void
relay_loop_run(struct relay_loop *l)
{
	bool woke = true;

	l->backoff = (struct util_backoff)UTIL_BACKOFF_INIT;
	log_info("relay_started sweep_ms=%" PRId64 " batch=%d", l->sweep_ms, RELAY_BATCH);
	while (!relay_stopping(l)) {
		int rc, n = 0;

		if (!relay_ready(l))
			continue;
		rc = relay_tick(l, woke);
		if (rc == -2) {
			/* Back off here too: a sink that resets fine but fails every delivery
			 * (e.g. nacks) must not spin. */
			l->sink_ok = false;
			relay_backoff(l);
			continue;
		}
		if (rc == 0)
			n = relay_take_notifies(l);
		if (rc < 0 || n < 0) {
			relay_db_failed(l);
			relay_backoff(l);
			continue;
		}
		woke = n > 0;
		if (!woke) {
			int64_t next =
			    relay_min(relay_min(l->next_sweep, l->next_keepalive), l->next_count);
			enum relay_woke w = relay_wait(l, next - util_now_ms(), PQsocket(l->conn));
			woke =
			    w == RELAY_POKED || (w == RELAY_SOCKET && relay_take_notifies(l) != 0);
		}
	}
	log_info("relay_stopped");
	PQfinish(l->conn);
	l->conn = NULL;
	if (l->sink.free != NULL)
		l->sink.free(l->sink.arg);
}

/* Runs the relay in the calling thread until *stop is non-zero; frees the sink. */
void
relay_run(const char *database_url, struct relay_sink sink, int64_t sweep_ms, volatile int *stop)
{
	struct relay_loop l = {.url = database_url,
	                       .sink = sink,
	                       .sweep_ms = sweep_ms > 0 ? sweep_ms : 1000,
	                       .stop = stop,
	                       .wake_fd = -1,
	                       .listen = true};

	relay_loop_run(&l);
}

static void *
relay_thread(void *arg)
{
	struct relay *r = arg;
	struct relay_loop l = {.url = r->url,
	                       .sink = r->sink,
	                       .sweep_ms = r->sweep_ms,
	                       .stop = &r->stop,
	                       .wake_fd = r->pipe[0],
	                       .listen = false};

	relay_loop_run(&l);
	return NULL;
}

/* Starts the relay thread (see relay.h); the relay owns sink from here on, even on
 * failure. NULL if the thread cannot start. Stop it with relay_stop. */
struct relay *
relay_start(const char *database_url, struct relay_sink sink, int64_t sweep_ms)
{
	struct relay *r = xcalloc(1, sizeof(*r));

	r->url = xstrdup(database_url);
	r->sink = sink;
	r->sweep_ms = sweep_ms > 0 ? sweep_ms : 1000;
	r->pipe[0] = r->pipe[1] = -1;
	if (pipe2(r->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
		log_error("relay_start_failed call=pipe error=\"%s\"", strerror(errno));
		goto fail;
	}
	if (pthread_create(&r->thread, NULL, relay_thread, r) != 0) {
		log_error("relay_start_failed error=\"pthread_create\"");
		goto fail;
	}
	__atomic_store_n(&relay_local, r, __ATOMIC_RELEASE);
	return r;
fail:
	if (sink.free != NULL)
		sink.free(sink.arg);
	if (r->pipe[0] >= 0) {
		close(r->pipe[0]);
		close(r->pipe[1]);
	}
	free(r->url);
	free(r);
	return NULL;
}

/* Stops the relay thread (it finishes its current batch), joins it and frees r. */
void
relay_stop(struct relay *r)
{
	if (r == NULL)
		return;
	__atomic_store_n(&relay_local, NULL, __ATOMIC_RELEASE);
	__atomic_store_n(&r->stop, 1, __ATOMIC_RELEASE);
	if (write(r->pipe[1], "x", 1) < 0 && errno != EAGAIN)
		log_warn("relay_stop_wake_failed error=\"%s\"", strerror(errno));
	pthread_join(r->thread, NULL);
	close(r->pipe[0]);
	close(r->pipe[1]);
	free(r->url);
	free(r);
}

/* Wakes the relay thread of this process, if there is one (see relay.h). */
void
relay_wake(void)
{
	struct relay *r = __atomic_load_n(&relay_local, __ATOMIC_ACQUIRE);

	if (r != NULL && write(r->pipe[1], "w", 1) < 0 && errno != EAGAIN)
		log_warn("relay_wake_failed error=\"%s\"", strerror(errno));
}

/* Unsent outbox rows at the last count of any relay of this process. */
int64_t
relay_backlog(void)
{
	return __atomic_load_n(&relay_backlog_rows, __ATOMIC_RELAXED);
}
