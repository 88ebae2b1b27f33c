/* test_db.c: the state each connection carries (prepared units, transaction nesting)
 * through resets, reconnects and lost statements. Without a server only the offline tests
 * run; SETTLE_TEST_DATABASE_URL (set by the integration suite, test_recovery.py) runs the
 * rest against a real Postgres, migrated (the units need its schema). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "uuid.h"

/* A unit with one parameter (prepared with every other unit on a connection): the number of
 * roles when $1, so 0 for false. */
#define Q SQL_USERS_ROLES_COUNT

static const char *test_url;

/* The server's URL, or skips the test when there is none. */
static const char *
test_db_url(void)
{
	if (test_url == NULL)
		skip();
	return test_url;
}

static PGconn *
test_db_connect(void)
{
	PGconn *c = db_connect(test_db_url(), 1);
	assert_non_null(c);
	return c;
}

/* Runs Q with false through db_exec; true if it answered 0. */
static bool
test_db_q(PGconn *c)
{
	const char *p[] = {"false"};
	PGresult *r = db_exec(c, Q, p);
	bool ok = r != NULL && strcmp(PQgetvalue(r, 0, 0), "0") == 0;

	PQclear(r);
	return ok;
}

/* Statements prepared on c's server session, counted without db_exec. */
static int
test_db_prepared(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT count(*) FROM pg_prepared_statements");
	int n = PQresultStatus(r) == PGRES_TUPLES_OK ? atoi(PQgetvalue(r, 0, 0)) : -1;

	PQclear(r);
	return n;
}

static void
test_db_raw(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);
	assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
	PQclear(r);
}

/* Asserts that setting name of c's session is want. */
static void
test_db_expect(PGconn *c, const char *name, const char *want)
{
	const char *p[] = {name};
	PGresult *r = PQexecParams(c, "SELECT current_setting($1)", 1, NULL, p, NULL, NULL, 0);

	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_string_equal(PQgetvalue(r, 0, 0), want);
	PQclear(r);
}

/* ---- offline ------------------------------------------------------------------------ */

static void
test_connect_refused(void **state)
{
	assert_null(db_connect("postgresql://postgres@127.0.0.1:1/settle?connect_timeout=2", 1));
}

/* A connection that never connected still gets (and frees) its state; nothing is begun. */
static void
test_bad_connection_state(void **state)
{
	PGconn *c = PQconnectdb("postgresql://postgres@127.0.0.1:1/settle?connect_timeout=2");

	assert_int_equal(PQstatus(c), CONNECTION_BAD);
	assert_false(db_in_transaction(c));
	assert_int_equal(db_begin(c), -1);
	assert_false(db_in_transaction(c));
	assert_null(db_exec(c, Q, (const char *[]){"false"}));
	assert_true(db_last_was_connection());
	PQfinish(c); /* the sanitizer build reports a leak if the state is not freed */
	assert_false(db_in_transaction(NULL));
	assert_int_equal(db_begin(NULL), -1);
}

static void *
test_db_thread_unreachable(void *arg)
{
	bool *ok = arg;

	*ok = db_thread_conn() == NULL && db_thread_conn() == NULL;
	db_thread_close();
	return NULL; /* the thread's PGconn is finished when it exits (leak-checked) */
}

