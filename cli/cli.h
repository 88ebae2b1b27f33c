/* cli.h: the operator commands of `settle` beyond migrate and user/agent creation. */
#ifndef SETTLE_CLI_H
#define SETTLE_CLI_H

#include <libpq-fe.h>

/* Each returns the process exit code. */
int cli_stats(PGconn *c);
int cli_reconcile(PGconn *c, int argc, char **argv);
int cli_dead_letters(PGconn *c, int argc, char **argv);
int cli_message_log(PGconn *c, int argc, char **argv);
int cli_relay(void);

#endif
