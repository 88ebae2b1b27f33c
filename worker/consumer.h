/* consumer.h: settle-worker's loop: consume job queues, run jobs, ack after commit. */
#ifndef SETTLE_CONSUMER_H
#define SETTLE_CONSUMER_H

#include "util.h"

/* Consumes the queues of every job kind not excluded by SETTLE_WORKERS_EXCEPT until *stop
 * becomes non-zero, reconnecting to Postgres and RabbitMQ as needed. Finishes and acks the
 * job in flight, then closes both connections. 0 on a clean stop, -1 if it cannot run at
 * all (no kind left to consume). */
int consumer_run(volatile int *stop) MUSTCHECK;

#endif
