/* agents.c: self-service credentials (docs/api.md "Users, software agents and tokens"): the
 * software agents a user made over the API, their keys, and the caller's own user key.
 *
 * A key is shown once, in the answer that makes it; the database keeps its SHA-256 only
 * (sign_key_hash), so later reads show its created_on and no key. Replacing or deleting the
 * keys of a user or agent revokes every token made with them: its tokens_valid_after moves
 * to now (revoke.h), and its key_generation moves on, so that a token request that waited
 * for the change re-checks the row and finds the old key stale (auth.c). Only the creator of
 * an agent reaches it: any other caller, and agents the operator's CLI made, get 404. */
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "names.h"
#include "router.h"
#include "sign.h"
#include "uuid.h"
#include "views.h"

/* docs/api.md "Users, software agents and tokens": the most agents (not deleted) a user has,
 * as agents_create checks it (sql/agents.sql). */
#define AGENTS_MAX_PER_USER "100"

/* The owner of keys: a software agent of the caller, or the caller. Each unit takes $1 the
 * owner's id; lock and show also $2 the caller. */
struct agents_owner {
	const char *what; /* the owner, for a 404 */
	/* One row when the caller reaches the owner, locked FOR NO KEY UPDATE (token issue
	 * holds it FOR SHARE): has_key, whether it has a key. */
	enum sql_unit lock;
	/* Deletes the owner's keys and revokes their tokens. */
	enum sql_unit drop;
	/* drop and a new key ($2 key id, $3 key hash): created_on. */
	enum sql_unit rekey;
	/* One row: created_on of the owner's newest key (NULL: none, or not the caller's). */
	enum sql_unit show;
};

/* The units of both owners return the same columns: the C reads them by the agent's names. */
_Static_assert((int)AGENTS_LOCK_AGENT_C_HAS_KEY == (int)AGENTS_LOCK_USER_C_HAS_KEY &&
                   (int)AGENTS_SHOW_AGENT_C_CREATED_ON == (int)AGENTS_SHOW_USER_C_CREATED_ON &&
                   (int)AGENTS_REKEY_AGENT_C_CREATED_ON == (int)AGENTS_REKEY_USER_C_CREATED_ON,
               "the units of agents_agent and agents_user differ");

static const struct agents_owner agents_agent = {"software agent", SQL_AGENTS_LOCK_AGENT,
                                                 SQL_AGENTS_DROP_AGENT, SQL_AGENTS_REKEY_AGENT,
                                                 SQL_AGENTS_SHOW_AGENT};

static const struct agents_owner agents_user = {"user", SQL_AGENTS_LOCK_USER, SQL_AGENTS_DROP_USER,
                                                SQL_AGENTS_REKEY_USER, SQL_AGENTS_SHOW_USER};

/* The api key object {key, created_on}; key NULL: not shown. New reference. */
static json_t *
agents_key_json(const char *key, const char *created_on)
{
	return json_pack("{s:o,s:o}", "key", http_jstr(key), "created_on", http_jstr(created_on));
}

