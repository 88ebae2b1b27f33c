/* permissions.c: who holds which role on a project (API.md "Users, auth providers, roles and
 * project permissions"): list, read, grant or change, and revoke. A project keeps at least
 * one project_admin. */
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "db.h"
#include "router.h"
#include "views.h"

/* A permission from its JSON-text column (settle_permission, migration 0019), its project's
 * name in the safe form (views_safe_names). New reference. */
static json_t *
permissions_item(const PGresult *res, int row, int col)
{
	json_t *item = views_json_col(res, row, col);

	views_safe_names(item);
	return item;
}

/* Checks the caller may view project r->params[0]; 1 allowed, else answered. */
static int
permissions_view(struct req *r)
{
	struct access_project p;
	int rc = access_project(r, r->params[0], ACCESS_VIEW, &p);

	return rc == 1 ? 1 : 0;
}

/* GET /projects/{id}/permissions: every role held on the project, paged. */
static void
permissions_list(struct req *r)
{
	int64_t page, per_page;
	char lim[24], off[24];
	const char *q[] = {r->params[0], lim, off};
	PGresult *res;

	if (http_paging_args(r, &page, &per_page, lim, off) < 0 || !permissions_view(r))
		return;
	res = db_exec(r->db, SQL_PERMISSIONS_LIST, q);
	if (res == NULL)
		http_db_error(r);
	else
		http_answer_page(r, res, PERMISSIONS_LIST_C_TOTAL, permissions_item,
		                 SQL_PERMISSIONS_COUNT, r->params[0], page, per_page);
}

/* GET /projects/{id}/permissions/{user_id}: that user's role; 404 when they hold none. */
static void
permissions_get(struct req *r)
{
	const char *q[] = {r->params[0], r->params[1]};

	if (!permissions_view(r))
		return;
	http_answer_result(r, 200, db_exec(r->db, SQL_PERMISSIONS_GET, q), "project permission",
	                   permissions_item);
}

/* Opens a transaction and checks, with the project row locked, that the caller may manage
 * its permissions. 1 allowed (transaction open); else answered and rolled back. */
static int
permissions_begin(struct req *r)
{
	struct access_project p;
	int rc;

	if (db_begin(r->db) < 0) {
		http_db_error(r);
		return 0;
	}
	rc = access_check(r, SQL_PERMISSIONS_LOCK, r->params[0], ACCESS_MANAGE, "project", &p);
	if (rc != 1)
		db_rollback(r->db);
	return rc == 1;
}

/* Reads the role id of a PUT body, {"auth_role": {"id"}} (JSON or form auth_role[id]=).
 * 1, or 0 after answering 400. */
static int
permissions_read_role(struct req *r, json_t *body, const char **role)
{
	json_t *ar = NULL;
	int rc = http_field_obj(r, body, "auth_role", &ar);

	if (rc > 0)
		rc = http_field_str(r, ar, "id", role);
	if (rc == 0)
		http_invalid(r, "auth_role[id]", "is required");
	return rc > 0;
}

/* Answers the result of unit permissions_put (the transaction still open): 200 with the
 * permission, or 404 (user), 400 (role) or 409 (last admin). True when it was written. */
static bool
permissions_put_answer(struct req *r, const PGresult *res)
{
	if (!db_get_bool(res, 0, PERMISSIONS_PUT_C_USER_FOUND))
		http_not_found(r, "user");
	else if (!db_get_bool(res, 0, PERMISSIONS_PUT_C_ROLE_FOUND))
		http_invalid(r, "auth_role[id]", "is not a project role (see GET /auth_roles)");
	else if (db_get_bool(res, 0, PERMISSIONS_PUT_C_LAST_ADMIN))
		http_error(r, 409, "conflict", "the project would have no project_admin left",
		           "make another user project_admin first");
	else
		return true;
	return false;
}

/* PUT /projects/{id}/permissions/{user_id} {"auth_role": {"id"}}: grants or changes that
 * user's role; 200 with the permission. */
static void
permissions_put(struct req *r)
{
	json_t *body = http_body_object(r);
	const char *role = NULL;
	PGresult *res = NULL;

	if (body == NULL || !permissions_read_role(r, body, &role) || !permissions_begin(r))
		goto out;
	const char *q[] = {r->params[0], r->params[1], role};
	if ((res = db_exec(r->db, SQL_PERMISSIONS_PUT, q)) == NULL)
		goto fail;
	if (!permissions_put_answer(r, res)) {
		db_rollback(r->db);
		goto out;
	}
	if (db_commit(r->db) < 0)
		goto fail;
	http_json(r, 200, permissions_item(res, 0, PERMISSIONS_PUT_C_PERMISSION));
	goto out;
fail:
	db_rollback(r->db);
	http_db_error(r);
out:
	PQclear(res);
	json_decref(body);
}

/* DELETE /projects/{id}/permissions/{user_id}: revokes that user's role; 204 (also when they
 * held none: safe to repeat), 404 for an unknown user, 409 for the last project_admin. */
static void
permissions_delete(struct req *r)
{
	const char *q[] = {r->params[0], r->params[1]};
	PGresult *res = NULL;

	if (!permissions_begin(r))
		return;
	if ((res = db_exec(r->db, SQL_PERMISSIONS_DELETE, q)) == NULL)
		goto fail;
	if (!db_get_bool(res, 0, PERMISSIONS_DELETE_C_USER_FOUND) ||
	    db_get_bool(res, 0, PERMISSIONS_DELETE_C_LAST_ADMIN)) {
		db_rollback(r->db);
		if (!db_get_bool(res, 0, PERMISSIONS_DELETE_C_USER_FOUND))
			http_not_found(r, "user");
		else
			http_error(r, 409, "conflict",
			           "the project would have no project_admin left",
			           "make another user project_admin first");
		goto out;
	}
	if (db_commit(r->db) < 0)
		goto fail;
	http_raw(r, 204, MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
	goto out;
fail:
	db_rollback(r->db);
	http_db_error(r);
out:
	PQclear(res);
}

const struct route permissions_routes[] = {
    {.method = "GET",
     .pattern = "/api/v1/projects/:id:uuid/permissions",
     .flags = ROUTE_AUTH,
     .name = "permissions.list",
     .handle = permissions_list},
    {.method = "GET",
     .pattern = "/api/v1/projects/:id:uuid/permissions/:user_id:uuid",
     .flags = ROUTE_AUTH,
     .name = "permissions.get",
     .handle = permissions_get},
    {.method = "PUT",
     .pattern = "/api/v1/projects/:id:uuid/permissions/:user_id:uuid",
     .flags = ROUTE_AUTH | ROUTE_PERMISSIONS,
     .name = "permissions.put",
     .handle = permissions_put},
    {.method = "DELETE",
     .pattern = "/api/v1/projects/:id:uuid/permissions/:user_id:uuid",
     .flags = ROUTE_AUTH | ROUTE_PERMISSIONS,
     .name = "permissions.delete",
     .handle = permissions_delete},
    {.method = NULL},
};
