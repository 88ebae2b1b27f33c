/* mq_consume.c: consuming: consumers, deliveries, acks and rejects, basic.get. */
#include "mq.h"

#include <amqp.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mq_internal.h"

/* Sets the prefetch and starts a consumer on queue with manual acks. 0 or -1 with *err. */
int
mq_consume(struct mq *mq, const char *queue, int prefetch, char **err)
{
	if (mq_check_broken(mq, err) < 0)
		return -1;
	amqp_basic_qos(mq->conn, MQ_CHANNEL, 0, (uint16_t)prefetch, 0);
	if (mq_rpc_check(mq, "basic.qos", err) < 0)
		return -1;
	amqp_basic_consume(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue), amqp_empty_bytes, 0, 0,
	                   0, amqp_empty_table);
	if (mq_rpc_check(mq, queue, err) < 0)
		return -1;
	mq->consumers++;
	return 0;
}

static void
mq_consume_take(struct mq *mq, struct mq_delivery *d)
{
	struct mq_queued *q = mq->head;

	mq->head = q->next;
	if (mq->head == NULL)
		mq->tail = NULL;
	*d = q->d;
	free(q);
}

/*
 * Returns the next delivery of any consumer, waiting up to timeout_ms and servicing
 * heartbeats meanwhile. 1 with *d owned by the caller, 0 on timeout, -1 with *err.
 */
int
mq_next(struct mq *mq, int timeout_ms, struct mq_delivery *d, char **err)
{
	int64_t deadline = util_now_ms() + timeout_ms;

	memset(d, 0, sizeof(*d));
	for (;;) {
		if (mq->head != NULL) {
			mq_consume_take(mq, d);
			return 1;
		}
		if (mq_input_pump(mq, mq_input_slice_ms(mq, deadline), err) < 0)
			return -1;
		if (mq->head == NULL && util_now_ms() >= deadline)
			return 0;
	}
}

/* Frees what mq_next or mq_get allocated in d and clears it. */
void
mq_delivery_free(struct mq_delivery *d)
{
	free(d->routing_key);
	free(d->message_id);
	free(d->body);
	memset(d, 0, sizeof(*d));
}

/* Acks tag (and earlier ones when multiple). 0 or -1 (logged). */
int
mq_ack(struct mq *mq, uint64_t tag, bool multiple)
{
	char *err = NULL;
	int rc;

	if (mq_check_broken(mq, &err) < 0)
		goto fail;
	rc = amqp_basic_ack(mq->conn, MQ_CHANNEL, tag, multiple);
	if (rc == AMQP_STATUS_OK)
		return 0;
	(void)mq_break(mq, &err, "basic.ack", amqp_error_string2(rc));
fail:
	log_warn("mq_ack_failed tag=%" PRIu64 " error=\"%s\"", tag, err);
	free(err);
	return -1;
}

/* Rejects tag, requeueing it or not (not: the broker drops it or dead-letters it). */
int
mq_reject(struct mq *mq, uint64_t tag, bool requeue)
{
	char *err = NULL;
	int rc;

	if (mq_check_broken(mq, &err) < 0)
		goto fail;
	rc = amqp_basic_reject(mq->conn, MQ_CHANNEL, tag, requeue);
	if (rc == AMQP_STATUS_OK)
		return 0;
	(void)mq_break(mq, &err, "basic.reject", amqp_error_string2(rc));
fail:
	log_warn("mq_reject_failed tag=%" PRIu64 " error=\"%s\"", tag, err);
	free(err);
	return -1;
}

/* basic.get of one message with manual ack. 1 with *d (caller frees), 0 empty, -1. */
int
mq_get(struct mq *mq, const char *queue, struct mq_delivery *d, char **err)
{
	amqp_rpc_reply_t r;
	amqp_basic_get_ok_t *ok;

	memset(d, 0, sizeof(*d));
	if (mq_check_broken(mq, err) < 0)
		return -1;
	amqp_maybe_release_buffers(mq->conn);
	r = amqp_basic_get(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue), 0);
	if (mq_reply_check(mq, r, queue, err) < 0)
		return -1;
	if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
		return 0;
	ok = r.reply.decoded;
	d->tag = ok->delivery_tag;
	d->redelivered = ok->redelivered;
	d->routing_key = mq_bytes_dup(ok->routing_key);
	if (mq_input_read_content(mq, d, err) < 0) {
		mq_delivery_free(d);
		return -1;
	}
	return 1;
}
