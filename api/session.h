/* session.h: consistency sessions over standbys (API.md "Consistency sessions"). With
 * SETTLE_DATABASE_REPLICA_URLS empty every call here is a no-op but session_db, which is
 * db_thread_conn: no cookie, no extra statement. */
#ifndef SETTLE_SESSION_H
#define SETTLE_SESSION_H

#include "db.h"
#include "http.h"

/* A new request, routed: reads its SESSION cookie (r->session_lsn, 0 when absent or
 * forged). */
void session_begin(struct req *r);
/* Sets r->db, the connection a request uses: a standby for a GET or HEAD that carries a
 * valid SESSION cookie or says Cache-Control: max-stale, one that has replayed the cookie's
 * position and the newest change that may have taken access away (replica_permission_lsn),
 * waited for up to SETTLE_SESSION_WAIT_MS with r suspended (suspend.h); else the primary
 * (NULL when it cannot be reached). false when r is suspended: call again once resumed. */
bool session_db(struct req *r) MUSTCHECK;
/* Reads ?w=N of a write (API.md "Write concern"); false after answering 400 when it is not
 * plain decimal digits (leading zeros allowed; no sign, space or hex) of 1 to 1 + the number
 * of standbys. */
bool session_check(struct req *r) MUSTCHECK;
/* After the handler: with ?w=N (N > 1) and a 2xx answer (a Prefer: wait one included, once
 * its wait is over), suspends the request until N-1 standbys have replayed the write and
 * returns true; called again once resumed, answers 504 write_concern_timeout if that took
 * over SETTLE_WRITE_CONCERN_TIMEOUT_MS, and returns false. */
bool session_concern(struct req *r) MUSTCHECK;
/* After the handler: when a standby failed the request (lost mid-way, or a query cancelled
 * by a recovery conflict), drops its answer and moves the request to the primary; true
 * then, and the handler must run again. */
bool session_retry(struct req *r) MUSTCHECK;
/* Before a handler: each of its statements made outside a transaction records the position
 * after its commit (db_track_commits), with no round trip of its own, read or write,
 * primary or standby. */
void session_track(struct req *r);
/* After the handler: raises the cookie's position to the last one recorded (the commit of a
 * write, or at least everything a read saw), so that the client's next reads, wherever they
 * go, see no less (read-your-writes, monotonic reads). The commit of a ROUTE_PERMISSIONS
 * write is where standbys may decide access again in this process (replica.h). */
void session_tracked(struct req *r);
/* A request resumed from Prefer: wait goes on on the primary, its statements tracked as
 * session_track's (session_tracked after its answer). */
void session_resume(struct req *r);
/* A signed storage URL carried position lsn (0: none): the request reads as one whose
 * SESSION cookie carries it. */
void session_signed(struct req *r, uint64_t lsn);
/* Raises the request's position to lsn, a settle_position()::text column (migration 0017) (no-op
 * without standbys), so that what the answer issues (cookie, download URLs) covers what it read. */
void session_saw(struct req *r, const char *lsn);
/* Adds Set-Cookie: SESSION=… (Path=/; HttpOnly; SameSite=Lax, and Secure when the request
 * came over TLS or through a proxy that says X-Forwarded-Proto: https) and Vary: Cookie to
 * the answer. */
void session_answer(struct req *r);

#endif
