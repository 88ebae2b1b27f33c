/* db_tx.c: nested transactions on a connection, and the WAL positions of commits
 * (db_want_commit_lsn, db_track_commits). */
#include "db.h"

#include <stdatomic.h>
#include <stdio.h>

#include "db_internal.h"

atomic_bool db_tx_want_commit_lsn;

/* Transactions nest on a connection: only the outermost db_begin/db_commit reach Postgres,
 * and a db_rollback inside marks the whole transaction to be rolled back. settle-api uses
 * this to make a handler's transaction part of the one that records an Idempotency-Key.
 * The depth lives in the connection's state, so it cannot leak to another connection.
 * The outermost BEGIN is sent with the transaction's first statement, in its round trip
 * (db_exec.c); a transaction that ran none ends without reaching Postgres at all. */

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
	if (PQstatus(c) != CONNECTION_OK)
		return -1;
	s->tx_depth = 1;
	s->tx_aborted = false;
	s->tx_unsent = true;
	return 0;
}

/* COMMIT and the WAL position after it, in one round trip (a simple query runs its
 * statements in order and stops at the first error, which PQexec then returns). */
static int
db_tx_commit_lsn(PGconn *c, struct db_conn *s)
{
	/* Two statements (no unit can be): settle_position() (migration 0017), as text. */
	static const char sql[] = "COMMIT; SELECT settle_position()";
	PGresult *r = db_exec_check(c, PQexec(c, sql), sql);

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
	atomic_store(&db_tx_want_commit_lsn, true);
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
	if (s->tx_unsent) { /* no statement ran: nothing to commit */
		s->tx_unsent = false;
		return 0;
	}
	if (!atomic_load(&db_tx_want_commit_lsn))
		return db_cmd_text(c, "COMMIT", 0, NULL);
	return db_tx_commit_lsn(c, s);
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
	s->tx_unsent = false;
	/* Nothing to roll back when no statement ran, or the transaction ended already (a
	 * failed COMMIT, db_exec_commit). */
	if (PQtransactionStatus(c) == PQTRANS_IDLE)
		return;
	PGresult *r = PQexec(c, "ROLLBACK");
	PQclear(r);
}

bool
db_in_transaction(PGconn *c)
{
	struct db_conn *s = db_conn_of(c);

	return s != NULL && s->tx_depth > 0;
}