/* Without a server the thread's connection is NULL, every time, and nothing leaks. */
static void
test_thread_conn_unreachable(void **state)
{
	pthread_t t;
	bool ok = false;

	cfg.database_url = "postgresql://postgres@127.0.0.1:1/settle?connect_timeout=2";
	assert_int_equal(pthread_create(&t, NULL, test_db_thread_unreachable, &ok), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	cfg.database_url = NULL;
	assert_true(ok);
}

/* ---- against a server --------------------------------------------------------------- */

/* The bug of issue 13: after PQreset the session has no statements, and the first prepared
 * statement inside a transaction must still work (it failed with 26000, then 25P02). */
static void
test_reset_forgets_statements(void **state)
{
	PGconn *c = test_db_connect();

	assert_true(test_db_q(c));
	assert_int_equal(test_db_prepared(c), SQL_UNIT_COUNT);
	PQreset(c);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_int_equal(test_db_prepared(c), 0);
	assert_int_equal(db_begin(c), 0);
	assert_true(test_db_q(c));
	assert_int_equal(db_commit(c), 0);
	assert_int_equal(test_db_prepared(c), SQL_UNIT_COUNT);
	PQfinish(c);
}

/* New connections (often at the address of the one just finished) start with no units
 * prepared, and prepare them all before their first one runs. */
static void
test_new_connection_fresh_cache(void **state)
{
	for (int i = 0; i < 5; i++) {
		PGconn *c = test_db_connect();
		assert_int_equal(db_begin(c), 0);
		assert_true(test_db_q(c));
		assert_int_equal(db_commit(c), 0);
		assert_int_equal(test_db_prepared(c), SQL_UNIT_COUNT);
		PQfinish(c);
	}
}

/* Every session runs its units with their generic plans (db_open's DB_SESSION_OPTIONS):
 * after a reset too, with the options a URL gives kept, and Postgres never plans a unit
 * afresh per call (it would after 5 custom plans of a unit whose generic plan looks dearer). */
static void
test_session_plans_generic(void **state)
{
	const char *url = test_db_url();
	char *own = xasprintf("%s%coptions=-c%%20statement_timeout%%3D4321", url,
	                      strchr(url, '?') != NULL ? '&' : '?');
	PGconn *c = test_db_connect(), *o;
	PGresult *r;

	test_db_expect(c, "plan_cache_mode", "force_generic_plan");
	for (int i = 0; i < 7; i++)
		assert_true(test_db_q(c));
	r = PQexec(c, "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
	              "WHERE generic_plans + custom_plans > 0"); /* Q's: no other unit ran */
	assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(r), 1);
	assert_int_equal(atoi(PQgetvalue(r, 0, 0)), 7);
	assert_int_equal(atoi(PQgetvalue(r, 0, 1)), 0);
	PQclear(r);
	PQreset(c);
	test_db_expect(c, "plan_cache_mode", "force_generic_plan");
	PQfinish(c);

	o = db_connect(own, 1);
	assert_non_null(o);
	test_db_expect(o, "statement_timeout", "4321ms");
	test_db_expect(o, "plan_cache_mode", "force_generic_plan");
	PQfinish(o);
	free(own);

	/* PGOPTIONS, libpq's default options, is kept as well (tests and operators set
	 * lock_timeout through it). */
	setenv("PGOPTIONS", "-c lock_timeout=1234", 1);
	o = db_connect(url, 1);
	unsetenv("PGOPTIONS");
	assert_non_null(o);
	test_db_expect(o, "lock_timeout", "1234ms");
	test_db_expect(o, "plan_cache_mode", "force_generic_plan");
	PQfinish(o);
}

/* A backend killed by the server: the call fails as a connection error; after PQreset (what
 * db_thread_conn does) statements are prepared again, inside a transaction too. */
static void
test_terminated_backend(void **state)
{
	PGconn *c = test_db_connect(), *killer = test_db_connect();
	char pid[16];

	assert_true(test_db_q(c));
	snprintf(pid, sizeof(pid), "%d", PQbackendPID(c));
	PGresult *r =
	    db_exec_text(killer, "SELECT pg_terminate_backend($1::int)", 1, (const char *[]){pid});
	assert_non_null(r);
	PQclear(r);
	assert_false(test_db_q(c));
	assert_true(db_last_was_connection());
	PQreset(c);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_int_equal(db_begin(c), 0);
	assert_true(test_db_q(c));
	assert_int_equal(db_commit(c), 0);
	PQfinish(c);
	PQfinish(killer);
}

