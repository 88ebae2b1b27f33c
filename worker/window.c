/* window.c: the ack window of settle-worker's AMQP connection (see window.h). */
#include "window.h"

#include <stdlib.h>
#include <string.h>

void
window_add(struct ack_window *w, uint64_t tag)
{
	if (w->n == w->cap) {
		w->cap = w->cap > 0 ? w->cap * 2 : 64;
		w->tags = xrealloc(w->tags, (size_t)w->cap * sizeof(*w->tags));
		w->ready = xrealloc(w->ready, (size_t)w->cap * sizeof(*w->ready));
		w->since = xrealloc(w->since, (size_t)w->cap * sizeof(*w->since));
	}
	w->tags[w->n] = tag;
	w->ready[w->n] = false;
	w->since[w->n] = util_now_ms();
	w->n++;
}

void
window_cut(struct ack_window *w, int i, int count)
{
	size_t rest = (size_t)(w->n - i - count);

	memmove(w->tags + i, w->tags + i + count, rest * sizeof(*w->tags));
	memmove(w->ready + i, w->ready + i + count, rest * sizeof(*w->ready));
	memmove(w->since + i, w->since + i + count, rest * sizeof(*w->since));
	w->n -= count;
}

int
window_find(const struct ack_window *w, uint64_t tag)
{
	for (int i = 0; i < w->n; i++)
		if (w->tags[i] == tag)
			return i;
	return -1;
}

int
window_ack(struct ack_window *w, struct mq *mq)
{
	int run = 0;

	while (run < w->n && w->ready[run])
		run++;
	if (run > 0) {
		if (mq_ack(mq, w->tags[run - 1], run > 1) < 0)
			return -1;
		window_cut(w, 0, run);
	}
	if (w->n == 0 || util_now_ms() - w->since[0] < WINDOW_ACK_HOLD_MS)
		return 0;
	for (int i = w->n - 1; i > 0; i--) {
		if (!w->ready[i])
			continue;
		if (mq_ack(mq, w->tags[i], false) < 0)
			return -1;
		window_cut(w, i, 1);
	}
	return 0;
}

void
window_free(struct ack_window *w)
{
	free(w->tags);
	free(w->ready);
	free(w->since);
}
