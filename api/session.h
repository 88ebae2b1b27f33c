/* session.h: consistency sessions over standbys (API.md "Consistency sessions"). With
 * SETTLE_DATABASE_REPLICA_URLS empty every call here is a no-op but session_db, which is
 * db_thread_conn: no cookie, no extra statement. */
#ifndef SETTLE_SESSION_H
#define SETTLE_SESSION_H

#include "http.h"

/* The connection a request uses: a standby for a GET or HEAD that carries a valid SESSION
 * cookie (one that has replayed the cookie's position, waited for up to
 * SETTLE_SESSION_WAIT_MS) or says Cache-Control: max-stale; else the primary. NULL when
 * the primary cannot be reached. */
PGconn *session_db(struct req *r);
/* Reads ?w=N of a write (API.md "Write concern"); false after answering 400 when it is not
 * 1 to 1 + the number of standbys. */
bool session_check(struct req *r) MUSTCHECK;
/* After session_wrote: with ?w=N (N > 1) and a 2xx answer, suspends the request until N-1
 * standbys have replayed the write, or answers 504 write_concern_timeout after
 * SETTLE_WRITE_CONCERN_TIMEOUT_MS. */
void session_concern(struct req *r);
/* After the handler: when a standby failed the request (lost mid-way, or a query cancelled
 * by a recovery conflict), drops its answer and moves the request to the primary; true
 * then, and the handler must run again. */
bool session_retry(struct req *r) MUSTCHECK;
/* Before the handler of a write: each of its statements made outside a transaction records
 * the position after its commit (db_track_commits), with no round trip of its own. */
void session_writing(struct req *r);
/* After the handler of a write: records the position of its COMMIT for the cookie. */
void session_wrote(struct req *r);
/* A request resumed from Prefer: wait goes on on the primary. */
void session_resume(struct req *r);
/* Adds Set-Cookie: SESSION=… and Vary: Cookie to the answer. */
void session_answer(struct req *r);

#endif
