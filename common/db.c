/* db.c: libpq helpers: connect with retry, per-thread connections (the thread's own one and
 * its standbys'), and the state each connection carries (struct db_conn, attached through
 * libpq's events). Statements run in db_exec.c, transactions in db_tx.c. */
#include "db.h"

#include <libpq-events.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db_internal.h"
#include "log.h"

/* The calling thread's own connection (db_thread_conn): settle-api keeps one per HTTP
 * thread. Everything about a connection lives in its db_conn (db_internal.h), not here. */
static _Thread_local PGconn *thread_conn;
static pthread_key_t conn_key;
static pthread_once_t conn_key_once = PTHREAD_ONCE_INIT;

void
db_conn_free(struct db_conn *s)
{
	free(s);
}

/* libpq's event callback: owns the struct db_conn of each connection it is registered on.
 * Returns nonzero (success) for every event. */
static int
db_event(PGEventId id, void *info, void *pass)
{
	(void)pass;
	switch (id) {
	case PGEVT_REGISTER: {
		PGconn *c = ((PGEventRegister *)info)->conn;
		return PQsetInstanceData(c, db_event, xcalloc(1, sizeof(struct db_conn)));
	}
	case PGEVT_CONNRESET: {
		struct db_conn *s = PQinstanceData(((PGEventConnReset *)info)->conn, db_event);
		if (s != NULL) {
			s->units_ready = false; /* a new server session has none */
			/* A transaction open across the reset is gone: its commit must fail. */
			s->tx_aborted = s->tx_depth > 0;
			s->reset_pending = false;
		}
		return 1;
	}
	case PGEVT_CONNDESTROY: {
		db_conn_free(PQinstanceData(((PGEventConnDestroy *)info)->conn, db_event));
		return 1;
	}
	default:
		return 1;
	}
}

/* The state of c, attaching it on first use (connections not made by db_connect). NULL
 * only when c is NULL. */
struct db_conn *
db_conn_of(PGconn *c)
{
	struct db_conn *s;

	if (c == NULL)
		return NULL;
	s = PQinstanceData(c, db_event);
	if (s == NULL && PQregisterEventProc(c, db_event, "settle_db", NULL))
		s = PQinstanceData(c, db_event);
	return s;
}

static void
db_notice(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* NOTICEs (e.g. "already exists, skipping") are not worth a log line. */
}

/* Length of the first line of msg, for one-line log entries. */
static int
first_line(const char *msg)
{
	return (int)strcspn(msg, "\n");
}

PGconn *
db_open(const char *url)
{
	static const char *const keys[] = {"dbname", "options", NULL};
	PQconninfoOption *given = PQconninfoParse(url, NULL);
	const char *own = NULL;
	char *options;
	PGconn *c;

	/* The options the session would have had come first: url's own (a URL's ?options=),
	 * else PGOPTIONS, libpq's default for them. A keyword given here overrides both, so
	 * they are merged into it. */
	for (PQconninfoOption *o = given; o != NULL && o->keyword != NULL; o++)
		if (strcmp(o->keyword, "options") == 0 && o->val != NULL && o->val[0] != '\0')
			own = o->val;
	if (own == NULL && (own = getenv("PGOPTIONS")) != NULL && own[0] == '\0')
		own = NULL;
	options =
	    own != NULL ? xasprintf("%s %s", own, DB_SESSION_OPTIONS) : xstrdup(DB_SESSION_OPTIONS);
	c = PQconnectdbParams(keys, (const char *const[]){url, options, NULL}, 1);
	free(options);
	PQconninfoFree(given);
	return c;
}

PGconn *
db_connect(const char *url, int tries)
{
	for (int i = 0; i < tries || tries <= 0; i++) {
		PGconn *c = db_open(url);
		if (PQstatus(c) == CONNECTION_OK) {
			PQsetNoticeProcessor(c, db_notice, NULL);
			(void)db_conn_of(c);
			return c;
		}
		if (i + 1 >= tries && tries > 0) {
			log_error("db_connect_failed tries=%d error=\"%.*s\"", tries,
			          first_line(PQerrorMessage(c)), PQerrorMessage(c));
			PQfinish(c);
			break;
		}
		log_warn("db_connect_retry error=\"%.*s\"", first_line(PQerrorMessage(c)),
		         PQerrorMessage(c));
		PQfinish(c);
		sleep(1);
	}
	return NULL;
}

