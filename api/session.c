/* session.c: which database serves a request, and the SESSION cookie.
 *
 * The cookie carries the newest WAL position the client wrote or read (signed, sign.h).
 * The position of a request is read in the round trips it makes anyway: by db_commit for a
 * transaction, and by each statement outside one while the handler runs (db_track_commits:
 * the position after its implicit commit, pipelined). For a write that is at or past its
 * COMMIT; for a read, at or past everything it saw, on the primary (a resumed Prefer: wait
 * that saw a worker's commit) as on a standby, so that a later read through a standby at
 * that position sees no less (monotonic reads). The poller's positions (replica.h) are a
 * floor for statements that are not tracked. A read that issues download URLs reads its
 * position in the statement (settle_position()::text), and the URLs carry it (signed), so a
 * cookie-less download reads as if it had the cookie.
 */
#include "session.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "db.h"
#include "log.h"
#include "replica.h"
#include "sign.h"
#include "suspend.h"

#define SESSION_NO_STALE (-2) /* no max-stale directive */

/* The request carries signed position lsn (cookie or URL): it may read from a standby that
 * has replayed it. */
static void
session_at(struct req *r, uint64_t lsn)
{
	r->session_cookie = true;
	if (lsn > r->session_lsn)
		r->session_lsn = lsn;
}

void
session_begin(struct req *r)
{
	const char *v;
	uint64_t lsn;

	if (replica_count() == 0)
		return;
	v = MHD_lookup_connection_value(r->conn, MHD_COOKIE_KIND, "SESSION");
	if (v != NULL && sign_session_read(v, &lsn))
		session_at(r, lsn);
}

void
session_signed(struct req *r, uint64_t lsn)
{
	if (lsn != 0)
		session_at(r, lsn);
}

void
session_saw(struct req *r, const char *lsn)
{
	uint64_t v;

	if (replica_count() > 0 && lsn != NULL && db_parse_lsn(lsn, &v) && v > r->session_lsn)
		r->session_lsn = v;
}

/* Cache-Control: max-stale[=N]: N in ms, -1 without N, SESSION_NO_STALE when absent. */
static int64_t
session_max_stale(struct req *r)
{
	const char *h = http_req_header(r, "Cache-Control"), *p;
	int64_t secs = 0;

	for (p = h; p != NULL && (p = strcasestr(p, "max-stale")) != NULL; p += 9) {
		if (p != h && p[-1] != ' ' && p[-1] != ',' && p[-1] != '\t')
			continue;
		if (p[9] != '=')
			return -1;
		for (p += 10; *p >= '0' && *p <= '9' && secs < 86400 * 365; p++)
			secs = secs * 10 + (*p - '0');
		return secs * 1000;
	}
	return SESSION_NO_STALE;
}

/* A usable standby that has replayed `need` and every change that may have taken access
 * away (replica_permits; round robin), or -1. */
static int
session_pick(uint64_t need, int64_t max_lag_ms)
{
	static atomic_uint next;
	int n = replica_count(), start = (int)(atomic_fetch_add(&next, 1) % (unsigned)n);
	bool any = false;

	for (int i = 0; i < n; i++) {
		int k = (start + i) % n;
		if (!replica_usable(k, max_lag_ms))
			continue;
		any = true;
		if (replica_replay_lsn(k) >= need && replica_permits(k))
			return k;
	}
	return any ? -2 : -1; /* -2: one may still catch up */
}

/* The position a standby must have replayed to serve r: the session's, and every change
 * that may have taken access away (replica_permission_lsn, replica_permits). */
static uint64_t
session_need(const struct req *r)
{
	uint64_t need = replica_permission_lsn();

	return r->session_lsn > need ? r->session_lsn : need;
}

/* SUSPEND_STANDBYS: whether a standby may serve r now (or none may ever). */
static bool
session_caught_up(const struct req *r)
{
	int64_t stale = session_max_stale((struct req *)r);

	return session_pick(session_need(r), stale == SESSION_NO_STALE ? -1 : stale) != -2;
}

/* The standby for a read, waiting up to SETTLE_SESSION_WAIT_MS for one to replay what it
 * needs, suspended (a read with a body does not wait): its index, -1 for the primary, or -2
 * when r is suspended (the database phase runs again once it is resumed). */
static int
session_standby(struct req *r, int64_t max_lag_ms)
{
	enum suspend_outcome o = suspend_outcome(r);
	int k = session_pick(session_need(r), max_lag_ms);

	if (k != -2)
		return k;
	if (r->session_deadline_ms == 0) {
		replica_note(REPLICA_SESSION_WAIT);
		r->session_deadline_ms = util_now_ms() + cfg.session_wait_ms;
	}
	if (o != SUSPEND_TIMED_OUT && util_now_ms() < r->session_deadline_ms &&
	    !http_req_has_body(r) && suspend_until(r, session_caught_up, r->session_deadline_ms))
		return -2;
	replica_note(REPLICA_FALLBACK);
	return -1;
}

/* A standby connection for a read that may use one (*c NULL: the primary's). The standby
 * must have replayed the session's position and, whatever staleness the client accepts,
 * every change that may have taken access away: stale data, never a stale permission.
 * false when r is suspended waiting for one. */
