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

/* One query of a pipeline (db_pipe_run): q, by name when prepared (else its text), with a
 * sync after it when sync; res gets its result. */
struct db_pipe_step {
	const struct db_q *q;
	bool prepared;
	bool sync;
	PGresult *res;
};

static const struct db_q db_q_begin = {-1, "BEGIN", 0, NULL};
static const struct db_q db_q_commit = {-1, "COMMIT", 0, NULL};
/* settle_position() (migration 0017): asked for after a sync that ends a transaction, so
 * that it reads the position after that commit record. Before the same sync it would share
 * the transaction, and a standby could replay the commit only later than that position: a
 * read served there could miss the write. */
static const struct db_q db_q_position = {-1, "SELECT settle_position()", 0, NULL};

/* Queues the n steps on c (in pipeline mode). False when libpq refused one. libpq 15's
 * PQpipelineSync pushes what is queued at once, so the steps leave in as many writes as
 * there are syncs; the client waits for the answers only once. */
static bool
db_pipe_send(PGconn *c, const struct db_pipe_step *st, int n)
{
	char name[16];

	for (int i = 0; i < n; i++) {
		const struct db_q *q = st[i].q;
		if (st[i].prepared)
			db_unit_name(q->u, name);
		if (st[i].prepared
		        ? !PQsendQueryPrepared(c, name, q->n, q->params, NULL, NULL, 0)
		        : !PQsendQueryParams(c, q->sql, q->n, NULL, q->params, NULL, NULL, 0))
			return false;
		if (st[i].sync && !PQpipelineSync(c))
			return false;
	}
	return true;
}

/* Reads the results of db_pipe_send, up to the last sync: each step's first result into its
 * res (a query after a failed one in the same sync gets PGRES_PIPELINE_ABORTED). Stops early
 * when the connection broke (two NULLs in a row: nothing comes); steps unanswered keep NULL. */
static void
db_pipe_read(PGconn *c, struct db_pipe_step *st, int n)
{
	int i = 0, syncs = 0, want = 0, nulls = 0;
	bool started = false;
	PGresult *x;

	for (int k = 0; k < n; k++)
		want += st[k].sync;
	while (syncs < want && nulls < 2) {
		if ((x = PQgetResult(c)) == NULL) {
			nulls++;
			if (started) { /* the end of step i's results */
				i++;
				started = false;
			}
			continue;
		}
		nulls = 0;
		if (PQresultStatus(x) == PGRES_PIPELINE_SYNC) {
			syncs++;
			PQclear(x);
		} else if (!started && i < n) {
			st[i].res = x;
			started = true;
		} else {
			PQclear(x);
		}
	}
}

/* Runs the n steps on c in one round trip (pipeline mode) and leaves pipeline mode. False,
 * with nothing sent, when c cannot enter it; else true, with each step's result in its res
 * (NULL when none came: the connection broke). */
static bool
db_pipe_run(PGconn *c, struct db_conn *s, struct db_pipe_step *st, int n)
{
	if (PQenterPipelineMode(c) != 1)
		return false;
	if (db_pipe_send(c, st, n))
		db_pipe_read(c, st, n);
	if (PQexitPipelineMode(c) != 1 && PQstatus(c) == CONNECTION_OK)
		s->reset_pending = true; /* results left behind: a new session next time */
	return true;
}

/* The result of step p, taken from it: never NULL (an empty failed result stands in when
 * none came). */
static PGresult *
db_pipe_result(PGconn *c, struct db_pipe_step *p)
{
	PGresult *r = p->res != NULL ? p->res : PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);

	p->res = NULL;
	return r;
}

/* Frees every step's result but keep's, and returns keep's (db_pipe_result). */
static PGresult *
db_pipe_take(PGconn *c, struct db_pipe_step *st, int n, int keep)
{
	PGresult *r = db_pipe_result(c, &st[keep]);

	for (int i = 0; i < n; i++)
		PQclear(st[i].res);
	return r;
}

/* The position step p read (0 when it failed), its result freed. */
static uint64_t
db_pipe_position(struct db_pipe_step *p)
{
	uint64_t lsn = 0;

	if (PQresultStatus(p->res) != PGRES_TUPLES_OK || PQntuples(p->res) != 1 ||
	    !db_parse_lsn(db_get(p->res, 0, 0), &lsn))
		lsn = 0;
	PQclear(p->res);
	p->res = NULL;
	return lsn;
}

/* db_exec_plain of a statement outside any transaction, in one round trip with the WAL
 * position after its commit (kept for db_take_commit_lsn when the statement succeeded). */
static PGresult *
db_exec_tracked(PGconn *c, struct db_conn *s, const struct db_q *q)
{
	bool prepared = db_exec_ready(c, s, q);
	struct db_pipe_step st[] = {{q, prepared, true, NULL}, {&db_q_position, false, true, NULL}};
	uint64_t lsn;
	PGresult *r;

	if (!db_pipe_run(c, s, st, 2))
		return db_exec_plain(c, s, q);
	lsn = db_pipe_position(&st[1]);
	r = db_pipe_take(c, st, 2, 0);
	if (prepared && db_exec_units_lost(s, r, q)) {
		PQclear(r);
		return db_exec_tracked(c, s, q); /* once: they are prepared again first */
	}
	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		s->commit_lsn = lsn;
	return r;
}

