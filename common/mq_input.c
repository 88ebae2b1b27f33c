/* mq_input.c: input outside an rpc: frames read while waiting, deliveries queued for
 * mq_next, publisher confirms and returns recorded, heartbeats. */
#include "mq.h"

#include <amqp.h>
#include <stdlib.h>
#include <sys/time.h>

#include "log.h"
#include "mq_internal.h"

/* Records the broker's ack (ok) or nack of tag (and all before it when multiple). */
static void
mq_input_confirm(struct mq *mq, uint64_t tag, bool multiple, bool ok)
{
	uint64_t from = multiple ? mq->base : tag;

	if (tag < mq->base || tag >= mq->base + mq->npending)
		return; /* a confirm for a publish we gave up on */
	for (uint64_t t = from; t <= tag; t++) {
		signed char *s = &mq->state[t - mq->base];
		if (*s == 0) {
			*s = ok ? 1 : -1;
			mq->nconfirmed++;
		}
	}
}

static void
mq_input_enqueue(struct mq *mq, struct mq_queued *q)
{
	q->next = NULL;
	if (mq->tail != NULL)
		mq->tail->next = q;
	else
		mq->head = q;
	mq->tail = q;
}

/* Reads the content of a basic.deliver, basic.get-ok or basic.return into d (when d is
 * not NULL). 0 or -1. */
int
mq_input_read_content(struct mq *mq, struct mq_delivery *d, char **err)
{
	amqp_message_t msg;
	amqp_rpc_reply_t r = amqp_read_message(mq->conn, MQ_CHANNEL, &msg, 0);

	if (mq_reply_check(mq, r, "read message", err) < 0) {
		(void)mq_break(mq, NULL, "read message", "content frames missing");
		return -1;
	}
	if (d != NULL) {
		d->body = mq_bytes_dup(msg.body);
		d->len = msg.body.len;
		if (msg.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG)
			d->message_id = mq_bytes_dup(msg.properties.message_id);
		else
			d->message_id = xstrdup("");
	}
	amqp_destroy_message(&msg);
	return 0;
}

/* Handles one method frame outside an rpc: deliveries are queued, confirms and returns
 * recorded, a close from the broker breaks the connection. 0 or -1. */
static int
mq_input_handle_method(struct mq *mq, amqp_frame_t *f, char **err)
{
	switch (f->payload.method.id) {
	case AMQP_BASIC_DELIVER_METHOD: {
		amqp_basic_deliver_t *m = f->payload.method.decoded;
		struct mq_queued *q = xcalloc(1, sizeof(*q));
		q->d.tag = m->delivery_tag;
		q->d.redelivered = m->redelivered;
		q->d.routing_key = mq_bytes_dup(m->routing_key);
		if (mq_input_read_content(mq, &q->d, err) < 0) {
			mq_delivery_free(&q->d);
			free(q);
			return -1;
		}
		mq_input_enqueue(mq, q);
		return 0;
	}
	case AMQP_BASIC_ACK_METHOD: {
		amqp_basic_ack_t *m = f->payload.method.decoded;
		mq_input_confirm(mq, m->delivery_tag, m->multiple, true);
		return 0;
	}
	case AMQP_BASIC_NACK_METHOD: {
		amqp_basic_nack_t *m = f->payload.method.decoded;
		mq_input_confirm(mq, m->delivery_tag, m->multiple, false);
		return 0;
	}
	case AMQP_BASIC_RETURN_METHOD: {
		amqp_basic_return_t *m = f->payload.method.decoded;
		if (mq->returned == NULL)
			mq->returned =
			    xasprintf("%u %.*s (exchange=%.*s routing_key=%.*s)", m->reply_code,
			              (int)m->reply_text.len, (const char *)m->reply_text.bytes,
			              (int)m->exchange.len, (const char *)m->exchange.bytes,
			              (int)m->routing_key.len, (const char *)m->routing_key.bytes);
		return mq_input_read_content(mq, NULL, err);
	}
	case AMQP_CHANNEL_CLOSE_METHOD: {
		amqp_channel_close_t *m = f->payload.method.decoded;
		char *why = xasprintf("channel closed by broker: %u %.*s", m->reply_code,
		                      (int)m->reply_text.len, (const char *)m->reply_text.bytes);
		mq_send_close_ok(mq, f->channel, false);
		(void)mq_break(mq, err, "broker", why);
		free(why);
		return -1;
	}
	case AMQP_CONNECTION_CLOSE_METHOD: {
		amqp_connection_close_t *m = f->payload.method.decoded;
		char *why = xasprintf("connection closed by broker: %u %.*s", m->reply_code,
		                      (int)m->reply_text.len, (const char *)m->reply_text.bytes);
		mq_send_close_ok(mq, 0, true);
		(void)mq_break(mq, err, "broker", why);
		free(why);
		return -1;
	}
	case AMQP_BASIC_CANCEL_METHOD:
		/* The broker cancelled a consumer (queue deleted): reconnecting redeclares. */
		return mq_break(mq, err, "basic.cancel", "consumer cancelled by the broker");
	default:
		log_debug("mq_ignored_method id=0x%08x", f->payload.method.id);
		return 0;
	}
}

/* Waits up to timeout_ms for one frame and handles it. 1 handled one, 0 timeout, -1 error. */
int
mq_input_pump(struct mq *mq, int timeout_ms, char **err)
{
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	amqp_frame_t f;
	int rc;

	if (mq_check_broken(mq, err) < 0)
		return -1;
	amqp_maybe_release_buffers(mq->conn);
	rc = amqp_simple_wait_frame_noblock(mq->conn, &f, &tv);
	if (rc == AMQP_STATUS_TIMEOUT)
		return 0;
	if (rc != AMQP_STATUS_OK)
		return mq_break(mq, err, "wait frame", amqp_error_string2(rc));
	if (f.frame_type != AMQP_FRAME_METHOD)
		return 1; /* stray content of something we gave up on */
	return mq_input_handle_method(mq, &f, err) < 0 ? -1 : 1;
}

/* Milliseconds for one wait: at most the time left, and at most heartbeat/2. */
int
mq_input_slice_ms(const struct mq *mq, int64_t deadline)
{
	int64_t left = deadline - util_now_ms();
	int64_t cap = mq->heartbeat > 0 ? (int64_t)mq->heartbeat * 500 : 1000;

	if (left < 0)
		left = 0;
	return (int)(left < cap ? left : cap);
}

/* Handles whatever input is waiting (a heartbeat is sent first if due). 0 or -1. */
int
mq_keepalive(struct mq *mq, char **err)
{
	int rc;

	while ((rc = mq_input_pump(mq, 0, err)) > 0)
		;
	return rc;
}

int
mq_fd(struct mq *mq)
{
	return amqp_get_sockfd(mq->conn);
}

bool
mq_has_input(struct mq *mq)
{
	return mq->head != NULL || amqp_data_in_buffer(mq->conn) || amqp_frames_enqueued(mq->conn);
}
