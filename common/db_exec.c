/* db_exec.c: running statements: a unit of sql/ by the name it is prepared as on the
 * connection (db_units.c), in pipeline mode with the WAL position after its commit while
 * commits are tracked; a text unprepared; the outcome of the last statement; result
 * accessors. */
#include "db.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_internal.h"
#include "log.h"

/* The outcome of the thread's last db_exec, read right after it like errno. */
static _Thread_local char last_sqlstate[6];
static _Thread_local bool last_connection_error;

/* What to run: unit u (prepared as db_unit_name(u)) or, when u < 0, the text sql
 * (unprepared), with n text parameters. */
struct db_q {
	int u;
	const char *sql;
	int n;
	const char *const *params;
};

/* Makes sure every unit is prepared on c before q (a unit) runs by name. False when that
 * failed: then q runs unprepared, and fails or not on its own. */
static bool
db_exec_ready(PGconn *c, struct db_conn *s, const struct db_q *q)
{
	char *err = NULL;
	int rc;

	if (q->u < 0 || s == NULL)
		return false;
	if (s->units_ready)
		return true;
	rc = db_units_prepare(c, &err);
	free(err);
	return rc == 0;
}

/* True when r failed because the session lost its prepared statements (26000, e.g. after
 * DISCARD ALL): then they are prepared again before the next unit runs. */
static bool
db_exec_units_lost(struct db_conn *s, const PGresult *r, const struct db_q *q)
{
	const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (state == NULL || strcmp(state, "26000") != 0)
		return false;
	log_warn("db_statements_lost unit=%s", q->u >= 0 ? sql_units[q->u].name : "-");
	s->units_ready = false;
	return true;
}

/* Runs q and waits for its result: by name when prepared, else its text unprepared. */
static PGresult *
db_exec_send_sync(PGconn *c, const struct db_q *q, bool prepared)
{
	char name[16];

	if (!prepared)
		return PQexecParams(c, q->sql, q->n, NULL, q->params, NULL, NULL, 0);
	db_unit_name(q->u, name);
	return PQexecPrepared(c, name, q->n, q->params, NULL, NULL, 0);
}

/* Runs q: a unit by name (prepared first on a new session), a text unprepared. A statement
 * is never run twice: when a unit fails because the session lost its statements, the
 * unprepared retry happens only outside a transaction; inside one the transaction is aborted
 * already, and the caller gets that first error. */
static PGresult *
db_exec_plain(PGconn *c, struct db_conn *s, const struct db_q *q)
{
	bool prepared = db_exec_ready(c, s, q);
	PGresult *r = db_exec_send_sync(c, q, prepared);

	if (!prepared || !db_exec_units_lost(s, r, q) || PQtransactionStatus(c) != PQTRANS_IDLE)
		return r;
	PQclear(r);
	return db_exec_send_sync(c, q, false);
}

/* Queues q, a sync, the position query and a sync on c, in pipeline mode. False when libpq
 * refused. */
static bool
db_exec_pipeline_send(PGconn *c, const struct db_q *q, bool prepared)
{
	static const char lsn_sql[] = "SELECT settle_position()";
	char name[16];

	db_unit_name(q->u, name);
	if (prepared ? !PQsendQueryPrepared(c, name, q->n, q->params, NULL, NULL, 0)
	             : !PQsendQueryParams(c, q->sql, q->n, NULL, q->params, NULL, NULL, 0))
		return false;
	/* The statement's implicit transaction ends, and commits, at this sync: the position
	 * is asked for after it. Both before one sync would share an implicit transaction, and
	 * the position would be read before that transaction's commit record, which a standby
	 * could replay only later: a read served there could miss the write. */
	if (!PQpipelineSync(c))
		return false;
	return PQsendQueryParams(c, lsn_sql, 0, NULL, NULL, NULL, NULL, 0) && PQpipelineSync(c);
}

/* Reads the results of db_exec_pipeline_send: returns the statement's result and sets *lsn
 * from the position query (0 when it failed). Every result is read, up to the second sync,
 * unless the connection broke (two NULLs in a row: nothing comes). */
static PGresult *
db_exec_pipeline_read(PGconn *c, uint64_t *lsn)
{
	PGresult *out = NULL, *x;
	int syncs = 0, nulls = 0;

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
db_exec_tracked(PGconn *c, struct db_conn *s, const struct db_q *q)
{
	bool prepared = db_exec_ready(c, s, q);
	uint64_t lsn;
	PGresult *r;

	if (PQenterPipelineMode(c) != 1)
		return db_exec_plain(c, s, q);
	r = db_exec_pipeline_send(c, q, prepared) ? db_exec_pipeline_read(c, &lsn) : NULL;
	if (PQexitPipelineMode(c) != 1 && PQstatus(c) == CONNECTION_OK)
		s->reset_pending = true; /* results left behind: a new session next time */
	if (r == NULL)
		return PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
	if (prepared && db_exec_units_lost(s, r, q)) {
		PQclear(r);
		return db_exec_tracked(c, s, q); /* once: they are prepared again first */
	}
	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		s->commit_lsn = lsn;
	return r;
}

/* Runs q on c: with the position after its commit while commits are tracked and no
 * transaction is open (db_track_commits), else as it is. Only units are tracked: texts are
 * BEGIN, COMMIT and the like (db_commit records its own position), migrations and EXPLAIN. */
static PGresult *
db_exec_run(PGconn *c, const struct db_q *q)
{
	struct db_conn *s = db_conn_of(c);

	if (s != NULL && q->u >= 0 && s->track_commits && s->tx_depth == 0 &&
	    atomic_load(&db_tx_want_commit_lsn) && PQtransactionStatus(c) == PQTRANS_IDLE)
		return db_exec_tracked(c, s, q);
	return db_exec_plain(c, s, q);
}

/* Keeps r when it succeeded; else records its SQLSTATE, logs it and returns NULL. */
PGresult *
db_exec_check(PGconn *c, PGresult *r, const char *what)
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
		          (int)len, msg, what);
	}
	PQclear(r);
	return NULL;
}

PGresult *
db_exec(PGconn *c, enum sql_unit u, const char *const *params)
{
	struct db_q q = {(int)u, sql_units[u].sql, sql_units[u].nparams, params};
	return db_exec_check(c, db_exec_run(c, &q), sql_units[u].name);
}

int
db_cmd(PGconn *c, enum sql_unit u, const char *const *params)
{
	PGresult *r = db_exec(c, u, params);
	if (r == NULL)
		return -1;
	PQclear(r);
	return 0;
}

PGresult *
db_exec_text(PGconn *c, const char *sql, int n, const char *const *params)
{
	struct db_q q = {-1, sql, n, params};
	return db_exec_check(c, db_exec_run(c, &q), sql);
}

int
db_cmd_text(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = db_exec_text(c, sql, n, params);
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
