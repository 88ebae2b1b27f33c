/* replica.h: the streaming standbys of SETTLE_DATABASE_REPLICA_URLS, as one thread sees
 * them: it polls each standby's replay position (pg_last_wal_replay_lsn) and the primary's
 * (pg_current_wal_lsn), so that a request can pick a standby without a round trip. */
#ifndef SETTLE_REPLICA_H
#define SETTLE_REPLICA_H

#include <stdint.h>
#include <stdio.h>

#include "http.h"
#include "util.h"

/* Reads cfg.database_replica_urls and starts the poller when there is any standby. 0, or
 * -1 with a message on a bad list. */
int replica_start(void) MUSTCHECK;
void replica_stop(void);

/* The number of configured standbys (0: the poller does not run). */
int replica_count(void);
/* The URL of standby k (0-based). */
const char *replica_url(int k);
/* True when standby k answered its last poll and has not lagged beyond
 * SETTLE_REPLICA_MAX_LAG_MS, nor beyond max_lag_ms (<0: no further bound). */
bool replica_usable(int k, int64_t max_lag_ms);
/* The last replay position seen on standby k (a lower bound of what it has applied). */
uint64_t replica_replay_lsn(int k);
/* The last position seen on the primary (0 before the first poll). */
uint64_t replica_primary_lsn(void);
/* A standby decides access only when it has replayed every change that may have taken
 * access away (migration 0010's permission_changes): replica_permits(k) when its own copy of
 * the counter has reached the primary's (both read by the poller, so another process's
 * change is seen within a round), and it has replayed replica_permission_lsn(), the commit
 * of the newest such change this process made itself (replica_permission_changed), seen at
 * once. No standby permits anything before the poller first read the primary. */
uint64_t replica_permission_lsn(void);
bool replica_permits(int k);
/* A write of this process that may have taken access away committed at lsn. */
void replica_permission_changed(uint64_t lsn);

/* Events counted for /metrics. */
enum replica_event {
	REPLICA_READ_PRIMARY, /* a read served by the primary */
	REPLICA_READ_STANDBY, /* a read served by a standby */
	REPLICA_SESSION_WAIT, /* a read waited for a standby to reach its session */
	REPLICA_FALLBACK,     /* a standby read went to the primary: none caught up */
	REPLICA_CONCERN_WAIT, /* a write waited for its write concern */
	REPLICA_CONCERN_LATE, /* ... and it was not met in time */
	REPLICA_EVENTS,
};
void replica_note(enum replica_event e);
/* Writes the counters and each standby's state and replay lag in bytes (Prometheus). */
void replica_metrics(FILE *f);
/* [{"standby": K, "up": bool, "lag_bytes": n}, …]; *down counts those down. New ref. */
json_t *replica_status(int *down);

/* The number of usable standbys that have replayed lsn (write concern). */
int replica_replayed(uint64_t lsn);

#endif
