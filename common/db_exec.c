/* db_exec.c: running statements: each query prepared once per connection (the statement
 * cache) and run by name, in pipeline mode with the WAL position after its commit while
 * commits are tracked; the outcome of the last statement; result accessors. */
#include "db.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db_internal.h"
#include "log.h"

/* The outcome of the thread's last db_exec, read right after it like errno. */
static _Thread_local char last_sqlstate[6];
static _Thread_local bool last_connection_error;

static uint64_t
db_exec_fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static bool
db_exec_cacheable(const char *sql)
{
	static const char *const verbs[] = {"SELECT", "INSERT", "UPDATE", "DELETE", "WITH"};
	sql += strspn(sql, " \t\n");
	for (size_t i = 0; i < ARRAY_LEN(verbs); i++)
		if (strncasecmp(sql, verbs[i], strlen(verbs[i])) == 0)
			return true;
	return false;
}

/* The slot of sql among the statements prepared on s (c's), -1 when it is not to be prepared
 * (not a query, or the cache is at DB_CACHE_MAX). A unit's text (sql_units.h) is always
 * prepared, as its unit: then the slot is the unit's number and never fresh. *fresh: the slot is
 * new, the statement must be prepared first (and kept with db_exec_stmt_keep once that succeeded).
 * name gets its name. */
static int
db_exec_stmt_slot(PGconn *c, struct db_conn *s, const char *sql, bool *fresh, char name[48])
{
	uint64_t h;
	int i, u = db_unit_of(sql);

	*fresh = false;
	if (s == NULL)
		return -1;
	if (u >= 0) {
		/* A unit: prepared with all the others when the connection runs its first one.
		 * When that fails it runs unprepared, and fails or not on its own. */
		char *err = NULL;
		int rc = s->units_ready ? 0 : db_units_prepare(c, &err);
		free(err);
		if (rc != 0)
			return -1;
		db_unit_name(u, name);
		return u;
	}
	if (!db_exec_cacheable(sql))
		return -1;
	h = db_exec_fnv(sql);
	for (i = 0; i < s->n; i++)
		if (s->stmts[i].hash == h && strcmp(s->stmts[i].sql, sql) == 0)
			break;
	if (i == s->n && s->n == DB_CACHE_MAX) {
		static atomic_bool warned;
		if (!atomic_exchange(&warned, true))
			log_warn("db_statement_cache_full max=%d sql=\"%.80s\"", DB_CACHE_MAX, sql);
		return -1;
	}
	if (i == s->n && s->n == s->cap) {
		s->cap = s->cap > 0 ? s->cap * 2 : 64;
		s->stmts = xrealloc(s->stmts, (size_t)s->cap * sizeof(*s->stmts));
	}
	*fresh = i == s->n;
	snprintf(name, 48, "s%llu_%d", (unsigned long long)s->gen, i);
	return i;
}

/* Records that sql is prepared in slot i (the new one) of s. */
static void
db_exec_stmt_keep(struct db_conn *s, int i, const char *sql)
{
	s->stmts[i].hash = db_exec_fnv(sql);
	s->stmts[i].sql = xstrdup(sql);
	s->n++;
}

/* True when r failed because the session lost its prepared statements (26000, e.g. after
 * DISCARD ALL): then the cache starts again. */
static bool
db_exec_stmt_lost(struct db_conn *s, const PGresult *r, const char *sql)
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
db_exec_plain(PGconn *c, struct db_conn *s, const char *sql, int n, const char *const *params)
{
	char name[48];
	bool fresh;
	int i = db_exec_stmt_slot(c, s, sql, &fresh, name);

	if (i < 0)
		return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	if (fresh) {
		PGresult *p = PQprepare(c, name, sql, n, NULL);
		if (PQresultStatus(p) != PGRES_COMMAND_OK)
			return p; /* the statement's own error (or the connection's) */
		PQclear(p);
		db_exec_stmt_keep(s, i, sql);
	}
	PGresult *r = PQexecPrepared(c, name, n, params, NULL, NULL, 0);
	if (!db_exec_stmt_lost(s, r, sql) || PQtransactionStatus(c) != PQTRANS_IDLE)
		return r;
	PQclear(r);
	return PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
}

/* Queues sql (prepared in slot i, first prepared when fresh; unprepared when i < 0), a
 * sync, the position query and a sync on c, in pipeline mode. False when libpq refused. */
static bool
db_exec_pipeline_send(PGconn *c, const char *sql, int n, const char *const *params, int i,
                      bool fresh, const char *name)
{
	static const char lsn_sql[] = "SELECT settle_position()";

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

/* Reads the results of db_exec_pipeline_send: returns the statement's (or its failed prepare's)
 * result and sets *lsn from the position query (0 when it failed). Every result is read,
 * up to the second sync, unless the connection broke (two NULLs in a row: nothing comes). */
static PGresult *
db_exec_pipeline_read(PGconn *c, struct db_conn *s, const char *sql, int i, bool fresh,
                      uint64_t *lsn)
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
				db_exec_stmt_keep(s, i, sql);
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

/* db_exec_plain of a statement outside any transaction, in one round trip with the WAL
 * position after its commit (kept for db_take_commit_lsn when the statement succeeded).
 * libpq 15's PQpipelineSync pushes what is queued at once, so the statement and the
 * position query leave in two writes; the client waits for the answers only once. */
static PGresult *
db_exec_tracked(PGconn *c, struct db_conn *s, const char *sql, int n, const char *const *params)
{
	char name[48];
	bool fresh;
	int i = db_exec_stmt_slot(c, s, sql, &fresh, name);
	uint64_t lsn;
	PGresult *r;

	if (PQenterPipelineMode(c) != 1)
		return db_exec_plain(c, s, sql, n, params);
	r = db_exec_pipeline_send(c, sql, n, params, i, fresh, name)
	        ? db_exec_pipeline_read(c, s, sql, i, fresh, &lsn)
	        : NULL;
	if (PQexitPipelineMode(c) != 1 && PQstatus(c) == CONNECTION_OK)
		s->reset_pending = true; /* results left behind: a new session next time */
	if (r == NULL)
		return PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
	if (i >= 0 && db_exec_stmt_lost(s, r, sql)) {
		PQclear(r);
		return db_exec_tracked(c, s, sql, n, params); /* once: the cache is empty now */
	}
	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		s->commit_lsn = lsn;
	return r;
}

/* Runs sql on c: with the position after its commit while commits are tracked and no
 * transaction is open (db_track_commits), else as it is. BEGIN, COMMIT and the like are
 * never tracked (db_commit records its own position). */
static PGresult *
db_exec_run(PGconn *c, const char *sql, int n, const char *const *params)
{
	struct db_conn *s = db_conn_of(c);

	if (s != NULL && s->track_commits && s->tx_depth == 0 && db_exec_cacheable(sql) &&
	    atomic_load(&db_tx_want_commit_lsn) && PQtransactionStatus(c) == PQTRANS_IDLE)
		return db_exec_tracked(c, s, sql, n, params);
	return db_exec_plain(c, s, sql, n, params);
}

/* Keeps r when it succeeded; else records its SQLSTATE, logs it and returns NULL. */
PGresult *
db_exec_check(PGconn *c, PGresult *r, const char *sql)
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
	return db_exec_check(c, db_exec_run(c, sql, n, params), sql);
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
