/* redeliver.h: what settle-worker does with a delivery that did not end in a COMMIT. Used
 * by the thread that owns the AMQP connection only. */
#ifndef SETTLE_REDELIVER_H
#define SETTLE_REDELIVER_H

#include "jobs.h"
#include "mq.h"

/* Publishes the delivery d to settle.dead (confirmed), then acks it; reason is logged.
 * 0, -1 on AMQP error. */
int redeliver_dead(struct mq *mq, const struct mq_delivery *d, const char *reason) MUSTCHECK;

/* Publishes j with the attempt number of its next run (n, from jobs_next) to the delay
 * queue of n's step (expiration = backoff) and a copy to the audit log queue and, once both
 * are confirmed, acks the delivery d. The message id stays the same. 0, -1 on AMQP
 * error. */
int redeliver_retry(struct mq *mq, const struct mq_delivery *d, const struct job *j,
                    const struct jobs_next *n) MUSTCHECK;

#endif
