/* mq.c: AMQP 0-9-1 over rabbitmq-c 0.11: connection, topology, confirms, consuming. */
#include "mq.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <inttypes.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "log.h"

#define MQ_CHANNEL        1
#define MQ_FRAME_MAX      131072
#define MQ_RPC_TIMEOUT_S  30
#define MQ_LOG_MAX_LENGTH 1000000

/* A delivery read while waiting for something else, kept for mq_next. */
struct mq_queued {
	struct mq_delivery d;
	struct mq_queued *next;
};

/* The position in the address list that the next mq_connect of this process tries first:
 * the address after the one whose connection was last lost or refused. */
static _Atomic size_t mq_first_address;

struct mq {
	amqp_connection_state_t conn;
	size_t address;    /* position of the connected address in the list */
	size_t naddresses; /* length of the list */
	int heartbeat;
	char *broken;       /* why the connection is unusable, or NULL */
	int channel_closed; /* reply code of the broker's last channel.close, or 0 */
	int consumers;
	/* Publisher confirms: sequence numbers base..base+npending-1 are outstanding;
	 * state[i] is 0 (waiting), 1 (acked) or -1 (nacked). */
	uint64_t next_seq;
	uint64_t base;
	size_t npending, nconfirmed, cap;
	signed char *state;
	char *returned; /* reply text of a basic.return since the last wait, or NULL */
	struct mq_queued *head, *tail;
};

/* Marks the connection unusable (first reason wins) and reports it through *err. */
static int
mq_break(struct mq *mq, char **err, const char *what, const char *why)
{
	if (mq->broken == NULL) {
		mq->broken = xasprintf("%s: %s", what, why);
		if (mq->naddresses > 0)
			atomic_store(&mq_first_address, (mq->address + 1) % mq->naddresses);
	}
	util_set_err(err, "amqp connection lost: %s", mq->broken);
	return -1;
}

static int
mq_check_broken(struct mq *mq, char **err)
{
	if (mq->broken == NULL)
		return 0;
	util_set_err(err, "amqp connection lost: %s", mq->broken);
	return -1;
}

static char *
mq_bytes_dup(amqp_bytes_t b)
{
	return xstrndup(b.bytes != NULL ? b.bytes : "", b.len);
}

static void
mq_send_close_ok(struct mq *mq, amqp_channel_t ch, bool connection)
{
	if (connection) {
		amqp_connection_close_ok_t ok;
		(void)amqp_send_method(mq->conn, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
	} else {
		amqp_channel_close_ok_t ok;
		(void)amqp_send_method(mq->conn, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
	}
}

/* Reopens channel 1 in confirm mode after the broker closed it (e.g. a passive declare of a
 * missing queue). Only safe when nothing else lives on the channel. */
static void
mq_reopen_channel(struct mq *mq)
{
	if (mq->consumers > 0 || mq->npending > 0) {
		(void)mq_break(mq, NULL, "channel", "closed by the broker");
		return;
	}
	amqp_channel_open(mq->conn, MQ_CHANNEL);
	if (amqp_get_rpc_reply(mq->conn).reply_type != AMQP_RESPONSE_NORMAL) {
		(void)mq_break(mq, NULL, "channel.open", "failed after a channel error");
		return;
	}
	amqp_confirm_select(mq->conn, MQ_CHANNEL);
	if (amqp_get_rpc_reply(mq->conn).reply_type != AMQP_RESPONSE_NORMAL) {
		(void)mq_break(mq, NULL, "confirm.select", "failed after a channel error");
		return;
	}
	mq->next_seq = 1;
	mq->base = 1;
}

/* Turns an rpc reply into 0, or -1 with *err naming `what`. A server channel.close is
 * answered and the channel reopened when possible; a connection error breaks mq. */
static int
mq_reply_check(struct mq *mq, amqp_rpc_reply_t r, const char *what, char **err)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return 0;
	case AMQP_RESPONSE_NONE:
		return mq_break(mq, err, what, "missing rpc reply");
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		return mq_break(mq, err, what, amqp_error_string2(r.library_error));
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		break;
	}
	if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
		amqp_channel_close_t *c = r.reply.decoded;
		mq->channel_closed = c->reply_code;
		util_set_err(err, "%s: channel closed by broker: %u %.*s", what, c->reply_code,
		             (int)c->reply_text.len, (const char *)c->reply_text.bytes);
		mq_send_close_ok(mq, MQ_CHANNEL, false);
		mq_reopen_channel(mq);
		return -1;
	}
	if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
		amqp_connection_close_t *c = r.reply.decoded;
		char *why = xasprintf("connection closed by broker: %u %.*s", c->reply_code,
		                      (int)c->reply_text.len, (const char *)c->reply_text.bytes);
		mq_send_close_ok(mq, 0, true);
		(void)mq_break(mq, err, what, why);
		free(why);
		return -1;
	}
	util_set_err(err, "%s: unexpected server method 0x%08x", what, r.reply.id);
	return -1;
}

