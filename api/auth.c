/* auth.c: API tokens for a software agent acting for a user, and their check on every
 * authenticated request (the current user: users.c). */
#include "auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "db.h"
#include "revoke.h"
#include "router.h"
#include "sign.h"
#include "uuid.h"

/* Reads a required non-empty string field; answers 400 and returns -1 when it is not. */
static int
auth_required_str(struct req *r, json_t *body, const char *field, const char **out)
{
	int rc = http_field_str(r, body, field, out);

	if (rc < 0)
		return -1;
	if (rc == 0 || **out == '\0') {
		http_invalid(r, field, "is required");
		return -1;
	}
	return 0;
}

/* Answers 404 for unknown keys or 401 for a disabled user or agent, from the row of unit
 * auth_issue (sql/auth.sql). Returns true when it answered (no token was issued). */
static bool
auth_refused(struct req *r, PGresult *res)
{
	if (PQntuples(res) == 0) {
		http_not_found(r, "api key");
	} else if (db_get_bool(res, 0, AUTH_ISSUE_C_USER_DISABLED)) {
		http_error(r, 401, "unauthorized", "the user is disabled",
		           "ask the operator to enable the user (settle user enable)");
	} else if (db_get_bool(res, 0, AUTH_ISSUE_C_AGENT_DISABLED)) {
		http_error(r, 401, "unauthorized", "the software agent is disabled",
		           "ask the operator to enable the software agent (settle agent enable)");
	} else {
		return false;
	}
	return true;
}

/* POST /software_agents/api_token {"agent_key", "user_key"}: 201 with a signed token for the
 * user and agent, valid cfg.token_ttl seconds; 404 when either key is unknown or of the
 * wrong kind; 401 when the user or the agent is disabled. */
static void
auth_api_token(struct req *r)
{
	json_t *body = http_body_object(r);
	const char *agent_key, *user_key;
	char agent_hash[65], user_hash[65], id[UUID_STR_LEN], exp[24];
	struct sign_token t;
	PGresult *res = NULL;
	char *token = NULL;

	if (body == NULL || auth_required_str(r, body, "agent_key", &agent_key) < 0 ||
	    auth_required_str(r, body, "user_key", &user_key) < 0)
		goto out;
	sign_key_hash(agent_key, agent_hash);
	sign_key_hash(user_key, user_hash);
	t.expires = util_wall_ms() / 1000 + cfg.token_ttl;
	snprintf(exp, sizeof(exp), "%lld", (long long)t.expires);
	uuid_generate(id);
	const char *q[] = {agent_hash, user_hash, id, exp};
	res = db_exec(r->db, SQL_AUTH_ISSUE, q);
	if (res == NULL) {
		http_db_error(r);
		goto out;
	}
	if (auth_refused(r, res))
		goto out;
	snprintf(t.user_id, sizeof(t.user_id), "%s", db_get(res, 0, AUTH_ISSUE_C_USER_ID));
	snprintf(t.agent_id, sizeof(t.agent_id), "%s", db_get(res, 0, AUTH_ISSUE_C_AGENT_ID));
	t.issued_ms = db_get_i64(res, 0, AUTH_ISSUE_C_ISSUED);
	token = sign_token(&t);
	http_json(r, 201,
	          json_pack("{s:s,s:I,s:I}", "api_token", token, "expires_on",
	                    (json_int_t)t.expires, "time_to_live", (json_int_t)cfg.token_ttl));
out:
	free(token);
	PQclear(res);
	json_decref(body);
}

/*
 * Checks the token of an authenticated request (see auth.h): a forged, malformed or
 * expired token, or one its user or agent revoked, answers 401 unauthorized with a reason
 * that says which.
 */
bool
auth_token(struct req *r, const char *token)
{
	static const char *const reasons[] = {
	    [REVOKE_USER_DISABLED] = "api token is revoked: the user is disabled",
	    [REVOKE_AGENT_DISABLED] = "api token is revoked: the software agent is disabled",
	    [REVOKE_ISSUED_BEFORE] = "api token is revoked: it was issued before its user or "
	                             "software agent was disabled, deleted or given a new key",
	};
	struct sign_token t;
	enum revoke_verdict v;

	if (!sign_token_read(token, util_wall_ms() / 1000, &t)) {
		http_error(r, 401, "unauthorized", "api token is invalid or expired",
		           "get a new token from POST /software_agents/api_token");
		return false;
	}
	v = revoke_check(&t);
	if (v == REVOKE_UNKNOWN) {
		http_unavailable(r, "the database is not reachable", HTTP_RETRY_RECONNECT);
		return false;
	}
	if (v != REVOKE_OK) {
		http_error(r, 401, "unauthorized", reasons[v],
		           "get a new token from POST /software_agents/api_token once enabled");
		return false;
	}
	memcpy(r->user_id, t.user_id, sizeof(r->user_id));
	memcpy(r->agent_id, t.agent_id, sizeof(r->agent_id));
	return true;
}

const struct route auth_routes[] = {
    {.method = "POST",
     .pattern = "/api/v1/software_agents/api_token",
     .name = "auth.api_token",
     .handle = auth_api_token},
    {.method = NULL},
};