/* Answers a 204 with no body. */
static void
agents_no_content(struct req *r)
{
	http_raw(r, 204, MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
}

/* Opens a transaction and locks owner o ($1 id) if the caller reaches it; 1 then (the
 * transaction open, *has_key set), else 0 after answering 404 (or a database error) and
 * rolling back. */
static int
agents_lock(struct req *r, const struct agents_owner *o, const char *id, bool *has_key)
{
	const char *q[] = {id, r->user_id};
	PGresult *res;

	if (db_begin(r->db) < 0) {
		http_db_error(r);
		return 0;
	}
	if ((res = db_exec(r->db, o->lock, q)) == NULL) {
		db_rollback(r->db);
		http_db_error(r);
		return 0;
	}
	if (PQntuples(res) == 0) {
		db_rollback(r->db);
		http_not_found(r, o->what);
		PQclear(res);
		return 0;
	}
	*has_key = db_get_bool(res, 0, AGENTS_LOCK_AGENT_C_HAS_KEY);
	PQclear(res);
	return 1;
}

/* GET …/api_key: 200 {key: null, created_on} of the owner's newest key (the key itself is
 * not kept), or 404 when there is none or the caller does not reach the owner. */
static void
agents_key_show(struct req *r, const struct agents_owner *o, const char *id)
{
	const char *q[] = {id, r->user_id};
	PGresult *res = db_exec(r->db, o->show, q);
	const char *at;

	if (res == NULL) {
		http_db_error(r);
		return;
	}
	at = PQntuples(res) > 0 ? db_get(res, 0, AGENTS_SHOW_AGENT_C_CREATED_ON) : NULL;
	if (at == NULL)
		http_not_found(r, "api key");
	else
		http_json(r, 200, agents_key_json(NULL, at));
	PQclear(res);
}

/* PUT …/api_key (regenerate: 200 {key, created_on}, the key shown this once) or DELETE
 * (204; 404 when there is no key): replaces or deletes every key of owner o and revokes the
 * tokens made with them, in one transaction. */
static void
agents_key_change(struct req *r, const struct agents_owner *o, const char *id, bool regenerate)
{
	char key[65], hash[65], key_id[UUID_STR_LEN];
	const char *q[] = {id, key_id, hash};
	PGresult *res = NULL;
	bool has_key;

	if (!agents_lock(r, o, id, &has_key))
		return;
	if (!regenerate && !has_key) {
		db_rollback(r->db);
		http_not_found(r, "api key");
		return;
	}
	sign_random_key(key);
	sign_key_hash(key, hash);
	uuid_generate(key_id);
	res = db_exec(r->db, regenerate ? o->rekey : o->drop, q);
	if (res == NULL || db_commit(r->db) < 0) {
		db_rollback(r->db);
		http_db_error(r);
	} else if (regenerate) {
		http_json(r, 200,
		          agents_key_json(key, db_get(res, 0, AGENTS_REKEY_AGENT_C_CREATED_ON)));
	} else {
		agents_no_content(r);
	}
	PQclear(res);
}

/* Reads name (required when `required`), description and repo_url of a create or update
 * body (absent or null: NULL). 0, or -1 after answering 400. */
static int
agents_read(struct req *r, json_t *body, bool required, const char **name, const char **desc,
            const char **repo_url)
{
	const char *problem;
	int rc;

	*name = *desc = *repo_url = NULL;
	if ((rc = http_field_text(r, body, "name", NAMES_MAX, 0, name)) < 0)
		return -1;
	if (rc == 0 && required) {
		http_invalid(r, "name", "is required");
		return -1;
	}
	if (rc > 0 && (problem = **name == '\0' ? NAMES_RULE_LENGTH : names_text_problem(*name))) {
		http_invalid(r, "name", problem);
		return -1;
	}
	if (http_field_text(r, body, "description", HTTP_MAX_DESCRIPTION, HTTP_TEXT_LINES, desc) <
	        0 ||
	    http_field_text(r, body, "repo_url", HTTP_MAX_REPO_URL, 0, repo_url) < 0)
		return -1;
	return 0;
}

/* Answers the row of unit agents_create: 201 with the agent and its key (shown this once),
 * or 409 when the caller has too many agents. */
static void
agents_created(struct req *r, const PGresult *res, const char *key)
{
	json_t *agent;

	if (PQntuples(res) == 0) {
		http_error(r, 409, "conflict",
		           "a user has at most " AGENTS_MAX_PER_USER " software agents",
		           "delete an agent you no longer use (DELETE /software_agents/{id})");
		return;
	}
	agent = views_json_col(res, 0, AGENTS_CREATE_C_AGENT);
	json_object_set_new(agent, "api_key",
	                    agents_key_json(key, db_get(res, 0, AGENTS_CREATE_C_CREATED_ON)));
	http_json(r, 201, agent);
}

/* POST /software_agents {name, description?, repo_url?}: a software agent of the caller
 * and its key, in one transaction. */
static void
agents_create(struct req *r)
{
	json_t *body = http_body_object(r);
	const char *name, *desc, *url;
	char id[UUID_STR_LEN], key[65], hash[65], key_id[UUID_STR_LEN];
	PGresult *res = NULL;

	if (body == NULL || agents_read(r, body, true, &name, &desc, &url) < 0)
		goto out;
	uuid_generate(id);
	uuid_generate(key_id);
	sign_random_key(key);
	sign_key_hash(key, hash);
	const char *q[] = {r->user_id, id, name, desc, url, key_id, hash};
	if (db_begin(r->db) < 0) {
		http_db_error(r);
		goto out;
	}
	if (db_cmd(r->db, SQL_AGENTS_LOCK_CREATOR, q) < 0 ||
	    (res = db_exec(r->db, SQL_AGENTS_CREATE, q)) == NULL)
		goto fail;
	if (PQntuples(res) == 0)
		db_rollback(r->db); /* too many agents: nothing was written */
	else if (db_commit(r->db) < 0)
		goto fail;
	agents_created(r, res, key);
	goto out;
fail:
	db_rollback(r->db);
	http_db_error(r);
out:
	PQclear(res);
	json_decref(body);
}

/* GET /software_agents: the caller's agents (not deleted), oldest first, unpaged as in DDS
 * (at most AGENTS_MAX_PER_USER). */
static void
agents_list(struct req *r)
{
	const char *q[] = {r->user_id};
	PGresult *res = db_exec(r->db, SQL_AGENTS_LIST, q);

	if (res == NULL) {
		http_db_error(r);
		return;
	}
	http_json(r, 200,
	          json_pack("{s:o}", "results", views_json_col(res, 0, AGENTS_LIST_C_RESULTS)));
	PQclear(res);
}

/* GET /software_agents/{id}: the caller's agent, deleted or not. */
static void
agents_get(struct req *r)
{
	const char *q[] = {r->params[0], r->user_id};

	http_answer_result(r, 200, db_exec(r->db, SQL_AGENTS_GET, q), "software agent",
	                   views_json_col);
}

/* PUT /software_agents/{id} {name?, description?, repo_url?}: changes what is given. */
static void
agents_update(struct req *r)
{
	json_t *body = http_body_object(r);
	const char *name, *desc, *url;
	PGresult *res = NULL;

	if (body == NULL || agents_read(r, body, false, &name, &desc, &url) < 0)
		goto out;
	const char *q[] = {r->params[0], r->user_id, name, desc, url};
	res = db_exec(r->db, SQL_AGENTS_UPDATE, q);
	http_answer_result(r, 200, res, "software agent", views_json_col);
	res = NULL;
out:
	PQclear(res);
	json_decref(body);
}

/* DELETE /software_agents/{id}: marks the agent deleted, deletes its key and revokes its
 * tokens (of every user); 204. */
static void
agents_delete(struct req *r)
{
	const char *q[] = {r->params[0], r->user_id};
	bool has_key;

	if (!agents_lock(r, &agents_agent, r->params[0], &has_key))
		return;
	if (db_cmd(r->db, SQL_AGENTS_DELETE, q) < 0 || db_commit(r->db) < 0) {
		db_rollback(r->db);
		http_db_error(r);
		return;
	}
	agents_no_content(r);
}

static void
agents_key_get(struct req *r)
{
	agents_key_show(r, &agents_agent, r->params[0]);
}

static void
agents_key_put(struct req *r)
{
	agents_key_change(r, &agents_agent, r->params[0], true);
}

static void
agents_key_delete(struct req *r)
{
	agents_key_change(r, &agents_agent, r->params[0], false);
}

static void
agents_user_key_get(struct req *r)
{
	agents_key_show(r, &agents_user, r->user_id);
}

static void
agents_user_key_put(struct req *r)
{
	agents_key_change(r, &agents_user, r->user_id, true);
}

static void
agents_user_key_delete(struct req *r)
{
	agents_key_change(r, &agents_user, r->user_id, false);
}

/* The answers of these routes may hold a key: ROUTE_SECRET keeps them out of the
 * Idempotency-Key store. */
const struct route agents_routes[] = {
    {.method = "POST",
     .pattern = "/api/v1/software_agents",
     .flags = ROUTE_AUTH | ROUTE_SECRET,
     .name = "software_agents.create",
     .handle = agents_create},
    {.method = "GET",
     .pattern = "/api/v1/software_agents",
     .flags = ROUTE_AUTH,
     .name = "software_agents.list",
     .handle = agents_list},
    {.method = "GET",
     .pattern = "/api/v1/software_agents/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "software_agents.get",
     .handle = agents_get},
    {.method = "PUT",
     .pattern = "/api/v1/software_agents/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "software_agents.update",
     .handle = agents_update},
    {.method = "DELETE",
     .pattern = "/api/v1/software_agents/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "software_agents.delete",
     .handle = agents_delete},
    {.method = "GET",
     .pattern = "/api/v1/software_agents/:id:uuid/api_key",
     .flags = ROUTE_AUTH,
     .name = "software_agents.api_key.get",
     .handle = agents_key_get},
    {.method = "PUT",
     .pattern = "/api/v1/software_agents/:id:uuid/api_key",
     .flags = ROUTE_AUTH | ROUTE_SECRET,
     .name = "software_agents.api_key.put",
     .handle = agents_key_put},
    {.method = "DELETE",
     .pattern = "/api/v1/software_agents/:id:uuid/api_key",
     .flags = ROUTE_AUTH,
     .name = "software_agents.api_key.delete",
     .handle = agents_key_delete},
    {.method = "GET",
     .pattern = "/api/v1/current_user/api_key",
     .flags = ROUTE_AUTH,
     .name = "current_user.api_key.get",
     .handle = agents_user_key_get},
    {.method = "PUT",
     .pattern = "/api/v1/current_user/api_key",
     .flags = ROUTE_AUTH | ROUTE_SECRET,
     .name = "current_user.api_key.put",
     .handle = agents_user_key_put},
    {.method = "DELETE",
     .pattern = "/api/v1/current_user/api_key",
     .flags = ROUTE_AUTH,
     .name = "current_user.api_key.delete",
     .handle = agents_user_key_delete},
    {.method = NULL},
};