static int
mq_rpc_check(struct mq *mq, const char *what, char **err)
{
	return mq_reply_check(mq, amqp_get_rpc_reply(mq->conn), what, err);
}

/*
 * Connects to one url, logs in, opens channel 1 and turns on publisher confirms. The url is
 * copied (amqp_parse_url writes into its argument). Returns a new struct mq the caller
 * closes with mq_close, or NULL with *err (caller frees).
 */
static struct mq *
mq_connect_one(const char *url, int heartbeat, char **err)
{
	struct amqp_connection_info info;
	struct timeval connect_tv = {5, 0}, rpc_tv = {MQ_RPC_TIMEOUT_S, 0};
	amqp_socket_t *sock;
	char *copy = xstrdup(url);
	struct mq *mq = xcalloc(1, sizeof(*mq));
	int rc;

	mq->heartbeat = heartbeat;
	mq->next_seq = mq->base = 1;
	amqp_default_connection_info(&info);
	if (amqp_parse_url(copy, &info) != AMQP_STATUS_OK) {
		util_set_err(err, "bad amqp url (expected amqp://user:pass@host:port[/vhost])");
		goto fail;
	}
	mq->conn = amqp_new_connection();
	if (mq->conn == NULL || (sock = amqp_tcp_socket_new(mq->conn)) == NULL) {
		util_set_err(err, "cannot allocate an amqp connection");
		goto fail;
	}
	(void)amqp_set_handshake_timeout(mq->conn, &connect_tv);
	(void)amqp_set_rpc_timeout(mq->conn, &rpc_tv);
	rc = amqp_socket_open_noblock(sock, info.host, info.port, &connect_tv);
	if (rc != AMQP_STATUS_OK) {
		util_set_err(err, "cannot connect to %s:%d: %s", info.host, info.port,
		             amqp_error_string2(rc));
		goto fail;
	}
	if (mq_reply_check(mq,
	                   amqp_login(mq->conn, info.vhost, 0, MQ_FRAME_MAX, heartbeat,
	                              AMQP_SASL_METHOD_PLAIN, info.user, info.password),
	                   "login", err) < 0)
		goto fail;
	mq->heartbeat = amqp_get_heartbeat(mq->conn);
	amqp_channel_open(mq->conn, MQ_CHANNEL);
	if (mq_rpc_check(mq, "channel.open", err) < 0)
		goto fail;
	amqp_confirm_select(mq->conn, MQ_CHANNEL);
	if (mq_rpc_check(mq, "confirm.select", err) < 0)
		goto fail;
	free(copy);
	return mq;
fail:
	if (mq->broken == NULL && mq->conn != NULL)
		mq->broken = xstrdup("connect failed");
	mq_close(mq);
	free(copy);
	return NULL;
}

