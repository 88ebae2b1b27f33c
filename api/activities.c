/* activities.c: DDS v1 provenance activities (docs/api.md "Provenance"): create, list, get,
 * update and delete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "provenance.h"
#include "router.h"
#include "uuid.h"

/* The fields of an activity a client sets; NULL where not given. Borrowed from the body. */
struct activities_fields {
	const char *name, *description, *started_on, *ended_on;
};

/* Reads the activity fields of body; name is required when `create`. 0, or -1 after
 * answering 400. */
static int
activities_fields(struct req *r, json_t *body, bool create, struct activities_fields *a)
{
	int rc;

	memset(a, 0, sizeof(*a));
	rc = http_field_text(r, body, "name", HTTP_MAX_ACTIVITY_NAME, 0, &a->name);
	if (rc < 0)
		return -1;
	if ((rc == 0 && create) || (rc == 1 && a->name[0] == '\0')) {
		http_invalid(r, "name", "is required (1 byte or more)");
		return -1;
	}
	if (http_field_text(r, body, "description", HTTP_MAX_DESCRIPTION, HTTP_TEXT_LINES,
	                    &a->description) < 0 ||
	    http_field_str(r, body, "started_on", &a->started_on) < 0 ||
	    http_field_str(r, body, "ended_on", &a->ended_on) < 0)
		return -1;
	return 0;
}

/* activities_answer reads both writes by activities_update's columns. */
_Static_assert(PROVENANCE_COL_EQ(ACTIVITIES_CREATE_C_FOUND, ACTIVITIES_UPDATE_C_FOUND) &&
                   PROVENANCE_COL_EQ(ACTIVITIES_CREATE_C_OWNER, ACTIVITIES_UPDATE_C_OWNER) &&
                   PROVENANCE_COL_EQ(ACTIVITIES_CREATE_C_STARTED_OK,
                                     ACTIVITIES_UPDATE_C_STARTED_OK) &&
                   PROVENANCE_COL_EQ(ACTIVITIES_CREATE_C_ENDED_OK, ACTIVITIES_UPDATE_C_ENDED_OK) &&
                   PROVENANCE_COL_EQ(ACTIVITIES_CREATE_C_ORDERED, ACTIVITIES_UPDATE_C_ORDERED) &&
                   PROVENANCE_COL_EQ(ACTIVITIES_CREATE_C_ACTIVITY, ACTIVITIES_UPDATE_C_ACTIVITY),
               "activities_create answers the columns of activities_update");

/* Answers an activity write (status on success) from the result of activities_create or
 * activities_update: 404, 403 for another's activity, 400 for a bad or misordered date.
 * Takes res. */
static void
activities_answer(struct req *r, PGresult *res, int status)
{
	if (res == NULL)
		http_db_error(r);
	else if (!db_get_bool(res, 0, ACTIVITIES_UPDATE_C_FOUND))
		http_not_found(r, "activity");
	else if (!db_get_bool(res, 0, ACTIVITIES_UPDATE_C_OWNER))
		http_forbidden(r);
	else if (!db_get_bool(res, 0, ACTIVITIES_UPDATE_C_STARTED_OK))
		http_invalid(r, "started_on", "must be an ISO 8601 date or date and time");
	else if (!db_get_bool(res, 0, ACTIVITIES_UPDATE_C_ENDED_OK))
		http_invalid(r, "ended_on", "must be an ISO 8601 date or date and time");
	else if (!db_get_bool(res, 0, ACTIVITIES_UPDATE_C_ORDERED))
		http_invalid(r, "ended_on", "must be at or after started_on");
	else
		http_json(r, status, provenance_obj(res, 0, ACTIVITIES_UPDATE_C_ACTIVITY));
	PQclear(res);
}

/* POST /activities: 201, the activity (consistent at once). */
static void
activities_create(struct req *r)
{
	struct activities_fields a;
	char id[UUID_STR_LEN];
	json_t *body = http_body_object(r);

	if (body == NULL)
		return;
	if (activities_fields(r, body, true, &a) == 0) {
		uuid_generate(id);
		const char *q[] = {id, a.name, a.started_on, a.ended_on, a.description, r->user_id};
		activities_answer(r, db_exec(r->db, SQL_ACTIVITIES_CREATE, q), 201);
	}
	json_decref(body);
}

