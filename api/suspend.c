/* suspend.c: the queues of suspended requests, and their suspension and resumption. */
#include "suspend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "lifecycle.h"

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct req *queues[SUSPEND_QUEUES];
static bool stopped;
static atomic_uint_fast64_t seq;

/* Suspends r in queue q (r->wait filled but for the link). false once stopped. */
static bool
suspend_add(struct req *r, enum suspend_queue q)
{
	bool late;

	pthread_mutex_lock(&lock);
	late = stopped;
	pthread_mutex_unlock(&lock);
	if (late)
		return false;
	/* Suspended before it is queued: no thread resumes a request that is not. */
	r->wait.outcome = SUSPEND_NONE;
	lifecycle_change(r, REQ_SUSPENDED);
	MHD_suspend_connection(r->conn);
	pthread_mutex_lock(&lock);
	late = stopped;
	if (!late) {
		r->wait.next = queues[q];
		queues[q] = r;
	}
	pthread_mutex_unlock(&lock);
	if (late) {
		/* suspend_stop swept the queues in between: nothing would resume it. */
		r->wait.outcome = SUSPEND_TIMED_OUT;
		lifecycle_change(r, REQ_RESUMED);
		MHD_resume_connection(r->conn);
	}
	return true;
}

bool
suspend_on_key(struct req *r, const char *key, int64_t deadline_ms, void (*then)(struct req *r))
{
	snprintf(r->wait.key, sizeof(r->wait.key), "%s", key);
	r->wait.deadline_ms = deadline_ms;
	r->wait.ready = NULL;
	r->wait.then = then;
	return suspend_add(r, SUSPEND_CONSISTENT);
}

bool
suspend_until(struct req *r, bool (*ready)(const struct req *r), int64_t deadline_ms)
{
	r->wait.key[0] = '\0';
	r->wait.deadline_ms = deadline_ms;
	r->wait.ready = ready;
	r->wait.then = NULL;
	return suspend_add(r, SUSPEND_STANDBYS);
}

enum suspend_outcome
suspend_outcome(struct req *r)
{
	enum suspend_outcome o = r->wait.outcome;

	r->wait.outcome = SUSPEND_NONE;
	return o;
}

void
suspend_look(struct req *r)
{
	r->wait.seq = atomic_load(&seq);
}

bool
suspend_missed(const struct req *r)
{
	return atomic_load(&seq) != r->wait.seq;
}

/* Unlinks from queue q the requests that key (NULL: every one, "": none) names, whose
 * ready() is true, or whose time is up (every one when all), and resumes them. Returns the
 * milliseconds until the next deadline among those left (at most 1000). */
static int
suspend_resume(enum suspend_queue q, const char *key, bool all)
{
	struct req **pp, *r, *ready = NULL;
	int64_t now = util_now_ms(), next = now + 1000;

	pthread_mutex_lock(&lock);
	for (pp = &queues[q]; (r = *pp) != NULL;) {
		bool met = key == NULL || (key[0] != '\0' && strcmp(r->wait.key, key) == 0) ||
		           (r->wait.ready != NULL && r->wait.ready(r));
		if (met || all || r->wait.deadline_ms <= now) {
			r->wait.outcome = met ? SUSPEND_READY : SUSPEND_TIMED_OUT;
			*pp = r->wait.next;
			r->wait.next = ready;
			ready = r;
			continue;
		}
		if (r->wait.deadline_ms < next)
			next = r->wait.deadline_ms;
		pp = &r->wait.next;
	}
	pthread_mutex_unlock(&lock);
	/* Once resumed, a request is its lifecycle's again (and may be freed): not touched. */
	while ((r = ready) != NULL) {
		ready = r->wait.next;
		r->wait.next = NULL;
		lifecycle_change(r, REQ_RESUMED);
		MHD_resume_connection(r->conn);
	}
	return (int)(next - now);
}

void
suspend_notify(const char *key)
{
	atomic_fetch_add(&seq, 1);
	(void)suspend_resume(SUSPEND_CONSISTENT, key, false);
}

int
suspend_sweep(enum suspend_queue q)
{
	return suspend_resume(q, "", false);
}

bool
suspend_any(enum suspend_queue q)
{
	bool any;

	pthread_mutex_lock(&lock);
	any = queues[q] != NULL;
	pthread_mutex_unlock(&lock);
	return any;
}

void
suspend_stop(void)
{
	pthread_mutex_lock(&lock);
	stopped = true;
	pthread_mutex_unlock(&lock);
	for (int q = 0; q < SUSPEND_QUEUES; q++)
		(void)suspend_resume((enum suspend_queue)q, "", true);
}