/* The next address of a list separated by commas and white space: its start and length
 * (0 at the end of the list); *p moves past it. */
static size_t
mq_next_address(const char **p, const char **start)
{
	size_t n;

	*p += strspn(*p, ", \t\n");
	*start = *p;
	n = strcspn(*p, ", \t\n");
	*p += n;
	return n;
}

size_t
mq_address_count(const char *urls)
{
	const char *p = urls, *start;
	size_t n = 0;

	while (mq_next_address(&p, &start) > 0)
		n++;
	return n;
}

/* The address at position i of the list (i < mq_address_count). New string, caller frees. */
static char *
mq_address(const char *urls, size_t i)
{
	const char *p = urls, *start;
	size_t len;

	while ((len = mq_next_address(&p, &start)) > 0 && i-- > 0)
		;
	return xstrndup(start, len);
}

/*
 * Connects to the first address of the list urls that answers, starting with the one after
 * the address whose connection this process last lost (see mq.h). Returns a new struct mq
 * the caller closes with mq_close, or NULL with *err (caller frees) naming why each
 * address failed.
 */
struct mq *
mq_connect(const char *urls, int heartbeat, char **err)
{
	size_t n = mq_address_count(urls), first;
	char *why = NULL;

	if (n == 0) {
		util_set_err(err, "no amqp url given");
		return NULL;
	}
	first = atomic_load(&mq_first_address) % n;
	for (size_t k = 0; k < n; k++) {
		size_t i = (first + k) % n;
		char *url = mq_address(urls, i), *e = NULL, *joined;
		struct mq *mq = mq_connect_one(url, heartbeat, &e);

		free(url);
		if (mq != NULL) {
			mq->address = i;
			mq->naddresses = n;
			free(why);
			return mq;
		}
		atomic_store(&mq_first_address, (i + 1) % n);
		joined = why == NULL ? xstrdup(e != NULL ? e : "unknown")
		                     : xasprintf("%s; %s", why, e != NULL ? e : "unknown");
		free(why);
		free(e);
		why = joined;
	}
	util_set_err(err, "%s", why);
	free(why);
	return NULL;
}

static void
mq_queued_free_all(struct mq *mq)
{
	while (mq->head != NULL) {
		struct mq_queued *q = mq->head;
		mq->head = q->next;
		mq_delivery_free(&q->d);
		free(q);
	}
	mq->tail = NULL;
}

/*
 * Closes the channel and the connection politely when they still work, then frees
 * everything, including deliveries read but never returned by mq_next (the broker
 * redelivers those). NULL is fine.
 */
void
mq_close(struct mq *mq)
{
	if (mq == NULL)
		return;
	if (mq->conn != NULL) {
		if (mq->broken == NULL) {
			(void)amqp_channel_close(mq->conn, MQ_CHANNEL, AMQP_REPLY_SUCCESS);
			(void)amqp_connection_close(mq->conn, AMQP_REPLY_SUCCESS);
		}
		(void)amqp_destroy_connection(mq->conn);
	}
	mq_queued_free_all(mq);
	free(mq->state);
	free(mq->returned);
	free(mq->broken);
	free(mq);
}

static amqp_table_entry_t
mq_arg_str(const char *key, const char *value)
{
	amqp_table_entry_t e;

	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(value);
	return e;
}

static int
mq_declare_queue_as(struct mq *mq, const char *queue, amqp_table_entry_t *args, int nargs,
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
mq_declare_queue(struct mq *mq, const char *queue, amqp_table_entry_t *args, int nargs, char **err)
{
	char *ignored = NULL;

	if (mq_declare_queue_as(mq, queue, args, nargs, false, &ignored) == 0)
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
		return mq_declare_queue_as(mq, queue, args, nargs, false, err);
	}
	free(ignored);
	if (mq->broken != NULL || mq_declare_queue_as(mq, queue, NULL, 0, true, err) < 0)
		return -1;
	log_warn("mq_queue_not_converted queue=%s reason=\"a queue of another type that still "
	         "holds messages: it becomes a quorum queue once empty\"",
	         queue);
	return 0;
}

