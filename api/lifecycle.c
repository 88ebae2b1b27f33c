/* lifecycle.c: the phases of a request, run in order as libmicrohttpd calls.
 *
 * libmicrohttpd calls lifecycle_access once with the headers, once per piece of body, and
 * once at the end. The phases before the body run at the first call: an answer they make
 * (among them a missing or bad token) is queued at once when a body follows, so that it is
 * not read (libmicrohttpd then closes the connection). The other phases run at the end. An
 * error found in the middle of a body is answered at the end, the rest of the body being
 * read and dropped. A phase that suspends the request (suspend.h) runs again at the call
 * that follows its resumption; the phases marked on_suspend run before the thread lets the
 * request go. The watchdog is told when the headers are complete, of each piece of body,
 * and when the body is.
 */
#include "lifecycle.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth.h"
#include "config.h"
#include "idempotency.h"
#include "log.h"
#include "relay.h"
#include "router.h"
#include "session.h"
#include "storage_http.h"
#include "stats.h"
#include "suspend.h"
#include "watchdog.h"

/* A request and what only its lifecycle keeps. r comes first: a struct req * of the
 * lifecycle's is one of these. */
struct lifecycle_conn {
	struct req r;
	char *param_buf;
	size_t body_cap;
	bool fault_after;     /* fault injection: replace a 2xx with a 500 after the handler */
	unsigned suspensions; /* times the request was suspended (lifecycle_change) */
	bool relay_woken;     /* the relay wake phase woke the relay (once a request) */
	enum MHD_Result queued;
};

enum lifecycle_result {
	PHASE_NEXT,      /* the next phase runs */
	PHASE_ANSWERED,  /* the answer is made: the answer phase runs next */
	PHASE_SUSPENDED, /* the request waits: this phase runs again once it is resumed */
};

enum lifecycle_phase_id {
	PHASE_AUTHENTICATE,
	PHASE_SIGNED_URL,
	PHASE_SESSION,
	PHASE_DATABASE,
	PHASE_STREAM,
	PHASE_TRACK,
	PHASE_FAULT,
	PHASE_IDEMPOTENCY,
	PHASE_HANDLER,
	PHASE_RELAY_WAKE,
	PHASE_FAULT_AFTER,
	PHASE_POSITION,
	PHASE_WRITE_CONCERN,
	PHASE_ANSWER,
	PHASE_COUNT,
};

void
lifecycle_change(struct req *r, enum req_state to)
{
	/* allowed[from] is the set of states a request in state from may move to. */
	static const unsigned allowed[] = {
	    [REQ_READING] = 1u << REQ_RUNNING | 1u << REQ_SUSPENDED | 1u << REQ_ANSWERED,
	    [REQ_RUNNING] = 1u << REQ_SUSPENDED | 1u << REQ_ANSWERED,
	    [REQ_SUSPENDED] = 1u << REQ_RESUMED,
	    [REQ_RESUMED] = 1u << REQ_READING | 1u << REQ_RUNNING,
	    [REQ_ANSWERED] = 0,
	};

	if (!(allowed[r->state] & (1u << to))) {
		log_error("request_state_bug from=%d to=%d phase=%d", (int)r->state, (int)to,
		          r->phase);
		abort();
	}
	if (to == REQ_SUSPENDED)
		((struct lifecycle_conn *)r)->suspensions++;
	r->state = to;
}

/* Authenticate: the token of a ROUTE_AUTH route (401, or 503 while revocations cannot be
 * read). */
static enum lifecycle_result
lifecycle_authenticate(struct req *r)
{
	const char *h = http_req_header(r, "Authorization");

	if (!(r->route->flags & ROUTE_AUTH))
		return PHASE_NEXT;
	if (h != NULL && strncasecmp(h, "Bearer ", 7) == 0)
		h += 7;
	while (h != NULL && *h == ' ')
		h++;
	if (h == NULL || *h == '\0') {
		http_error(r, 401, "unauthorized", "no api token given",
		           "send the token of POST /software_agents/api_token in Authorization");
		return PHASE_ANSWERED;
	}
	return auth_token(r, h) ? PHASE_NEXT : PHASE_ANSWERED;
}

/* Signed URL: a ROUTE_SIGNED route's signature (403); its position counts as a cookie's. */
static enum lifecycle_result
lifecycle_signed_url(struct req *r)
{
	uint64_t lsn;

	if (!(r->route->flags & ROUTE_SIGNED))
		return PHASE_NEXT;
	if (!storage_http_signed(r, &lsn))
		return PHASE_ANSWERED;
	session_signed(r, lsn);
	return PHASE_NEXT;
}

