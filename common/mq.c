/* mq.c: AMQP 0-9-1 over rabbitmq-c 0.11: the connection, with fail-over over a list of
 * brokers, and rpc replies. Topology is in mq_topology.c, input outside an rpc in
 * mq_input.c, publishing in mq_publish.c, consuming in mq_consume.c. */
#include "mq.h"

#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "mq_internal.h"

#define MQ_FRAME_MAX 131072

/* The position in the address list that the next mq_connect of this process tries first:
 * the address after the one whose connection was last lost or refused. */
static _Atomic size_t mq_first_address;

/* Marks the connection unusable (first reason wins) and reports it through *err. */
int
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

/* 0 while the connection is usable, else -1 with *err. */
int
mq_check_broken(struct mq *mq, char **err)
{
	if (mq->broken == NULL)
		return 0;
	util_set_err(err, "amqp connection lost: %s", mq->broken);
	return -1;
}

/* A NUL-terminated copy of b. New string, caller frees. */
char *
mq_bytes_dup(amqp_bytes_t b)
{
	return xstrndup(b.bytes != NULL ? b.bytes : "", b.len);
}

/* Answers the broker's channel.close (on ch) or connection.close, ignoring errors. */
void
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
int
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

/* mq_reply_check of the reply to the last rpc. */
int
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
