/* mq.h: AMQP 0-9-1 over rabbitmq-c: connect, topology, confirmed publish, consume.
 *
 * Topology (mq_declare_topology, idempotent); every queue is a durable quorum queue, so a
 * cluster replicates it on all its nodes:
 *   exchange settle.jobs (topic, durable)
 *     ─<kind>──▶ settle.<kind>          one per job kind
 *   settle.retry.<kind>.<level>         delay queues, level 1..MQ_RETRY_LEVELS, dead-lettered
 *                                       (at least once) to settle.jobs with routing key <kind>
 *   exchange settle.dead (fanout, durable)
 *     ─────────▶ settle.dead
 *     ─────────▶ settle.message_log     x-max-length 1000000 (audit)
 * Older versions declared the delay queues and settle.message_log as classic queues: such a
 * queue is converted when found empty, and kept until then (see mq_topology_queue).
 *
 * The audit log of messages (table message_log) is written without the broker for the
 * common case: the outbox relay moves each row it published into the table, in the
 * statement that retires the row. The broker's settle.message_log queue carries only what
 * the workers publish: dead letters (through settle.dead) and retries (the worker sends a
 * copy), drained by `settle message-log drain`. The binding settle.jobs ─"#"─▶
 * settle.message_log of older versions is removed.
 *
 * A retry is published to the default exchange ("") with routing key
 * mq_retry_queue(kind, step) and a per-message expiration (the delay); when it expires
 * it goes back to settle.jobs and so to settle.<kind>. A queue only expires the
 * message at its head, so each level should only hold messages with similar delays: the
 * level is the backoff step of the delay (the number of failed attempts, for a real retry),
 * capped (see mq_retry_queue).
 * A dead letter is published to exchange settle.dead with routing key <kind> (kept, so
 * `settle dead-letters requeue` can tell where it came from); any key reaches settle.dead.
 *
 * A struct mq is one connection with one channel (1), in publisher-confirm mode; it is not
 * thread safe: use one per thread. rabbitmq-c does nothing in the background, so a user
 * must call mq_next or mq_keepalive at least every heartbeat/2 seconds or the broker
 * closes the connection. Any function returning -1 because the connection broke leaves the
 * struct usable only for mq_close: the caller reconnects.
 *
 * Several brokers (the nodes of a cluster) are given as a list of URLs separated by commas
 * (or white space). mq_connect tries them in turn, starting with the one after the address
 * whose connection this process last lost or could not open, so a process whose broker
 * died reconnects to the next node; it stays there until that connection is lost in turn.
 * Every queue that carries jobs is a quorum queue, so any node serves it.
 */
#ifndef SETTLE_MQ_H
#define SETTLE_MQ_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define MQ_EXCHANGE      "settle.jobs"
#define MQ_DEAD_EXCHANGE "settle.dead"
#define MQ_DEAD_QUEUE    "settle.dead"
#define MQ_LOG_QUEUE     "settle.message_log"
#define MQ_RETRY_PREFIX  "settle.retry."
#define MQ_RETRY_LEVELS  6

struct mq;

/* Connects to the first broker of urls (amqp://user:pass@host:port[/vhost], several
 * separated by commas: see above) that answers, opens channel 1 with publisher confirms
 * enabled, heartbeat `heartbeat` seconds (0 = off). The caller owns the result (mq_close).
 * NULL + *err (caller frees, naming why each address failed) when none answers. */
struct mq *mq_connect(const char *urls, int heartbeat, char **err) MUSTCHECK;
/* The number of URLs in a list as mq_connect takes it. */
size_t mq_address_count(const char *urls);
/* Closes channel and connection and frees. NULL is fine. */
void mq_close(struct mq *mq);

/* Declares the topology drawn at the top of this file, with the queues of every job kind
 * named in kinds (NULL-terminated: kinds_names() of jobs/kinds.h). Idempotent. 0 or -1 with
 * *err. */
int mq_declare_topology(struct mq *mq, const char *const *kinds, char **err) MUSTCHECK;

/* The queue of a job kind: "settle.<kind>". New string, caller frees. */
char *mq_kind_queue(const char *kind);

/* The delay queue for a job about to be published with a delay of backoff step `step`
 * (>= 2; for a real retry, the attempt number it is published with): "settle.retry.<kind>.
 * <level>" with level = step - 1 capped to 1..MQ_RETRY_LEVELS (step 2 → level 1, step 3 →
 * level 2, …, step >= 7 → level 6). New string, caller frees. */
