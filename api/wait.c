/* wait.c: Prefer: wait, and the thread that LISTENs for resources becoming consistent. */
#include "wait.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "suspend.h"

/* How long the thread keeps listening after the last waiter left. */
#define WAIT_LINGER_MS 2000

static pthread_t thread;
static int wake_pipe[2] = {-1, -1};
static atomic_int stopping;
static bool started;
static char *db_url;

int64_t
wait_preferred(struct req *r)
{
	const char *prefer = http_req_header(r, "Prefer");
	const char *w = prefer ? strstr(prefer, "wait=") : NULL;
	int64_t secs = 0;

	if (w == NULL)
		return 0;
	for (w += 5; *w >= '0' && *w <= '9' && secs < 1000000; w++)
		secs = secs * 10 + (*w - '0');
	return secs > cfg.max_wait ? cfg.max_wait : secs;
}

/* Whether the thread should LISTEN: while requests wait, and for WAIT_LINGER_MS after the
 * last one left (so that a steady trickle of waits does not LISTEN and UNLISTEN each
 * time). A connection that LISTENs pays a transaction for every NOTIFY committed in the
 * database (the outbox's included), so without waiters it does not. */
static bool
wait_wanted(void)
{
	static int64_t busy_ms = INT64_MIN / 2;
	int64_t now = util_now_ms();

	if (suspend_any(SUSPEND_CONSISTENT))
		busy_ms = now;
	return now - busy_ms < WAIT_LINGER_MS;
}

/* LISTENs on *c (connecting first when *c is NULL). false, with *c closed, on failure. */
static bool
wait_listen(PGconn **c)
{
	if (*c == NULL)
		*c = db_connect(db_url, 1);
	if (*c != NULL && db_cmd_text(*c, "LISTEN settle_consistent", 0, NULL) == 0)
		return true;
	if (*c != NULL)
		PQfinish(*c);
	*c = NULL;
	return false;
}

/* Handles the notifications pending on c; false when the connection broke. */
static bool
wait_drain(PGconn *c)
{
	PGnotify *n;

	if (!PQconsumeInput(c))
		return false;
	while ((n = PQnotifies(c)) != NULL) {
		suspend_notify(n->extra);
		PQfreemem(n);
	}
	return true;
}

/* Starts or stops listening as waiters come and go. false when listening is wanted but
 * failed (the caller retries later). */
static bool
wait_adjust(PGconn **c, bool *listening)
{
	bool want = wait_wanted();

	if (want && !*listening) {
		if (!wait_listen(c))
			return false;
		*listening = true;
		/* Notifications committed before the LISTEN were not received: every waiter
		 * looks again, and so does every handler between its look and wait_for. */
		suspend_notify(NULL);
	} else if (!want && *listening) {
		*listening = false;
		if (db_cmd_text(*c, "UNLISTEN *", 0, NULL) < 0) {
			PQfinish(*c);
			*c = NULL;
		}
	}
	return true;
}

static void *
wait_main(void *arg)
{
	PGconn *c = NULL;
	bool listening = false;
	int timeout = 1000;
	char buf[64];

	(void)arg;
	while (!atomic_load(&stopping)) {
		if (!wait_adjust(&c, &listening)) {
			/* No notifications: let every waiter look for itself now and then. */
			suspend_notify(NULL);
			util_sleep_ms(250, NULL);
			continue;
		}
		struct pollfd fds[2] = {{c != NULL ? PQsocket(c) : -1, POLLIN, 0},
		                        {wake_pipe[0], POLLIN, 0}};
		if (poll(fds, 2, timeout) < 0 && errno != EINTR)
			break;
		if (fds[1].revents & POLLIN)
			while (read(wake_pipe[0], buf, sizeof(buf)) > 0)
				;
		if (c != NULL && (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) &&
		    !wait_drain(c)) {
			PQfinish(c);
			c = NULL;
			listening = false;
		}
		timeout = suspend_sweep(SUSPEND_CONSISTENT);
	}
	if (c != NULL)
		PQfinish(c);
	return NULL;
}

int
wait_start(const char *database_url)
{
	if (pipe2(wake_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	db_url = xstrdup(database_url);
	if (pthread_create(&thread, NULL, wait_main, NULL) != 0)
		return -1;
	started = true;
	return 0;
}

void
wait_stop(void)
{
	if (!started)
		return;
	atomic_store(&stopping, 1);
	if (write(wake_pipe[1], "x", 1) < 0)
		log_warn("wait_wake_failed");
	pthread_join(thread, NULL);
	close(wake_pipe[0]);
	close(wake_pipe[1]);
	free(db_url);
	started = false;
}

bool
wait_applied(struct req *r)
{
	int64_t secs = wait_preferred(r);
	char buf[32];

	if (secs <= 0 || r->idempotent)
		return false;
	if (!http_has_header(r, "Preference-Applied")) {
		snprintf(buf, sizeof(buf), "wait=%lld", (long long)secs);
		http_header(r, "Preference-Applied", buf);
	}
	return true;
}

bool
wait_for(struct req *r, const char *resource_id, void (*answer)(struct req *r))
{
	int64_t secs = wait_preferred(r), now = util_now_ms();

	/* An idempotent request answers at once: its answer is stored with its key. */
	if (secs <= 0 || r->idempotent)
		return false;
	if (r->wait_deadline_ms == 0)
		r->wait_deadline_ms = now + secs * 1000;
	(void)wait_applied(r);
	if (now >= r->wait_deadline_ms || !started || atomic_load(&stopping))
		return false;
	if (resource_id != r->wait_id)
		snprintf(r->wait_id, sizeof(r->wait_id), "%s", resource_id);
	if (!suspend_on_key(r, resource_id, r->wait_deadline_ms, answer))
		return false;
	/* A notification that came in since the handler looked may have been for us; else the
	 * thread is told, to listen and to heed the new deadline. */
	if (suspend_missed(r) || write(wake_pipe[1], "x", 1) < 0)
		suspend_notify(resource_id);
	return true;
}
