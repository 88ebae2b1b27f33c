/* migrate.h: applies the migrations compiled into the binary. */
#ifndef SETTLE_MIGRATE_H
#define SETTLE_MIGRATE_H

#include <libpq-fe.h>

#include "util.h"

struct migration {
	const char *name; /* NNNN_name.sql */
	const char *sql;
};

extern const struct migration migrations[];
extern const int migration_count;

/* Applies every migration not yet in schema_migrations, in order, each in its own
 * transaction, under an advisory lock so concurrent callers wait and then find nothing
 * to do. *applied gets how many ran. 0, or -1 with *err (caller frees). */
int migrate_run(PGconn *c, int *applied, char **err) MUSTCHECK;

#endif
