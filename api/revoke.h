/* revoke.h: which tokens a disabled (or once disabled) user or software agent revoked.
 *
 * `settle user|agent disable` sets disabled_at and tokens_valid_after; this process keeps
 * the users and agents that have a tokens_valid_after recent enough to matter in a small
 * cache shared by the HTTP threads, refreshed at most every REVOKE_REFRESH_MS by whichever
 * request finds it due (one query; the other threads keep using the previous copy
 * meanwhile). So a request costs no database round trip, and a disable reaches every
 * settle-api within REVOKE_REFRESH_MS plus one query. */
#ifndef SETTLE_REVOKE_H
#define SETTLE_REVOKE_H

#include "sign.h"

#define REVOKE_REFRESH_MS 2000

enum revoke_verdict {
	REVOKE_OK,             /* the token stands */
	REVOKE_USER_DISABLED,  /* its user is disabled */
	REVOKE_AGENT_DISABLED, /* its software agent is disabled */
	REVOKE_ISSUED_BEFORE,  /* issued at or before its user's or agent's last disable */
	REVOKE_UNKNOWN,        /* the cache could never be loaded (database unreachable) */
};

/* The verdict on a verified token. Refreshes the cache when due, on the calling thread's
 * database connection. Thread-safe. */
enum revoke_verdict revoke_check(const struct sign_token *t);

#endif
