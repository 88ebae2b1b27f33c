/* users.c: the people of API.md "Users, auth providers, roles and project permissions": the
 * current user, the user directory, its one auth provider and the affiliates it knows (the
 * same users, by username), and the project roles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "router.h"
#include "views.h"

/* A JSON-text column as the item of a page. */
static json_t *
users_item(const PGresult *res, int row, int col)
{
	return views_json_col(res, row, col);
}

/* Answers one page of unit u (users_list or users_affiliates, total in column total_col)
 * with the filters of the query string. */
static void
users_page(struct req *r, enum sql_unit u, int total_col)
{
	int64_t page, per_page;
	char lim[24], off[24];
	PGresult *res;

	if (http_paging_args(r, &page, &per_page, lim, off) < 0)
		return;
	const char *q[] = {http_query(r, "username"),
	                   http_query(r, "email"),
	                   http_query(r, "first_name_begins_with"),
	                   http_query(r, "last_name_begins_with"),
	                   http_query(r, "full_name_contains"),
	                   lim,
	                   off};
	for (size_t i = 0; i < 5; i++) {
		if (q[i] != NULL && !http_utf8(q[i])) {
			http_invalid(r, "query", "must be UTF-8 text");
			return;
		}
	}
	if ((res = db_exec(r->db, u, q)) == NULL)
		http_db_error(r);
	else
		http_answer_page_n(r, res, total_col, users_item, SQL_USERS_DIRECTORY_COUNT, q,
		                   page, per_page);
}

/* Answers 200 with the one JSON-text column that unit u ($1 = key, and $2 = key2 when it
 * takes two) selects, or 404 for what. */
static void
users_one2(struct req *r, enum sql_unit u, const char *key, const char *key2, const char *what)
{
	const char *q[] = {key, key2};

	http_answer_result(r, 200, db_exec(r->db, u, q), what, views_json_col);
}

/* users_one2 with one key. */
static void
users_one(struct req *r, enum sql_unit u, const char *key, const char *what)
{
	users_one2(r, u, key, NULL, what);
}

/* GET /current_user: the caller, full dds-user shape. */
static void
users_current(struct req *r)
{
	users_one2(r, SQL_USERS_CURRENT, r->user_id, r->agent_id, "user");
}

/* PUT /current_user {"email"?}: the caller sets their own email (names_email_problem's
 * rule; absent or null: unchanged), in one statement; 200 with the caller as GET shows
 * them. Another user's email is 409: a lookup by email finds one user (migration 0016). A
 * Settle addition: DDS takes users' emails from its identity providers. */
static void
users_current_update(struct req *r)
{
	json_t *body = http_body_object(r);
	const char *q[3] = {r->user_id, r->agent_id, NULL};
	PGresult *res = NULL;

	if (body == NULL || http_field_email(r, body, "email", &q[2]) < 0)
		goto out;
	res = db_exec(r->db, SQL_USERS_CURRENT_UPDATE, q);
	if (res == NULL && strcmp(db_last_sqlstate(), "23505") == 0)
		http_error(r, 409, "conflict", "another user has that email",
		           "give an email of your own");
	else {
		http_answer_result(r, 200, res, "user", views_json_col);
		res = NULL;
	}
out:
	PQclear(res);
	json_decref(body);
}

/* GET /current_user/usage (docs/api.md "Users, software agents and tokens"), as DDS counts it:
 * project_count, the projects (not deleted) the caller holds a role on; file_count, the
 * files (not deleted) in them; storage_bytes, the size of the uploads the caller created
 * that back versions of those files. */
static void
users_usage(struct req *r)
{
	users_one(r, SQL_USERS_USAGE, r->user_id, "user");
}

/* GET /users: the user directory, filtered as settle_user_directory says (migration 0019),
 * paged. */
static void
users_list(struct req *r)
{
	users_page(r, SQL_USERS_LIST, USERS_LIST_C_TOTAL);
}

/* GET /users/{id}. */
static void
users_get(struct req *r)
{
	users_one(r, SQL_USERS_GET, r->params[0], "user");
}

/* The one auth provider. New reference. */
static json_t *
users_provider(void)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:b,s:b,s:n,s:s,s:{s:n,s:n,s:n,s:n,s:n,s:n}}", "kind",
	                 "dds-auth-provider", "id", VIEWS_AUTH_PROVIDER_ID, "service_id",
	                 VIEWS_AUTH_PROVIDER_SERVICE_ID, "name", VIEWS_AUTH_PROVIDER_NAME,
	                 "is_deprecated", 0, "is_default", 1, "login_initiation_url",
	                 "login_response_type", "api_token", "audit", "created_on", "created_by",
	                 "last_updated_on", "last_updated_by", "deleted_on", "deleted_by");
}

/* GET /auth_providers: a page with the one provider. */
static void
users_providers(struct req *r)
{
	int64_t page, per_page;
	json_t *results = json_array();

	if (http_paging_args(r, &page, &per_page, NULL, NULL) < 0) {
		json_decref(results);
		return;
	}
	if (page == 1)
		json_array_append_new(results, users_provider());
	http_paging_headers(r, page, per_page, 1);
	http_json(r, 200, json_pack("{s:o}", "results", results));
}

