/* window.h: the ack window of settle-worker's AMQP connection: the delivery tags not settled
 * yet, in delivery order (so ascending), and which of them are committed and only wait for
 * their ack. Used by the thread that owns the connection only. */
#ifndef SETTLE_WINDOW_H
#define SETTLE_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "mq.h"

/* Committed tags behind an unfinished one wait that long for it before their own ack. */
#define WINDOW_ACK_HOLD_MS 50

struct ack_window {
	uint64_t *tags;
	bool *ready;
	int64_t *since; /* when it was delivered */
	int n, cap;
};

/* Adds a delivered tag at the end of the window (tags arrive in ascending order). */
void window_add(struct ack_window *w, uint64_t tag);
/* Removes entries [i, i + count) of the window. */
void window_cut(struct ack_window *w, int i, int count);
/* The index of tag in the window, or -1. */
int window_find(const struct ack_window *w, uint64_t tag);
/* Acks the committed tags of the window on mq: the run of committed tags at its front with
 * one `multiple` ack (every tag up to the last of the run is committed: nothing unfinished
 * is acked). Committed tags behind an unfinished one wait for it, up to
 * WINDOW_ACK_HOLD_MS, and are then acked one by one so that a long job does not hold the
 * prefetch window. 0, -1 on AMQP error. */
int window_ack(struct ack_window *w, struct mq *mq) MUSTCHECK;
/* Frees the window's arrays (not w). */
void window_free(struct ack_window *w);

#endif
