/* db.c: libpq helpers: connect with retry, per-thread connections, parameterised queries. */
#include "db.h"

#include <pthread.h>
#include <stdatomic.h>
#include <strings.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "log.h"

static _Thread_local PGconn *thread_conn;
static _Thread_local int tx_depth; /* see db_begin */
static _Thread_local bool tx_aborted;
static pthread_key_t conn_key;
static pthread_once_t conn_key_once = PTHREAD_ONCE_INIT;
static _Thread_local char last_sqlstate[6];
static _Thread_local bool last_connection_error;

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

PGconn *
db_thread_conn(void)
{
	if (thread_conn != NULL && PQstatus(thread_conn) != CONNECTION_OK) {
		PQreset(thread_conn);
		if (PQstatus(thread_conn) != CONNECTION_OK)
			db_thread_close();
	}
	if (thread_conn == NULL) {
		thread_conn = db_connect(cfg.database_url, 1);
		pthread_once(&conn_key_once, db_key_init);
		pthread_setspecific(conn_key, thread_conn);
	}
	return thread_conn;
}

void
db_thread_close(void)
{
	if (thread_conn != NULL)
		PQfinish(thread_conn);
	thread_conn = NULL;
	tx_depth = 0;
	tx_aborted = false;
	pthread_once(&conn_key_once, db_key_init);
	pthread_setspecific(conn_key, NULL);
}

/* Prepared statements: every SELECT/INSERT/UPDATE/DELETE/WITH that goes through db_exec is
 * prepared once per connection and then executed by name, so Postgres parses and plans the
 * handlers' queries once, not per request. A thread keeps the statements of the last few
 * connections it used; names carry a generation number, so a connection seen again after
 * its cache was dropped never gets a name twice. */
#define DB_CACHE_CONNS 4
#define DB_CACHE_STMTS 128

struct db_stmt_cache {
	PGconn *conn;
	uint64_t gen, last_use;
	int n;
	uint64_t hash[DB_CACHE_STMTS];
	size_t len[DB_CACHE_STMTS];
};

static _Thread_local struct db_stmt_cache db_caches[DB_CACHE_CONNS];
static _Thread_local uint64_t db_cache_clock;
static atomic_uint_fast64_t db_cache_gen;

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

/* The cache of connection c, made (or taken over from the least recently used) if new. */
static struct db_stmt_cache *
db_cache_for(PGconn *c)
{
	struct db_stmt_cache *lru = &db_caches[0];

	for (int i = 0; i < DB_CACHE_CONNS; i++) {
		if (db_caches[i].conn == c) {
			db_caches[i].last_use = ++db_cache_clock;
			return &db_caches[i];
		}
		if (db_caches[i].last_use < lru->last_use)
			lru = &db_caches[i];
	}
	memset(lru, 0, sizeof(*lru));
	lru->conn = c;
	lru->gen = atomic_fetch_add(&db_cache_gen, 1);
	lru->last_use = ++db_cache_clock;
	return lru;
}

/* Runs sql: by name when it is (or can now be) prepared on c, else unprepared. */
static PGresult *
db_run(PGconn *c, const char *sql, int n, const char *const *params)
{
	struct db_stmt_cache *cache;
	uint64_t h;
	size_t len;
	char name[48];
	int i;

	if (!db_cacheable(sql))
		return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	cache = db_cache_for(c);
	h = db_fnv(sql);
	len = strlen(sql);
	/* Texts are matched by 64-bit hash and length: callers' strings are not kept. */
	for (i = 0; i < cache->n; i++)
		if (cache->hash[i] == h && cache->len[i] == len)
			break;
	if (i == cache->n && cache->n == DB_CACHE_STMTS)
		return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	snprintf(name, sizeof(name), "s%llu_%d", (unsigned long long)cache->gen, i);
	if (i == cache->n) {
		PGresult *p = PQprepare(c, name, sql, n, NULL);
		bool ok = PQresultStatus(p) == PGRES_COMMAND_OK;
		PQclear(p);
		if (!ok) /* let the unprepared run report the error */
			return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
		cache->hash[i] = h;
		cache->len[i] = len;
		cache->n++;
	}
	PGresult *r = PQexecPrepared(c, name, n, params, NULL, NULL, 0);
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	if (state != NULL && strcmp(state, "26000") == 0) {
		/* The connection was reset and lost its statements: start its cache again. */
		cache->conn = NULL;
		cache->last_use = 0;
		PQclear(r);
		return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	}
	return r;
}

PGresult *
db_exec(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = db_run(c, sql, n, params);
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
		const char *msg = PQerrorMessage(c);
		size_t len = strcspn(msg, "\n");
		log_error("db_error sqlstate=%s error=\"%.*s\" sql=\"%.80s\"", last_sqlstate,
		          (int)len, msg, sql);
	}
	PQclear(r);
	return NULL;
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

/* Transactions nest: only the outermost db_begin/db_commit reach Postgres, and a
 * db_rollback inside marks the whole transaction to be rolled back. settle-api uses this
 * to make a handler's transaction part of the one that records an Idempotency-Key. */

int
db_begin(PGconn *c)
{
	if (tx_depth > 0) {
		tx_depth++;
		return 0;
	}
	if (db_cmd(c, "BEGIN", 0, NULL) < 0)
		return -1;
	tx_depth = 1;
	tx_aborted = false;
	return 0;
}

int
db_commit(PGconn *c)
{
	if (tx_depth > 1) {
		tx_depth--;
		return 0;
	}
	tx_depth = 0;
	if (tx_aborted) {
		db_rollback(c);
		return -1;
	}
	return db_cmd(c, "COMMIT", 0, NULL);
}

void
db_rollback(PGconn *c)
{
	if (tx_depth > 1) {
		tx_depth--;
		tx_aborted = true;
		return;
	}
	tx_depth = 0;
	tx_aborted = false;
	PGresult *r = PQexec(c, "ROLLBACK");
	PQclear(r);
}

bool
db_in_transaction(void)
{
	return tx_depth > 0;
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