/* Session: the write concern a write asks for (400). */
static enum lifecycle_result
lifecycle_session(struct req *r)
{
	return session_check(r) ? PHASE_NEXT : PHASE_ANSWERED;
}

/* Database choice: the primary, or a standby for a read (which may wait for one). */
static enum lifecycle_result
lifecycle_database(struct req *r)
{
	if (r->route->flags & ROUTE_NODB)
		return PHASE_NEXT;
	if (!session_db(r))
		return PHASE_SUSPENDED;
	if (r->db == NULL) {
		http_unavailable(r, "the database is not reachable", HTTP_RETRY_RECONNECT);
		return PHASE_ANSWERED;
	}
	return PHASE_NEXT;
}

/* Stream begin: a streaming route takes or refuses its body. */
static enum lifecycle_result
lifecycle_stream(struct req *r)
{
	if ((r->route->flags & ROUTE_STREAM) && r->route->stream_begin(r) < 0)
		return PHASE_ANSWERED;
	return PHASE_NEXT;
}

/* Track: the statements of the request, from here on, record their commit positions
 * (session_track). */
static enum lifecycle_result
lifecycle_track(struct req *r)
{
	session_track(r);
	return PHASE_NEXT;
}

/* Fault injection (SETTLE_FAULT_RATE): a write of an authenticated route fails before its
 * commit at half the rate, and after it at the other half. */
static enum lifecycle_result
lifecycle_fault(struct req *r)
{
	double roll;

	if (cfg.fault_rate <= 0 || !(r->route->flags & ROUTE_AUTH) || strcmp(r->method, "GET") == 0)
		return PHASE_NEXT;
	roll = util_random();
	if (roll < cfg.fault_rate / 2) {
		http_error(r, 500, "not_provided", "injected fault before commit",
		           "retry the request");
		return PHASE_ANSWERED;
	}
	((struct lifecycle_conn *)r)->fault_after = roll < cfg.fault_rate;
	return PHASE_NEXT;
}

/* Idempotency: a POST with an Idempotency-Key claims it (or replays its answer). */
static enum lifecycle_result
lifecycle_idempotency(struct req *r)
{
	if (http_req_header(r, "Idempotency-Key") == NULL)
		return PHASE_NEXT;
	if (r->route->flags & ROUTE_SECRET) {
		http_invalid(r, "Idempotency-Key",
		             "is not accepted here: the answer holds a key that is shown once and "
		             "never stored");
		return PHASE_ANSWERED;
	}
	if (strcmp(r->method, "POST") != 0 || !(r->route->flags & ROUTE_AUTH))
		return PHASE_NEXT;
	if (idempotency_begin(r) == 1)
		return PHASE_NEXT;
	((struct lifecycle_conn *)r)->fault_after = false; /* a replay is not a fault's */
	return PHASE_ANSWERED;
}

/* Handler: the route's handler (again on the primary when a standby failed it), or, back
 * from Prefer: wait, its continuation; then the Idempotency-Key's answer is stored. */
static enum lifecycle_result
lifecycle_handler(struct req *r)
{
	suspend_look(r);
	if (suspend_outcome(r) != SUSPEND_NONE) {
		((struct lifecycle_conn *)r)->fault_after = false;
		session_resume(r);
		r->wait.then(r);
	} else {
		r->route->handle(r);
		if (session_retry(r))
			r->route->handle(r);
	}
	if (r->idempotent)
		idempotency_end(r);
	return PHASE_NEXT;
}

/* Records the job the handler queued (see lifecycle.h). */
void
lifecycle_job(struct req *r, const char *id, const char *kind, const char *resource_id)
{
	snprintf(r->job.id, sizeof(r->job.id), "%s", id);
	snprintf(r->job.resource_id, sizeof(r->job.resource_id), "%s", resource_id);
	r->job.kind = kind;
}

/* Relay wake (on_suspend too): a route that may queue a job wakes this process's relay once
 * the handler committed (answered 2xx, or suspended waiting for the job's effect), so that
 * its job is published now, not at the next sweep: it hands over the job the handler told
 * of (lifecycle_job), else asks for a claim. Once a request: a request resumed after
 * waiting for its job's effect has nothing new to publish (a second wake cost the relay a
 * claim, in a transaction of its own, per Prefer: wait). */
