/* relay_internal.h: private to relay.c (the loop) and relay_batch.c (one batch); not part of
 * relay.h's API. */
#ifndef SETTLE_RELAY_INTERNAL_H
#define SETTLE_RELAY_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdint.h>

#include "relay.h"
#include "util.h"

#define RELAY_BATCH 200
/* A sweep claims only rows older than this: a younger one may still be on its way to the
 * relay of the process that wrote it (relay_hand), which publishes it without a claim. */
#define RELAY_SWEEP_GRACE_MS 250

/* Hand-overs published are retired together, RELAY_RETIRE_MS after the first of them or at
 * RELAY_BATCH: one statement for several jobs, well before a sweep could take their rows. */
#define RELAY_RETIRE_MS 20
_Static_assert(RELAY_RETIRE_MS * 5 <= RELAY_SWEEP_GRACE_MS, "retire well within the grace");

struct relay_outcome; /* relay_batch.c */

/* The jobs handed over by relay_hand and not yet taken by the relay thread, and whether a
 * relay_wake asked for a claim (rows written without a hand-over). Under mu. */
struct relay_hands {
	pthread_mutex_t mu;
	struct job jobs[RELAY_BATCH];
	int n;
	bool claim;
};

/* The state of one running relay loop. */
struct relay_loop {
	const char *url;
	struct relay_sink sink;
	int64_t sweep_ms;
	volatile int *stop;
	int wake_fd; /* read end of the self-pipe, or -1: then poll in short slices */
	bool listen; /* LISTEN settle_outbox (a relay alone); else woken through wake_fd */
	struct relay_hands *hands;      /* the thread's hand-overs (NULL for a relay alone) */
	struct relay_outcome *retiring; /* hand-overs published, not yet retired (or NULL) */
	int64_t retire_at;              /* when they are retired (0: none wait) */
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
int relay_batch(struct relay_loop *l, int64_t grace_ms) MUSTCHECK;

/*
 * Publishes the jobs handed over (relay_hand) without claiming their rows: delivers them
 * and flushes the sink, delivering the jobs handed over meanwhile too (as a claim batch
 * does); the delivered ones wait in l->retiring for relay_batch_retire. Returns 0, -1 on a
 * database error (retiring a full batch), -2 when the sink broke (then what waited to be
 * retired is dropped: rows not retired stay in the outbox, and a sweep publishes them again,
 * at least once; the workers skip a duplicate).
 */
int relay_batch_hands(struct relay_loop *l) MUSTCHECK;
/* Retires the published hand-overs waiting in l->retiring (relay_batch_sent) and
 * reschedules the put-off ones, each in a statement of its own (autocommit), once their
 * time came (l->retire_at) or at once with now. 0, or -1 on a database error (they are
 * dropped, as above). */
int relay_batch_retire(struct relay_loop *l, bool now) MUSTCHECK;
/* Frees what l->retiring holds. */
void relay_batch_free(struct relay_loop *l);

/* Counts n jobs published by way via (relay_published). */
void relay_count_published(enum relay_via via, int n);

#endif
