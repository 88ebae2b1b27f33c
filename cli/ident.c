/* ident.c: settle user|agent create|disable|enable NAME (user create also --email E). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "db.h"
#include "names.h"
#include "sign.h"
#include "uuid.h"

/* Inserts a new key for the user or agent with unit u (cli_ident_user_key or
 * cli_ident_agent_key: $1 key id, $2 key hash, $3 owner); prints it as PREFIX_ID=… and
 * PREFIX_KEY=…. */
static int
cli_add_key(PGconn *c, enum sql_unit u, const char *owner, const char *prefix)
{
	char key[65], hash[65], id[UUID_STR_LEN];
	const char *params[3] = {id, hash, owner};

	sign_random_key(key);
	sign_key_hash(key, hash);
	uuid_generate(id);
	if (db_cmd(c, u, params) < 0)
		return 1;
	printf("%s_ID=%s\n%s_KEY=%s\n", prefix, owner, prefix, key);
	return 0;
}

/* settle user create [--email E] NAME: the user (made if new) and a new key for it; with
 * --email (opts[0]), the user's email (names_email_problem's rule; another user's is
 * refused, changing nothing). */
int
cli_user_create(PGconn *c, const struct cli_args *a)
{
	char id[UUID_STR_LEN];
	const char *email = a->opts[0];
	const char *params[3] = {id, a->arg, email};
	const char *problem = email != NULL ? names_email_problem(email, strlen(email)) : NULL;
	PGresult *r;
	int rc = 1;

	if (problem != NULL) {
		fprintf(stderr, "settle user create: --email E %s\n", problem);
		return 2;
	}
	uuid_generate(id);
	r = db_exec(c, SQL_CLI_IDENT_USER_CREATE, params);
	if (r == NULL) {
		if (strcmp(db_last_sqlstate(), "23505") == 0)
			fprintf(stderr, "settle user create: another user has that email\n");
		return 1;
	}
	rc = cli_add_key(c, SQL_CLI_IDENT_USER_KEY, db_get(r, 0, CLI_IDENT_USER_CREATE_C_ID),
	                 "SETTLE_USER");
	PQclear(r);
	return rc;
}

/* settle agent create NAME: a new software agent (names need not be unique) and its key. */
int
cli_agent_create(PGconn *c, const struct cli_args *a)
{
	char id[UUID_STR_LEN];
	const char *params[2] = {id, a->arg};

	uuid_generate(id);
	if (db_cmd(c, SQL_CLI_IDENT_AGENT_CREATE, params) < 0)
		return 1;
	return cli_add_key(c, SQL_CLI_IDENT_AGENT_KEY, id, "SETTLE_AGENT");
}

/* The units of disable and enable for users or for software agents (sql/cli_ident.sql): each
 * takes $1 a name and $2 an id (either may be NULL) and matches either; the lock answers id,
 * name and by_id (whether the row matched by id), disable and enable id and name. */
struct cli_kind {
	const char *label;
	enum sql_unit lock, disable, enable;
};

/* cli_set_disabled reads the agents' units by the users' columns. */
_Static_assert((int)CLI_IDENT_AGENT_LOCK_C_ID == (int)CLI_IDENT_USER_LOCK_C_ID &&
                   (int)CLI_IDENT_AGENT_LOCK_C_NAME == (int)CLI_IDENT_USER_LOCK_C_NAME &&
                   (int)CLI_IDENT_AGENT_LOCK_C_BY_ID == (int)CLI_IDENT_USER_LOCK_C_BY_ID &&
                   (int)CLI_IDENT_USER_ENABLE_C_ID == (int)CLI_IDENT_USER_DISABLE_C_ID &&
                   (int)CLI_IDENT_USER_ENABLE_C_NAME == (int)CLI_IDENT_USER_DISABLE_C_NAME &&
                   (int)CLI_IDENT_AGENT_DISABLE_C_ID == (int)CLI_IDENT_USER_DISABLE_C_ID &&
                   (int)CLI_IDENT_AGENT_DISABLE_C_NAME == (int)CLI_IDENT_USER_DISABLE_C_NAME &&
                   (int)CLI_IDENT_AGENT_ENABLE_C_ID == (int)CLI_IDENT_USER_DISABLE_C_ID &&
                   (int)CLI_IDENT_AGENT_ENABLE_C_NAME == (int)CLI_IDENT_USER_DISABLE_C_NAME,
               "the disable and enable units of users and agents answer the same columns");

