/* folders.c: create, read and delete folders (see API.md; move and rename: moves.c). */
#include "folders.h"

#include <stdio.h>
#include <string.h>

#include "children.h"
#include "db.h"
#include "outbox.h"
#include "router.h"
#include "uuid.h"
#include "views.h"

int
folders_access(struct req *r, const char *folder_id, const char *perm, struct access_project *p)
{
	return access_check(r, ACCESS_SQL_CHECK(FOLDERS_SQL_LIVE), folder_id, perm, "folder", p);
}

int
folders_read_parent(struct req *r, json_t *body, bool required, bool *is_folder, const char **id)
{
	json_t *parent = NULL;
	const char *kind;
	int rc = http_field_obj(r, body, "parent", &parent);

	if (rc == 0 && required) {
		http_invalid(r, "parent", "is required");
		return -1;
	}
	if (rc <= 0)
		return rc;
	if ((rc = http_field_str(r, parent, "kind", &kind)) <= 0 ||
	    (rc = http_field_str(r, parent, "id", id)) <= 0) {
		if (rc == 0)
			http_invalid(r, "parent", "needs kind and id");
		return -1;
	}
	if (strcmp(kind, "dds-project") != 0 && strcmp(kind, "dds-folder") != 0) {
		http_invalid(r, "parent[kind]", "must be dds-project or dds-folder");
		return -1;
	}
	*is_folder = kind[4] == 'f';
	if (!uuid_valid(*id)) {
		http_not_found(r, *is_folder ? "folder" : "project");
		return -1;
	}
	return 1;
}

void
folders_too_deep(struct req *r)
{
	http_invalid(
	    r, "parent",
	    "folders may be nested at most " FOLDERS_STR(FOLDERS_MAX_DEPTH) " levels deep");
}

/* The depth that the deepest folder below folder $2 (or $2 itself) would have once $2 is
 * moved into folder $1 (NULL: the project root), [counting only live folders]. */
static const char *const folders_depth_sql[2] = {
    "SELECT (SELECT count(*) FROM settle_folder_ancestors($1::uuid)) + 1"
    " + COALESCE((SELECT max(s.depth) FROM settle_folder_subtree(ARRAY[$2::uuid], false) s), 0)",
    "SELECT (SELECT count(*) FROM settle_folder_ancestors($1::uuid)) + 1"
    " + COALESCE((SELECT max(s.depth) FROM settle_folder_subtree(ARRAY[$2::uuid], true) s), 0)",
};

int
folders_depth_ok(struct req *r, const char *target, const char *folder, bool live)
{
	const char *q[] = {target, folder};
	PGresult *res = db_exec(r->db, folders_depth_sql[live], 2, q);
	int rc = 1;

	if (res == NULL) {
		http_db_error(r);
		return -1;
	}
	if (db_get_i64(res, 0, 0) > FOLDERS_MAX_DEPTH) {
		folders_too_deep(r);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

/* POST /folders in one statement: checks the parent ($1: the project, or a live folder,
 * with lookup as for ACCESS_SQL) and the caller ($2), inserts the folder ($3, name $4) under
 * `parent` (SQL: the folder id, or NULL at the project root) unless its depth (SQL) is over
 * FOLDERS_MAX_DEPTH, and answers the verdict, then the folder's VIEWS_SQL_FOLDER columns from
 * what was inserted, then too_deep. */
/* clang-format off */
#define FOLDERS_CREATE_SQL(lookup, parent, depth) \
	"WITH acc AS (" ACCESS_SQL(lookup, ACCESS_LIT(ACCESS_CREATE)) "), " \
	"deep AS (SELECT (" depth ") > " FOLDERS_STR(FOLDERS_MAX_DEPTH) " AS too_deep), " \
	"ins AS (INSERT INTO folders (id, project_id, parent_id, name, created_by)" \
	" SELECT $3::uuid, acc.id, " parent ", $4::text, $2::uuid FROM acc, deep" \
	" WHERE acc.member AND NOT acc.is_deleted AND NOT deep.too_deep RETURNING *)" \
	" SELECT acc.id IS NOT NULL, acc.member, acc.is_deleted, true, " VIEWS_SQL_FOLDER("f") \
	", deep.too_deep FROM (VALUES (1)) one CROSS JOIN deep LEFT JOIN acc ON true" \
	" LEFT JOIN ins f ON true"
/* clang-format on */

static const char folders_create_in_project_sql[] =
    FOLDERS_CREATE_SQL("SELECT $1::uuid", "NULL::uuid", "1");
static const char folders_create_in_folder_sql[] = FOLDERS_CREATE_SQL(
    FOLDERS_SQL_LIVE, "$1::uuid", "SELECT count(*) + 1 FROM settle_folder_ancestors($1::uuid)");

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
	if (folders_read_parent(r, body, true, &is_folder, &parent) < 0)
		goto out;
	uuid_generate(id);
	q[0] = parent;
	q[3] = name;
	res = db_exec(
	    r->db, is_folder ? folders_create_in_folder_sql : folders_create_in_project_sql, 4, q);
	if (res == NULL)
		http_db_error(r);
	else if (access_verdict(r, res, 0, is_folder ? "folder" : "project") != 1)
		; /* answered */
	else if (db_get_bool(res, 0, PQfnumber(res, "too_deep")))
		folders_too_deep(r);
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

static const char folders_delete_sql[] = ACCESS_SQL_DELETE(
    FOLDERS_SQL_LIVE, ACCESS_LIT(ACCESS_DELETE), "folders", VIEWS_SQL_FOLDER("d"));

/* DELETE /folders/{id}: marks it deleted and queues resource.delete (its contents) in one
 * statement; 202 with the deleted folder. */
static void
folders_delete(struct req *r)
{
	access_soft_delete(r, folders_delete_sql, "folder", views_folder);
}

const struct route folders_routes[] = {
    {.method = "POST",
     .pattern = "/api/v1/folders",
     .flags = ROUTE_AUTH,
     .name = "folders.create",
     .handle = folders_create},
    {.method = "GET",
     .pattern = "/api/v1/folders/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "folders.get",
     .handle = folders_get},
    {.method = "DELETE",
     .pattern = "/api/v1/folders/:id:uuid",
     .flags = ROUTE_AUTH | ROUTE_JOBS,
     .name = "folders.delete",
     .handle = folders_delete},
    {.method = "GET",
     .pattern = "/api/v1/folders/:id:uuid/children",
     .flags = ROUTE_AUTH,
     .name = "folders.children",
     .handle = children_folder},
    {.method = NULL},
};
