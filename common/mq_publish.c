/* mq_publish.c: publishing with publisher confirms, one at a time or a batch at a time. */
#include "mq.h"

#include <amqp.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mq_internal.h"

/* See mq.h. */
int
mq_publish_logged(struct mq *mq, const char *exchange, const char *routing_key, const char *msg_id,
                  const char *body, size_t len, int64_t expiration_ms, char **err)
{
	if (mq_publish_nowait(mq, "", MQ_LOG_QUEUE, msg_id, body, len, 0, err) < 0)
		return -1;
	return mq_publish(mq, exchange, routing_key, msg_id, body, len, expiration_ms, err);
}

/*
 * Publishes without waiting for the confirm; the publish is recorded as outstanding for
 * mq_wait_confirms. 0, or -1 with *err when the connection failed.
 */
int
mq_publish_nowait(struct mq *mq, const char *exchange, const char *routing_key, const char *msg_id,
                  const char *body, size_t len, int64_t expiration_ms, char **err)
{
	amqp_basic_properties_t props;
	char expiration[24];
	amqp_bytes_t bytes = {len, (void *)body};
	int rc;

	if (mq_check_broken(mq, err) < 0)
		return -1;
	memset(&props, 0, sizeof(props));
	props._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_DELIVERY_MODE_FLAG |
	               AMQP_BASIC_MESSAGE_ID_FLAG;
	props.content_type = amqp_cstring_bytes("application/json");
	props.delivery_mode = AMQP_DELIVERY_PERSISTENT;
	props.message_id = amqp_cstring_bytes(msg_id);
	if (expiration_ms > 0) {
		snprintf(expiration, sizeof(expiration), "%" PRId64, expiration_ms);
		props._flags |= AMQP_BASIC_EXPIRATION_FLAG;
		props.expiration = amqp_cstring_bytes(expiration);
	}
	rc = amqp_basic_publish(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(exchange),
	                        amqp_cstring_bytes(routing_key), 1, 0, &props, bytes);
	if (rc != AMQP_STATUS_OK)
		return mq_break(mq, err, "basic.publish", amqp_error_string2(rc));
	if (mq->npending == mq->cap) {
		mq->cap = mq->cap ? mq->cap * 2 : 64;
		mq->state = xrealloc(mq->state, mq->cap);
	}
	if (mq->npending == 0)
		mq->base = mq->next_seq;
	mq->state[mq->npending++] = 0;
	mq->next_seq++;
	return 0;
}

/*
 * Waits until each outstanding publish is acked or nacked (a basic.return arrives before
 * its ack). Deliveries read meanwhile are kept for mq_next. 0 if all were acked and none
 * returned; -1 with *err otherwise. Outstanding publishes are forgotten either way.
 */
int
mq_wait_confirms(struct mq *mq, int timeout_ms, char **err)
{
	return mq_wait_confirms_or(mq, timeout_ms, -1, err);
}

/* Ends a wait for confirms: the verdict on every publish since the last one, which are then
 * forgotten. 0 if all were acked, else -1 with *err. */
static int
mq_publish_settle(struct mq *mq, bool timed_out, int timeout_ms, char **err)
{
	size_t nacked = 0;
	int rc = -1;

	if (timed_out) {
		util_set_err(err, "no publisher confirm within %d ms (%zu of %zu pending)",
		             timeout_ms, mq->npending - mq->nconfirmed, mq->npending);
		goto out;
	}
	for (size_t i = 0; i < mq->npending; i++)
		nacked += mq->state[i] < 0;
	if (nacked > 0) {
		util_set_err(err, "broker nacked %zu of %zu messages", nacked, mq->npending);
		goto out;
	}
	if (mq->returned != NULL) {
		util_set_err(err, "message returned as unroutable: %s", mq->returned);
		goto out;
	}
	rc = 0;
out:
	mq->base = mq->next_seq;
	mq->npending = mq->nconfirmed = 0;
	free(mq->returned);
	mq->returned = NULL;
	return rc;
}

/* Waits for confirms until all arrived or fd (>= 0) is readable. See mq.h. */
int
mq_wait_confirms_or(struct mq *mq, int timeout_ms, int fd, char **err)
{
	int64_t deadline = util_now_ms() + timeout_ms;

	while (mq->nconfirmed < mq->npending) {
		int slice = mq_input_slice_ms(mq, deadline);

		if (fd >= 0 && !mq_has_input(mq)) {
			struct pollfd p[2] = {{.fd = mq_fd(mq), .events = POLLIN},
			                      {.fd = fd, .events = POLLIN}};
			if (poll(p, 2, slice) > 0 && (p[1].revents & POLLIN))
				return 1;
			slice = 0;
		}
		if (mq_input_pump(mq, slice, err) < 0) {
			mq_publish_settle(mq, false, timeout_ms, NULL);
			return -1;
		}
		if (mq->nconfirmed < mq->npending && util_now_ms() >= deadline)
			return mq_publish_settle(mq, true, timeout_ms, err);
	}
	return mq_publish_settle(mq, false, timeout_ms, err);
}

/* Publishes one message and waits (up to the rpc timeout) for its confirm. See mq.h. */
int
mq_publish(struct mq *mq, const char *exchange, const char *routing_key, const char *msg_id,
           const char *body, size_t len, int64_t expiration_ms, char **err)
{
	if (mq_publish_nowait(mq, exchange, routing_key, msg_id, body, len, expiration_ms, err) < 0)
		return -1;
	return mq_wait_confirms(mq, MQ_RPC_TIMEOUT_S * 1000, err);
}
