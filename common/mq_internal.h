/* mq_internal.h: private to the files of the mq module (mq.c, mq_input.c, mq_topology.c,
 * mq_publish.c, mq_consume.c); not part of mq.h's API. The connection's state and the few
 * functions those files share. */
#ifndef SETTLE_MQ_INTERNAL_H
#define SETTLE_MQ_INTERNAL_H

#include <amqp.h>

#include "mq.h"

#define MQ_CHANNEL       1
#define MQ_RPC_TIMEOUT_S 30

/* A delivery read while waiting for something else, kept for mq_next. */
struct mq_queued {
	struct mq_delivery d;
	struct mq_queued *next;
};

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

/* mq.c: the connection. */

/* Marks the connection unusable (first reason wins) and reports it through *err. -1. */
int mq_break(struct mq *mq, char **err, const char *what, const char *why);
/* 0 while the connection is usable, else -1 with *err. */
int mq_check_broken(struct mq *mq, char **err) MUSTCHECK;
/* A NUL-terminated copy of b. New string, caller frees. */
char *mq_bytes_dup(amqp_bytes_t b);
/* Answers the broker's channel.close (on ch) or connection.close, ignoring errors. */
void mq_send_close_ok(struct mq *mq, amqp_channel_t ch, bool connection);
/* Turns an rpc reply into 0, or -1 with *err naming `what` (see mq.c). */
int mq_reply_check(struct mq *mq, amqp_rpc_reply_t r, const char *what, char **err) MUSTCHECK;
/* mq_reply_check of the last rpc's reply. */
int mq_rpc_check(struct mq *mq, const char *what, char **err) MUSTCHECK;

/* mq_input.c: input outside an rpc. */

/* Reads the content of a basic.deliver, basic.get-ok or basic.return into d (when d is
 * not NULL; the caller frees it with mq_delivery_free). 0 or -1. */
int mq_input_read_content(struct mq *mq, struct mq_delivery *d, char **err) MUSTCHECK;
/* Waits up to timeout_ms for one frame and handles it. 1 handled one, 0 timeout, -1 error. */
int mq_input_pump(struct mq *mq, int timeout_ms, char **err) MUSTCHECK;
/* Milliseconds for one wait: at most the time left, and at most heartbeat/2. */
int mq_input_slice_ms(const struct mq *mq, int64_t deadline);

#endif
