/* db.c: libpq helpers: connect with retry, per-thread connections, parameterised queries,
 * and the state each connection carries (its prepared statements and transaction nesting). */
#include "db.h"

#include <inttypes.h>
#include <libpq-events.h>
#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

/* The calling thread's own connection (db_thread_conn): settle-api keeps one per HTTP
 * thread. Everything about a connection lives in its db_conn (below), not here. */
static _Thread_local PGconn *thread_conn;
static pthread_key_t conn_key;
static pthread_once_t conn_key_once = PTHREAD_ONCE_INIT;
/* The outcome of the thread's last db_exec, read right after it like errno. */
static _Thread_local char last_sqlstate[6];
static _Thread_local bool last_connection_error;

/* Prepared statements: every SELECT/INSERT/UPDATE/DELETE/WITH that goes through db_exec is
 * prepared once per connection and then executed by name, so Postgres parses and plans the
 * handlers' queries once, not per request. A statement is found by its text: a 64-bit hash
 * first, then the whole text (a copy is kept), so two texts never share a name. */
#define DB_CACHE_STMTS 128

/* The state of one connection, attached to its PGconn through libpq's event system
 * (libpq-events.h): made when db_event is registered, its statements forgotten when libpq
 * resets the connection (a new server session has none, and a transaction open across the
 * reset is marked aborted), freed when the PGconn is finished. So a new connection never sees an
 * old one's state, even at the same address. Only the thread using the connection touches it. */
struct db_conn {
	uint64_t gen; /* in statement names; bumped whenever the cache is emptied */
	int n;        /* statements prepared on this session */
	uint64_t hash[DB_CACHE_STMTS];
	char *sql[DB_CACHE_STMTS]; /* copies of the texts, owned */
	int tx_depth;              /* see db_begin */
	bool tx_aborted;
	bool reset_pending;  /* db_thread_close: a new session at the next db_thread_conn */
	bool track_commits;  /* see db_track_commits */
	uint64_t commit_lsn; /* see db_want_commit_lsn */
};

/* Set once at start (db_want_commit_lsn), read by every db_commit and db_exec. */
static atomic_bool want_commit_lsn;

/* Forgets the statements prepared on the connection; new names from now on. */
static void
db_conn_forget(struct db_conn *s)
{
	for (int i = 0; i < s->n; i++)
		free(s->sql[i]);
	s->n = 0;
	s->gen++;
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
			db_conn_forget(s);
			/* A transaction open across the reset is gone: its commit must fail. */
			s->tx_aborted = s->tx_depth > 0;
			s->reset_pending = false;
		}
		return 1;
	}
	case PGEVT_CONNDESTROY: {
		struct db_conn *s = PQinstanceData(((PGEventConnDestroy *)info)->conn, db_event);
		if (s != NULL)
			db_conn_forget(s);
		free(s);
		return 1;
	}
	default:
		return 1;
	}
}

/* The state of c, attaching it on first use (connections not made by db_connect). NULL
 * only when c is NULL. */