static int
mq_bind(struct mq *mq, const char *queue, const char *exchange, const char *key, char **err)
{
	amqp_queue_bind(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue),
	                amqp_cstring_bytes(exchange), amqp_cstring_bytes(key), amqp_empty_table);
	return mq_rpc_check(mq, "queue.bind", err);
}

/* Removes a binding; RabbitMQ answers unbind-ok when there was none, so this is idempotent. */
static int
mq_unbind(struct mq *mq, const char *queue, const char *exchange, const char *key, char **err)
{
	amqp_queue_unbind(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(queue),
	                  amqp_cstring_bytes(exchange), amqp_cstring_bytes(key), amqp_empty_table);
	return mq_rpc_check(mq, "queue.unbind", err);
}

static int
mq_declare_exchange(struct mq *mq, const char *name, const char *type, char **err)
{
	amqp_exchange_declare(mq->conn, MQ_CHANNEL, amqp_cstring_bytes(name),
	                      amqp_cstring_bytes(type), 0, 1, 0, 0, amqp_empty_table);
	return mq_rpc_check(mq, name, err);
}

/* Declares the kind's quorum queue, its binding and its delay queues. */
static int
mq_declare_kind(struct mq *mq, const char *kind, char **err)
{
	amqp_table_entry_t quorum[] = {mq_arg_str("x-queue-type", "quorum")};
	/* A quorum queue dead-letters at least once only when it rejects publishes over
	 * its limits (it has none here) instead of dropping its head. */
	amqp_table_entry_t retry[] = {mq_arg_str("x-queue-type", "quorum"),
	                              mq_arg_str("x-dead-letter-exchange", MQ_EXCHANGE),
	                              mq_arg_str("x-dead-letter-routing-key", kind),
	                              mq_arg_str("x-dead-letter-strategy", "at-least-once"),
	                              mq_arg_str("x-overflow", "reject-publish")};
	char *name = mq_kind_queue(kind);
	int rc = -1;

	if (mq_declare_queue(mq, name, quorum, (int)ARRAY_LEN(quorum), err) < 0 ||
	    mq_bind(mq, name, MQ_EXCHANGE, kind, err) < 0)
		goto out;
	for (int level = 1; level <= MQ_RETRY_LEVELS; level++) {
		free(name);
		name = mq_retry_queue(kind, level + 1);
		if (mq_declare_queue(mq, name, retry, (int)ARRAY_LEN(retry), err) < 0)
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
	amqp_table_entry_t quorum[] = {mq_arg_str("x-queue-type", "quorum")};
	amqp_table_entry_t log_args[2];

	if (mq_check_broken(mq, err) < 0)
		return -1;
	log_args[0] = mq_arg_str("x-queue-type", "quorum");
	log_args[1].key = amqp_cstring_bytes("x-max-length");
	log_args[1].value.kind = AMQP_FIELD_KIND_I64;
	log_args[1].value.value.i64 = MQ_LOG_MAX_LENGTH;
	if (mq_declare_exchange(mq, MQ_EXCHANGE, "topic", err) < 0 ||
	    mq_declare_exchange(mq, MQ_DEAD_EXCHANGE, "fanout", err) < 0)
		return -1;
	for (int i = 0; kinds[i] != NULL; i++)
		if (mq_declare_kind(mq, kinds[i], err) < 0)
			return -1;
	if (mq_declare_queue(mq, MQ_DEAD_QUEUE, quorum, (int)ARRAY_LEN(quorum), err) < 0 ||
	    mq_bind(mq, MQ_DEAD_QUEUE, MQ_DEAD_EXCHANGE, "", err) < 0 ||
	    mq_declare_queue(mq, MQ_LOG_QUEUE, log_args, (int)ARRAY_LEN(log_args), err) < 0 ||
	    mq_bind(mq, MQ_LOG_QUEUE, MQ_DEAD_EXCHANGE, "", err) < 0 ||
	    mq_unbind(mq, MQ_LOG_QUEUE, MQ_EXCHANGE, "#", err) < 0)
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

/* Records the broker's ack (ok) or nack of tag (and all before it when multiple). */
static void
mq_confirm(struct mq *mq, uint64_t tag, bool multiple, bool ok)
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
mq_enqueue(struct mq *mq, struct mq_queued *q)
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
static int
mq_read_content(struct mq *mq, struct mq_delivery *d, char **err)
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
mq_handle_method(struct mq *mq, amqp_frame_t *f, char **err)
{
	switch (f->payload.method.id) {
	case AMQP_BASIC_DELIVER_METHOD: {
		amqp_basic_deliver_t *m = f->payload.method.decoded;
		struct mq_queued *q = xcalloc(1, sizeof(*q));
		q->d.tag = m->delivery_tag;
		q->d.redelivered = m->redelivered;
		q->d.routing_key = mq_bytes_dup(m->routing_key);
		if (mq_read_content(mq, &q->d, err) < 0) {
			mq_delivery_free(&q->d);
			free(q);
			return -1;
		}
		mq_enqueue(mq, q);
		return 0;
	}
	case AMQP_BASIC_ACK_METHOD: {
		amqp_basic_ack_t *m = f->payload.method.decoded;
		mq_confirm(mq, m->delivery_tag, m->multiple, true);
		return 0;
	}
	case AMQP_BASIC_NACK_METHOD: {
		amqp_basic_nack_t *m = f->payload.method.decoded;
		mq_confirm(mq, m->delivery_tag, m->multiple, false);
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
		return mq_read_content(mq, NULL, err);
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
static int
mq_pump(struct mq *mq, int timeout_ms, char **err)
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
	return mq_handle_method(mq, &f, err) < 0 ? -1 : 1;
}

/* Milliseconds for one wait: at most the time left, and at most heartbeat/2. */
static int
mq_slice_ms(const struct mq *mq, int64_t deadline)
{
	int64_t left = deadline - util_now_ms();
	int64_t cap = mq->heartbeat > 0 ? (int64_t)mq->heartbeat * 500 : 1000;

	if (left < 0)
		left = 0;
	return (int)(left < cap ? left : cap);
}

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
mq_confirms_settle(struct mq *mq, bool timed_out, int timeout_ms, char **err)
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
		int slice = mq_slice_ms(mq, deadline);

		if (fd >= 0 && !mq_has_input(mq)) {
			struct pollfd p[2] = {{.fd = mq_fd(mq), .events = POLLIN},
			                      {.fd = fd, .events = POLLIN}};
			if (poll(p, 2, slice) > 0 && (p[1].revents & POLLIN))
				return 1;
			slice = 0;
		}
		if (mq_pump(mq, slice, err) < 0) {
			mq_confirms_settle(mq, false, timeout_ms, NULL);
			return -1;
		}
		if (mq->nconfirmed < mq->npending && util_now_ms() >= deadline)
			return mq_confirms_settle(mq, true, timeout_ms, err);
	}
	return mq_confirms_settle(mq, false, timeout_ms, err);
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
mq_take(struct mq *mq, struct mq_delivery *d)
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
			mq_take(mq, d);
			return 1;
		}
		if (mq_pump(mq, mq_slice_ms(mq, deadline), err) < 0)
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

/* Handles whatever input is waiting (a heartbeat is sent first if due). 0 or -1. */
int
mq_keepalive(struct mq *mq, char **err)
{
	int rc;

	while ((rc = mq_pump(mq, 0, err)) > 0)
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
	if (mq_read_content(mq, d, err) < 0) {
		mq_delivery_free(d);
		return -1;
	}
	return 1;
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
