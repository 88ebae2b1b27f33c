/* projects.c: create, list, read, update and delete projects (see API.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "children.h"
#include "config.h"
#include "db.h"
#include "outbox.h"
#include "project_initialize.h"
#include "router.h"
#include "trash.h"
#include "uuid.h"
#include "views.h"
#include "wait.h"

#define PROJECTS_SELECT "SELECT " VIEWS_SQL_PROJECT("p") " FROM projects p"
#define PROJECTS_NCOLS  7 /* the columns of VIEWS_SQL_PROJECT */

/* Answers status with the project id as it is now, or 404 if it is gone. */
static void
projects_answer(struct req *r, int status, const char *id)
{
	http_answer_row(r, status, PROJECTS_SELECT " WHERE p.id = $1", id, "project",
	                views_project);
}

/* Answers a created project: 201 once consistent; while not, waits as Prefer: wait asks
 * (running again when it is), else 202. */
static void
projects_created(struct req *r)
{
	const char *q[] = {r->wait_id};
	PGresult *res = db_exec(r->db, PROJECTS_SELECT " WHERE p.id = $1", 1, q);

	if (res == NULL) {
		http_db_error(r);
		return;
	}
	bool consistent =
	    PQntuples(res) > 0 && db_get_bool(res, 0, PQfnumber(res, "is_consistent"));
	if (PQntuples(res) == 0)
		http_not_found(r, "project");
	else if (consistent || !wait_for(r, r->wait_id, projects_created)) {
		/* 201 only for a client that asked to wait and got the final state. */
		http_json(r, consistent && wait_applied(r) ? 201 : 202, views_project(res, 0, 0));
	}
	PQclear(res);
}

/* Reads the optional "name" (see http_field_name) and "description" (HTTP_MAX_DESCRIPTION);
 * -1 after a 400. */
static int
projects_fields(struct req *r, json_t *body, const char **name, const char **desc)
{
	if (http_field_name(r, body, "name", name) < 0)
		return -1;
	if (http_field_text(r, body, "description", HTTP_MAX_DESCRIPTION, HTTP_TEXT_LINES, desc) <
	    0)
		return -1;
	return 0;
}

/* POST /projects in one statement: the project ($1, name $2, description $3, storage
 * container $4, creator $5), its first member and its project.initialize job ($6 message
 * id, $7 kind). Answers the project's VIEWS_SQL_PROJECT columns from what was inserted. */
/* clang-format off */
static const char projects_create_sql[] =
	"WITH pr AS (INSERT INTO projects (id, name, description, storage_container, created_by) "
	"VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::uuid) RETURNING *), "
	"mem AS (INSERT INTO project_members (project_id, user_id, role)"
	" SELECT id, $5::uuid, 'project_admin' FROM pr), "
	OUTBOX_SQL_CTE("$6::uuid", "$7::text", "pr.id", "pr")
	" SELECT " VIEWS_SQL_PROJECT("pr") " FROM pr";
/* clang-format on */

/* POST /projects {"name", "description"?}: inserts the project, its first member and the
 * project.initialize job in one statement; 202 (or 201 once consistent under Prefer). */
static void
projects_create(struct req *r)
{
	json_t *body = http_body_object(r);
	const char *name = NULL, *desc = NULL;
	char id[UUID_STR_LEN], mid[UUID_STR_LEN];
	PGresult *res;

	if (body == NULL || projects_fields(r, body, &name, &desc) < 0)
		goto out;
	if (name == NULL) {
		http_invalid(r, "name", "is required");
		goto out;
	}
	uuid_generate(id);
	uuid_generate(mid);
	const char *q[] = {id,         name, desc != NULL ? desc : "", id,
	                   r->user_id, mid,  JOB_PROJECT_INITIALIZE};
	if ((res = db_exec(r->db, projects_create_sql, 7, q)) == NULL || PQntuples(res) != 1) {
		PQclear(res);
		http_db_error(r);
		goto out;
	}
	snprintf(r->wait_id, sizeof(r->wait_id), "%s", id);
	/* Not consistent yet: a worker initialises it. Wait as Prefer: wait asks, or 202. */
	if (!wait_for(r, r->wait_id, projects_created))
		http_json(r, 202, views_project(res, 0, 0));
	PQclear(res);
out:
	json_decref(body);
}

/* The caller's ($1) live projects: those they hold a role on that lets them see it. */
#define PROJECTS_MINE                                                                              \
	" FROM projects p JOIN project_members m ON m.project_id = p.id WHERE m.user_id = $1"      \
	" AND NOT p.is_deleted AND " ACCESS_SQL_CAN("p", "$1::uuid", ACCESS_LIT(ACCESS_VIEW))

/* The caller's ($1) live projects with an item in the trash bin (a trash root,
 * docs/api.md "Trash bin"): GET /trashbin/projects. */
#define PROJECTS_TRASHED                                                                           \
	PROJECTS_MINE                                                                              \
	" AND (EXISTS (SELECT 1 FROM folders t WHERE t.project_id = p.id AND " TRASH_SQL_ROOT(     \
	    "t") ") OR EXISTS (SELECT 1 FROM files t WHERE t.project_id = p.id "                   \
	         "AND " TRASH_SQL_ROOT("t") "))"

/* SQL: the bytes of text of a project p (see HTTP_SQL_PAGE_K). */
#define PROJECTS_TEXT_BYTES "octet_length(p.name) + octet_length(p.description)"
/* SQL: the projects `mine` selects, $2 per page asked for (the CTE k). */
#define PROJECTS_LIST_K(mine) HTTP_SQL_PAGE_K(PROJECTS_TEXT_BYTES, mine, "$2")

