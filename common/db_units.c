/* db_units.c: the named statements of sql/ on a connection: every unit prepared, and its
 * parameters and result columns checked against what sql/ declares, in one round trip
 * before the first unit runs on the connection. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "db_internal.h"
#include "log.h"
#include "migrate.h"

void
db_unit_name(int u, char name[16])
{
	snprintf(name, 16, "u%d", u);
}

/* Why unit u does not match its declaration in d (its description), as a new string;
 * NULL when it does. */
static char *
db_units_mismatch(int u, const PGresult *d)
{
	const struct sql_unit_def *def = &sql_units[u];

	if (PQnparams(d) != def->nparams)
		return xasprintf("it takes %d parameters, its text uses %d", PQnparams(d),
		                 def->nparams);
	if (PQnfields(d) != def->ncols)
		return xasprintf("it returns %d columns, \"-- returns:\" lists %d", PQnfields(d),
		                 def->ncols);
	for (int k = 0; k < def->ncols; k++)
		if (strcmp(PQfname(d, k), def->cols[k]) != 0)
			return xasprintf("its column %d is \"%s\", \"-- returns:\" says \"%s\"",
			                 k + 1, PQfname(d, k), def->cols[k]);
	return NULL;
}

/* Reads the results of the prepares and describes db_units_prepare sent, up to the sync.
 * Returns 0, -1 (the connection failed) or -2 (a unit is wrong: *err says which and why). */
static int
db_units_read(PGconn *c, char **err)
{
	int k = 0, nulls = 0, rc = 0;
	PGresult *x;

	for (;;) {
		if ((x = PQgetResult(c)) == NULL) {
			if (++nulls >= 2)
				return rc != 0 ? rc : -1; /* the connection broke before the sync */
			continue;
		}
		nulls = 0;
		ExecStatusType st = PQresultStatus(x);
		if (st == PGRES_PIPELINE_SYNC) {
			PQclear(x);
			return rc;
		}
		int u = k / 2;
		if (rc == 0 && st == PGRES_FATAL_ERROR) {
			const char *state = PQresultErrorField(x, PG_DIAG_SQLSTATE);
			/* Not the unit's fault: the connection, or a transaction aborted before. */
			bool conn = state == NULL || strncmp(state, "08", 2) == 0 ||
			            strncmp(state, "57P", 3) == 0 || strcmp(state, "25P02") == 0;
			*err = xasprintf("unit %s (%s:%d): %.*s", sql_units[u].name,
			                 sql_units[u].file, sql_units[u].line,
			                 (int)strcspn(PQresultErrorMessage(x), "\n"),
			                 PQresultErrorMessage(x));
			rc = conn ? -1 : -2;
		} else if (rc == 0 && k % 2 == 1 && st == PGRES_COMMAND_OK) {
			char *why = db_units_mismatch(u, x);
			if (why != NULL) {
				*err = xasprintf("unit %s (%s:%d): %s", sql_units[u].name,
				                 sql_units[u].file, sql_units[u].line, why);
				free(why);
				rc = -2;
			}
		}
		PQclear(x);
		k++;
	}
}

/* True when the database of c has every migration of this build applied (its last one is
 * recorded): then a unit that fails to prepare is broken. False too when that cannot be
 * read (no schema_migrations, or an aborted transaction). */
static bool
db_units_migrated(PGconn *c)
{
	const char *name[1] = {migrations[migration_count - 1].name};
	PGresult *r = PQexecParams(c, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, NULL,
	                           name, NULL, NULL, 0);
	bool done = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1;

	PQclear(r);
	return done;
}

int
db_units_prepare(PGconn *c, char **err)
{
	struct db_conn *s = db_conn_of(c);
	char name[16];
	bool sent = true;
	int rc;

	*err = NULL;
	if (s == NULL || PQstatus(c) != CONNECTION_OK) {
		*err = xstrdup("no connection");
		return -1;
	}
	if (s->units_ready)
		return 0;
	if (PQenterPipelineMode(c) != 1) {
		*err = xasprintf("cannot enter pipeline mode: %s", PQerrorMessage(c));
		return -1;
	}
	for (int u = 0; u < SQL_UNIT_COUNT && sent; u++) {
		db_unit_name(u, name);
		sent = PQsendPrepare(c, name, sql_units[u].sql, 0, NULL) &&
		       PQsendDescribePrepared(c, name);
	}
	rc = sent && PQpipelineSync(c) ? db_units_read(c, err) : -1;
	if (PQexitPipelineMode(c) != 1 && PQstatus(c) == CONNECTION_OK)
		s->reset_pending = true; /* results left behind: a new session next time */
	if (rc == -1 && *err == NULL)
		*err = xasprintf("%.*s", (int)strcspn(PQerrorMessage(c), "\n"), PQerrorMessage(c));
	if (rc == -2 && !db_units_migrated(c)) {
		/* Not the unit's fault: the database lacks this build's migrations (settle
		 * migrate has not run yet), and the server answers 503 until it has. */
		char *why = *err;
		*err = xasprintf("the database is not migrated to %s (%s)",
		                 migrations[migration_count - 1].name, why);
		free(why);
		rc = -1;
	}
	if (rc == 0)
		s->units_ready = true;
	else if (rc == -2)
		log_error("db_unit_broken %s", *err);
	return rc;
}

int
db_units_check(const char *url, char **err)
{
	PGconn *c = db_connect(url, 1);
	int rc;

	if (c == NULL) {
		*err = xstrdup("cannot connect");
		return -1;
	}
	rc = db_units_prepare(c, err);
	PQfinish(c);
	return rc;
}

int
db_units_start(const char *url)
{
	char *err = NULL;
	int rc = db_units_check(url, &err);

	if (rc == -1)
		log_warn("db_units_unchecked error=\"%s\"", err); /* each connection checks them */
	else if (rc == 0)
		log_info("db_units_ready units=%d", SQL_UNIT_COUNT);
	free(err);
	return rc == -2 ? -1 : 0;
}