/* The thread's own connection survives its backend's death the same way. */
static void
test_thread_conn_after_terminate(void **state)
{
	PGconn *killer = test_db_connect(), *c;
	char pid[16];

	cfg.database_url = (char *)test_db_url();
	c = db_thread_conn();
	assert_non_null(c);
	assert_true(test_db_q(c));
	snprintf(pid, sizeof(pid), "%d", PQbackendPID(c));
	PQclear(
	    db_exec_text(killer, "SELECT pg_terminate_backend($1::int)", 1, (const char *[]){pid}));
	assert_false(test_db_q(c));
	c = db_thread_conn();
	assert_non_null(c);
	assert_int_equal(db_begin(c), 0);
	assert_true(test_db_q(c));
	assert_int_equal(db_commit(c), 0);
	cfg.database_url = NULL;
	PQfinish(killer);
}

/* db_thread_close drops the session but keeps the PGconn (a request may still hold it):
 * the next db_thread_conn returns the same object on a new backend. */
static void
test_thread_close_keeps_object(void **state)
{
	PGconn *c, *again;
	int pid;

	cfg.database_url = (char *)test_db_url();
	c = db_thread_conn();
	assert_non_null(c);
	assert_true(test_db_q(c));
	pid = PQbackendPID(c);
	db_thread_close();
	again = db_thread_conn();
	assert_ptr_equal(again, c);
	assert_int_not_equal(PQbackendPID(again), pid);
	assert_int_equal(test_db_prepared(again), 0);
	assert_int_equal(db_begin(again), 0);
	assert_true(test_db_q(again));
	assert_int_equal(db_commit(again), 0);
	cfg.database_url = NULL;
}

/* Units lost behind the connection's back (DEALLOCATE ALL): inside a transaction the first
 * error (26000) is returned and nothing is retried in the aborted transaction; outside one
 * the unit is run again, unprepared, and succeeds. */
static void
test_lost_statements(void **state)
{
	PGconn *c = test_db_connect();

	assert_true(test_db_q(c));
	test_db_raw(c, "DEALLOCATE ALL");
	assert_int_equal(db_begin(c), 0);
	assert_false(test_db_q(c));
	assert_string_equal(db_last_sqlstate(), "26000");
	assert_false(db_last_was_connection());
	assert_int_equal(PQtransactionStatus(c), PQTRANS_INERROR);
	db_rollback(c);
	assert_false(db_in_transaction(c));
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
	assert_true(test_db_q(c)); /* every unit prepared again */
	assert_int_equal(test_db_prepared(c), SQL_UNIT_COUNT);
	test_db_raw(c, "DEALLOCATE ALL");
	assert_true(test_db_q(c)); /* outside a transaction: retried */
	PQfinish(c);
}

/* A text (run unprepared) that fails in a transaction reports its own error, not 25P02, and
 * prepares nothing. */
static void
test_prepare_error_in_transaction(void **state)
{
	PGconn *c = test_db_connect();

	assert_int_equal(db_begin(c), 0);
	assert_null(db_exec_text(c, "SELECT no_such_column FROM pg_class", 0, NULL));
	assert_string_equal(db_last_sqlstate(), "42703");
	db_rollback(c);
	assert_int_equal(test_db_prepared(c), 0);
	assert_true(test_db_q(c));
	PQfinish(c);
}

/* Nesting is per connection: a transaction on one leaves the other alone. */
static void
test_nesting_per_connection(void **state)
{
	PGconn *a = test_db_connect(), *b = test_db_connect();

	assert_int_equal(db_begin(a), 0);
	assert_int_equal(db_begin(a), 0);
	assert_true(db_in_transaction(a));
	assert_false(db_in_transaction(b));
	assert_true(test_db_q(a));
	assert_int_equal(PQtransactionStatus(b), PQTRANS_IDLE);
	assert_int_equal(db_begin(b), 0);
	assert_true(test_db_q(b));
	assert_int_equal(PQtransactionStatus(b), PQTRANS_INTRANS);
	assert_int_equal(db_commit(b), 0);
	assert_int_equal(PQtransactionStatus(b), PQTRANS_IDLE);
	db_rollback(a); /* the inner one: the outer commit rolls back and fails */
	assert_int_equal(PQtransactionStatus(a), PQTRANS_INTRANS);
	assert_int_equal(db_commit(a), -1);
	assert_int_equal(PQtransactionStatus(a), PQTRANS_IDLE);
	assert_false(db_in_transaction(a));
	PQfinish(a);
	PQfinish(b);
}

