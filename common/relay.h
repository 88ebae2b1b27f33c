/* relay.h: the outbox relay: claims unsent outbox rows and hands them to a sink
 * (RabbitMQ publisher with confirms, or the inline job runner). */
#ifndef SETTLE_RELAY_H
#define SETTLE_RELAY_H

#include <stdint.h>

#include "job.h"
#include "util.h"

/* Where claimed jobs go. The relay calls, in one transaction holding the claimed rows:
 * deliver() for each row, then flush(), then retires the delivered rows (deletes them from
 * the outbox and records their messages in message_log) and commits.
 * - deliver(j, body, retry): body is j's serialised message. 0 when handed over (final
 *   once flush() succeeds), 1 to try this job again later (the relay sets the row's attempt
 *   to retry->attempt and available_at to now + retry->delay_ms), -1 when the sink is
 *   broken.
 * - flush(wake_fd): waits until everything delivered since the last flush is handed over
 *   for good (publisher confirms): 0; or returns 1 as soon as wake_fd (>= 0) is readable,
 *   with deliveries outstanding (the relay delivers more, then flushes again); -1 when
 *   broken. NULL when deliver() is final by itself.
 * - keepalive(): called at least every few seconds while the relay idles (heartbeats).
 *   0, or -1 when broken. May be NULL.
 * - reset(): (re)connects; called with backoff after -1 from any of the above, until it
 *   returns 0. The batch of a failure is rolled back. May be NULL.
 * - free(): releases arg. */
/* When deliver() puts a job off: the attempt number its next run carries, and after how
 * long it runs. */
struct relay_retry {
	int attempt;
	int64_t delay_ms;
};

struct relay_sink {
	int (*deliver)(void *arg, const struct job *j, const char *body, struct relay_retry *retry);
	int (*flush)(void *arg, int wake_fd);
	int (*keepalive)(void *arg);
	int (*reset)(void *arg);
	void (*free)(void *arg);
	void *arg;
};

/* A sink that publishes to RabbitMQ at url (exchange settle.jobs, routing key = kind,
 * publisher confirms, mandatory), declaring the topology with the queues of kinds
 * (NULL-terminated, static: kinds_names()) on every (re)connect. */
struct relay_sink relay_mq_sink(const char *url, const char *const *kinds);

struct relay;

/* Starts the relay thread of this process on its own Postgres connection to database_url.
 * It wakes on relay_wake() (its process wrote a job) and on a periodic sweep (every
 * sweep_ms, for rows written elsewhere), claims due rows with FOR UPDATE SKIP LOCKED in
 * batches and moves the delivered ones into message_log. It does not LISTEN (see
 * relay.c). Takes ownership of sink. NULL if the thread cannot start. */
struct relay *relay_start(const char *database_url, struct relay_sink sink, int64_t sweep_ms);
/* Asks the relay to stop, joins it and frees everything. No relay_wake() may run at the
 * same time (settle-api stops its HTTP threads first). */
void relay_stop(struct relay *r);
/* Wakes the relay thread of this process after a COMMIT that wrote outbox rows, to claim
 * them; nothing when the process runs none. Cheap (a byte on a pipe), thread safe. */
void relay_wake(void);
/* Hands the relay thread of this process the job a COMMIT just wrote into the outbox
 * (message id, kind, the resource), instead of relay_wake: the relay publishes it without
 * claiming its row, then retires the row (one autocommit statement instead of a claim's
 * transaction). The row stays the record: a sweep publishes what a hand-over did not (the
 * relay stopped, RabbitMQ or Postgres failed), at least once. With RELAY_BATCH jobs waiting
 * already, or an id or kind too long for a job, it falls back to relay_wake. Thread safe;
 * not during relay_stop. */
void relay_hand(const char *id, const char *kind, const char *resource_id);
/* Runs the relay loop in the calling thread until *stop becomes non-zero (for `settle
 * relay`): it LISTENs on settle_outbox, which every outbox insert NOTIFYs. */
void relay_run(const char *database_url, struct relay_sink sink, int64_t sweep_ms,
               volatile int *stop);
/* Number of unsent outbox rows last seen by any relay in this process (for metrics). */
int64_t relay_backlog(void);

/* How a relay came to publish a job: it claimed the row, or the job was handed over. */
enum relay_via { RELAY_VIA_CLAIM, RELAY_VIA_HANDOFF, RELAY_VIA_COUNT };
/* Jobs the relays of this process published (confirmed and retired) by way, since start. */
int64_t relay_published(enum relay_via via);
/* Its label in metrics: "claim" or "handoff". */
const char *relay_via_name(enum relay_via via);

#endif
