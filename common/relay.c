/* relay.c: the outbox relay: a thread (or `settle relay`) that wakes on a poke, a
 * notification or a sweep and claims unsent outbox rows in batches (relay_batch.c) for a
 * sink (relay_mq.c publishes to RabbitMQ). */
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
#include "relay_internal.h"

#define RELAY_COUNT_MS     1000
#define RELAY_KEEPALIVE_MS 5000
#define RELAY_STOP_POLL_MS 100

static int64_t relay_backlog_rows;                    /* accessed with __atomic builtins */
static int64_t relay_published_jobs[RELAY_VIA_COUNT]; /* (__atomic) */
static struct relay *relay_local; /* the relay thread of this process (__atomic) */

struct relay {
	pthread_t thread;
	char *url;
	struct relay_sink sink;
	int64_t sweep_ms;
	volatile int stop;
	int pipe[2];
	struct relay_hands hands;
};

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
	if (db_cmd_text(l->conn, "SET synchronous_commit = off", 0, NULL) < 0 ||
	    (l->listen && db_cmd_text(l->conn, "LISTEN settle_outbox", 0, NULL) < 0)) {
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

/* Runs batches (of rows written grace_ms ago or earlier) until one comes back short.
 * 0, -1 (database) or -2 (sink). */
static int
relay_drain(struct relay_loop *l, int64_t grace_ms)
{
	int n;

	do {
		n = relay_batch(l, grace_ms);
		if (n < 0)
			return n;
	} while (n == RELAY_BATCH && !relay_stopping(l));
	return 0;
}

static int
relay_count(struct relay_loop *l)
{
	PGresult *r = db_exec(l->conn, SQL_RELAY_COUNT, NULL);

	if (r == NULL)
		return -1;
	__atomic_store_n(&relay_backlog_rows, db_get_i64(r, 0, RELAY_COUNT_C_BACKLOG),
	                 __ATOMIC_RELAXED);
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

/* What waits in l->hands: whether jobs were handed over or a claim asked for (relay_wake),
 * and with take, whether a claim was asked for, which it then clears. false without
 * hand-overs (a relay alone). */
static bool
relay_hands_look(struct relay_loop *l, bool take)
{
	bool seen;

	if (l->hands == NULL)
		return false;
	pthread_mutex_lock(&l->hands->mu);
	seen = l->hands->claim || (!take && l->hands->n > 0);
	if (take)
		l->hands->claim = false;
	pthread_mutex_unlock(&l->hands->mu);
	return seen;
}

/* Does whatever is due: the jobs handed over and the retirement of those published, a
 * drain (on a notification or relay_wake at once; on a sweep, of the rows older than
 * RELAY_SWEEP_GRACE_MS), backlog count, keepalive. 0, -1 (database) or -2 (sink). */
static int
relay_tick(struct relay_loop *l, bool notified)
{
	int64_t now = util_now_ms();
	bool asked;
	int rc;

	if ((rc = relay_batch_hands(l)) < 0 || (rc = relay_batch_retire(l, false)) < 0)
		return rc;
	asked = relay_hands_look(l, true) || notified;
	if (asked || now >= l->next_sweep) {
		if ((rc = relay_drain(l, asked ? 0 : RELAY_SWEEP_GRACE_MS)) < 0)
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
		if (!woke && !relay_hands_look(l, false)) {
			int64_t next =
			    relay_min(relay_min(l->next_sweep, l->next_keepalive), l->next_count);

			if (l->retire_at > 0)
				next = relay_min(next, l->retire_at);
			enum relay_woke w = relay_wait(l, next - util_now_ms(), PQsocket(l->conn));
			/* A poke (relay_wake, relay_hand) is seen by relay_tick in l->hands. */
			woke = w == RELAY_SOCKET && relay_take_notifies(l) != 0;
		}
	}
	if (l->conn != NULL && relay_batch_retire(l, true) < 0)
		log_warn("relay_retire_failed at=stop");
	relay_batch_free(l);
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
	                       .listen = false,
	                       .hands = &r->hands};

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
	pthread_mutex_init(&r->hands.mu, NULL);
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
	pthread_mutex_destroy(&r->hands.mu);
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
	pthread_mutex_destroy(&r->hands.mu);
	free(r->url);
	free(r);
}

/* Pokes r's thread. */
static void
relay_poke(struct relay *r)
{
	if (write(r->pipe[1], "w", 1) < 0 && errno != EAGAIN)
		log_warn("relay_wake_failed error=\"%s\"", strerror(errno));
}

/* Wakes the relay thread of this process to claim, if there is one (see relay.h). */
void
relay_wake(void)
{
	struct relay *r = __atomic_load_n(&relay_local, __ATOMIC_ACQUIRE);

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->hands.mu);
	r->hands.claim = true;
	pthread_mutex_unlock(&r->hands.mu);
	relay_poke(r);
}

/* Hands a committed job to the relay thread of this process (see relay.h). */
void
relay_hand(const char *id, const char *kind, const char *resource_id)
{
	struct relay *r = __atomic_load_n(&relay_local, __ATOMIC_ACQUIRE);
	struct job j = {.attempt = 1, .enqueued_at = util_wall_ms()};

	if (r == NULL)
		return;
	if (strlen(id) >= sizeof(j.id) || strlen(kind) >= sizeof(j.kind) ||
	    strlen(resource_id) >= sizeof(j.resource_id)) {
		relay_wake();
		return;
	}
	strcpy(j.id, id);
	strcpy(j.kind, kind);
	strcpy(j.resource_id, resource_id);
	pthread_mutex_lock(&r->hands.mu);
	if (r->hands.n < RELAY_BATCH)
		r->hands.jobs[r->hands.n++] = j;
	else
		r->hands.claim = true;
	pthread_mutex_unlock(&r->hands.mu);
	relay_poke(r);
}

/* Unsent outbox rows at the last count of any relay of this process. */
int64_t
relay_backlog(void)
{
	return __atomic_load_n(&relay_backlog_rows, __ATOMIC_RELAXED);
}

void
relay_count_published(enum relay_via via, int n)
{
	__atomic_add_fetch(&relay_published_jobs[via], n, __ATOMIC_RELAXED);
}

int64_t
relay_published(enum relay_via via)
{
	return __atomic_load_n(&relay_published_jobs[via], __ATOMIC_RELAXED);
}

const char *
relay_via_name(enum relay_via via)
{
	return via == RELAY_VIA_HANDOFF ? "handoff" : "claim";
}