/* A reset inside a transaction: the transaction is gone, so its commit fails. */
static void
test_reset_inside_transaction(void **state)
{
	PGconn *c = test_db_connect();

	assert_int_equal(db_begin(c), 0);
	assert_true(test_db_q(c));
	PQreset(c);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_true(db_in_transaction(c));
	assert_int_equal(db_commit(c), -1);
	assert_false(db_in_transaction(c));
	assert_int_equal(db_begin(c), 0);
	assert_true(test_db_q(c));
	assert_int_equal(PQtransactionStatus(c), PQTRANS_INTRANS);
	assert_int_equal(db_commit(c), 0);
	PQfinish(c);
}

/* pg_lsn texts, and what is not one. */
static void
test_parse_lsn(void **state)
{
	uint64_t lsn = 0;

	assert_true(db_parse_lsn("16/B374D848", &lsn));
	assert_true(lsn == UINT64_C(0x16B374D848));
	assert_true(db_parse_lsn("0/0", &lsn));
	assert_true(lsn == 0);
	assert_false(db_parse_lsn("16/B374D848x", &lsn));
	assert_false(db_parse_lsn("16", &lsn));
	assert_false(db_parse_lsn("", &lsn));
	assert_false(db_parse_lsn(NULL, &lsn));
}

/* A standby that cannot be reached: NULL, and no new attempt until the backoff passed. */
static void
test_thread_replica_unreachable(void **state)
{
	const char *url = "postgresql://postgres@127.0.0.1:1/settle?connect_timeout=2";

	assert_null(db_thread_replica(0, url));
	assert_null(db_thread_replica(0, url));
	assert_null(db_thread_replica(-1, url));
	assert_null(db_thread_replica(DB_MAX_REPLICAS, url));
}

/* Once wanted, the outermost commit records the position after it (once), an inner one
 * does not. Runs last: db_want_commit_lsn stays on. */
static void
test_commit_lsn(void **state)
{
	PGconn *c = test_db_connect();
	PGresult *r;
	uint64_t before, after;

	db_want_commit_lsn();
	r = PQexec(c, "SELECT pg_current_wal_insert_lsn()");
	assert_true(db_parse_lsn(PQgetvalue(r, 0, 0), &before));
	PQclear(r);
	assert_int_equal(db_begin(c), 0);
	assert_int_equal(db_begin(c), 0);
	assert_int_equal(db_cmd_text(c, "CREATE TEMP TABLE lsn_probe (x int)", 0, NULL), 0);
	assert_int_equal(db_commit(c), 0);
	assert_true(db_take_commit_lsn(c) == 0);
	assert_int_equal(db_commit(c), 0);
	after = db_take_commit_lsn(c);
	assert_true(after > before);
	assert_true(db_take_commit_lsn(c) == 0);
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
	PQfinish(c);
}

/* The insert position of the server, read without db_exec. */
static uint64_t
test_db_insert_lsn(PGconn *c)
{
	PGresult *r = PQexec(c, "SELECT pg_current_wal_insert_lsn()");
	uint64_t lsn = 0;

	assert_true(db_parse_lsn(PQgetvalue(r, 0, 0), &lsn));
	PQclear(r);
	return lsn;
}

/* While commits are tracked, a unit outside a transaction records the position after its
 * commit (prepared once, as untracked ones are, and again after the session lost its
 * statements); a failed one records nothing and keeps its own error; a text records
 * nothing; units inside a transaction leave it to db_commit; the connection leaves pipeline
 * mode every time. */