static enum lifecycle_result
lifecycle_relay_wake(struct req *r)
{
	struct lifecycle_conn *c = (struct lifecycle_conn *)r;

	if ((r->route->flags & ROUTE_JOBS) && r->phase >= PHASE_HANDLER && !c->relay_woken &&
	    (r->response == NULL || (r->status >= 200 && r->status < 300))) {
		c->relay_woken = true;
		if (r->job.kind != NULL)
			relay_hand(r->job.id, r->job.kind, r->job.resource_id);
		else
			relay_wake();
	}
	return PHASE_NEXT;
}

/* Fault after commit: see lifecycle_fault. */
static enum lifecycle_result
lifecycle_fault_after(struct req *r)
{
	if (((struct lifecycle_conn *)r)->fault_after && r->status < 300)
		http_error(r, 500, "not_provided", "injected fault after commit",
		           "the request may have taken effect; read the resource or retry");
	return PHASE_NEXT;
}

/* Session position (on_suspend too): what the handler committed or saw goes into the
 * cookie (session_tracked). */
static enum lifecycle_result
lifecycle_position(struct req *r)
{
	session_tracked(r);
	return PHASE_NEXT;
}

/* Write concern: ?w=N waits for N-1 standbys (504 when they are late). */
static enum lifecycle_result
lifecycle_write_concern(struct req *r)
{
	return session_concern(r) ? PHASE_SUSPENDED : PHASE_NEXT;
}

/* Answer: queues the response with its headers and SESSION cookie. */
static enum lifecycle_result
lifecycle_answer(struct req *r)
{
	struct lifecycle_conn *c = (struct lifecycle_conn *)r;

	if (r->response == NULL)
		http_error(r, 500, "not_provided", "handler gave no answer", "report this bug");
	session_answer(r);
	for (int i = 0; i < r->nheaders; i++)
		MHD_add_response_header(r->response, r->headers[i][0], r->headers[i][1]);
	c->queued = MHD_queue_response(r->conn, (unsigned)r->status, r->response);
	lifecycle_change(r, REQ_ANSWERED);
	return PHASE_NEXT;
}

static const struct lifecycle_phase {
	const char *name;
	enum lifecycle_result (*run)(struct req *r);
	bool before_body; /* runs at the first call, before any body is read */
	bool on_suspend;  /* runs too when an earlier phase suspended the request */
} phases[PHASE_COUNT] = {
    [PHASE_AUTHENTICATE] = {"authenticate", lifecycle_authenticate, true, false},
    [PHASE_SIGNED_URL] = {"signed_url", lifecycle_signed_url, true, false},
    [PHASE_SESSION] = {"session", lifecycle_session, true, false},
    [PHASE_DATABASE] = {"database", lifecycle_database, true, false},
    [PHASE_STREAM] = {"stream", lifecycle_stream, true, false},
    [PHASE_TRACK] = {"track", lifecycle_track, false, false},
    [PHASE_FAULT] = {"fault", lifecycle_fault, false, false},
    [PHASE_IDEMPOTENCY] = {"idempotency", lifecycle_idempotency, false, false},
    [PHASE_HANDLER] = {"handler", lifecycle_handler, false, false},
    [PHASE_RELAY_WAKE] = {"relay_wake", lifecycle_relay_wake, false, true},
    [PHASE_FAULT_AFTER] = {"fault_after", lifecycle_fault_after, false, false},
    [PHASE_POSITION] = {"position", lifecycle_position, false, true},
    [PHASE_WRITE_CONCERN] = {"write_concern", lifecycle_write_concern, false, false},
    [PHASE_ANSWER] = {"answer", lifecycle_answer, false, false},
};

/* Runs r's phases from r->phase on: those before the body only (all false), or to the
 * end. false when a phase suspended the request (it is no longer this thread's to touch
 * once the on_suspend phases ran). A phase before the body that answers skips to the answer;
 * one after it (a fault, an Idempotency-Key replay) skips the handler alone, as if the
 * handler had answered so. */
static bool
lifecycle_run(struct lifecycle_conn *c, bool all)
{
	struct req *r = &c->r;

	while (r->phase < PHASE_COUNT && (all || phases[r->phase].before_body)) {
		unsigned before = c->suspensions;
		enum lifecycle_result res = phases[r->phase].run(r);

		if (res == PHASE_SUSPENDED || c->suspensions != before) {
			log_debug("request_suspended phase=%s", phases[r->phase].name);
			for (int j = r->phase + 1; j < PHASE_COUNT; j++) {
				if (phases[j].on_suspend)
					(void)phases[j].run(r);
			}
			return false;
		}
		if (res == PHASE_ANSWERED)
			r->phase = phases[r->phase].before_body ? PHASE_ANSWER : PHASE_HANDLER + 1;
		else
			r->phase++;
	}
	return true;
}

