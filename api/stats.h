/* stats.h: request counters and latency histograms for /metrics. */
#ifndef SETTLE_STATS_H
#define SETTLE_STATS_H

#include <stdint.h>
#include <stdio.h>

/* Counts one finished request of route `name` with status and latency. Thread-safe. */
void stats_request(const char *name, int status, int64_t ms);
/* Writes every counter in the Prometheus text format. */
void stats_write(FILE *out);
/* Seconds a client should wait before asking again whether a resource is consistent,
 * estimated from the outbox backlog. At least 1. */
int64_t stats_retry_after(void);

#endif
