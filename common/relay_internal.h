/* relay_internal.h: private to relay.c (the loop) and relay_batch.c (one batch); not part of
 * relay.h's API. */
#ifndef SETTLE_RELAY_INTERNAL_H
#define SETTLE_RELAY_INTERNAL_H

#include <libpq-fe.h>
#include <stdint.h>

#include "relay.h"
#include "util.h"

#define RELAY_BATCH 200

/* The state of one running relay loop. */
struct relay_loop {
	const char *url;
	struct relay_sink sink;
	int64_t sweep_ms;
	volatile int *stop;
	int wake_fd; /* read end of the self-pipe, or -1: then poll in short slices */
	bool listen; /* LISTEN settle_outbox (a relay alone); else woken through wake_fd */
	PGconn *conn;
	bool sink_ok;
	struct util_backoff backoff;
	int64_t next_sweep, next_count, next_keepalive;
};

/*
 * One transaction: claims up to RELAY_BATCH due rows, delivers them, flushes the sink
 * (claiming the rows that arrive meanwhile), retires the delivered rows (into
 * message_log) or schedules their retry, commits. Returns the number of rows claimed, -1 on
 * a database error, -2 when the sink broke (the transaction is rolled back either way, so
 * every row is claimed again later).
 */
int relay_batch(struct relay_loop *l) MUSTCHECK;

#endif
