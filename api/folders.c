/* folders.c: create, read and delete folders (see API.md; move and rename: moves.c). */
#include "folders.h"

#include <stdio.h>
#include <string.h>

#include "children.h"
#include "db.h"
#include "router.h"
#include "uuid.h"
#include "views.h"

int
folders_access(struct req *r, const char *folder_id, const char *perm, struct access_project *p)
{
	return access_check(r, SQL_FOLDERS_ACCESS, folder_id, perm, "folder", p);
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

int
folders_depth_ok(struct req *r, const char *target, const char *folder, bool live)
{
	const char *q[] = {target, folder};
	PGresult *res = db_exec(r->db, live ? SQL_FOLDERS_DEPTH_LIVE : SQL_FOLDERS_DEPTH, q);
	int rc = 1;

	if (res == NULL) {
		http_db_error(r);
		return -1;
	}
	_Static_assert(HTTP_SAME_COLUMN(FOLDERS_DEPTH_C_DEPTH, FOLDERS_DEPTH_LIVE_C_DEPTH),
	               "the same column");
	if (db_get_i64(res, 0, FOLDERS_DEPTH_C_DEPTH) > FOLDERS_MAX_DEPTH) {
		folders_too_deep(r);
		rc = 0;
	}
	PQclear(res);
	return rc;
}

/* The two units of POST /folders return the same columns: folders_create reads them by
 * the names of folders_create_in_project's. */
_Static_assert(
    HTTP_SAME_COLUMN(FOLDERS_CREATE_IN_PROJECT_C_TOO_DEEP, FOLDERS_CREATE_IN_FOLDER_C_TOO_DEEP) &&
        HTTP_SAME_COLUMN(FOLDERS_CREATE_IN_PROJECT_C_ID, FOLDERS_CREATE_IN_FOLDER_C_ID) &&
        HTTP_SAME_COLUMN(FOLDERS_CREATE_IN_PROJECT_C_FOUND, FOLDERS_CREATE_IN_FOLDER_C_FOUND),
    "the columns of the two units");

/* POST /folders {"name", "parent": {"kind", "id"}}: 201 with the folder. One statement
 * (folders_create_in_project or folders_create_in_folder) checks the parent and the caller
 * and inserts, unless the folder would lie deeper than FOLDERS_MAX_DEPTH. */
static void
folders_create(struct req *r)
{
	json_t *body = http_body_object(r);
	const char *name = NULL, *parent = NULL;
	char id[UUID_STR_LEN];
	const char *q[] = {NULL, r->user_id, id, NULL, FOLDERS_STR(FOLDERS_MAX_DEPTH)};
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
	res = db_exec(r->db,
	              is_folder ? SQL_FOLDERS_CREATE_IN_FOLDER : SQL_FOLDERS_CREATE_IN_PROJECT, q);
	if (res == NULL)
		http_db_error(r);
	else if (access_verdict(r, res, FOLDERS_CREATE_IN_PROJECT_C_FOUND,
	                        is_folder ? "folder" : "project") != 1)
		; /* answered */
	else if (db_get_bool(res, 0, FOLDERS_CREATE_IN_PROJECT_C_TOO_DEEP))
		folders_too_deep(r);
	else if (db_get(res, 0, FOLDERS_CREATE_IN_PROJECT_C_ID) == NULL)
		http_db_error(r);
	else
		http_json(r, 201, views_folder(res, 0, FOLDERS_CREATE_IN_PROJECT_C_ID));
out:
	PQclear(res);
	json_decref(body);
}

ACCESS_UNIT_SHAPE(FOLDERS_GET);
ACCESS_UNIT_SHAPE(FOLDERS_DELETE);

/* GET /folders/{id}: one statement. */
static void
folders_get(struct req *r)
{
	access_get(r, SQL_FOLDERS_GET, "folder", views_folder);
}

/* DELETE /folders/{id}: marks it deleted and queues resource.delete (its contents) in one
 * statement; 202 with the deleted folder. */
static void
folders_delete(struct req *r)
{
	access_soft_delete(r, SQL_FOLDERS_DELETE, "folder", views_folder);
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
