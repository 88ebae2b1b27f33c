/* activities.c: DDS v1 provenance activities (docs/api.md "Provenance"): create, list, get,
 * update and delete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "db.h"
#include "provenance.h"
#include "router.h"
#include "uuid.h"
#include "views.h"

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

/* Columns of the activity writes (activities_create_sql and activities_update_sql). */
enum {
	ACTIVITIES_AW_FOUND,    /* the activity exists and is not deleted */
	ACTIVITIES_AW_OWNER,    /* the caller created it */
	ACTIVITIES_AW_STARTED,  /* started_on was absent or a timestamp (settle_parse_ts) */
	ACTIVITIES_AW_ENDED,    /* ended_on likewise */
	ACTIVITIES_AW_ORDERED,  /* started_on <= ended_on where both are set */
	ACTIVITIES_AW_ACTIVITY, /* the activity as written (JSON text), NULL when not */
};

/* clang-format off */
/* Checks of the dates $3 started_on and $4 ended_on (text) of an activity write, over the
 * activity's dates before (CTE old: started_on, ended_on; none for a create). */
#define ACTIVITIES_SQL_DATES \
	"t AS (SELECT settle_parse_ts($3::text) AS s, settle_parse_ts($4::text) AS e), " \
	"chk AS (SELECT ($3::text IS NULL OR t.s IS NOT NULL) AS s_ok," \
	" ($4::text IS NULL OR t.e IS NOT NULL) AS e_ok, " \
	" COALESCE(COALESCE(t.s, old.started_on) <= COALESCE(t.e, old.ended_on), true) AS ordered" \
	" FROM t LEFT JOIN old ON true)"

/* POST /activities: $1 id, $2 name, $3 started_on, $4 ended_on, $5 description, $6 caller.
 * started_on defaults to now (DDS). */
static const char activities_create_sql[] =
	"WITH old AS (SELECT NULL::timestamptz AS started_on, NULL::timestamptz AS ended_on), "
	ACTIVITIES_SQL_DATES ", "
	"ins AS (INSERT INTO activities (id, name, description, started_on, ended_on, created_by)"
	" SELECT $1::uuid, $2::text, $5::text, COALESCE(t.s, now()), t.e, $6::uuid FROM t, chk"
	" WHERE chk.s_ok AND chk.e_ok AND chk.ordered RETURNING *) "
	"SELECT true, true, chk.s_ok, chk.e_ok, chk.ordered, (SELECT "
	PROVENANCE_SQL_ACTIVITY_OBJ("ins") "::text FROM ins) FROM chk";

/* PUT /activities/{id}: $1 id, $2 name, $3 started_on, $4 ended_on, $5 description, $6
 * caller; a NULL leaves the field as it is. Only the activity's creator updates it. */
static const char activities_update_sql[] =
	"WITH old AS (SELECT * FROM activities WHERE id = $1::uuid AND NOT is_deleted FOR UPDATE), "
	ACTIVITIES_SQL_DATES ", "
	"upd AS (UPDATE activities x SET name = COALESCE($2::text, x.name),"
	" description = COALESCE($5::text, x.description), started_on = COALESCE(t.s,"
	" x.started_on), ended_on = COALESCE(t.e, x.ended_on), updated_at = now(),"
	" updated_by = $6::uuid FROM old, t, chk WHERE x.id = old.id AND old.created_by = $6::uuid"
	" AND chk.s_ok AND chk.e_ok AND chk.ordered RETURNING x.*) "
	"SELECT old.id IS NOT NULL, old.created_by = $6::uuid, chk.s_ok, chk.e_ok, chk.ordered,"
	" (SELECT " PROVENANCE_SQL_ACTIVITY_OBJ("upd") "::text FROM upd)"
	" FROM chk LEFT JOIN old ON true";
/* clang-format on */

/* Answers an activity write (status on success) from its statement's result: 404, 403 for
 * another's activity, 400 for a bad or misordered date. Takes res. */
static void
activities_answer(struct req *r, PGresult *res, int status)
{
	if (res == NULL)
		http_db_error(r);
	else if (!db_get_bool(res, 0, ACTIVITIES_AW_FOUND))
		http_not_found(r, "activity");
	else if (!db_get_bool(res, 0, ACTIVITIES_AW_OWNER))
		http_forbidden(r);
	else if (!db_get_bool(res, 0, ACTIVITIES_AW_STARTED))
		http_invalid(r, "started_on", "must be an ISO 8601 date or date and time");
	else if (!db_get_bool(res, 0, ACTIVITIES_AW_ENDED))
		http_invalid(r, "ended_on", "must be an ISO 8601 date or date and time");
	else if (!db_get_bool(res, 0, ACTIVITIES_AW_ORDERED))
		http_invalid(r, "ended_on", "must be at or after started_on");
	else
		http_json(r, status, provenance_obj(res, 0, ACTIVITIES_AW_ACTIVITY));
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
		activities_answer(r, db_exec(r->db, activities_create_sql, 6, q), 201);
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
		activities_answer(r, db_exec(r->db, activities_update_sql, 6, q), 200);
	}
	json_decref(body);
}

/* clang-format off */
/* SQL: the activities the caller ($1) sees and that are not deleted (DDS's policy scope). */
#define ACTIVITIES_MINE \
	" FROM activities a WHERE NOT a.is_deleted AND " PROVENANCE_SQL_ACTIVITY_SEES("a", "$1::uuid")
#define ACTIVITIES_BYTES "octet_length(a.name) + COALESCE(octet_length(a.description), 0)"
#define ACTIVITIES_K \
	HTTP_SQL_PAGE_K(ACTIVITIES_BYTES, ACTIVITIES_MINE, "$2")
/* clang-format on */

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
	PGresult *res = db_exec(r->db,
	                        ACTIVITIES_K "SELECT " PROVENANCE_SQL_ACTIVITY_OBJ(
	                            "a") "::text, " HTTP_SQL_PAGE_COLS ACTIVITIES_MINE
	                                 " ORDER BY a.created_at, a.id" HTTP_SQL_PAGE_LIMIT("$3"),
	                        3, q);
	if (res == NULL)
		http_db_error(r);
	else
		http_answer_page_k(r, res, 1, provenance_obj,
		                   ACTIVITIES_K "SELECT total, per FROM k", 2, q, page);
}

/* GET /activities/{id}: its creator and whoever sees a file version it is related to. */
static void
activities_get(struct req *r)
{
	provenance_get(
	    r,
	    "SELECT a.id IS NOT NULL, " PROVENANCE_SQL_ACTIVITY_SEES(
	        "a", "$2::uuid") ", " PROVENANCE_SQL_ACTIVITY_OBJ("a") "::text FROM"
	                                                               " (VALUES (1)) one LEFT "
	                                                               "JOIN activities a ON"
	                                                               " a.id = $1::uuid",
	    "activity");
}

/* DELETE /activities/{id}: 204; only its creator may. Its relations stay (DDS). */
static void
activities_delete(struct req *r)
{
	provenance_soft_delete(r, PROVENANCE_SQL_SOFT_DELETE("activities"), "activity");
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
