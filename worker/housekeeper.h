/* housekeeper.h: settle-worker's housekeeping thread. */
#ifndef SETTLE_HOUSEKEEPER_H
#define SETTLE_HOUSEKEEPER_H

struct housekeeper;

/* Starts the housekeeping thread: a round (housekeep_reconcile, then housekeep_round) at
 * start and then every SETTLE_HOUSEKEEPING_INTERVAL seconds, on a Postgres connection of its
 * own, with signals blocked. The thread that owns the AMQP connection thus never waits on
 * storage (a round may wait on a slow store for minutes). The caller owns the result and
 * ends it with housekeeper_stop. Never NULL (aborts if no thread can be made). */
struct housekeeper *housekeeper_start(void);

/* Asks the thread to stop and waits for its round in flight, up to HOUSEKEEPER_STOP_MS; a
 * round still waiting on storage then is left to the process's exit (its transaction rolls
 * back with the connection; every round may run again). Frees h when the thread ended. */
#define HOUSEKEEPER_STOP_MS 5000
void housekeeper_stop(struct housekeeper *h);

#endif
