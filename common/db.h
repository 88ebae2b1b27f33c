/* db.h: libpq helpers: connect with retry, parameterised queries, transactions. */
#ifndef SETTLE_DB_H
#define SETTLE_DB_H

#include <libpq-fe.h>

#include "sql_units.h"
#include "util.h"

/* Opens a session at url, as PQconnectdb does (never NULL unless out of memory; check
 * PQstatus), with the session options every Settle session runs with, DB_SESSION_OPTIONS,
 * after those url gives (or else PGOPTIONS): plan_cache_mode=force_generic_plan. The units
 * are written and checked (settle sql check) for their generic plans, and Postgres's
 * default otherwise plans some of them afresh on every call (bench/notes.md "Planning per
 * call"). Every connection of Settle's is opened here. */
#define DB_SESSION_OPTIONS "-c plan_cache_mode=force_generic_plan"
PGconn *db_open(const char *url);

/* Connects to url (db_open), retrying up to `tries` times one second apart. Returns the
 * connection (caller PQfinish-es) or NULL with a message logged. Every connection used
 * with these helpers carries its own state (units prepared, transaction nesting),
 * attached through libpq's event system: PQreset and PQfinish clear and free it. */
PGconn *db_connect(const char *url, int tries);

/* The calling thread's connection to cfg.database_url, opened on first use and reset
 * (PQreset, same PGconn) when it went bad. NULL if the database cannot be reached. The
 * PGconn lives until the thread exits, so a pointer to it never dangles. */
PGconn *db_thread_conn(void);
/* Drops the calling thread's server session: the next db_thread_conn starts a new one. */
void db_thread_close(void);

/* The calling thread's connection to standby k (0-based, below DB_MAX_REPLICAS) at url,
 * opened on first use; NULL when it cannot be reached. After a failure it is tried again
 * only after a backoff (util_backoff), so a dead standby costs no request a wait. */
#define DB_MAX_REPLICAS 16
PGconn *db_thread_replica(int k, const char *url);

/* From now on every outermost db_commit also asks, in the same round trip, for the WAL
 * position after the COMMIT, kept on the connection: settle_position() (migration 0017),
 * the primary's insert position or a standby's replay position, which covers everything a
 * statement could see. */
void db_want_commit_lsn(void);
/* While on (and once db_want_commit_lsn was called), every unit db_exec runs on c outside
 * a db_begin transaction also records the WAL position after its commit (settle_position()),
 * in the same round trip (libpq pipeline mode), whether it wrote or read, on a primary or a
 * standby. settle-api turns it on while a handler runs. Turning it on forgets any position
 * recorded. */
void db_track_commits(PGconn *c, bool on);
/* The position recorded on c by the last db_commit, or tracked query (db_track_commits),
 * since the last call (0: none). */
uint64_t db_take_commit_lsn(PGconn *c);
/* Parses a pg_lsn text ("16/B374D848"); false if it is not one. */
bool db_parse_lsn(const char *s, uint64_t *out) MUSTCHECK;

/* The named statements (sql/<module>.sql, see tools/sqlunits.c): sql_units.h gives each an
 * enum value SQL_<NAME> and an enum of its result columns <NAME>_C_<COLUMN>. Every unit is
 * prepared on a connection, and its parameters and columns checked against its declaration,
 * in one round trip before the first unit runs there (db_units_prepare).
 *
 * Prepares every unit on c unless done already. Returns 0; -1 when the connection failed;
 * -2 when a unit does not parse or differs from its declaration (logged as db_unit_broken:
 * a defect of the build, or of the schema it runs against). *err (caller frees) says why
 * when nonzero. */
int db_units_prepare(PGconn *c, char **err) MUSTCHECK;
/* db_units_prepare on a connection of its own to url, closed after: what settle-api and
 * settle-worker check at start, so that a broken unit stops them there. */
int db_units_check(const char *url, char **err) MUSTCHECK;
/* db_units_check at a server's start: -1 when a unit is broken (logged as db_unit_broken:
 * the server exits), else 0 (a database not reachable yet is logged, and every connection
 * checks again before its first unit). */
int db_units_start(const char *url) MUSTCHECK;
/* The name unit u is prepared as. */
void db_unit_name(int u, char name[16]);

/* Runs unit u with its sql_units[u].nparams text parameters (NULL = SQL NULL; params holds
 * that many). Returns the result when its status is COMMAND_OK or TUPLES_OK, otherwise logs,
 * PQclear-s and returns NULL. The caller PQclear-s the result. */
PGresult *db_exec(PGconn *c, enum sql_unit u, const char *const *params) MUSTCHECK;
/* db_exec that discards the result: 0 on success, -1 on error. */
int db_cmd(PGconn *c, enum sql_unit u, const char *const *params) MUSTCHECK;
/* As db_exec, for a text that is no unit, run unprepared: transaction control, the
 * migrations (before the schema the units need exists), LISTEN, EXPLAIN. n parameters. */
PGresult *db_exec_text(PGconn *c, const char *sql, int n, const char *const *params) MUSTCHECK;
/* db_exec_text that discards the result: 0 on success, -1 on error. */
int db_cmd_text(PGconn *c, const char *sql, int n, const char *const *params) MUSTCHECK;
/* As db_exec_text, for a text of several statements without parameters (the simple protocol):
 * the migrations. */
PGresult *db_exec_script(PGconn *c, const char *sql) MUSTCHECK;
/* Runs unit u as the last statement of the transaction db_begin opened on c, and ends that
 * transaction: the statement and its COMMIT go in one round trip. The result (as db_exec)
 * once both succeeded; else NULL, the transaction rolled back, and db_last_sqlstate() the
 * error of the one that failed. Outside a transaction: db_exec. Inside a nested one: db_exec
 * and db_commit (or, on failure, db_rollback) of the inner level. */
PGresult *db_exec_commit(PGconn *c, enum sql_unit u, const char *const *params) MUSTCHECK;

/* SQLSTATE of the last failed db_exec or db_exec_text on this thread ("" if none). */
const char *db_last_sqlstate(void);
/* True if the last failure was a connection problem (worth retrying elsewhere). */
bool db_last_was_connection(void);

/* Transactions nest on a connection: only the outermost begin/commit reach Postgres; a
 * rollback inside makes the outermost commit roll back (and fail), and so does a PQreset
 * of the connection while a transaction is open. db_begin sends nothing: its BEGIN goes
 * with the first statement, in that statement's round trip (pipeline mode), and a
 * transaction that ran no statement commits or rolls back without a round trip. */
int db_begin(PGconn *c) MUSTCHECK;
int db_commit(PGconn *c) MUSTCHECK;
/* Rolls back, ignoring errors (used on failure paths). */
void db_rollback(PGconn *c);
/* True while a transaction begun with db_begin is open on c. */
bool db_in_transaction(PGconn *c);

/* Cell accessors: the value of (row, col), or NULL for SQL NULL. */
const char *db_get(const PGresult *r, int row, int col);
int64_t db_get_i64(const PGresult *r, int row, int col);
bool db_get_bool(const PGresult *r, int row, int col);

#endif