/* Sends the BEGIN db_begin left pending, alone, for what cannot go in a pipeline with it.
 * NULL when it succeeded, else its failed result. */
static PGresult *
db_exec_begin_alone(PGconn *c, struct db_conn *s)
{
	PGresult *r = PQexec(c, "BEGIN");

	s->tx_unsent = false;
	if (r != NULL && PQresultStatus(r) == PGRES_COMMAND_OK) {
		PQclear(r);
		return NULL;
	}
	return r != NULL ? r : PQmakeEmptyPGresult(c, PGRES_FATAL_ERROR);
}

/* The first statement of the transaction db_begin opened: its BEGIN and q in one round
 * trip. Inside the transaction, a statement the session lost is not retried (see
 * db_exec_plain): the caller gets that first error. */
static PGresult *
db_exec_begun(PGconn *c, struct db_conn *s, const struct db_q *q)
{
	bool prepared = db_exec_ready(c, s, q);
	struct db_pipe_step st[] = {{&db_q_begin, false, false, NULL}, {q, prepared, true, NULL}};
	PGresult *r;

	if (!db_pipe_run(c, s, st, 2)) /* c cannot pipeline: one at a time */
		return (r = db_exec_begin_alone(c, s)) != NULL ? r
		                                               : db_exec_send_sync(c, q, prepared);
	s->tx_unsent = false;
	r = db_pipe_take(c, st, 2, 1);
	if (prepared)
		(void)db_exec_units_lost(s, r, q);
	return r;
}

/* Runs q on c: with the position after its commit while commits are tracked and no
 * transaction is open (db_track_commits), else as it is. Only units are tracked: texts are
 * BEGIN, COMMIT and the like (db_commit records its own position), migrations and EXPLAIN. */
static PGresult *
db_exec_run(PGconn *c, const struct db_q *q)
{
	struct db_conn *s = db_conn_of(c);

	if (s != NULL && s->tx_unsent)
		return db_exec_begun(c, s, q);
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

/* The last statement of the outermost transaction and its COMMIT (with the position after
 * it, when wanted) in one round trip. */
static PGresult *
db_exec_last(PGconn *c, struct db_conn *s, const struct db_q *q)
{
	bool prepared = db_exec_ready(c, s, q), lsn = atomic_load(&db_tx_want_commit_lsn);
	struct db_pipe_step st[] = {{q, prepared, false, NULL},
	                            {&db_q_commit, false, true, NULL},
	                            {&db_q_position, false, true, NULL}};
	PGresult *r, *done;
	uint64_t pos;

	if (!db_pipe_run(c, s, st, lsn ? 3 : 2)) { /* c cannot pipeline: one at a time */
		if ((r = db_exec_check(c, db_exec_plain(c, s, q), sql_units[q->u].name)) != NULL &&
		    db_commit(c) == 0)
			return r;
		PQclear(r);
		db_rollback(c);
		return NULL;
	}
	s->tx_depth = 0; /* the transaction ended, committed or not */
	pos = lsn ? db_pipe_position(&st[2]) : 0;
	r = db_pipe_result(c, &st[0]);
	done = db_pipe_result(c, &st[1]);
	if (prepared)
		(void)db_exec_units_lost(s, r, q);
	if ((r = db_exec_check(c, r, sql_units[q->u].name)) == NULL) {
		PQclear(done); /* not run: the statement before it failed */
	} else if ((done = db_exec_check(c, done, "COMMIT")) == NULL) {
		PQclear(r);
		r = NULL;
	} else {
		PQclear(done);
		if (lsn)
			s->commit_lsn = pos;
		return r;
	}
	db_rollback(c); /* the transaction, if the failed statement left it open */
	return NULL;
}

PGresult *
db_exec_commit(PGconn *c, enum sql_unit u, const char *const *params)
{
	struct db_q q = {(int)u, sql_units[u].sql, sql_units[u].nparams, params};
	struct db_conn *s = db_conn_of(c);
	PGresult *r;

	if (s == NULL || s->tx_depth == 0)
		return db_exec(c, u, params);
	if (s->tx_depth == 1 && s->tx_unsent) { /* the transaction is this statement alone */
		s->tx_depth = 0;
		s->tx_unsent = false;
		return db_exec(c, u, params);
	}
	if (s->tx_depth == 1 && !s->tx_aborted)
		return db_exec_last(c, s, &q);
	if ((r = db_exec(c, u, params)) == NULL || db_commit(c) < 0) {
		if (r == NULL)
			db_rollback(c);
		PQclear(r);
		return NULL;
	}
	return r;
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

PGresult *
db_exec_script(PGconn *c, const char *sql)
{
	struct db_conn *s = db_conn_of(c);
	PGresult *r;

	if (s != NULL && s->tx_unsent && (r = db_exec_begin_alone(c, s)) != NULL)
		return db_exec_check(c, r, "BEGIN");
	return db_exec_check(c, PQexec(c, sql), sql);
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