/* The page (page $3) and count statements of [the projects with trash, else all]. */
static const char *const projects_list_sql[2][2] = {
    {PROJECTS_LIST_K(PROJECTS_MINE) "SELECT " VIEWS_SQL_PROJECT(
         "p") ", " HTTP_SQL_PAGE_COLS PROJECTS_MINE
              " ORDER BY p.created_at, p.id" HTTP_SQL_PAGE_LIMIT("$3"),
     PROJECTS_LIST_K(PROJECTS_MINE) "SELECT total, per FROM k"},
    {PROJECTS_LIST_K(PROJECTS_TRASHED) "SELECT " VIEWS_SQL_PROJECT(
         "p") ", " HTTP_SQL_PAGE_COLS PROJECTS_TRASHED
              " ORDER BY p.created_at, p.id" HTTP_SQL_PAGE_LIMIT("$3"),
     PROJECTS_LIST_K(PROJECTS_TRASHED) "SELECT total, per FROM k"},
};

/* The caller's live projects [with an item in the trash], oldest first, paged (page $3) in
 * pages of at most HTTP_MAX_PAGE_BYTES of text, in one statement. */
static void
projects_list_of(struct req *r, bool trashed)
{
	int64_t page, per_page;
	char lim[24], pg[24];
	PGresult *res;

	if (http_paging_args(r, &page, &per_page, lim, NULL) < 0)
		return;
	snprintf(pg, sizeof(pg), "%lld", (long long)page);
	const char *q[] = {r->user_id, lim, pg};
	res = db_exec(r->db, projects_list_sql[trashed][0], 3, q);
	if (res == NULL)
		http_db_error(r);
	else
		http_answer_page_k(r, res, PROJECTS_NCOLS, views_project,
		                   projects_list_sql[trashed][1], 2, q, page);
}

/* GET /projects. */
static void
projects_list(struct req *r)
{
	projects_list_of(r, false);
}

/* GET /trashbin/projects: the caller's projects that have an item in the trash bin. */
static void
projects_trash_list(struct req *r)
{
	projects_list_of(r, true);
}

static const char projects_get_sql[] =
    ACCESS_SQL_GET("SELECT $1::uuid", "projects x", VIEWS_SQL_PROJECT("x"));

/* GET /projects/{id}: 404 when deleted or unknown, 403 for non-members; one statement. */
static void
projects_get(struct req *r)
{
	access_get(r, projects_get_sql, "project", views_project);
}

/* PUT /projects/{id} {"name"?, "description"?}: 200 with the project. */
static void
projects_update(struct req *r)
{
	struct access_project p;
	json_t *body = NULL;
	const char *name = NULL, *desc = NULL;

	if (access_project(r, r->params[0], ACCESS_UPDATE_PROJECT, &p) != 1)
		return;
	body = http_body_object(r);
	if (body == NULL || projects_fields(r, body, &name, &desc) < 0)
		goto out;
	const char *q[] = {p.id, name, desc, r->user_id};
	if (db_cmd(r->db,
	           "UPDATE projects SET name = COALESCE($2, name),"
	           " description = COALESCE($3, description), updated_at = now(), updated_by = $4"
	           " WHERE id = $1 AND NOT is_deleted",
	           4, q) < 0) {
		http_db_error(r);
		goto out;
	}
	projects_answer(r, 200, p.id);
out:
	json_decref(body);
}

static const char projects_delete_sql[] = ACCESS_SQL_DELETE(
    "SELECT $1::uuid", ACCESS_LIT(ACCESS_DELETE_PROJECT), "projects", VIEWS_SQL_PROJECT("d"));

/* DELETE /projects/{id}: marks it deleted and queues resource.delete in one statement;
 * 202 with the deleted project. */
static void
projects_delete(struct req *r)
{
	access_soft_delete(r, projects_delete_sql, "project", views_project);
}

const struct route projects_routes[] = {
    {.method = "POST",
     .pattern = "/api/v1/projects",
     .flags = ROUTE_AUTH | ROUTE_JOBS,
     .name = "projects.create",
     .handle = projects_create},
    {.method = "GET",
     .pattern = "/api/v1/projects",
     .flags = ROUTE_AUTH,
     .name = "projects.list",
     .handle = projects_list},
    {.method = "GET",
     .pattern = "/api/v1/projects/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "projects.get",
     .handle = projects_get},
    {.method = "PUT",
     .pattern = "/api/v1/projects/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "projects.update",
     .handle = projects_update},
    {.method = "DELETE",
     .pattern = "/api/v1/projects/:id:uuid",
     .flags = ROUTE_AUTH | ROUTE_JOBS,
     .name = "projects.delete",
     .handle = projects_delete},
    {.method = "GET",
     .pattern = "/api/v1/projects/:id:uuid/children",
     .flags = ROUTE_AUTH,
     .name = "projects.children",
     .handle = children_project},
    {.method = "GET",
     .pattern = "/api/v1/projects/:id:uuid/files",
     .flags = ROUTE_AUTH,
     .name = "projects.files",
     .handle = children_project_files},
    {.method = "GET",
     .pattern = "/api/v1/trashbin/projects",
     .flags = ROUTE_AUTH,
     .name = "trashbin.projects",
     .handle = projects_trash_list},
    {.method = NULL},
};
