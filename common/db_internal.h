/* db_internal.h: private to the files of the db module (db.c, db_exec.c, db_tx.c); not part
 * of db.h's API. The state each connection carries and the few functions those files share. */
#ifndef SETTLE_DB_INTERNAL_H
#define SETTLE_DB_INTERNAL_H

#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdint.h>

#include "db.h"

/* The state of one connection, attached to its PGconn through libpq's event system
 * (libpq-events.h): made when db_event is registered, its units marked unprepared when libpq
 * resets the connection (a new server session has none, and a transaction open across the
 * reset is marked aborted), freed when the PGconn is finished. So a new connection never sees an
 * old one's state, even at the same address. Only the thread using the connection touches it. */
struct db_conn {
	bool units_ready; /* every unit of sql/ is prepared, as "u<n>" (db_units_prepare) */
	int tx_depth;     /* see db_begin */
	bool tx_aborted;
	bool tx_unsent;      /* the outermost db_begin's BEGIN waits for the first statement */
	bool reset_pending;  /* db_thread_close: a new session at the next db_thread_conn */
	bool track_commits;  /* see db_track_commits */
	uint64_t commit_lsn; /* see db_want_commit_lsn */
};

/* db.c: the state of a connection. */

/* The state of c, attaching it on first use (connections not made by db_connect). NULL
 * only when c is NULL. */
struct db_conn *db_conn_of(PGconn *c);
/* Frees s. */
void db_conn_free(struct db_conn *s);

/* db_exec.c: running statements. */

/* Keeps r when it succeeded; else records its SQLSTATE, logs it (naming the statement by
 * what: a unit's name, or a text) and returns NULL. */
PGresult *db_exec_check(PGconn *c, PGresult *r, const char *what);

/* db_tx.c: transactions and commit positions. */

/* Set once at start (db_want_commit_lsn), read by every db_commit and db_exec. */
extern atomic_bool db_tx_want_commit_lsn;

#endif
