/* suspend.h: the one way a request waits without holding a thread. A phase of the request's
 * lifecycle (lifecycle.h) suspends it in libmicrohttpd and returns; a thread that learns what
 * it waits for resumes it, or its deadline does; libmicrohttpd then calls it again and the
 * phase that suspended it runs again, reading how the wait ended (suspend_outcome).
 *
 * Two queues, each woken by the thread that learns of its events:
 * - SUSPEND_CONSISTENT: Prefer: wait, for a resource id (wait.c's LISTEN thread, on the
 *   NOTIFY of settle_consistent);
 * - SUSPEND_STANDBYS: write concern and standby catch-up, for a condition on the standbys'
 *   positions (replica.c's poller, after each round).
 * A request's place in them is r->wait, written only here. */
#ifndef SETTLE_SUSPEND_H
#define SETTLE_SUSPEND_H

#include "http.h"

enum suspend_queue {
	SUSPEND_CONSISTENT,
	SUSPEND_STANDBYS,
	SUSPEND_QUEUES,
};

/* Suspends r on SUSPEND_CONSISTENT until suspend_notify(key) or deadline_ms; when its phase
 * runs again, then (not NULL) is the handler's continuation (r->wait.then). false, with
 * nothing done, once suspend_stop ran: answer now. */
bool suspend_on_key(struct req *r, const char *key, int64_t deadline_ms,
                    void (*then)(struct req *r)) MUSTCHECK;
/* Suspends r on SUSPEND_STANDBYS until ready(r) (called on the waking thread, under the
 * queue's lock: it reads r's fields and atomics only) or deadline_ms. false once suspend_stop
 * ran. */
bool suspend_until(struct req *r, bool (*ready)(const struct req *r),
                   int64_t deadline_ms) MUSTCHECK;
/* How r's last suspension ended (SUSPEND_NONE: it was not suspended since the last call),
 * and forgets it: the phase that suspended r calls it when it runs again. */
enum suspend_outcome suspend_outcome(struct req *r);

/* Before a handler looks at what it may wait for (SUSPEND_CONSISTENT): notes the
 * notifications so far. suspend_missed is true when one came since, so that a request that
 * suspends after looking is woken to look again (suspend_notify of its key). */
void suspend_look(struct req *r);
bool suspend_missed(const struct req *r);

/* A notification for key (NULL: for every one, which looks again): resumes the requests of
 * SUSPEND_CONSISTENT that wait for it, and those whose time is up. */
void suspend_notify(const char *key);
/* Resumes the requests of queue q that are ready or whose time is up. Returns the
 * milliseconds until the next deadline in q (at most 1000). */
int suspend_sweep(enum suspend_queue q);
/* True while a request waits in q. */
bool suspend_any(enum suspend_queue q);
/* Resumes every waiting request (their outcome SUSPEND_TIMED_OUT) and refuses new
 * suspensions. Call before MHD_stop_daemon: libmicrohttpd cannot stop with suspended
 * connections. */
void suspend_stop(void);

#endif