/* True when id (a UUID, checked by the router) names the one provider; else answers 404. */
static bool
users_provider_known(struct req *r, const char *id)
{
	if (strcasecmp(id, VIEWS_AUTH_PROVIDER_ID) == 0)
		return true;
	http_not_found(r, "auth provider");
	return false;
}

/* GET /auth_providers/{id}. */
static void
users_provider_get(struct req *r)
{
	if (users_provider_known(r, r->params[0]))
		http_json(r, 200, users_provider());
}

/* GET /auth_providers/{id}/affiliates?username=&email=&full_name_contains=: the users as
 * affiliates, paged. */
static void
users_affiliates(struct req *r)
{
	if (users_provider_known(r, r->params[0]))
		users_page(r, SQL_USERS_AFFILIATES, USERS_AFFILIATES_C_TOTAL);
}

/* GET /auth_providers/{id}/affiliates/{uid}: the affiliate whose username is uid. */
static void
users_affiliate(struct req *r)
{
	if (users_provider_known(r, r->params[0]))
		users_one(r, SQL_USERS_AFFILIATE, r->params[1], "affiliate");
}

/* POST /auth_providers/{id}/affiliates/{uid}/dds_user: the dds-user of that affiliate. Every
 * affiliate of Settle's directory is a user already: 200. */
static void
users_affiliate_user(struct req *r)
{
	if (users_provider_known(r, r->params[0]))
		users_one(r, SQL_USERS_AFFILIATE_USER, r->params[1], "affiliate");
}

/* GET /auth_roles?context=: the project roles (none for another context), paged. */
static void
users_roles(struct req *r)
{
	const char *context = http_query(r, "context");
	int64_t page, per_page;
	char lim[24], off[24];
	PGresult *res;

	if (http_paging_args(r, &page, &per_page, lim, off) < 0)
		return;
	const char *q[] = {context == NULL || strcmp(context, "project") == 0 ? "t" : "f", lim,
	                   off};
	res = db_exec(r->db, SQL_USERS_ROLES, q);
	if (res == NULL)
		http_db_error(r);
	else
		http_answer_page(r, res, USERS_ROLES_C_TOTAL, users_item, SQL_USERS_ROLES_COUNT,
		                 q[0], page, per_page);
}

/* GET /auth_roles/{id}: one role by its id (its name, e.g. file_downloader). */
static void
users_role(struct req *r)
{
	users_one(r, SQL_USERS_ROLE, r->params[0], "auth role");
}

/* Role ids and affiliate uids are names, not UUIDs: their segments are typed text. The auth
 * providers answer
 * without a token, as in DDS (a login page lists them); their affiliates name people and
 * need one. */
const struct route users_routes[] = {
    {.method = "GET",
     .pattern = "/api/v1/current_user",
     .flags = ROUTE_AUTH,
     .name = "users.current",
     .handle = users_current},
    {.method = "PUT",
     .pattern = "/api/v1/current_user",
     .flags = ROUTE_AUTH,
     .name = "users.current_update",
     .handle = users_current_update},
    {.method = "GET",
     .pattern = "/api/v1/current_user/usage",
     .flags = ROUTE_AUTH,
     .name = "users.usage",
     .handle = users_usage},
    {.method = "GET",
     .pattern = "/api/v1/users",
     .flags = ROUTE_AUTH,
     .name = "users.list",
     .handle = users_list},
    {.method = "GET",
     .pattern = "/api/v1/users/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "users.get",
     .handle = users_get},
    {.method = "GET",
     .pattern = "/api/v1/auth_providers",
     .flags = ROUTE_NODB,
     .name = "auth_providers.list",
     .handle = users_providers},
    {.method = "GET",
     .pattern = "/api/v1/auth_providers/:id:uuid",
     .flags = ROUTE_NODB,
     .name = "auth_providers.get",
     .handle = users_provider_get},
    {.method = "GET",
     .pattern = "/api/v1/auth_providers/:id:uuid/affiliates",
     .flags = ROUTE_AUTH,
     .name = "affiliates.list",
     .handle = users_affiliates},
    {.method = "GET",
     .pattern = "/api/v1/auth_providers/:id:uuid/affiliates/:username:text",
     .flags = ROUTE_AUTH,
     .name = "affiliates.get",
     .handle = users_affiliate},
    {.method = "POST",
     .pattern = "/api/v1/auth_providers/:id:uuid/affiliates/:username:text/dds_user",
     .flags = ROUTE_AUTH,
     .name = "affiliates.dds_user",
     .handle = users_affiliate_user},
    {.method = "GET",
     .pattern = "/api/v1/auth_roles",
     .flags = ROUTE_AUTH,
     .name = "auth_roles.list",
     .handle = users_roles},
    {.method = "GET",
     .pattern = "/api/v1/auth_roles/:role:text",
     .flags = ROUTE_AUTH,
     .name = "auth_roles.get",
     .handle = users_role},
    {.method = NULL},
};
