/* mq_topology.c: the declaration of the topology drawn in mq.h (exchanges, quorum queues,
 * conversion of classic queues), queue names and queue depth. */
#include "mq.h"

#include <amqp.h>
#include <stdlib.h>

#include "log.h"
#include "mq_internal.h"

#define MQ_LOG_MAX_LENGTH 1000000

static amqp_table_entry_t
mq_topology_arg(const char *key, const char *value)
{
	amqp_table_entry_t e;

	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(value);
	return e;
}

static int
mq_topology_queue_as(struct mq *mq, const char *queue, amqp_table_entry_t *args, int nargs,
                     bool passive, char **err)
{
	amqp_table_t table = {nargs, args};

	mq->channel_closed = 0;
	amqp_queue_declare(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue), passive, 1, 0, 0,
	                   table);
	return mq_rpc_check(mq, queue, err);
}

/*
 * Declares a durable quorum queue with args (which say x-queue-type quorum). A classic queue
 * of the same name, left by a version before every queue was a quorum queue, cannot be
 * declared again as a quorum queue (406): it is deleted if empty and declared anew; while it
 * still holds messages it is kept as it is, with a warning (a delay queue empties itself as
 * its messages expire, settle.message_log by `settle message-log drain`; a later declaration
 * converts it). 0 or -1 with *err.
 */
static int
mq_topology_queue(struct mq *mq, const char *queue, amqp_table_entry_t *args, int nargs, char **err)
{
	char *ignored = NULL;

	if (mq_topology_queue_as(mq, queue, args, nargs, false, &ignored) == 0)
		return 0;
	if (mq->channel_closed != AMQP_PRECONDITION_FAILED || mq->broken != NULL) {
		util_set_err(err, "%s", ignored);
		free(ignored);
		return -1;
	}
	free(ignored);
	ignored = NULL;
	mq->channel_closed = 0;
	amqp_queue_delete(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue), 0, 1);
	if (mq_rpc_check(mq, "queue.delete", &ignored) == 0) {
		log_info("mq_queue_converted queue=%s type=quorum", queue);
		return mq_topology_queue_as(mq, queue, args, nargs, false, err);
	}
	free(ignored);
	if (mq->broken != NULL || mq_topology_queue_as(mq, queue, NULL, 0, true, err) < 0)
		return -1;
	log_warn("mq_queue_not_converted queue=%s reason=\"a queue of another type that still "
	         "holds messages: it becomes a quorum queue once empty\"",
	         queue);
	return 0;
}

static int
mq_topology_bind(struct mq *mq, const char *queue, const char *exchange, const char *key,
                 char **err)
{
	amqp_queue_bind(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue),
	                amqp_cstring_bytes(exchange), amqp_cstring_bytes(key), amqp_empty_table);
	return mq_rpc_check(mq, "queue.bind", err);
}

/* Removes a binding; RabbitMQ answers unbind-ok when there was none, so this is idempotent. */
static int
mq_topology_unbind(struct mq *mq, const char *queue, const char *exchange, const char *key,
                   char **err)
{
	amqp_queue_unbind(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue),
	                  amqp_cstring_bytes(exchange), amqp_cstring_bytes(key), amqp_empty_table);
	return mq_rpc_check(mq, "queue.unbind", err);
}

static int
mq_topology_exchange(struct mq *mq, const char *name, const char *type, char **err)
{
	amqp_exchange_declare(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(name),
	                      amqp_cstring_bytes(type), 0, 1, 0, 0, amqp_empty_table);
	return mq_rpc_check(mq, name, err);
}

