/* permissions.c: who holds which role on a project (API.md "Users, auth providers, roles and
 * project permissions"): list, read, grant or change, and revoke. A project keeps at least
 * one project_admin. */
#include <stdio.h>
#include <string.h>

#include "access.h"
#include "db.h"
#include "router.h"
#include "views.h"

/* SQL, one column: the dds-project-permission of the project_members row alias m, with its
 * project (alias p), user (alias u) and role (alias a), as JSON text. */
/* clang-format off */
#define PERMISSIONS_SQL_ITEM \
	"json_build_object('kind', 'dds-project-permission', 'project', json_build_object('id'," \
	" p.id, 'name', p.name), 'user', json_build_object('id', u.id, 'username', u.username," \
	" 'full_name', u.full_name), 'auth_role', json_build_object('id', a.id, 'name', a.name," \
	" 'description', a.description))::text"

#define PERMISSIONS_SQL_FROM(m) \
	" FROM " m " JOIN projects p ON p.id = m.project_id JOIN users u ON u.id = m.user_id" \
	" JOIN auth_roles a ON a.id = m.role"

/* The access check of a change: the caller ($2) may manage the project's ($1) permissions;
 * the project row is locked, so that changes of one project's admins run one at a time and
 * each sees the others' result. */
static const char permissions_lock_sql[] =
	ACCESS_SQL_CHECK("SELECT $1::uuid") " FOR UPDATE OF p";

/* PUT in one statement, after permissions_lock_sql: grants user $2 the role $3 on project $1
 * unless that demotes the last project_admin. Columns: the user exists, the role exists, it
 * would demote the last admin, then the permission as written (NULL when not). */
static const char permissions_put_sql[] =
	"WITH usr AS (SELECT id FROM users WHERE id = $2::uuid), "
	"rol AS (SELECT id FROM auth_roles WHERE id = $3::text), "
	"lst AS (SELECT COALESCE((SELECT role FROM project_members WHERE project_id = $1::uuid"
	" AND user_id = $2::uuid) = 'project_admin' AND $3::text <> 'project_admin' AND"
	" (SELECT count(*) FROM project_members WHERE project_id = $1::uuid AND"
	" role = 'project_admin') <= 1, false) AS v), "
	"m AS (INSERT INTO project_members (project_id, user_id, role) SELECT $1::uuid, usr.id,"
	" rol.id FROM usr, rol, lst WHERE NOT lst.v ON CONFLICT (project_id, user_id) DO UPDATE"
	" SET role = EXCLUDED.role RETURNING *) "
	"SELECT EXISTS (SELECT 1 FROM usr), EXISTS (SELECT 1 FROM rol), lst.v, (SELECT "
	PERMISSIONS_SQL_ITEM PERMISSIONS_SQL_FROM("m") ") FROM lst";

/* DELETE in one statement, after permissions_lock_sql: revokes user $2's role on project $1
 * unless they are its last project_admin. Columns: the user exists, they are the last admin. */
static const char permissions_delete_sql[] =
	"WITH usr AS (SELECT id FROM users WHERE id = $2::uuid), "
	"lst AS (SELECT COALESCE((SELECT role FROM project_members WHERE project_id = $1::uuid"
	" AND user_id = $2::uuid) = 'project_admin' AND (SELECT count(*) FROM project_members"
	" WHERE project_id = $1::uuid AND role = 'project_admin') <= 1, false) AS v), "
	"del AS (DELETE FROM project_members m USING lst WHERE m.project_id = $1::uuid AND"
	" m.user_id = $2::uuid AND NOT lst.v RETURNING 1) "
	"SELECT EXISTS (SELECT 1 FROM usr), lst.v, (SELECT count(*) FROM del) FROM lst";
/* clang-format on */

/* A permission from its JSON-text column (PERMISSIONS_SQL_ITEM), its project's name in
 * the safe form (views_safe_names). New reference. */
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
	res = db_exec(r->db,
	              "SELECT " PERMISSIONS_SQL_ITEM ", count(*) OVER ()" PERMISSIONS_SQL_FROM(
	                  "project_members m") " WHERE m.project_id = $1 ORDER BY m.created_at,"
	                                       " u.username LIMIT $2 OFFSET $3",
	              3, q);
	if (res == NULL)
		http_db_error(r);
	else
		http_answer_page(r, res, 1, permissions_item,
		                 "SELECT count(*) FROM project_members WHERE project_id = $1",
		                 r->params[0], page, per_page);
}

/* GET /projects/{id}/permissions/{user_id}: that user's role; 404 when they hold none. */
static void
permissions_get(struct req *r)
{
	const char *q[] = {r->params[0], r->params[1]};

	if (!permissions_view(r))
		return;
	http_answer_result(
	    r, 200,
	    db_exec(r->db,
	            "SELECT " PERMISSIONS_SQL_ITEM PERMISSIONS_SQL_FROM(
	                "project_members m") " WHERE m.project_id = $1 AND m.user_id = $2",
	            2, q),
	    "project permission", permissions_item);
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
	rc = access_check(r, permissions_lock_sql, r->params[0], ACCESS_MANAGE, "project", &p);
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

/* Answers the result of permissions_put_sql (the transaction still open): 200 with the
 * permission, or 404 (user), 400 (role) or 409 (last admin). True when it was written. */
static bool
permissions_put_answer(struct req *r, const PGresult *res)
{
	if (!db_get_bool(res, 0, 0))
		http_not_found(r, "user");
	else if (!db_get_bool(res, 0, 1))
		http_invalid(r, "auth_role[id]", "is not a project role (see GET /auth_roles)");
	else if (db_get_bool(res, 0, 2))
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
	if ((res = db_exec(r->db, permissions_put_sql, 3, q)) == NULL)
		goto fail;
	if (!permissions_put_answer(r, res)) {
		db_rollback(r->db);
		goto out;
	}
	if (db_commit(r->db) < 0)
		goto fail;
	http_json(r, 200, permissions_item(res, 0, 3));
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
	if ((res = db_exec(r->db, permissions_delete_sql, 2, q)) == NULL)
		goto fail;
	if (!db_get_bool(res, 0, 0) || db_get_bool(res, 0, 1)) {
		db_rollback(r->db);
		if (!db_get_bool(res, 0, 0))
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