static void
test_tracked_commits(void **state)
{
	char id[UUID_STR_LEN];
	const char *job[] = {id, "test.db", id}; /* an outbox row: message id, kind, resource */
	PGconn *c = test_db_connect();
	uint64_t before, lsn;
	PGresult *r;

	uuid_generate(id);
	db_want_commit_lsn();
	assert_true(test_db_q(c));
	assert_true(db_take_commit_lsn(c) == 0); /* not tracked */
	db_track_commits(c, true);
	r = db_exec_text(c, "SELECT txid_current()", 0, NULL);
	assert_non_null(r);
	PQclear(r);
	assert_true(db_take_commit_lsn(c) == 0); /* a text: not tracked */
	before = test_db_insert_lsn(c);
	assert_int_equal(db_cmd(c, SQL_OUTBOX_INSERT, job), 0); /* a write: a commit record */
	lsn = db_take_commit_lsn(c);
	assert_true(lsn > before);
	assert_true(lsn <= test_db_insert_lsn(c));
	assert_true(test_db_q(c) && test_db_q(c));
	assert_true(db_take_commit_lsn(c) >= lsn);
	assert_int_equal(test_db_prepared(c), SQL_UNIT_COUNT);
	test_db_raw(c, "DEALLOCATE ALL");
	assert_true(test_db_q(c)); /* lost: prepared again */
	assert_true(db_take_commit_lsn(c) >= lsn);
	assert_null(db_exec(c, SQL_OUTBOX_INSERT, job)); /* the same message id again */
	assert_string_equal(db_last_sqlstate(), "23505");
	assert_true(db_take_commit_lsn(c) == 0);
	assert_int_equal(db_begin(c), 0);
	assert_true(test_db_q(c));
	assert_true(db_take_commit_lsn(c) == 0);
	assert_int_equal(db_commit(c), 0);
	assert_true(db_take_commit_lsn(c) >= lsn);
	db_track_commits(c, false);
	assert_true(test_db_q(c));
	assert_true(db_take_commit_lsn(c) == 0);
	assert_int_equal(PQpipelineStatus(c), PQ_PIPELINE_OFF);
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
	PQfinish(c);
}

/* The number of outbox rows with message id id, counted on a connection of its own. */
static int
test_db_outbox_rows(const char *id)
{
	PGconn *o = test_db_connect();
	PGresult *r =
	    db_exec_text(o, "SELECT count(*) FROM outbox WHERE id = $1", 1, (const char *[]){id});
	int n = r != NULL ? atoi(PQgetvalue(r, 0, 0)) : -1;

	PQclear(r);
	PQfinish(o);
	return n;
}

/* db_begin sends nothing: the BEGIN goes with the first statement, and a transaction that
 * ran none ends without reaching Postgres. db_exec_commit runs the last statement with the
 * COMMIT: the transaction is over and its writes are kept; when the statement fails, the
 * whole transaction is rolled back and the error is the statement's. Outside a transaction
 * it is db_exec; inside a nested one it ends the inner level only. A script runs inside the
 * transaction. Runs after test_commit_lsn: the position after the commit is recorded. */
