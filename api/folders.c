/* folders.c: create, read, move/rename and delete folders (see API.md). */
#include "folders.h"

#include <stdio.h>
#include <string.h>

#include "children.h"
#include "db.h"
#include "outbox.h"
#include "router.h"
#include "uuid.h"
#include "views.h"

#define FOLDERS_SELECT "SELECT " VIEWS_SQL_FOLDER("f") " FROM folders f"

int
folders_access(struct req *r, const char *folder_id, struct access_project *p)
{
	int rc = access_check(r, ACCESS_SQL(FOLDERS_SQL_LIVE), folder_id, "folder", p);

	if (rc == 1 && p->is_deleted) {
		http_not_found(r, "folder");
		return 0;
	}
	return rc;
}

/* Reads body["parent"] = {"kind", "id"}: 1 with *is_folder and *id set, 0 when there is
 * no "parent" (nothing answered), -1 after answering 400 (bad shape or kind) or 404 (a
 * malformed id). */
static int
folders_read_parent(struct req *r, json_t *body, bool *is_folder, const char **id)
{
	json_t *parent = NULL;
	const char *kind;
	int rc = http_field_obj(r, body, "parent", &parent);

	if (rc <= 0)
		return rc;
	if ((rc = http_field_str(r, parent, "kind", &kind)) <= 0 ||
	    (rc = http_field_str(r, parent, "id", id)) <= 0) {
		if (rc == 0)
			http_invalid(r, "parent", "needs kind and id");
		return -1;
	}
	if (strcmp(kind, "dds-project") != 0 && strcmp(kind, "dds-folder") != 0) {
		http_invalid(r, "parent.kind", "must be dds-project or dds-folder");
		return -1;
	}
	*is_folder = kind[4] == 'f';
	if (!uuid_valid(*id)) {
		http_not_found(r, *is_folder ? "folder" : "project");
		return -1;
	}
	return 1;
}

int
folders_parent(struct req *r, json_t *body, struct access_project *p, char parent_id[37])
{
	const char *id;
	bool is_folder;
	int rc = folders_read_parent(r, body, &is_folder, &id);

	if (rc <= 0)
		return rc;
	if (!is_folder) {
		parent_id[0] = '\0';
		rc = access_project(r, id, p);
	} else {
		snprintf(parent_id, 37, "%s", id);
		rc = folders_access(r, id, p);
	}
	return rc == 1 ? 1 : -1;
}

/* Answers status with folder id as it is now. */
static void
folders_answer(struct req *r, int status, const char *id)
{
	http_answer_row(r, status, FOLDERS_SELECT " WHERE f.id = $1", id, "folder", views_folder);
}

/* POST /folders in one statement: checks the parent ($1: the project, or a live folder,
 * with lookup as for ACCESS_SQL) and the caller ($2), inserts the folder ($3, name $4) under
 * `parent` (SQL: the folder id, or NULL at the project root) and answers the verdict, then
 * the folder's VIEWS_SQL_FOLDER columns from what was inserted. */
/* clang-format off */
#define FOLDERS_CREATE_SQL(lookup, parent) \
	"WITH acc AS (" ACCESS_SQL(lookup) "), " \
	"ins AS (INSERT INTO folders (id, project_id, parent_id, name, created_by)" \
	" SELECT $3::uuid, acc.id, " parent ", $4::text, $2::uuid FROM acc" \
	" WHERE acc.member AND NOT acc.is_deleted RETURNING *)" \
	" SELECT acc.id IS NOT NULL, acc.member, acc.is_deleted, true, " VIEWS_SQL_FOLDER("f") \
	" FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN ins f ON true"
/* clang-format on */

static const char folders_create_in_project_sql[] =
    FOLDERS_CREATE_SQL("SELECT $1::uuid", "NULL::uuid");
static const char folders_create_in_folder_sql[] = FOLDERS_CREATE_SQL(FOLDERS_SQL_LIVE, "$1::uuid");

/* POST /folders {"name", "parent": {"kind", "id"}}: 201 with the folder. One statement
 * checks the parent and the caller and inserts. */
static void
folders_create(struct req *r)
{
	json_t *body = http_body_object(r);
	const char *name = NULL, *parent = NULL;
	char id[UUID_STR_LEN];
	const char *q[] = {NULL, r->user_id, id, NULL};
	bool is_folder = false;
	PGresult *res = NULL;
	int rc;

	if (body == NULL || (rc = http_field_name(r, body, "name", &name)) < 0)
		goto out;
	if (rc == 0) {
		http_invalid(r, "name", "is required");
		goto out;
	}
	if ((rc = folders_read_parent(r, body, &is_folder, &parent)) <= 0) {
		if (rc == 0)
			http_invalid(r, "parent", "is required");
		goto out;
	}
	uuid_generate(id);
	q[0] = parent;
	q[3] = name;
	res = db_exec(
	    r->db, is_folder ? folders_create_in_folder_sql : folders_create_in_project_sql, 4, q);
	if (res == NULL)
		http_db_error(r);
	else if (access_verdict(r, res, 0, is_folder ? "folder" : "project") != 1)
		; /* answered */
	else if (db_get(res, 0, ACCESS_VERDICT_NCOLS) == NULL)
		http_db_error(r);
	else
		http_json(r, 201, views_folder(res, 0, ACCESS_VERDICT_NCOLS));
out:
	PQclear(res);
	json_decref(body);
}

