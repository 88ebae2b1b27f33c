/* projects.c: create, list, read, update and delete projects (see API.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "children.h"
#include "config.h"
#include "db.h"
#include "lifecycle.h"
#include "project_initialize.h"
#include "router.h"
#include "uuid.h"
#include "views.h"
#include "wait.h"

/* Answers status with the project id as it is now, or 404 if it is gone. */
static void
projects_answer(struct req *r, int status, const char *id)
{
	http_answer_row(r, status, SQL_PROJECTS_ONE, id, "project", views_project);
}

/* Answers a created project: 201 once consistent; while not, waits as Prefer: wait asks
 * (running again when it is), else 202. */
static void
projects_created(struct req *r)
{
	const char *q[] = {r->wait_id};
	PGresult *res = db_exec(r->db, SQL_PROJECTS_ONE, q);

	if (res == NULL) {
		http_db_error(r);
		return;
	}
	bool consistent = PQntuples(res) > 0 && db_get_bool(res, 0, PROJECTS_ONE_C_IS_CONSISTENT);
	if (PQntuples(res) == 0)
		http_not_found(r, "project");
	else if (consistent || !wait_for(r, r->wait_id, projects_created)) {
		/* 201 only for a client that asked to wait and got the final state. */
		http_json(r, consistent && wait_applied(r) ? 201 : 202,
		          views_project(res, 0, PROJECTS_ONE_C_ID));
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
	if ((res = db_exec(r->db, SQL_PROJECTS_CREATE, q)) == NULL || PQntuples(res) != 1) {
		PQclear(res);
		http_db_error(r);
		goto out;
	}
	lifecycle_job(r, mid, JOB_PROJECT_INITIALIZE, id);
	snprintf(r->wait_id, sizeof(r->wait_id), "%s", id);
	/* Not consistent yet: a worker initialises it. Wait as Prefer: wait asks, or 202. */
	if (!wait_for(r, r->wait_id, projects_created))
		http_json(r, 202, views_project(res, 0, PROJECTS_CREATE_C_ID));
	PQclear(res);
out:
	json_decref(body);
}

/* The page and count units of [the projects with trash, else all]. */
static const enum sql_unit projects_list_units[2][2] = {
    {SQL_PROJECTS_LIST, SQL_PROJECTS_LIST_COUNT},
    {SQL_PROJECTS_TRASH_LIST, SQL_PROJECTS_TRASH_LIST_COUNT},
};
/* http_answer_page_k reads the project from column 0, total, and per after it, of both. */
_Static_assert(PROJECTS_LIST_C_ID == 0 && PROJECTS_LIST_C_PER == PROJECTS_LIST_C_TOTAL + 1 &&
                   PROJECTS_TRASH_LIST_C_ID == 0 &&
                   HTTP_SAME_COLUMN(PROJECTS_TRASH_LIST_C_TOTAL, PROJECTS_LIST_C_TOTAL) &&
                   HTTP_SAME_COLUMN(PROJECTS_TRASH_LIST_C_PER, PROJECTS_LIST_C_PER),
               "the columns of the two lists");

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
	res = db_exec(r->db, projects_list_units[trashed][0], q);
	if (res == NULL)
		http_db_error(r);
	else
		http_answer_page_k(r, res, PROJECTS_LIST_C_TOTAL, views_project,
		                   projects_list_units[trashed][1], q, page);
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

ACCESS_UNIT_SHAPE(PROJECTS_GET);
ACCESS_UNIT_SHAPE(PROJECTS_DELETE);

/* GET /projects/{id}: 404 when deleted or unknown, 403 for non-members; one statement. */
static void
projects_get(struct req *r)
{
	access_get(r, SQL_PROJECTS_GET, "project", views_project);
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
	if (db_cmd(r->db, SQL_PROJECTS_UPDATE, q) < 0) {
		http_db_error(r);
		goto out;
	}
	projects_answer(r, 200, p.id);
out:
	json_decref(body);
}

/* DELETE /projects/{id}: marks it deleted and queues resource.delete in one statement;
 * 202 with the deleted project. */
static void
projects_delete(struct req *r)
{
	access_soft_delete(r, SQL_PROJECTS_DELETE, "project", views_project);
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
