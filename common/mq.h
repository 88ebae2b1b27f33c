/* mq.h: AMQP 0-9-1 over rabbitmq-c: connect, topology, confirmed publish, consume. */
#ifndef SETTLE_MQ_H
#define SETTLE_MQ_H

#include <stdint.h>

#include "util.h"

#define MQ_EXCHANGE "settle.jobs"
#define MQ_DEAD_QUEUE "settle.dead"
#define MQ_LOG_QUEUE "settle.message_log"
#define MQ_RETRY_EXCHANGE "settle.retry"
#define MQ_DEAD_EXCHANGE "settle.dead"

/* The job kinds; each has the durable quorum queue "settle.<kind>". */
extern const char *const mq_kinds[];
extern const int mq_kind_count;

struct mq;

/* Connects to url (amqp://user:pass@host:port[/vhost]), opens channel 1 with publisher
 * confirms enabled, heartbeat `heartbeat` seconds (0 = off). NULL + *err (caller frees)
 * on failure. */
struct mq *mq_connect(const char *url, int heartbeat, char **err) MUSTCHECK;
/* Closes channel and connection and frees. NULL is fine. */
void mq_close(struct mq *mq);

/* Declares exchange settle.jobs (topic, durable), one quorum queue per kind bound with its
 * kind as routing key, the retry exchange and delay queue (messages published there with a
 * per-message expiration are dead-lettered back to settle.jobs with their routing key),
 * settle.dead, and settle.message_log bound to "#". Idempotent. 0 or -1. */
int mq_declare_topology(struct mq *mq, char **err) MUSTCHECK;

/* Publishes body to exchange with routing key: persistent, content_type application/json,
 * message_id msg_id, mandatory; expiration_ms > 0 sets the per-message TTL.
 * Waits for the broker's confirm (ack). 0 when confirmed; -1 on nack, return or
 * connection error (then the connection must be re-made). */
int mq_publish(struct mq *mq, const char *exchange, const char *routing_key, const char *msg_id,
	       const char *body, size_t len, int64_t expiration_ms, char **err) MUSTCHECK;

/* Starts consuming queue with manual acks and prefetch count. 0 or -1. */
int mq_consume(struct mq *mq, const char *queue, int prefetch, char **err) MUSTCHECK;

struct mq_delivery {
	uint64_t tag;
	char *routing_key;
	char *message_id;
	char *body; /* NUL-terminated copy */
	size_t len;
	bool redelivered;
};

/* Waits up to timeout_ms for one delivery on any consumed queue. Returns 1 with *d filled
 * (free with mq_delivery_free), 0 on timeout, -1 on connection error. Sends heartbeats. */
int mq_next(struct mq *mq, int timeout_ms, struct mq_delivery *d, char **err) MUSTCHECK;
void mq_delivery_free(struct mq_delivery *d);

/* Acks (multiple = also all earlier tags) or rejects (requeue or not) a delivery. */
int mq_ack(struct mq *mq, uint64_t tag, bool multiple) MUSTCHECK;
int mq_reject(struct mq *mq, uint64_t tag, bool requeue) MUSTCHECK;

/* Fetches one message from queue without consuming (basic.get), ack mode manual.
 * 1 got one, 0 empty, -1 error. */
int mq_get(struct mq *mq, const char *queue, struct mq_delivery *d, char **err) MUSTCHECK;
/* Number of messages ready in queue (passive declare), or -1. */
int64_t mq_queue_depth(struct mq *mq, const char *queue);

#endif
