/* cli.h: the commands of `settle`, each run by cli/main.c after it parsed the command line. */
#ifndef SETTLE_CLI_H
#define SETTLE_CLI_H

#include <libpq-fe.h>

#include "util.h"

#define CLI_MAX_OPTS 2

/* A parsed command line: the value of each of the command's options, in the order of its
 * table entry (NULL when not given), and its positional argument (NULL when it has none). */
struct cli_args {
	const char *opts[CLI_MAX_OPTS];
	const char *arg;
};

/* Each returns the process exit code (2 for a bad option value). c is NULL for relay. */
int cli_user_create(PGconn *c, const struct cli_args *a);
int cli_user_disable(PGconn *c, const struct cli_args *a);
int cli_user_enable(PGconn *c, const struct cli_args *a);
int cli_agent_create(PGconn *c, const struct cli_args *a);
int cli_agent_disable(PGconn *c, const struct cli_args *a);
int cli_agent_enable(PGconn *c, const struct cli_args *a);
int cli_stats(PGconn *c, const struct cli_args *a);
int cli_reconcile(PGconn *c, const struct cli_args *a);
int cli_dead_letters_list(PGconn *c, const struct cli_args *a);
int cli_dead_letters_requeue(PGconn *c, const struct cli_args *a);
int cli_message_log_drain(PGconn *c, const struct cli_args *a);
int cli_relay(PGconn *c, const struct cli_args *a);
int cli_sql_check(PGconn *c, const struct cli_args *a);

#endif
