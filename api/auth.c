/* auth.c: API tokens for a software agent acting for a user (the current user: users.c). */
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "db.h"
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

/* POST /software_agents/api_token {"agent_key", "user_key"}: 201 with a signed token for the
 * user, valid cfg.token_ttl seconds; 404 when either key is unknown or of the wrong kind. */
static void
auth_api_token(struct req *r)
{
	json_t *body = http_body_object(r);
	const char *agent_key, *user_key;
	char agent_hash[65], user_hash[65], id[UUID_STR_LEN], exp[24];
	PGresult *res = NULL;
	char *token = NULL;
	int64_t expires;

	if (body == NULL || auth_required_str(r, body, "agent_key", &agent_key) < 0 ||
	    auth_required_str(r, body, "user_key", &user_key) < 0)
		goto out;
	sign_key_hash(agent_key, agent_hash);
	sign_key_hash(user_key, user_hash);
	const char *q[] = {agent_hash, user_hash};
	res = db_exec(r->db,
	              "SELECT a.software_agent_id, u.user_id FROM api_keys a, api_keys u"
	              " WHERE a.key_hash = $1 AND a.software_agent_id IS NOT NULL"
	              " AND u.key_hash = $2 AND u.user_id IS NOT NULL",
	              2, q);
	if (res == NULL) {
		http_db_error(r);
		goto out;
	}
	if (PQntuples(res) == 0) {
		http_not_found(r, "api key");
		goto out;
	}
	expires = util_wall_ms() / 1000 + cfg.token_ttl;
	snprintf(exp, sizeof(exp), "%lld", (long long)expires);
	uuid_generate(id);
	const char *ins[] = {id, db_get(res, 0, 1), db_get(res, 0, 0), exp};
	if (db_cmd(r->db,
	           "INSERT INTO api_tokens(id, user_id, software_agent_id, expires_at)"
	           " VALUES ($1, $2, $3, to_timestamp($4::bigint))",
	           4, ins) < 0) {
		http_db_error(r);
		goto out;
	}
	token = sign_token(db_get(res, 0, 1), expires);
	http_json(r, 201,
	          json_pack("{s:s,s:I,s:I}", "api_token", token, "expires_on", (json_int_t)expires,
	                    "time_to_live", (json_int_t)cfg.token_ttl));
out:
	free(token);
	PQclear(res);
	json_decref(body);
}

const struct route auth_routes[] = {
    {"POST", "/api/v1/software_agents/api_token", 0, "auth.api_token", auth_api_token, NULL, NULL,
     NULL},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
