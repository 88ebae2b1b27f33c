/* wait.h: "Prefer: wait=N" (RFC 7240): holding an answer until a resource is consistent,
 * without holding a thread. A waiting request is suspended in libmicrohttpd; one thread
 * LISTENs on the channel settle_consistent (NOTIFYed by the job that makes a resource
 * consistent, payload its id) and resumes the requests waiting for that id, or those whose
 * time is up. A resumed request runs its wait_answer function again. */
#ifndef SETTLE_WAIT_H
#define SETTLE_WAIT_H

#include "http.h"

/* Starts the waiter thread on its own connection to database_url. 0 or -1. */
int wait_start(const char *database_url) MUSTCHECK;
/* Stops the thread (after suspend_stop resumed every waiting request). */
void wait_stop(void);

/* The number of seconds the request asks to wait, capped by cfg.max_wait (0: none). */
int64_t wait_preferred(struct req *r);

/* Called by a handler when resource_id is not consistent yet. When the request asks to
 * wait and its time is not up, suspends it and returns true: the handler must return
 * without answering; `answer` runs later (on the same request) to answer, and may call
 * wait_for again. Otherwise returns false: answer now. Adds Preference-Applied whenever
 * the request asked to wait. */
bool wait_for(struct req *r, const char *resource_id, void (*answer)(struct req *r));

/* Adds Preference-Applied once, when the request asked to wait: for answers that had no
 * need to wait because the resource was consistent already. Returns whether it asked to
 * wait (and is not idempotent: its answer is stored, and says nothing of waiting). */
bool wait_applied(struct req *r);

#endif
