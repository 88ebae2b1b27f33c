/* sql.c: `settle sql check`: every named statement of sql/ prepared on the database the
 * configuration names, checked against its declaration, and its generic plan searched for
 * a settle_* SQL function that the planner did not inline (migrations 0011 and 0017 write
 * them to be inlined; one called as a separate function would be planned on every call). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"

/* The next settle_* function called in the text at *at ("settle_name(": a Function Scan of
 * a set-returning one, or a scalar one in an expression), as a new string, *at moved past
 * its name; NULL when there is none. */
static char *
cli_sql_next_call(const char **at)
{
	for (const char *p = strstr(*at, "settle_"); p != NULL; p = strstr(p + 1, "settle_")) {
		size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz0123456789_");
		if (p[n] == '(' && (p == *at || strchr(" (,.", p[-1]) != NULL)) {
			*at = p + n;
			return xasprintf("%.*s", (int)n, p);
		}
	}
	return NULL;
}

/* The settle_* SQL function (cli_sql_function_is_sql) that the plan of unit u runs as a
 * function of its own (in a Function Scan, or called in an expression: a scalar one the
 * planner did not inline, such as one declared IMMUTABLE whose body calls STABLE
 * functions), as a new string; NULL when none does. -1 in *failed when a statement failed. */
static char *
cli_sql_uninlined(PGconn *c, int u, int *failed)
{
	char name[16], *sql, *found = NULL;
	size_t len;
	FILE *f;

	db_unit_name(u, name);
	f = open_memstream(&sql, &len);
	fprintf(f, "EXPLAIN (VERBOSE) EXECUTE %s", name);
	for (int k = 0; k < sql_units[u].nparams; k++)
		fputs(k == 0 ? "(NULL" : ", NULL", f);
	fputs(sql_units[u].nparams > 0 ? ")" : "", f);
	fclose(f);
	PGresult *r = db_exec_text(c, sql, 0, NULL); /* a text made of a name and a count only */
	free(sql);
	if (r == NULL) {
		*failed = -1;
		return NULL;
	}
	for (int i = 0; i < PQntuples(r) && found == NULL && *failed == 0; i++) {
		const char *at = PQgetvalue(r, i, 0);
		char *fn;

		while (found == NULL && *failed == 0 && (fn = cli_sql_next_call(&at)) != NULL) {
			const char *params[1] = {fn};
			PGresult *q = db_exec(c, SQL_CLI_SQL_FUNCTION_IS_SQL, params);

			if (q == NULL)
				*failed = -1;
			else if (db_get_bool(q, 0, CLI_SQL_FUNCTION_IS_SQL_C_IS_SQL))
				found = fn, fn = NULL;
			PQclear(q);
			free(fn);
		}
	}
	PQclear(r);
	return found;
}

int
cli_sql_check(PGconn *c, const struct cli_args *a)
{
	char *err = NULL;
	int bad = 0;

	(void)a;
	if (db_units_prepare(c, &err) != 0) {
		fprintf(stderr, "settle sql check: %s\n", err);
		free(err);
		return 1;
	}
	/* EXPLAIN EXECUTE shows the plan every execution runs, whatever the parameters: the
	 * generic one, as in every session db_open starts (DB_SESSION_OPTIONS). */
	for (int u = 0; u < SQL_UNIT_COUNT; u++) {
		int failed = 0;
		char *fn = cli_sql_uninlined(c, u, &failed);
		if (failed < 0) {
			fprintf(stderr,
			        "settle sql check: unit %s (%s:%d): cannot explain it or look up a "
			        "function of its plan\n",
			        sql_units[u].name, sql_units[u].file, sql_units[u].line);
			bad++;
		} else if (fn != NULL) {
			fprintf(stderr,
			        "settle sql check: unit %s (%s:%d): %s runs as a function, not "
			        "inlined\n",
			        sql_units[u].name, sql_units[u].file, sql_units[u].line, fn);
			bad++;
		}
		free(fn);
	}
	printf("%d units prepared and checked, %d with a problem\n", SQL_UNIT_COUNT, bad);
	return bad > 0 ? 1 : 0;
}