/* The first call: a new request, routed (router_route). */
static struct lifecycle_conn *
lifecycle_begin(struct MHD_Connection *conn, const char *url, const char *method)
{
	struct lifecycle_conn *c = xcalloc(1, sizeof(*c));
	struct req *r = &c->r;

	r->conn = conn;
	r->method = method;
	r->path = url;
	r->started_ms = util_now_ms();
	r->state = REQ_READING;
	router_request_id(r->id);
	log_set_id(r->id);
	c->param_buf = router_route(r);
	session_begin(r);
	if (r->response != NULL)
		r->phase = PHASE_ANSWER;
	return c;
}

/* Appends a piece of a plain body, answering 413 beyond the limit. */
static void
lifecycle_body(struct lifecycle_conn *c, const char *data, size_t n)
{
	struct req *r = &c->r;

	if (r->body_len + n > HTTP_MAX_BODY) {
		router_too_large(r);
		return;
	}
	if (r->body_len + n + 1 > c->body_cap) {
		c->body_cap = (r->body_len + n + 1) * 2;
		if (c->body_cap > HTTP_MAX_BODY + 1)
			c->body_cap = HTTP_MAX_BODY + 1;
		r->body = xrealloc(r->body, c->body_cap);
	}
	memcpy(r->body + r->body_len, data, n);
	r->body_len += n;
	r->body[r->body_len] = '\0';
}

/* A piece of body: dropped once answered, else handed to the stream or buffered. */
static void
lifecycle_piece(struct lifecycle_conn *c, const char *data, size_t n)
{
	struct req *r = &c->r;

	if (r->response != NULL)
		return; /* answered already: drop the rest of the body */
	if (!(r->route->flags & ROUTE_STREAM))
		lifecycle_body(c, data, n);
	else
		(void)r->route->stream_data(r, data, n);
	if (r->response != NULL)
		r->phase = PHASE_ANSWER;
}

enum MHD_Result
lifecycle_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                 const char *version, const char *upload_data, size_t *upload_size, void **con_cls)
{
	struct lifecycle_conn *c = *con_cls;
	struct req *r;

	if (c == NULL) {
		watchdog_set(conn, WATCHDOG_BODY);
		c = lifecycle_begin(conn, url, method);
		*con_cls = c;
		r = &c->r;
		/* The token is checked now, before any body is read: a body sent without one is
		 * never buffered. */
		if (!lifecycle_run(c, false)) {
			/* Suspended (a read without a body): waiting, not sending slowly. */
			watchdog_set(conn, WATCHDOG_HANDLER);
			return MHD_YES;
		}
		if (r->phase == PHASE_ANSWER && http_req_has_body(r)) {
			watchdog_set(conn, WATCHDOG_HANDLER);
			(void)lifecycle_run(c, true);
			return c->queued;
		}
		return MHD_YES;
	}
	r = &c->r;
	log_set_id(r->id);
	if (r->state == REQ_RESUMED)
		lifecycle_change(r, phases[r->phase].before_body ? REQ_READING : REQ_RUNNING);
	if (r->state == REQ_ANSWERED) {
		*upload_size = 0;
		return MHD_YES;
	}
	if (*upload_size > 0) {
		size_t n = *upload_size;
		*upload_size = 0;
		watchdog_body(conn, n);
		lifecycle_piece(c, upload_data, n);
		return MHD_YES;
	}
	watchdog_set(conn, WATCHDOG_HANDLER);
	if (r->state == REQ_READING)
		lifecycle_change(r, REQ_RUNNING);
	if (!lifecycle_run(c, true))
		return MHD_YES;
	return c->queued;
}

void
lifecycle_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                    enum MHD_RequestTerminationCode toe)
{
	struct lifecycle_conn *c = *con_cls;
	struct req *r;

	watchdog_set(conn, WATCHDOG_IDLE);
	if (c == NULL)
		return;
	r = &c->r;
	if (r->route != NULL && (r->route->flags & ROUTE_STREAM) && r->route->stream_free)
		r->route->stream_free(r);
	stats_request(r->route ? r->route->name : "unknown", r->status,
	              util_now_ms() - r->started_ms);
	/* standby: the 1-based standby that served it (0: the primary, or no database). */
	log_debug("request method=%s path=%s status=%d ms=%lld standby=%d", r->method, r->path,
	          r->status, (long long)(util_now_ms() - r->started_ms), r->standby);
	log_set_id(NULL);
	http_drop_answer(r);
	free(r->body);
	free(r->answer_body);
	free(c->param_buf);
	free(c);
	*con_cls = NULL;
}
