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

/* Finds the user and agent of the keys, locking both rows (FOR SHARE) so that a disable
 * (settle user|agent disable, which locks them FOR NO KEY UPDATE) or a change of their keys
 * (agents.c) runs wholly before or after, and records a token for them unless either is
 * disabled. A key counts only while it carries its owner's key_generation (migration
 * 0014): a request that waited for a change of keys re-checks the owner's new row and
 * finds the old key stale. Its row: user id, agent
 * id, user disabled, agent disabled, issued (epoch ms, the database's clock; NULL when not
 * issued). No row: a key is unknown. */
static const char auth_issue_sql[] =
    "WITH k AS ("
    " SELECT u.id AS user_id, a.id AS agent_id, u.disabled_at AS user_off,"
    "        a.disabled_at AS agent_off"
    " FROM api_keys ak JOIN software_agents a ON a.id = ak.software_agent_id,"
    "      api_keys uk JOIN users u ON u.id = uk.user_id"
    " WHERE ak.key_hash = $1 AND uk.key_hash = $2"
    "  AND ak.generation = a.key_generation AND uk.generation = u.key_generation"
    " FOR SHARE OF a, u),"
    " ins AS ("
    " INSERT INTO api_tokens(id, user_id, software_agent_id, expires_at, created_at)"
    " SELECT $3, user_id, agent_id, to_timestamp($4::bigint), clock_timestamp() FROM k"
    " WHERE user_off IS NULL AND agent_off IS NULL"
    " RETURNING floor(extract(epoch FROM created_at) * 1000)::bigint AS issued)"
    " SELECT k.user_id, k.agent_id, k.user_off IS NOT NULL, k.agent_off IS NOT NULL,"
    "        (SELECT issued FROM ins)"
    " FROM k";

/* Answers 404 for unknown keys or 401 for a disabled user or agent, from the row of
 * auth_issue_sql. Returns true when it answered (no token was issued). */
static bool
auth_refused(struct req *r, PGresult *res)
{
	if (PQntuples(res) == 0) {
		http_not_found(r, "api key");
	} else if (db_get_bool(res, 0, 2)) {
		http_error(r, 401, "unauthorized", "the user is disabled",
		           "ask the operator to enable the user (settle user enable)");
	} else if (db_get_bool(res, 0, 3)) {
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
	res = db_exec(r->db, auth_issue_sql, 4, q);
	if (res == NULL) {
		http_db_error(r);
		goto out;
	}
	if (auth_refused(r, res))
		goto out;
	snprintf(t.user_id, sizeof(t.user_id), "%s", db_get(res, 0, 0));
	snprintf(t.agent_id, sizeof(t.agent_id), "%s", db_get(res, 0, 1));
	t.issued_ms = db_get_i64(res, 0, 4);
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
