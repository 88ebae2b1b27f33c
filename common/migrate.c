/* migrate.c: applies the embedded migrations in order under an advisory lock. */
#include "migrate.h"

#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"

#define MIGRATE_LOCK_KEY "7360417"

/* Applies one migration and records it, in one transaction. */
static int
migrate_one(PGconn *c, const struct migration *m, char **err)
{
	const char *params[1] = {m->name};
	PGresult *r;

	if (db_begin(c) < 0)
		goto fail;
	/* A script: a migration holds several statements. */
	if ((r = db_exec_script(c, m->sql)) == NULL) {
		*err = xasprintf("%s: %s", m->name, PQerrorMessage(c));
		db_rollback(c);
		return -1;
	}
	PQclear(r);
	if (db_cmd_text(c, "INSERT INTO schema_migrations(name) VALUES ($1)", 1, params) < 0 ||
	    db_commit(c) < 0)
		goto fail;
	log_info("migration_applied name=%s", m->name);
	return 0;
fail:
	db_rollback(c);
	*err = xasprintf("%s: %s", m->name, PQerrorMessage(c));
	return -1;
}

int
migrate_run(PGconn *c, int *applied, char **err)
{
	const char *lock[1] = {MIGRATE_LOCK_KEY};
	PGresult *r = NULL;
	int rc = -1;

	*applied = 0;
	if (db_cmd_text(c, "SELECT pg_advisory_lock($1::bigint)", 1, lock) < 0) {
		*err = xasprintf("cannot take the migration lock: %s", PQerrorMessage(c));
		return -1;
	}
	if (db_cmd_text(c,
	                "CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, "
	                "applied_at timestamptz NOT NULL DEFAULT now())",
	                0, NULL) < 0) {
		*err = xasprintf("cannot create schema_migrations: %s", PQerrorMessage(c));
		goto out;
	}
	for (int i = 0; i < migration_count; i++) {
		const char *name[1] = {migrations[i].name};
		r = db_exec_text(c, "SELECT 1 FROM schema_migrations WHERE name = $1", 1, name);
		if (r == NULL) {
			*err = xasprintf("cannot read schema_migrations: %s", PQerrorMessage(c));
			goto out;
		}
		bool done = PQntuples(r) > 0;
		PQclear(r);
		if (done)
			continue;
		if (migrate_one(c, &migrations[i], err) < 0)
			goto out;
		(*applied)++;
	}
	rc = 0;
out:
	if (db_cmd_text(c, "SELECT pg_advisory_unlock($1::bigint)", 1, lock) < 0)
		log_warn("migration_unlock_failed");
	return rc;
}