static struct db_conn *
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
db_connect(const char *url, int tries)
{
	for (int i = 0; i < tries || tries <= 0; i++) {
		PGconn *c = PQconnectdb(url);
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
		thread_conn = PQconnectdb(cfg.database_url);
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
		rc->conn = PQconnectdb(url);
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

static uint64_t
db_fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool
db_cacheable(const char *sql)
{
	static const char *const verbs[] = {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"};
	sql += strspn(sql, " \t\n");
	for (size_t i = 0; i < ARRAY_LEN(verbs); i++)
		if (strncasecmp(sql, verbs[i], strlen(verbs[i])) == 0)
			return true;
	return false;
}

/* The slot of sql among the statements prepared on s, -1 when it is not to be prepared
 * (not a query, or the cache is full). *fresh: the slot is new, the statement must be
 * prepared first (and kept with db_stmt_keep once that succeeded). name gets its name. */
static int
db_stmt_slot(struct db_conn *s, const char *sql, bool *fresh, char name[48])
{
	uint64_t h;
	int i;

	*fresh = false;
	if (s == NULL || !db_cacheable(sql))
		return -1;
	h = db_fnv(sql);
	for (i = 0; i < s->n; i++)
		if (s->hash[i] == h && strcmp(s->sql[i], sql) == 0)
			break;
	if (i == s->n && s->n == DB_CACHE_STMTS)
		return -1;
	*fresh = i == s->n;
	snprintf(name, 48, "s%llu_%d", (unsigned long long)s->gen, i);
	return i;
}

/* Records that sql is prepared in slot i (the new one) of s. */
static void
db_stmt_keep(struct db_conn *s, int i, const char *sql)
{
	s->hash[i] = db_fnv(sql);
	s->sql[i] = xstrdup(sql);
	s->n++;
}

/* True when r failed because the session lost its prepared statements (26000, e.g. after
 * DISCARD ALL): then the cache starts again. */
static bool
db_stmt_lost(struct db_conn *s, const PGresult *r, const char *sql)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (state == NULL || strcmp(state, "26000") != 0)
		return false;
	log_warn("db_statements_lost sql=\"%.80s\"", sql);
	db_conn_forget(s);
	return true;
}

/* Runs sql: by name when it is (or can now be) prepared on c, else unprepared. A statement
 * is never run twice: when its prepared form fails because the session lost its statements,
 * the unprepared retry happens only outside a transaction; inside one the transaction is
 * aborted already, and the caller gets that first error. */
static PGresult *
db_run_plain(PGconn *c, struct db_conn *s, const char *sql, int n, const char *const *params)
{
	char name[48];
	bool fresh;
	int i = db_stmt_slot(s, sql, &fresh, name);

	if (i < 0)
		return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	if (fresh) {
		PGresult *p = PQprepare(c, name, sql, n, NULL);
		if (PQresultStatus(p) != PGRES_COMMAND_OK)
			return p; /* the statement's own error (or the connection's) */
		PQclear(p);
		db_stmt_keep(s, i, sql);
	}
	PGresult *r = PQexecPrepared(c, name, n, params, NULL, NULL, 0);
	if (!db_stmt_lost(s, r, sql) || PQtransactionStatus(c) != PQTRANS_IDLE)
		return r;
	PQclear(r);
	return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
}

/* Queues sql (prepared in slot i, first prepared when fresh; unprepared when i < 0), a
 * sync, the position query and a sync on c, in pipeline mode. False when libpq refused. */
static bool
db_pipeline_send(PGconn *c, const char *sql, int n, const char *const *params, int i, bool fresh,
                 const char *name)
{
	static const char lsn_sql[] = "SELECT " DB_SQL_POSITION;

	if (i >= 0 && fresh && !PQsendPrepare(c, name, sql, n, NULL))
		return false;
	if (i >= 0 ? !PQsendQueryPrepared(c, name, n, params, NULL, NULL, 0)
	           : !PQsendQueryParams(c, sql, n, NULL, params, NULL, NULL, 0))
		return false;
	/* The statement's implicit transaction ends, and commits, at this sync: the position
	 * is asked for after it. Both before one sync would share an implicit transaction, and
	 * the position would be read before that transaction's commit record, which a standby
	 * could replay only later: a read served there could miss the write. */
	if (!PQpipelineSync(c))
		return false;
	return PQsendQueryParams(c, lsn_sql, 0, NULL, NULL, NULL, NULL, 0) && PQpipelineSync(c);
}

/* Reads the results of db_pipeline_send: returns the statement's (or its failed prepare's)
 * result and sets *lsn from the position query (0 when it failed). Every result is read,
 * up to the second sync, unless the connection broke (two NULLs in a row: nothing comes). */
static PGresult *
db_pipeline_read(PGconn *c, struct db_conn *s, const char *sql, int i, bool fresh, uint64_t *lsn)
{
	PGresult *out = NULL, *x;
	int syncs = 0, nulls = 0, seen = 0;

	*lsn = 0;
	while (syncs < 2 && nulls < 2) {
		if ((x = PQgetResult(c)) == NULL) {
			nulls++;
			continue;
		}
		nulls = 0;
		if (PQresultStatus(x) == PGRES_PIPELINE_SYNC) {
			syncs++;
			PQclear(x);
		} else if (syncs == 1) {
			if (PQresultStatus(x) != PGRES_TUPLES_OK || PQntuples(x) != 1 ||
			    !db_parse_lsn(db_get(x, 0, 0), lsn))
				*lsn = 0;
			PQclear(x);
		} else if (seen++ == 0 && i >= 0 && fresh) {
			/* The prepare's result: on failure it is the answer (the execution that
			 * follows is aborted). */
			if (PQresultStatus(x) == PGRES_COMMAND_OK) {
				db_stmt_keep(s, i, sql);
				PQclear(x);
			} else {
				out = x;
			}
		} else if (out == NULL) {
			out = x;
		} else {
			PQclear(x);
		}
	}
	return out;
}

/* db_run_plain of a statement outside any transaction, in one round trip with the WAL
 * position after its commit (kept for db_take_commit_lsn when the statement succeeded).
 * libpq 15's PQpipelineSync pushes what is queued at once, so the statement and the
 * position query leave in two writes; the client waits for the answers only once. */
static PGresult *
db_run_tracked(PGconn *c, struct db_conn *s, const char *sql, int n, const char *const *params)
{
	char name[48];
	bool fresh;
	int i = db_stmt_slot(s, sql, &fresh, name);
	uint64_t lsn;
	PGresult *r;

	if (PQenterPipelineMode(c) != 1)
		return db_run_plain(c, s, sql, n, params);
	r = db_pipeline_send(c, sql, n, params, i, fresh, name)
	        ? db_pipeline_read(c, s, sql, i, fresh, &lsn)
	        : NULL;
	if (PQexitPipelineMode(c) != 1 && PQstatus(c) == CONNECTION_OK)
		s->reset_pending = true; /* results left behind: a new session next time */
	if (r == NULL)
		return PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
	if (i >= 0 && db_stmt_lost(s, r, sql)) {
		PQclear(r);
		return db_run_tracked(c, s, sql, n, params); /* once: the cache is empty now */
	}
	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		s->commit_lsn = lsn;
	return r;
}

/* Runs sql on c: with the position after its commit while commits are tracked and no
 * transaction is open (db_track_commits), else as it is. BEGIN, COMMIT and the like are
 * never tracked (db_commit records its own position). */
static PGresult *
db_run(PGconn *c, const char *sql, int n, const char *const *params)
{
	struct db_conn *s = db_conn_of(c);

	if (s != NULL && s->track_commits && s->tx_depth == 0 && db_cacheable(sql) &&
	    atomic_load(&want_commit_lsn) && PQtransactionStatus(c) == PQTRANS_IDLE)
		return db_run_tracked(c, s, sql, n, params);
	return db_run_plain(c, s, sql, n, params);
}

/* Keeps r when it succeeded; else records its SQLSTATE, logs it and returns NULL. */
static PGresult *
db_check(PGconn *c, PGresult *r, const char *sql)
{
	ExecStatusType st = PQresultStatus(r);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		last_sqlstate[0] = '\0';
		last_connection_error = false;
		return r;
	}
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	snprintf(last_sqlstate, sizeof(last_sqlstate), "%s", state ? state : "");
	last_connection_error = PQstatus(c) != CONNECTION_OK || state == NULL ||
	                        strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0;
	/* Unique violations and serialization failures are expected; callers handle them. */
	if (strcmp(last_sqlstate, "23505") != 0 && strcmp(last_sqlstate, "40001") != 0) {
		const char *msg =
		    PQresultErrorMessage(r)[0] ? PQresultErrorMessage(r) : PQerrorMessage(c);
		size_t len = strcspn(msg, "\n");
		log_error("db_error sqlstate=%s error=\"%.*s\" sql=\"%.80s\"", last_sqlstate,
		          (int)len, msg, sql);
	}
	PQclear(r);
	return NULL;
}

PGresult *
db_exec(PGconn *c, const char *sql, int n, const char *const *params)
{
	return db_check(c, db_run(c, sql, n, params), sql);
}

int
db_cmd(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = db_exec(c, sql, n, params);
	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

const char *
db_last_sqlstate(void)
{
	return last_sqlstate;
}

bool
db_last_was_connection(void)
{
	return last_connection_error;
}

/* Transactions nest on a connection: only the outermost db_begin/db_commit reach Postgres,
 * and a db_rollback inside marks the whole transaction to be rolled back. settle-api uses
 * this to make a handler's transaction part of the one that records an Idempotency-Key.
 * The depth lives in the connection's state, so it cannot leak to another connection. */

int
db_begin(PGconn *c)
{
	struct db_conn *s = db_conn_of(c);

	if (s == NULL)
		return -1;
	if (s->tx_depth > 0) {
		s->tx_depth++;
		return 0;
	}
	if (db_cmd(c, "BEGIN", 0, NULL) < 0)
		return -1;
	s->tx_depth = 1;
	s->tx_aborted = false;
	return 0;
}

/* COMMIT and the WAL position after it, in one round trip (a simple query runs its
 * statements in order and stops at the first error, which PQexec then returns). */
static int
db_commit_lsn(PGconn *c, struct db_conn *s)
{
	static const char sql[] = "COMMIT; SELECT " DB_SQL_POSITION;
	PGresult *r = db_check(c, PQexec(c, sql), sql);

	if (r == NULL)
		return -1;
	if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
	    !db_parse_lsn(db_get(r, 0, 0), &s->commit_lsn))
		s->commit_lsn = 0;
	PQclear(r);
	return 0;
}

void
db_want_commit_lsn(void)
{
	atomic_store(&want_commit_lsn, true);
}

void
db_track_commits(PGconn *c, bool on)
{
	struct db_conn *s = db_conn_of(c);

	if (s == NULL)
		return;
	s->track_commits = on;
	if (on)
		s->commit_lsn = 0;
}

uint64_t
db_take_commit_lsn(PGconn *c)
{
	struct db_conn *s = db_conn_of(c);
	uint64_t lsn = s != NULL ? s->commit_lsn : 0;

	if (s != NULL)
		s->commit_lsn = 0;
	return lsn;
}

bool
db_parse_lsn(const char *s, uint64_t *out)
{
	unsigned int hi, lo;
	int end = 0;

	if (s == NULL || sscanf(s, "%X/%X%n", &hi, &lo, &end) != 2 || s[end] != '\0')
		return false;
	*out = ((uint64_t)hi << 32) | lo;
	return true;
}

int
db_commit(PGconn *c)
{
	struct db_conn *s = db_conn_of(c);

	if (s == NULL)
		return -1;
	if (s->tx_depth > 1) {
		s->tx_depth--;
		return 0;
	}
	s->tx_depth = 0;
	if (s->tx_aborted) {
		db_rollback(c);
		return -1;
	}
	if (!atomic_load(&want_commit_lsn))
		return db_cmd(c, "COMMIT", 0, NULL);
	return db_commit_lsn(c, s);
}

void
db_rollback(PGconn *c)
{
	struct db_conn *s = db_conn_of(c);

	if (s == NULL)
		return;
	if (s->tx_depth > 1) {
		s->tx_depth--;
		s->tx_aborted = true;
		return;
	}
	s->tx_depth = 0;
	s->tx_aborted = false;
	PGresult *r = PQexec(c, "ROLLBACK");
	PQclear(r);
}

bool
db_in_transaction(PGconn *c)
{
	struct db_conn *s = db_conn_of(c);

	return s != NULL && s->tx_depth > 0;
}

const char *
db_get(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return PQgetvalue(r, row, col);
}

int64_t
db_get_i64(const PGresult *r, int row, int col)
{
	const char *v = db_get(r, row, col);
	return v ? strtoll(v, NULL, 10) : 0;
}

bool
db_get_bool(const PGresult *r, int row, int col)
{
	const char *v = db_get(r, row, col);
	return v != NULL && v[0] == 't';
}
