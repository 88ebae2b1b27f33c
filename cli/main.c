/* main.c: settle, the operator's command line. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "db.h"
#include "log.h"
#include "migrate.h"
#include "sign.h"
#include "uuid.h"

static const char usage[] =
    "usage: settle COMMAND\n\n"
    "  migrate                          apply pending database migrations\n"
    "  user create NAME                 create a user (or a new key for it); prints its key\n"
    "  agent create NAME                create a software agent; prints its key\n"
    "  stats                            pending/consistent/failed resources, backlog, queues\n"
    "  reconcile [--older-than S]       re-enqueue resources pending longer than S seconds\n"
    "  dead-letters list|requeue        show or re-run jobs in settle.dead\n"
    "  message-log drain --duration S   move settle.message_log into the message_log table\n"
    "  relay                            run the outbox relay alone (SETTLE_RELAY=off on APIs)\n"
    "\nConfiguration comes from the environment; `settle --help` lists it.\n";

static int
cli_migrate(PGconn *c)
{
	char *err = NULL;
	int applied;

	if (migrate_run(c, &applied, &err) < 0) {
		fprintf(stderr, "settle migrate: %s\n", err);
		free(err);
		return 1;
	}
	printf("migrations applied: %d\n", applied);
	return 0;
}

/* Inserts a new key for the user or agent with sql ($1 key id, $2 key hash, $3 owner);
 * prints it as PREFIX_ID=… and PREFIX_KEY=…. */
static int
cli_add_key(PGconn *c, const char *sql, const char *owner, const char *prefix)
{
	char key[65], hash[65], id[UUID_STR_LEN];
	const char *params[3] = {id, hash, owner};

	sign_random_key(key);
	sign_key_hash(key, hash);
	uuid_generate(id);
	if (db_cmd(c, sql, 3, params) < 0)
		return 1;
	printf("%s_ID=%s\n%s_KEY=%s\n", prefix, owner, prefix, key);
	return 0;
}

static int
cli_user_create(PGconn *c, const char *name)
{
	char id[UUID_STR_LEN];
	const char *params[2] = {id, name};
	PGresult *r;
	int rc = 1;

	uuid_generate(id);
	r = db_exec(
	    c,
	    "INSERT INTO users(id, username, full_name) VALUES ($1, $2, $2) "
	    "ON CONFLICT (username) DO UPDATE SET username = EXCLUDED.username RETURNING id",
	    2, params);
	if (r == NULL)
		return 1;
	rc = cli_add_key(c, "INSERT INTO api_keys(id, key_hash, user_id) VALUES ($1, $2, $3)",
	                 PQgetvalue(r, 0, 0), "SETTLE_USER");
	PQclear(r);
	return rc;
}

static int
cli_agent_create(PGconn *c, const char *name)
{
	char id[UUID_STR_LEN];
	const char *params[2] = {id, name};

	uuid_generate(id);
	if (db_cmd(c, "INSERT INTO software_agents(id, name) VALUES ($1, $2)", 2, params) < 0)
		return 1;
	return cli_add_key(
	    c, "INSERT INTO api_keys(id, key_hash, software_agent_id) VALUES ($1, $2, $3)", id,
	    "SETTLE_AGENT");
}

static int
cli_dispatch(PGconn *c, int argc, char **argv)
{
	const char *cmd = argv[1];

	if (strcmp(cmd, "migrate") == 0)
		return cli_migrate(c);
	if (strcmp(cmd, "user") == 0 && argc == 4 && strcmp(argv[2], "create") == 0)
		return cli_user_create(c, argv[3]);
	if (strcmp(cmd, "agent") == 0 && argc == 4 && strcmp(argv[2], "create") == 0)
		return cli_agent_create(c, argv[3]);
	if (strcmp(cmd, "stats") == 0)
		return cli_stats(c);
	if (strcmp(cmd, "reconcile") == 0)
		return cli_reconcile(c, argc, argv);
	if (strcmp(cmd, "dead-letters") == 0)
		return cli_dead_letters(c, argc, argv);
	if (strcmp(cmd, "message-log") == 0)
		return cli_message_log(c, argc, argv);
	fputs(usage, stderr);
	return 2;
}

int
main(int argc, char **argv)
{
	PGconn *c;
	int rc;

	if (argc < 2) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage, stdout);
		putchar('\n');
		config_usage(stdout, "settle");
		return 0;
	}
	config_init(1, argv, "settle");
	signal(SIGPIPE, SIG_IGN);
	sign_set_key(cfg.secret);
	if (strcmp(argv[1], "relay") == 0)
		return cli_relay();
	c = db_connect(cfg.database_url, 3);
	if (c == NULL) {
		fprintf(stderr, "settle: cannot connect to %s\n", cfg.database_url);
		return 1;
	}
	rc = cli_dispatch(c, argc, argv);
	PQfinish(c);
	return rc;
}
