/* moves.c: move and rename of files and folders (API.md "Move and rename"), and
 * PUT /folders/{id}, which does both. Everything below a moved folder follows it: parents,
 * ancestors and listings are read from parent_id, never copied. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "access.h"
#include "db.h"
#include "folders.h"
#include "router.h"
#include "views.h"

/* The units of a move, [is folder]: the access check that locks the item's project (the
 * caller needs update_file there; the moves of one project run one at a time, so that no two
 * of them build a cycle together), and the update. */
static const enum sql_unit moves_lock_units[2] = {SQL_MOVES_LOCK_FILE, SQL_MOVES_LOCK_FOLDER};
static const enum sql_unit moves_update_units[2] = {SQL_MOVES_UPDATE_FILE, SQL_MOVES_UPDATE_FOLDER};
/* http_commit_result reads the item's columns from 0. */
_Static_assert(MOVES_UPDATE_FILE_C_ID == 0 && MOVES_UPDATE_FOLDER_C_ID == 0,
               "the item's columns first");

/* What a move or rename asks for. */
struct moves_req {
	bool folder;        /* the item is a folder (else a file) */
	const char *name;   /* new name, or NULL */
	bool moving;        /* a parent was given */
	bool to_folder;     /* ... and it is a folder (else the project) */
	const char *parent; /* ... its id */
	struct access_project p;
};

/* Reads "name" (optional unless need_name) and "parent" (optional unless need_parent) into
 * m. 0, or -1 after answering 400 (or 404 for a malformed parent id). */
static int
moves_read(struct req *r, json_t *body, bool need_name, bool need_parent, struct moves_req *m)
{
	int rc = http_field_name(r, body, "name", &m->name);

	if (rc < 0)
		return -1;
	if (rc == 0 && need_name) {
		http_invalid(r, "name", "is required");
		return -1;
	}
	if ((rc = folders_read_parent(r, body, need_parent, &m->to_folder, &m->parent)) < 0)
		return -1;
	m->moving = rc == 1;
	return 0;
}

/* Answers a target in another project: 400 when the caller may see that project, else as
 * access_project does for it (403, or 404 when it does not exist). -1 on a database error. */
static int
moves_other_project(struct req *r, const char *project_id)
{
	struct access_project other;
	int rc = access_project(r, project_id, ACCESS_VIEW, &other);

	if (rc == 1)
		http_invalid(r, "parent", "must be in the same project");
	return rc < 0 ? -1 : 0;
}

/* In the open transaction, with the project locked: 1 when m's new parent is a live
 * folder or the root of the item's own project and, for a folder, not in its own subtree;
 * else 0 after answering 404, 403 or 400; -1 after answering a database error. */
static int
moves_target_ok(struct req *r, const struct moves_req *m)
{
	const char *q[] = {m->parent, r->params[0]};
	PGresult *res;
	int rc = 0;

	if (!m->to_folder)
		return strcasecmp(m->parent, m->p.id) == 0 ? 1 : moves_other_project(r, m->parent);
	if ((res = db_exec(r->db, SQL_MOVES_TARGET, q)) == NULL) {
		http_db_error(r);
		return -1;
	}
	if (PQntuples(res) == 0 || db_get_bool(res, 0, MOVES_TARGET_C_DELETED))
		http_not_found(r, "folder");
	else if (strcmp(db_get(res, 0, MOVES_TARGET_C_PROJECT_ID), m->p.id) != 0)
		rc = moves_other_project(r, db_get(res, 0, MOVES_TARGET_C_PROJECT_ID));
	else if (m->folder && db_get_bool(res, 0, MOVES_TARGET_C_OWN_SUBTREE))
		http_invalid(r, "parent", "a folder cannot be moved into itself or its subfolders");
	else
		rc = 1;
	PQclear(res);
	return rc;
}

/* Checks, moves and renames in one transaction, then answers 200 with the item. */
static void
moves_run(struct req *r, struct moves_req *m)
{
	const char *what = m->folder ? "folder" : "file";
	int rc;

	if (db_begin(r->db) < 0)
		goto fail;
	rc = access_check(r, moves_lock_units[m->folder], r->params[0], ACCESS_UPDATE, what, &m->p);
	if (rc == 1 && m->moving)
		rc = moves_target_ok(r, m);
	if (rc == 1 && m->moving && m->folder)
		rc = folders_depth_ok(r, m->to_folder ? m->parent : NULL, r->params[0], true);
	if (rc != 1)
		goto answered; /* access_check and moves_target_ok answer their errors */
	const char *q[] = {r->params[0], m->name, m->moving ? "t" : "f",
	                   m->moving && m->to_folder ? m->parent : NULL, r->user_id};
	http_commit_result(r, 200, db_exec(r->db, moves_update_units[m->folder], q), what,
	                   m->folder ? views_folder : views_file);
	return;
fail:
	http_db_error(r);
answered:
	db_rollback(r->db);
}

/* Reads the body and runs the move or rename of a file or folder. */
static void
moves_handle(struct req *r, bool folder, bool need_name, bool need_parent)
{
	struct moves_req m = {.folder = folder};
	json_t *body = http_body_object(r);

	if (body != NULL && moves_read(r, body, need_name, need_parent, &m) == 0)
		moves_run(r, &m);
	json_decref(body);
}

/* PUT /files/{id}/move {"parent": {"kind", "id"}}. */
static void
moves_file_move(struct req *r)
{
	moves_handle(r, false, false, true);
}

/* PUT /files/{id}/rename {"name"}. */
static void
moves_file_rename(struct req *r)
{
	moves_handle(r, false, true, false);
}

/* PUT /folders/{id}/move {"parent": {"kind", "id"}}. */
static void
moves_folder_move(struct req *r)
{
	moves_handle(r, true, false, true);
}

/* PUT /folders/{id}/rename {"name"}. */
static void
moves_folder_rename(struct req *r)
{
	moves_handle(r, true, true, false);
}

/* PUT /folders/{id} {"name"?, "parent"?}: renames and/or moves. */
static void
moves_folder_update(struct req *r)
{
	moves_handle(r, true, false, false);
}

const struct route moves_routes[] = {
    {.method = "PUT",
     .pattern = "/api/v1/files/:id:uuid/move",
     .flags = ROUTE_AUTH,
     .name = "files.move",
     .handle = moves_file_move},
    {.method = "PUT",
     .pattern = "/api/v1/files/:id:uuid/rename",
     .flags = ROUTE_AUTH,
     .name = "files.rename",
     .handle = moves_file_rename},
    {.method = "PUT",
     .pattern = "/api/v1/folders/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "folders.update",
     .handle = moves_folder_update},
    {.method = "PUT",
     .pattern = "/api/v1/folders/:id:uuid/move",
     .flags = ROUTE_AUTH,
     .name = "folders.move",
     .handle = moves_folder_move},
    {.method = "PUT",
     .pattern = "/api/v1/folders/:id:uuid/rename",
     .flags = ROUTE_AUTH,
     .name = "folders.rename",
     .handle = moves_folder_rename},
    {.method = NULL},
};