/* Declares the kind's quorum queue, its binding and its delay queues. */
static int
mq_topology_kind(struct mq *mq, const char *kind, char **err)
{
	amqp_table_entry_t quorum[] = {mq_topology_arg("x-queue-type", "quorum")};
	/* A quorum queue dead-letters at least once only when it rejects publishes over
	 * its limits (it has none here) instead of dropping its head. */
	amqp_table_entry_t retry[] = {mq_topology_arg("x-queue-type", "quorum"),
	                              mq_topology_arg("x-dead-letter-exchange", MQ_EXCHANGE),
	                              mq_topology_arg("x-dead-letter-routing-key", kind),
	                              mq_topology_arg("x-dead-letter-strategy", "at-least-once"),
	                              mq_topology_arg("x-overflow", "reject-publish")};
	char *name = mq_kind_queue(kind);
	int rc = -1;

	if (mq_topology_queue(mq, name, quorum, (int)ARRAY_LEN(quorum), err) < 0 ||
	    mq_topology_bind(mq, name, MQ_EXCHANGE, kind, err) < 0)
		goto out;
	for (int level = 1; level <= MQ_RETRY_LEVELS; level++) {
		free(name);
		name = mq_retry_queue(kind, level + 1);
		if (mq_topology_queue(mq, name, retry, (int)ARRAY_LEN(retry), err) < 0)
			goto out;
	}
	rc = 0;
out:
	free(name);
	return rc;
}

/*
 * Declares exchanges, queues and bindings (see mq.h). Idempotent; fails with a 406 message
 * in *err if a queue exists with other arguments. 0 or -1.
 */
int
mq_declare_topology(struct mq *mq, const char *const *kinds, char **err)
{
	amqp_table_entry_t quorum[] = {mq_topology_arg("x-queue-type", "quorum")};
	amqp_table_entry_t log_args[2];

	if (mq_check_broken(mq, err) < 0)
		return -1;
	log_args[0] = mq_topology_arg("x-queue-type", "quorum");
	log_args[1].key = amqp_cstring_bytes("x-max-length");
	log_args[1].value.kind = AMQP_FIELD_KIND_I64;
	log_args[1].value.value.i64 = MQ_LOG_MAX_LENGTH;
	if (mq_topology_exchange(mq, MQ_EXCHANGE, "topic", err) < 0 ||
	    mq_topology_exchange(mq, MQ_DEAD_EXCHANGE, "fanout", err) < 0)
		return -1;
	for (int i = 0; kinds[i] != NULL; i++)
		if (mq_topology_kind(mq, kinds[i], err) < 0)
			return -1;
	if (mq_topology_queue(mq, MQ_DEAD_QUEUE, quorum, (int)ARRAY_LEN(quorum), err) < 0 ||
	    mq_topology_bind(mq, MQ_DEAD_QUEUE, MQ_DEAD_EXCHANGE, "", err) < 0 ||
	    mq_topology_queue(mq, MQ_LOG_QUEUE, log_args, (int)ARRAY_LEN(log_args), err) < 0 ||
	    mq_topology_bind(mq, MQ_LOG_QUEUE, MQ_DEAD_EXCHANGE, "", err) < 0 ||
	    mq_topology_unbind(mq, MQ_LOG_QUEUE, MQ_EXCHANGE, "#", err) < 0)
		return -1;
	return 0;
}

char *
mq_kind_queue(const char *kind)
{
	return xasprintf("settle.%s", kind);
}

/* Name of the delay queue for a publish with a delay of this backoff step (mapping in mq.h). */
char *
mq_retry_queue(const char *kind, int step)
{
	int level = step - 1;

	if (level < 1)
		level = 1;
	if (level > MQ_RETRY_LEVELS)
		level = MQ_RETRY_LEVELS;
	return xasprintf(MQ_RETRY_PREFIX "%s.%d", kind, level);
}

/* Ready messages in queue from a passive queue.declare, or -1 with *err. */
int64_t
mq_queue_depth(struct mq *mq, const char *queue, char **err)
{
	amqp_queue_declare_ok_t *ok;

	if (mq_check_broken(mq, err) < 0)
		return -1;
	ok = amqp_queue_declare(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue), 1, 0, 0, 0,
	                        amqp_empty_table);
	if (mq_rpc_check(mq, queue, err) < 0 || ok == NULL)
		return -1;
	return ok->message_count;
}