static const char folders_get_sql[] =
    ACCESS_SQL_GET(FOLDERS_SQL_LIVE, "folders x", VIEWS_SQL_FOLDER("x"));

/* GET /folders/{id}: one statement. */
static void
folders_get(struct req *r)
{
	access_get(r, folders_get_sql, "folder", views_folder);
}

/* In the open transaction: 1 when moving folder id under parent (a folder id, or "" for
 * the project root of project) is allowed, 0 after answering 400, -1 on a database error.
 * Locks the project row so that concurrent moves cannot build a cycle together. */
static int
folders_move_ok(struct req *r, const char *id, const char *project, const char *target_project,
                const char *parent)
{
	const char *lock[] = {project};
	const char *q[] = {parent, id};
	PGresult *res;
	int rc;

	if (strcmp(project, target_project) != 0) {
		http_invalid(r, "parent", "must be in the folder's project");
		return 0;
	}
	if (db_cmd(r->db, "SELECT 1 FROM projects WHERE id = $1 FOR UPDATE", 1, lock) < 0)
		return -1;
	if (parent[0] == '\0')
		return 1;
	res = db_exec(r->db,
	              "WITH RECURSIVE up(id, parent_id, depth) AS (SELECT id, parent_id, 0"
	              " FROM folders WHERE id = $1 UNION ALL SELECT f.id, f.parent_id, up.depth + 1"
	              " FROM folders f JOIN up ON f.id = up.parent_id WHERE up.depth < 1000)"
	              " SELECT 1 FROM up WHERE id = $2",
	              2, q);
	if (res == NULL)
		return -1;
	rc = PQntuples(res) == 0;
	PQclear(res);
	if (!rc)
		http_invalid(r, "parent", "a folder cannot be moved into itself or its subfolders");
	return rc;
}

/* PUT /folders/{id} {"name"?, "parent"?}: renames and/or moves; 200 with the folder. */
static void
folders_update(struct req *r)
{
	struct access_project p, target;
	json_t *body = NULL;
	const char *name = NULL;
	char parent[37] = "";
	int moving = 0, ok;

	if (folders_access(r, r->params[0], &p) != 1)
		return;
	body = http_body_object(r);
	if (body == NULL || http_field_name(r, body, "name", &name) < 0 ||
	    (moving = folders_parent(r, body, &target, parent)) < 0)
		goto out;
	const char *q[] = {r->params[0], name, moving ? "true" : "false", parent[0] ? parent : NULL,
	                   r->user_id};
	if (db_begin(r->db) < 0)
		goto fail;
	ok = moving ? folders_move_ok(r, r->params[0], p.id, target.id, parent) : 1;
	if (ok < 0)
		goto fail;
	if (ok == 0) {
		db_rollback(r->db);
		goto out;
	}
	if (db_cmd(r->db,
	           "UPDATE folders SET name = COALESCE($2, name), parent_id = CASE WHEN"
	           " $3::boolean THEN $4::uuid ELSE parent_id END, updated_at = now(),"
	           " updated_by = $5 WHERE id = $1",
	           5, q) < 0 ||
	    db_commit(r->db) < 0)
		goto fail;
	folders_answer(r, 200, r->params[0]);
	goto out;
fail:
	db_rollback(r->db);
	http_db_error(r);
out:
	json_decref(body);
}

static const char folders_delete_sql[] =
    ACCESS_SQL_DELETE(FOLDERS_SQL_LIVE, "folders", VIEWS_SQL_FOLDER("d"));

/* DELETE /folders/{id}: marks it deleted and queues resource.delete (its contents) in one
 * statement; 202 with the deleted folder. */
static void
folders_delete(struct req *r)
{
	access_soft_delete(r, folders_delete_sql, "folder", views_folder);
}

const struct route folders_routes[] = {
    {"POST", "/api/v1/folders", ROUTE_AUTH, "folders.create", folders_create, NULL, NULL, NULL},
    {"GET", "/api/v1/folders/:id", ROUTE_AUTH, "folders.get", folders_get, NULL, NULL, NULL},
    {"PUT", "/api/v1/folders/:id", ROUTE_AUTH, "folders.update", folders_update, NULL, NULL, NULL},
    {"DELETE", "/api/v1/folders/:id", ROUTE_AUTH | ROUTE_JOBS, "folders.delete", folders_delete,
     NULL, NULL, NULL},
    {"GET", "/api/v1/folders/:id/children", ROUTE_AUTH, "folders.children", children_folder, NULL,
     NULL, NULL},
    {NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL},
};