static bool
session_read_db(struct req *r, PGconn **c)
{
	int64_t stale = session_max_stale(r);
	int k;

	*c = NULL;
	if (!r->session_cookie && stale == SESSION_NO_STALE)
		return true;
	k = session_standby(r, stale == SESSION_NO_STALE ? -1 : stale);
	if (k == -2)
		return false;
	if (k < 0 || (*c = db_thread_replica(k, replica_url(k))) == NULL)
		return true;
	r->standby = k + 1;
	if (replica_replay_lsn(k) > r->session_lsn)
		r->session_lsn = replica_replay_lsn(k);
	return true;
}

static bool
session_is_read(struct req *r)
{
	return strcmp(r->method, "GET") == 0 || strcmp(r->method, "HEAD") == 0;
}

bool
session_db(struct req *r)
{
	PGconn *c;

	if (replica_count() == 0) {
		r->db = db_thread_conn();
		return true;
	}
	if (session_is_read(r)) {
		if (!session_read_db(r, &c))
			return false;
		if (c != NULL) {
			replica_note(REPLICA_READ_STANDBY);
			r->db = c;
			return true;
		}
		replica_note(REPLICA_READ_PRIMARY);
	}
	c = db_thread_conn();
	if (c != NULL && !session_is_read(r))
		(void)db_take_commit_lsn(c); /* a position left from another request */
	if (session_is_read(r) && replica_primary_lsn() > r->session_lsn)
		r->session_lsn = replica_primary_lsn();
	r->db = c;
	return true;
}

bool
session_retry(struct req *r)
{
	PGconn *primary;

	/* A handler that suspended has no answer (status 0) yet: it is not retried. */
	if (r->standby == 0 || r->status < 500)
		return false;
	if (!db_last_was_connection() && strncmp(db_last_sqlstate(), "40", 2) != 0)
		return false;
	if ((primary = db_thread_conn()) == NULL)
		return false;
	log_warn("standby_failed standby=%d sqlstate=%s retry=primary", r->standby,
	         db_last_sqlstate());
	http_drop_answer(r);
	db_track_commits(r->db, false);
	r->standby = 0;
	r->db = primary;
	session_track(r);
	return true;
}

void
session_track(struct req *r)
{
	if (replica_count() > 0 && r->db != NULL && !(r->route->flags & ROUTE_SEES))
		db_track_commits(r->db, true);
}

void
session_tracked(struct req *r)
{
	uint64_t lsn;

	if (replica_count() == 0 || r->db == NULL)
		return;
	db_track_commits(r->db, false);
	lsn = db_take_commit_lsn(r->db);
	if (lsn > r->session_lsn)
		r->session_lsn = lsn;
	if (lsn != 0 && (r->route->flags & ROUTE_PERMISSIONS))
		replica_permission_changed(lsn);
}

void
session_resume(struct req *r)
{
	PGconn *primary;

	if (r->standby != 0 && (primary = db_thread_conn()) != NULL) {
		r->standby = 0;
		r->db = primary;
	}
	session_track(r);
}

/* True when the client reached us over TLS: on a TLS connection, or through a proxy whose
 * X-Forwarded-Proto (its first value, the client's side) is https. */
static bool
session_over_tls(struct req *r)
{
	const char *p = http_req_header(r, "X-Forwarded-Proto");

	if (MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_PROTOCOL) != NULL)
		return true;
	while (p != NULL && (*p == ' ' || *p == '\t'))
		p++;
	return p != NULL && strncasecmp(p, "https", 5) == 0 &&
	       (p[5] == '\0' || p[5] == ',' || p[5] == ' ' || p[5] == '\t');
}

void
session_answer(struct req *r)
{
	char *v, *cookie;

	if (replica_count() == 0)
		return;
	v = sign_session(r->session_lsn);
	cookie = xasprintf("SESSION=%s; Path=/; HttpOnly; SameSite=Lax%s", v,
	                   session_over_tls(r) ? "; Secure" : "");
	http_header(r, "Set-Cookie", cookie);
	http_header(r, "Vary", "Cookie");
	free(cookie);
	free(v);
}

bool
session_check(struct req *r)
{
	const char *w;
	int64_t n;

	if (!(r->route->flags & ROUTE_AUTH) || session_is_read(r) ||
	    (w = http_query(r, "w")) == NULL)
		return true;
	if (w[strspn(w, "0123456789")] != '\0' || !util_parse_i64(w, &n) || n < 1 ||
	    n > 1 + replica_count()) {
		http_invalid(r, "w",
		             "must be plain decimal digits, a number from 1 to 1 + the number of "
		             "standbys");
		return false;
	}
	r->write_concern = (int)n;
	return true;
}

/* SUSPEND_STANDBYS: whether enough standbys replayed r's write. */
static bool
session_concern_met(const struct req *r)
{
	return replica_replayed(r->session_lsn) >= r->write_concern - 1;
}

bool
session_concern(struct req *r)
{
	switch (suspend_outcome(r)) {
	case SUSPEND_READY:
		return false;
	case SUSPEND_TIMED_OUT:
		replica_note(REPLICA_CONCERN_LATE);
		http_drop_answer(r);
		http_error(r, 504, "write_concern_timeout",
		           "the write is committed, but not enough standbys applied it in time",
		           "read it with the SESSION cookie, or retry with a smaller w");
		return false;
	case SUSPEND_NONE:
		break;
	}
	if (r->write_concern < 2 || r->status < 200 || r->status >= 300)
		return false;
	replica_note(REPLICA_CONCERN_WAIT);
	return suspend_until(r, session_concern_met, util_now_ms() + cfg.write_concern_timeout_ms);
}