static void
test_exec_commit(void **state)
{
	char a[UUID_STR_LEN], b[UUID_STR_LEN];
	const char *ja[] = {a, "test.db", a}, *jb[] = {b, "test.db", b};
	PGconn *c = test_db_connect();
	PGresult *r;

	uuid_generate(a);
	uuid_generate(b);
	assert_int_equal(db_begin(c), 0);
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
	assert_int_equal(db_commit(c), 0);
	assert_int_equal(db_begin(c), 0);
	db_rollback(c);
	assert_false(db_in_transaction(c));

	(void)db_take_commit_lsn(c);
	assert_int_equal(db_begin(c), 0);
	assert_int_equal(db_cmd(c, SQL_OUTBOX_INSERT, ja), 0);
	assert_int_equal(PQtransactionStatus(c), PQTRANS_INTRANS);
	assert_int_equal(test_db_outbox_rows(a), 0);
	r = db_exec_commit(c, SQL_OUTBOX_INSERT, jb);
	assert_non_null(r);
	PQclear(r);
	assert_false(db_in_transaction(c));
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
	assert_int_equal(PQpipelineStatus(c), PQ_PIPELINE_OFF);
	assert_true(db_take_commit_lsn(c) > 0);
	assert_int_equal(test_db_outbox_rows(a), 1);
	assert_int_equal(test_db_outbox_rows(b), 1);

	uuid_generate(b);
	assert_int_equal(db_begin(c), 0);
	assert_int_equal(db_cmd(c, SQL_OUTBOX_INSERT, jb), 0);
	assert_null(db_exec_commit(c, SQL_OUTBOX_INSERT, ja)); /* a is taken */
	assert_string_equal(db_last_sqlstate(), "23505");
	assert_false(db_in_transaction(c));
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
	assert_true(db_take_commit_lsn(c) == 0);
	assert_int_equal(test_db_outbox_rows(b), 0); /* rolled back with it */

	r = db_exec_commit(c, SQL_OUTBOX_INSERT, jb); /* no transaction: a statement alone */
	assert_non_null(r);
	PQclear(r);
	assert_int_equal(test_db_outbox_rows(b), 1);

	uuid_generate(a);
	assert_int_equal(db_begin(c), 0);
	assert_int_equal(db_begin(c), 0);
	r = db_exec_commit(c, SQL_OUTBOX_INSERT, ja); /* the inner level */
	assert_non_null(r);
	PQclear(r);
	assert_true(db_in_transaction(c));
	assert_int_equal(PQtransactionStatus(c), PQTRANS_INTRANS);
	r = db_exec_script(c, "CREATE TEMP TABLE script_probe (x int); INSERT INTO script_probe "
	                      "VALUES (1)");
	assert_non_null(r);
	PQclear(r);
	assert_int_equal(test_db_outbox_rows(a), 0);
	assert_int_equal(db_commit(c), 0);
	assert_int_equal(test_db_outbox_rows(a), 1);

	assert_int_equal(db_begin(c), 0);
	r = db_exec_script(c, "INSERT INTO script_probe VALUES (2); SELECT count(*) FROM "
	                      "script_probe");
	assert_non_null(r);
	assert_string_equal(PQgetvalue(r, 0, 0), "2");
	PQclear(r);
	assert_int_equal(PQtransactionStatus(c), PQTRANS_INTRANS);
	db_rollback(c);
	assert_int_equal(PQtransactionStatus(c), PQTRANS_IDLE);
	PQfinish(c);
}

int
main(void)
{
	const char *url = getenv("SETTLE_TEST_DATABASE_URL");
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connect_refused),
	    cmocka_unit_test(test_bad_connection_state),
	    cmocka_unit_test(test_thread_conn_unreachable),
	    cmocka_unit_test(test_reset_forgets_statements),
	    cmocka_unit_test(test_new_connection_fresh_cache),
	    cmocka_unit_test(test_session_plans_generic),
	    cmocka_unit_test(test_terminated_backend),
	    cmocka_unit_test(test_thread_conn_after_terminate),
	    cmocka_unit_test(test_thread_close_keeps_object),
	    cmocka_unit_test(test_lost_statements),
	    cmocka_unit_test(test_prepare_error_in_transaction),
	    cmocka_unit_test(test_nesting_per_connection),
	    cmocka_unit_test(test_reset_inside_transaction),
	    cmocka_unit_test(test_parse_lsn),
	    cmocka_unit_test(test_thread_replica_unreachable),
	    cmocka_unit_test(test_commit_lsn),
	    cmocka_unit_test(test_tracked_commits),
	    cmocka_unit_test(test_exec_commit),
	};

	test_url = url != NULL && url[0] != '\0' ? url : NULL;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
