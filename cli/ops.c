/* ops.c: settle stats, reconcile, dead-letters, message-log and relay. */
#include <stdio.h>

#include "cli.h"

int
cli_stats(PGconn *c)
{
	fprintf(stderr, "settle stats: not built yet\n");
	return 1;
}

int
cli_reconcile(PGconn *c, int argc, char **argv)
{
	fprintf(stderr, "settle reconcile: not built yet\n");
	return 1;
}

int
cli_dead_letters(PGconn *c, int argc, char **argv)
{
	fprintf(stderr, "settle dead-letters: not built yet\n");
	return 1;
}

int
cli_message_log(PGconn *c, int argc, char **argv)
{
	fprintf(stderr, "settle message-log: not built yet\n");
	return 1;
}

int
cli_relay(void)
{
	fprintf(stderr, "settle relay: not built yet\n");
	return 1;
}