/* Closes a thread's connection when the thread exits. */
static void
db_thread_exit(void *conn)
{
	PQfinish(conn);
	thread_conn = NULL;
}

static void
db_key_init(void)
{
	pthread_key_create(&conn_key, db_thread_exit);
}

/* The thread's PGconn object is made once and kept until the thread exits: a failed
 * reconnect or db_thread_close only drops its server session, and PQreset opens a new one
 * on the same object. A request of settle-api holds the pointer across callbacks (a
 * streaming PUT takes it at its first and uses it at its last), while other requests on the
 * same thread may find the session broken meanwhile; finishing the object then would leave
 * that request with a freed connection. */
PGconn *
db_thread_conn(void)
{
	struct db_conn *s;

	if (thread_conn == NULL) {
		thread_conn = db_open(cfg.database_url);
		if (thread_conn == NULL) {
			log_error("db_connect_failed tries=1 error=\"out of memory\"");
			return NULL;
		}
		PQsetNoticeProcessor(thread_conn, db_notice, NULL);
		pthread_once(&conn_key_once, db_key_init);
		pthread_setspecific(conn_key, thread_conn);
	} else {
		s = db_conn_of(thread_conn);
		if (PQstatus(thread_conn) != CONNECTION_OK || (s != NULL && s->reset_pending))
			PQreset(thread_conn);
	}
	(void)db_conn_of(thread_conn);
	if (PQstatus(thread_conn) != CONNECTION_OK) {
		log_error("db_connect_failed tries=1 error=\"%.*s\"",
		          first_line(PQerrorMessage(thread_conn)), PQerrorMessage(thread_conn));
		return NULL;
	}
	return thread_conn;
}

/* The calling thread's standby connections (db_thread_replica), closed when it exits. */
struct db_replica_conn {
	PGconn *conn;
	struct util_backoff backoff;
	int64_t retry_ms; /* no attempt before this time after a failure */
};
static _Thread_local struct db_replica_conn *thread_replicas;
static pthread_key_t replica_key;
static pthread_once_t replica_key_once = PTHREAD_ONCE_INIT;

static void
db_replicas_exit(void *p)
{
	struct db_replica_conn *rc = p;

	for (int k = 0; k < DB_MAX_REPLICAS; k++)
		PQfinish(rc[k].conn);
	free(rc);
	thread_replicas = NULL;
}

static void
db_replica_key_init(void)
{
	pthread_key_create(&replica_key, db_replicas_exit);
}

static struct db_replica_conn *
db_replicas_of_thread(void)
{
	if (thread_replicas == NULL) {
		thread_replicas = xcalloc(DB_MAX_REPLICAS, sizeof(*thread_replicas));
		for (int k = 0; k < DB_MAX_REPLICAS; k++)
			thread_replicas[k].backoff = (struct util_backoff)UTIL_BACKOFF_INIT;
		pthread_once(&replica_key_once, db_replica_key_init);
		pthread_setspecific(replica_key, thread_replicas);
	}
	return thread_replicas;
}

PGconn *
db_thread_replica(int k, const char *url)
{
	struct db_replica_conn *rc;

	if (k < 0 || k >= DB_MAX_REPLICAS)
		return NULL;
	rc = &db_replicas_of_thread()[k];
	if (rc->conn != NULL && PQstatus(rc->conn) == CONNECTION_OK)
		return rc->conn;
	if (util_now_ms() < rc->retry_ms)
		return NULL;
	if (rc->conn == NULL) {
		rc->conn = db_open(url);
		PQsetNoticeProcessor(rc->conn, db_notice, NULL);
	} else {
		PQreset(rc->conn);
	}
	(void)db_conn_of(rc->conn);
	if (PQstatus(rc->conn) == CONNECTION_OK) {
		util_backoff_reset(&rc->backoff);
		return rc->conn;
	}
	log_warn("db_replica_connect_failed standby=%d error=\"%.*s\"", k + 1,
	         first_line(PQerrorMessage(rc->conn)), PQerrorMessage(rc->conn));
	rc->retry_ms = util_now_ms() + util_backoff_next(&rc->backoff);
	return NULL;
}

void
db_thread_close(void)
{
	struct db_conn *s = db_conn_of(thread_conn);

	if (s != NULL)
		s->reset_pending = true;
}