char *mq_retry_queue(const char *kind, int step);

/* Publishes body to exchange ("" = default exchange) with routing key: persistent,
 * content_type application/json, message_id msg_id, mandatory; expiration_ms > 0 sets the
 * per-message TTL. Waits for the broker's confirm of this and every earlier unconfirmed
 * publish. 0 when confirmed; -1 with *err on nack or return (the connection stays usable)
 * or on a connection error (then it must be re-made). */
int mq_publish(struct mq *mq, const char *exchange, const char *routing_key, const char *msg_id,
               const char *body, size_t len, int64_t expiration_ms, char **err) MUSTCHECK;
/* mq_publish, with a copy (no expiration) to settle.message_log first: for the messages a
 * process publishes outside the outbox (retries, requeued dead letters), so that the audit
 * log sees them. 0 when both are confirmed, else -1 with *err as mq_publish. */
int mq_publish_logged(struct mq *mq, const char *exchange, const char *routing_key,
                      const char *msg_id, const char *body, size_t len, int64_t expiration_ms,
                      char **err) MUSTCHECK;
/* mq_publish without waiting: the confirm is collected by mq_wait_confirms. 0 or -1
 * (connection error) with *err. */
int mq_publish_nowait(struct mq *mq, const char *exchange, const char *routing_key,
                      const char *msg_id, const char *body, size_t len, int64_t expiration_ms,
                      char **err) MUSTCHECK;
/* Waits up to timeout_ms until every publish since the last wait is confirmed. 0 if all
 * were acked; -1 with *err if any was nacked or returned, on timeout or on a connection
 * error. Either way the set of outstanding publishes is cleared. */
int mq_wait_confirms(struct mq *mq, int timeout_ms, char **err) MUSTCHECK;
/* mq_wait_confirms that also returns 1 as soon as fd (>= 0) is readable, the publishes
 * still outstanding (wait again later, after publishing more if need be). */
int mq_wait_confirms_or(struct mq *mq, int timeout_ms, int fd, char **err) MUSTCHECK;

/* Starts consuming queue with manual acks and prefetch count. 0 or -1 with *err. */
int mq_consume(struct mq *mq, const char *queue, int prefetch, char **err) MUSTCHECK;

struct mq_delivery {
	uint64_t tag;
	char *routing_key;
	char *message_id; /* "" when the message had none */
	char *body;       /* NUL-terminated copy */
	size_t len;
	bool redelivered;
};

/* Waits up to timeout_ms (0 = just look) for one delivery on any consumed queue. Returns
 * 1 with *d filled (free with mq_delivery_free), 0 on timeout, -1 with *err on connection
 * error. Sends heartbeats while waiting. */
int mq_next(struct mq *mq, int timeout_ms, struct mq_delivery *d, char **err) MUSTCHECK;
/* Frees the strings of d (not d itself). */
void mq_delivery_free(struct mq_delivery *d);
/* Processes pending input and sends a heartbeat if one is due, without blocking; for
 * connections that only publish. 0 or -1 with *err if the connection is gone. */
int mq_keepalive(struct mq *mq, char **err) MUSTCHECK;

/* The socket to poll() for input, and whether input is already buffered (then poll()
 * would not see it): for callers that wait on other things too. */
int mq_fd(struct mq *mq);
bool mq_has_input(struct mq *mq);

/* Acks (multiple = also all earlier tags) or rejects (requeue or not) a delivery.
 * 0 or -1 (logged) when the connection is gone. */
int mq_ack(struct mq *mq, uint64_t tag, bool multiple) MUSTCHECK;
int mq_reject(struct mq *mq, uint64_t tag, bool requeue) MUSTCHECK;

/* Fetches one message from queue (basic.get, manual ack: settle it with mq_ack or
 * mq_reject). Do not mix with mq_consume on one connection.
 * 1 got one (free with mq_delivery_free), 0 empty, -1 error with *err. */
int mq_get(struct mq *mq, const char *queue, struct mq_delivery *d, char **err) MUSTCHECK;
/* Number of messages ready in queue (passive declare), or -1 with *err (a missing queue
 * is an error, after which the channel is reopened). */
int64_t mq_queue_depth(struct mq *mq, const char *queue, char **err) MUSTCHECK;

#endif