static const struct cli_kind cli_users = {
    "user",
    SQL_CLI_IDENT_USER_LOCK,
    SQL_CLI_IDENT_USER_DISABLE,
    SQL_CLI_IDENT_USER_ENABLE,
};

static const struct cli_kind cli_agents = {
    "software agent",
    SQL_CLI_IDENT_AGENT_LOCK,
    SQL_CLI_IDENT_AGENT_DISABLE,
    SQL_CLI_IDENT_AGENT_ENABLE,
};

/* In the lock's answer, the row that matched by id, or -1. */
static int
cli_by_id(const PGresult *lock)
{
	for (int i = 0; i < PQntuples(lock); i++)
		if (db_get_bool(lock, i, CLI_IDENT_USER_LOCK_C_BY_ID))
			return i;
	return -1;
}

/*
 * Disables or enables every user or agent (k) named name, or the one whose id it is: an
 * argument that is some row's id means that row only (ids are unique), and a row whose
 * name is that id is left alone, with a note on stderr saying so (give its id to reach it).
 * Prints one line for each row changed. The rows are locked first (FOR NO KEY UPDATE:
 * foreign key checks need not wait), then updated: a token being issued for one of them
 * (which holds it FOR SHARE) is committed before the lock is granted, so its issue time is
 * before tokens_valid_after, which clock_timestamp() takes after the lock (an UPDATE alone
 * would compute it before waiting). 0, or 1 when none matches or the database fails.
 */
static int
cli_set_disabled(PGconn *c, const struct cli_kind *k, const char *name, bool disable)
{
	const char *params[2] = {name, uuid_valid(name) ? name : NULL};
	PGresult *lock = NULL, *r = NULL;
	int rc = 1, by_id;

	if (db_begin(c) < 0)
		return 1;
	if ((lock = db_exec(c, k->lock, params)) == NULL) {
		db_rollback(c);
		goto out;
	}
	if ((by_id = cli_by_id(lock)) >= 0)
		params[0] = NULL; /* the id, not a name */
	if ((r = db_exec(c, disable ? k->disable : k->enable, params)) == NULL) {
		db_rollback(c);
		goto out;
	}
	if (db_commit(c) < 0)
		goto out;
	if (PQntuples(r) == 0) {
		fprintf(stderr, "settle: no %s named '%s'\n", k->label, name);
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++)
		printf("%s %s %s (id %s)%s\n", disable ? "disabled" : "enabled", k->label,
		       db_get(r, i, CLI_IDENT_USER_DISABLE_C_NAME),
		       db_get(r, i, CLI_IDENT_USER_DISABLE_C_ID),
		       by_id >= 0 ? ", matched by id" : "");
	for (int i = 0; by_id >= 0 && i < PQntuples(lock); i++)
		if (i != by_id)
			fprintf(stderr,
			        "settle: %s (id %s) is named '%s' too and was left alone: an id "
			        "matches before a name; give its id to reach it\n",
			        k->label, db_get(lock, i, CLI_IDENT_USER_LOCK_C_ID), name);
	rc = 0;
out:
	PQclear(lock);
	PQclear(r);
	return rc;
}

int
cli_user_disable(PGconn *c, const struct cli_args *a)
{
	return cli_set_disabled(c, &cli_users, a->arg, true);
}

int
cli_user_enable(PGconn *c, const struct cli_args *a)
{
	return cli_set_disabled(c, &cli_users, a->arg, false);
}

int
cli_agent_disable(PGconn *c, const struct cli_args *a)
{
	return cli_set_disabled(c, &cli_agents, a->arg, true);
}

int
cli_agent_enable(PGconn *c, const struct cli_args *a)
{
	return cli_set_disabled(c, &cli_agents, a->arg, false);
}
