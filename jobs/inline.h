/* inline.h: the relay sink of inline mode (SETTLE_QUEUE=inline): jobs run in the process
 * that relays them, with no RabbitMQ. */
#ifndef SETTLE_INLINE_H
#define SETTLE_INLINE_H

#include "relay.h"

/* The sink of settle-api's inline mode: runs each job with jobs_run on its own Postgres
 * connection to cfg.database_url (opened on first use), with the retry policy of jobs_next.
 * The caller owns the returned sink and releases it with its free(). */
struct relay_sink inline_sink(void);

#endif