/* PUT /activities/{id}: 200, the activity; only its creator may. */
static void
activities_update(struct req *r)
{
	struct activities_fields a;
	json_t *body = http_body_object(r);

	if (body == NULL)
		return;
	if (activities_fields(r, body, false, &a) == 0) {
		const char *q[] = {r->params[0], a.name,        a.started_on,
		                   a.ended_on,   a.description, r->user_id};
		activities_answer(r, db_exec(r->db, SQL_ACTIVITIES_UPDATE, q), 200);
	}
	json_decref(body);
}

/* http_answer_page_k builds each item from column 0 and reads per after total. */
_Static_assert(PROVENANCE_COL_EQ(ACTIVITIES_LIST_C_ACTIVITY, 0) &&
                   PROVENANCE_COL_EQ(ACTIVITIES_LIST_C_PER, ACTIVITIES_LIST_C_TOTAL + 1) &&
                   PROVENANCE_COL_EQ(ACTIVITIES_LIST_COUNT_C_TOTAL, 0) &&
                   PROVENANCE_COL_EQ(ACTIVITIES_LIST_COUNT_C_PER, 1),
               "activities_list and activities_list_count answer http_answer_page_k's columns");

/* GET /activities: the activities the caller sees, oldest first, paged in pages of at most
 * HTTP_MAX_PAGE_BYTES of text, in one statement. */
static void
activities_list(struct req *r)
{
	int64_t page, per_page;
	char lim[24], pg[24];

	if (http_paging_args(r, &page, &per_page, lim, NULL) < 0)
		return;
	snprintf(pg, sizeof(pg), "%lld", (long long)page);
	const char *q[] = {r->user_id, lim, pg};
	PGresult *res = db_exec(r->db, SQL_ACTIVITIES_LIST, q);
	if (res == NULL)
		http_db_error(r);
	else
		http_answer_page_k(r, res, ACTIVITIES_LIST_C_TOTAL, provenance_obj,
		                   SQL_ACTIVITIES_LIST_COUNT, q, page);
}

_Static_assert(PROVENANCE_COL_EQ(ACTIVITIES_GET_C_FOUND, PROVENANCE_GET_FOUND) &&
                   PROVENANCE_COL_EQ(ACTIVITIES_GET_C_SEES, PROVENANCE_GET_SEES) &&
                   PROVENANCE_COL_EQ(ACTIVITIES_GET_C_ACTIVITY, PROVENANCE_GET_OBJ),
               "activities_get answers provenance_get's columns");

/* GET /activities/{id}: its creator and whoever sees a file version it is related to. */
static void
activities_get(struct req *r)
{
	provenance_get(r, SQL_ACTIVITIES_GET, "activity");
}

_Static_assert(PROVENANCE_COL_EQ(ACTIVITIES_DELETE_C_FOUND, PROVENANCE_DEL_FOUND) &&
                   PROVENANCE_COL_EQ(ACTIVITIES_DELETE_C_OWNER, PROVENANCE_DEL_OWNER),
               "activities_delete answers provenance_soft_delete's columns");

/* DELETE /activities/{id}: 204; only its creator may. Its relations stay (DDS). */
static void
activities_delete(struct req *r)
{
	provenance_soft_delete(r, SQL_ACTIVITIES_DELETE, "activity");
}

const struct route activities_routes[] = {
    {.method = "POST",
     .pattern = "/api/v1/activities",
     .flags = ROUTE_AUTH,
     .name = "activities.create",
     .handle = activities_create},
    {.method = "GET",
     .pattern = "/api/v1/activities",
     .flags = ROUTE_AUTH,
     .name = "activities.list",
     .handle = activities_list},
    {.method = "GET",
     .pattern = "/api/v1/activities/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "activities.get",
     .handle = activities_get},
    {.method = "PUT",
     .pattern = "/api/v1/activities/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "activities.update",
     .handle = activities_update},
    {.method = "DELETE",
     .pattern = "/api/v1/activities/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "activities.delete",
     .handle = activities_delete},
    {.method = NULL},
};
