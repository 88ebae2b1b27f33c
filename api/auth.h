/* auth.h: the token check of authenticated routes (the routes are in router.h). */
#ifndef SETTLE_AUTH_H
#define SETTLE_AUTH_H

#include "http.h"

/* Checks token (the Authorization header without "Bearer "): signature, expiry, and that
 * neither its user nor its software agent revoked it (revoke.h). Sets r->user_id and
 * r->agent_id and returns true; otherwise answers 401 (503 while revocations cannot be
 * known) and returns false. */
bool auth_token(struct req *r, const char *token) MUSTCHECK;

#endif
