/* provenance.c: DDS v1 provenance (docs/api.md "Provenance"): activities, the relations between
 * activities and file versions (used, was_generated_by, was_derived_from,
 * was_invalidated_by) and the provenance graph searches. Everything is answered at once from
 * Postgres (migration 0013); no job runs. Each call is one statement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "db.h"
#include "router.h"
#include "uuid.h"
#include "views.h"

/* docs/api.md "Limits on input": the file versions of one origin search. */
#define PROVENANCE_MAX_ORIGIN_IDS 1000

/* clang-format off */

/* SQL: DDS's direction of the prov_relations row alias r, its "from" and "to" ends (id and
 * kind): used goes from the activity to the file version; was_generated_by and
 * was_invalidated_by from the file version to the activity; was_derived_from from the
 * generated file version (version_id) to the used one (used_version_id). */
#define PROVENANCE_SQL_FROM_ID(r) \
	"(CASE WHEN " r ".kind = 'used' THEN " r ".activity_id ELSE " r ".version_id END)"
#define PROVENANCE_SQL_TO_ID(r) \
	"(CASE WHEN " r ".kind = 'used' THEN " r ".version_id" \
	" ELSE COALESCE(" r ".activity_id, " r ".used_version_id) END)"
#define PROVENANCE_SQL_FROM_KIND(r) \
	"(CASE WHEN " r ".kind = 'used' THEN 'dds-activity' ELSE 'dds-file-version' END)"
#define PROVENANCE_SQL_TO_KIND(r) \
	"(CASE WHEN " r ".kind IN ('was_generated_by', 'was_invalidated_by') THEN 'dds-activity'" \
	" ELSE 'dds-file-version' END)"

/* SQL, one boolean: whether user (a uuid SQL expression) holds perm (an ACCESS_LIT or a text
 * parameter) on the live project of the file version v (a uuid SQL expression). */
#define PROVENANCE_SQL_VERSION_CAN(v, user, perm) \
	"EXISTS (SELECT 1 FROM file_versions cv JOIN files cf ON cf.id = cv.file_id" \
	" JOIN projects p ON p.id = cf.project_id WHERE cv.id = (" v ") AND NOT p.is_deleted" \
	" AND " ACCESS_SQL_CAN("p", user, perm) ")"
#define PROVENANCE_SQL_VERSION_SEES(v, user) \
	PROVENANCE_SQL_VERSION_CAN(v, user, ACCESS_LIT(ACCESS_VIEW))

/* SQL, one boolean: whether user sees the activity row alias a: they created it, or it has a
 * live relation to a file version they may view. */
#define PROVENANCE_SQL_ACTIVITY_SEES(a, user) \
	"(" a ".created_by = " user " OR EXISTS (SELECT 1 FROM prov_relations sr" \
	" WHERE sr.activity_id = " a ".id AND NOT sr.is_deleted AND " \
	PROVENANCE_SQL_VERSION_SEES("sr.version_id", user) "))"

/* SQL, one boolean: whether user sees the prov_relations row alias r: they created it or its
 * activity, or may view a file version at either end. */
#define PROVENANCE_SQL_RELATION_SEES(r, user) \
	"(" r ".created_by = " user " OR " PROVENANCE_SQL_VERSION_SEES(r ".version_id", user) \
	" OR (" r ".used_version_id IS NOT NULL AND " \
	PROVENANCE_SQL_VERSION_SEES(r ".used_version_id", user) ") OR EXISTS (SELECT 1 FROM" \
	" activities sa WHERE sa.id = " r ".activity_id AND sa.created_by = " user "))"

/* SQL, one JSON expression: the dds-activity of the activities row alias a. */
#define PROVENANCE_SQL_ACTIVITY_OBJ(a) \
	"json_build_object('kind', 'dds-activity', 'id', " a ".id, 'name', " a ".name," \
	" 'description', " a ".description, 'started_on', " VIEWS_SQL_TS(a ".started_on") "," \
	" 'ended_on', " VIEWS_SQL_TS(a ".ended_on") ", 'is_deleted', " a ".is_deleted," \
	" 'audit', " VIEWS_SQL_AUDIT(a) "::json)"

/* SQL, one JSON expression: the dds-file-version of a file_versions.id expression, as DDS
 * serialises it inside a relation (file {id, name, project {id}}, upload with its
 * storage provider's name, made its object by provenance_providers), or NULL. */
#define PROVENANCE_SQL_VERSION_OBJ(v) \
	"(SELECT json_build_object('kind', 'dds-file-version', 'id', ov.id, 'version', ov.version," \
	" 'label', ov.label, 'is_deleted', ov.is_deleted OR ovf.is_deleted, 'file'," \
	" json_build_object('id', ovf.id, 'name', ovf.name, 'project', json_build_object('id'," \
	" ovf.project_id)), 'upload', " VIEWS_SQL_UPLOAD_BRIEF("ovu") ", 'audit', " \
	VIEWS_SQL_AUDIT6("ov.created_at", "ov.created_by", "NULL::timestamptz", "NULL::uuid", \
	                 "NULL::timestamptz", "NULL::uuid") "::json)" \
	" FROM file_versions ov JOIN files ovf ON ovf.id = ov.file_id" \
	" JOIN uploads ovu ON ovu.id = ov.upload_id WHERE ov.id = (" v "))"

/* SQL, one JSON expression: an end (kind, id SQL expressions) of a relation. */
#define PROVENANCE_SQL_END_OBJ(kind, id) \
	"(CASE WHEN " kind " = 'dds-activity' THEN (SELECT " PROVENANCE_SQL_ACTIVITY_OBJ("ea") \
	" FROM activities ea WHERE ea.id = " id ") ELSE " PROVENANCE_SQL_VERSION_OBJ(id) " END)"

/* SQL, one JSON expression: the relation of the prov_relations row alias r: kind
 * (dds-relation-used, -was-generated-by, -was-derived-from, -was-invalidated-by), id, audit,
 * from, to. */
#define PROVENANCE_SQL_RELATION_OBJ(r) \
	"json_build_object('kind', 'dds-relation-' || replace(" r ".kind, '_', '-'), 'id', " r ".id," \
	" 'audit', " VIEWS_SQL_AUDIT6(r ".created_at", r ".created_by", "NULL::timestamptz", \
	                              "NULL::uuid", r ".deleted_at", r ".deleted_by") "::json," \
	" 'from', " PROVENANCE_SQL_END_OBJ(PROVENANCE_SQL_FROM_KIND(r), PROVENANCE_SQL_FROM_ID(r)) "," \
	" 'to', " PROVENANCE_SQL_END_OBJ(PROVENANCE_SQL_TO_KIND(r), PROVENANCE_SQL_TO_ID(r)) ")"

/* SQL, one JSON expression: the graph node of the id SQL expression n for user (a uuid SQL
 * expression): {id, labels, properties}, properties being the whole object when the
 * user sees it, else only {kind, id, is_deleted} (DDS's restricted object). */
#define PROVENANCE_SQL_NODE(n, user) \
	"COALESCE((SELECT json_build_object('id', na.id, 'labels', json_build_array('Activity')," \
	" 'properties', CASE WHEN " PROVENANCE_SQL_ACTIVITY_SEES("na", user) " THEN " \
	PROVENANCE_SQL_ACTIVITY_OBJ("na") " ELSE json_build_object('kind', 'dds-activity', 'id'," \
	" na.id, 'is_deleted', na.is_deleted) END) FROM activities na WHERE na.id = " n "), " \
	"(SELECT json_build_object('id', nv.id, 'labels', json_build_array('FileVersion')," \
	" 'properties', CASE WHEN " PROVENANCE_SQL_VERSION_SEES("nv.id", user) " THEN " \
	PROVENANCE_SQL_VERSION_OBJ("nv.id") " ELSE json_build_object('kind', 'dds-file-version'," \
	" 'id', nv.id, 'is_deleted', nv.is_deleted) END) FROM file_versions nv WHERE nv.id = " n "))"

/* SQL, one JSON expression: the graph relationship of the prov_relations row alias e: {id,
 * type (Used, WasGeneratedBy, WasDerivedFrom, WasInvalidatedBy), start_node, end_node,
 * properties (the relation, or null when the user does not see it)}. */
#define PROVENANCE_SQL_EDGE(e, user) \
	"json_build_object('id', " e ".id, 'type', replace(initcap(" e ".kind), '_', '')," \
	" 'start_node', " PROVENANCE_SQL_FROM_ID(e) ", 'end_node', " PROVENANCE_SQL_TO_ID(e) "," \
	" 'properties', CASE WHEN " PROVENANCE_SQL_RELATION_SEES(e, user) " THEN " \
	PROVENANCE_SQL_RELATION_OBJ(e) " END)"

/* SQL, one column: the graph {nodes, relationships} of the CTEs gn (column id: the nodes)
 * and ge (prov_relations rows: the relationships), as JSON text, for user (a uuid SQL
 * expression). */
#define PROVENANCE_SQL_GRAPH(user) \
	" SELECT json_build_object('nodes', COALESCE((SELECT json_agg(" \
	PROVENANCE_SQL_NODE("gn.id", user) " ORDER BY gn.id) FROM gn), '[]'::json)," \
	" 'relationships', COALESCE((SELECT json_agg(" PROVENANCE_SQL_EDGE("ge", user) \
	" ORDER BY ge.created_at, ge.id) FROM ge), '[]'::json))::text"

/* clang-format on */

/* Makes the storage provider's name at upload.storage_provider of every dds-file-version in
 * obj its object (views_upload_provider), at any depth. Changes obj in place (borrowed). */
static void
provenance_providers(json_t *obj)
{
	const char *key;
	json_t *v;
	size_t i;

	if (json_is_array(obj)) {
		json_array_foreach(obj, i, v) provenance_providers(v);
		return;
	}
	if (!json_is_object(obj))
		return;
	v = json_object_get(obj, "kind");
	if (json_is_string(v) && strcmp(json_string_value(v), "dds-file-version") == 0)
		views_upload_provider(json_object_get(obj, "upload"));
	json_object_foreach(obj, key, v)
	{
		if (strcmp(key, "upload") != 0)
			provenance_providers(v);
	}
}

/* A JSON-text column of a provenance object, its file versions' storage providers made
 * objects. New reference. */
static json_t *
provenance_obj(const PGresult *res, int row, int col)
{
	json_t *o = views_json_col(res, row, col);

	provenance_providers(o);
	return o;
}

/* ---- activities ---- */

/* The fields of an activity a client sets; NULL where not given. Borrowed from the body. */
struct provenance_activity {
	const char *name, *description, *started_on, *ended_on;
};

/* Reads the activity fields of body; name is required when `create`. 0, or -1 after
 * answering 400. */
static int
provenance_activity_fields(struct req *r, json_t *body, bool create, struct provenance_activity *a)
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

/* Columns of the activity writes (PROVENANCE_ACTIVITY_CREATE_SQL and _UPDATE_SQL). */
enum {
	PROVENANCE_AW_FOUND,    /* the activity exists and is not deleted */
	PROVENANCE_AW_OWNER,    /* the caller created it */
	PROVENANCE_AW_STARTED,  /* started_on was absent or a timestamp (settle_parse_ts) */
	PROVENANCE_AW_ENDED,    /* ended_on likewise */
	PROVENANCE_AW_ORDERED,  /* started_on <= ended_on where both are set */
	PROVENANCE_AW_ACTIVITY, /* the activity as written (JSON text), NULL when not */
};

/* clang-format off */
/* Checks of the dates $3 started_on and $4 ended_on (text) of an activity write, over the
 * activity's dates before (CTE old: started_on, ended_on; none for a create). */
#define PROVENANCE_SQL_DATES \
	"t AS (SELECT settle_parse_ts($3::text) AS s, settle_parse_ts($4::text) AS e), " \
	"chk AS (SELECT ($3::text IS NULL OR t.s IS NOT NULL) AS s_ok," \
	" ($4::text IS NULL OR t.e IS NOT NULL) AS e_ok, " \
	" COALESCE(COALESCE(t.s, old.started_on) <= COALESCE(t.e, old.ended_on), true) AS ordered" \
	" FROM t LEFT JOIN old ON true)"

/* POST /activities: $1 id, $2 name, $3 started_on, $4 ended_on, $5 description, $6 caller.
 * started_on defaults to now (DDS). */
static const char provenance_activity_create_sql[] =
	"WITH old AS (SELECT NULL::timestamptz AS started_on, NULL::timestamptz AS ended_on), "
	PROVENANCE_SQL_DATES ", "
	"ins AS (INSERT INTO activities (id, name, description, started_on, ended_on, created_by)"
	" SELECT $1::uuid, $2::text, $5::text, COALESCE(t.s, now()), t.e, $6::uuid FROM t, chk"
	" WHERE chk.s_ok AND chk.e_ok AND chk.ordered RETURNING *) "
	"SELECT true, true, chk.s_ok, chk.e_ok, chk.ordered, (SELECT "
	PROVENANCE_SQL_ACTIVITY_OBJ("ins") "::text FROM ins) FROM chk";

/* PUT /activities/{id}: $1 id, $2 name, $3 started_on, $4 ended_on, $5 description, $6
 * caller; a NULL leaves the field as it is. Only the activity's creator updates it. */
static const char provenance_activity_update_sql[] =
	"WITH old AS (SELECT * FROM activities WHERE id = $1::uuid AND NOT is_deleted FOR UPDATE), "
	PROVENANCE_SQL_DATES ", "
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
provenance_activity_answer(struct req *r, PGresult *res, int status)
{
	if (res == NULL)
		http_db_error(r);
	else if (!db_get_bool(res, 0, PROVENANCE_AW_FOUND))
		http_not_found(r, "activity");
	else if (!db_get_bool(res, 0, PROVENANCE_AW_OWNER))
		http_forbidden(r);
	else if (!db_get_bool(res, 0, PROVENANCE_AW_STARTED))
		http_invalid(r, "started_on", "must be an ISO 8601 date or date and time");
	else if (!db_get_bool(res, 0, PROVENANCE_AW_ENDED))
		http_invalid(r, "ended_on", "must be an ISO 8601 date or date and time");
	else if (!db_get_bool(res, 0, PROVENANCE_AW_ORDERED))
		http_invalid(r, "ended_on", "must be at or after started_on");
	else
		http_json(r, status, provenance_obj(res, 0, PROVENANCE_AW_ACTIVITY));
	PQclear(res);
}

/* POST /activities: 201, the activity (consistent at once). */
static void
provenance_activity_create(struct req *r)
{
	struct provenance_activity a;
	char id[UUID_STR_LEN];
	json_t *body = http_body_object(r);

	if (body == NULL)
		return;
	if (provenance_activity_fields(r, body, true, &a) == 0) {
		uuid_generate(id);
		const char *q[] = {id, a.name, a.started_on, a.ended_on, a.description, r->user_id};
		provenance_activity_answer(r, db_exec(r->db, provenance_activity_create_sql, 6, q),
		                           201);
	}
	json_decref(body);
}

/* PUT /activities/{id}: 200, the activity; only its creator may. */
static void
provenance_activity_update(struct req *r)
{
	struct provenance_activity a;
	json_t *body = http_body_object(r);

	if (body == NULL)
		return;
	if (provenance_activity_fields(r, body, false, &a) == 0) {
		const char *q[] = {r->params[0], a.name,        a.started_on,
		                   a.ended_on,   a.description, r->user_id};
		provenance_activity_answer(r, db_exec(r->db, provenance_activity_update_sql, 6, q),
		                           200);
	}
	json_decref(body);
}

/* clang-format off */
/* SQL: the activities the caller ($1) sees and that are not deleted (DDS's policy scope). */
#define PROVENANCE_ACTIVITIES_MINE \
	" FROM activities a WHERE NOT a.is_deleted AND " PROVENANCE_SQL_ACTIVITY_SEES("a", "$1::uuid")
#define PROVENANCE_ACTIVITY_BYTES "octet_length(a.name) + COALESCE(octet_length(a.description), 0)"
#define PROVENANCE_ACTIVITIES_K \
	HTTP_SQL_PAGE_K(PROVENANCE_ACTIVITY_BYTES, PROVENANCE_ACTIVITIES_MINE, "$2")
/* clang-format on */

/* GET /activities: the activities the caller sees, oldest first, paged in pages of at most
 * HTTP_MAX_PAGE_BYTES of text, in one statement. */
static void
provenance_activity_list(struct req *r)
{
	int64_t page, per_page;
	char lim[24], pg[24];

	if (http_paging_args(r, &page, &per_page, lim, NULL) < 0)
		return;
	snprintf(pg, sizeof(pg), "%lld", (long long)page);
	const char *q[] = {r->user_id, lim, pg};
	PGresult *res = db_exec(r->db,
	                        PROVENANCE_ACTIVITIES_K "SELECT " PROVENANCE_SQL_ACTIVITY_OBJ(
	                            "a") "::text, " HTTP_SQL_PAGE_COLS PROVENANCE_ACTIVITIES_MINE
	                                 " ORDER BY a.created_at, a.id" HTTP_SQL_PAGE_LIMIT("$3"),
	                        3, q);
	if (res == NULL)
		http_db_error(r);
	else
		http_answer_page_k(r, res, 1, provenance_obj,
		                   PROVENANCE_ACTIVITIES_K "SELECT total, per FROM k", 2, q, page);
}

/* Columns of the single-object reads: found, seen by the caller, the object (JSON text). */
enum { PROVENANCE_GET_FOUND, PROVENANCE_GET_SEES, PROVENANCE_GET_OBJ };

/* Answers 200 with the object of the one-row read sql ($1 id, $2 caller; columns
 * PROVENANCE_GET_*), or 404 for `what`, or 403. */
static void
provenance_get(struct req *r, const char *sql, const char *what)
{
	const char *q[] = {r->params[0], r->user_id};
	PGresult *res = db_exec(r->db, sql, 2, q);

	if (res == NULL)
		http_db_error(r);
	else if (!db_get_bool(res, 0, PROVENANCE_GET_FOUND))
		http_not_found(r, what);
	else if (!db_get_bool(res, 0, PROVENANCE_GET_SEES))
		http_forbidden(r);
	else
		http_json(r, 200, provenance_obj(res, 0, PROVENANCE_GET_OBJ));
	PQclear(res);
}

/* GET /activities/{id}: its creator and whoever sees a file version it is related to. */
static void
provenance_activity_get(struct req *r)
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

/* Columns of the soft deletes: found (and not deleted), the caller created it. */
enum { PROVENANCE_DEL_FOUND, PROVENANCE_DEL_OWNER };

/* Marks the row r->params[0] deleted with sql (PROVENANCE_SQL_SOFT_DELETE of its table) when
 * the caller created it, in one statement: 204, or 404 for `what`, or 403. */
static void
provenance_soft_delete(struct req *r, const char *sql, const char *what)
{
	const char *q[] = {r->params[0], r->user_id};
	PGresult *res = db_exec(r->db, sql, 2, q);

	if (res == NULL)
		http_db_error(r);
	else if (!db_get_bool(res, 0, PROVENANCE_DEL_FOUND))
		http_not_found(r, what);
	else if (!db_get_bool(res, 0, PROVENANCE_DEL_OWNER))
		http_forbidden(r);
	else
		http_raw(r, 204,
		         MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
	PQclear(res);
}

/* clang-format off */
/* SQL of provenance_soft_delete for table. */
#define PROVENANCE_SQL_SOFT_DELETE(table) \
	"WITH old AS (SELECT id, created_by FROM " table " WHERE id = $1::uuid AND NOT is_deleted" \
	" FOR UPDATE), del AS (UPDATE " table " x SET is_deleted = true, deleted_at = now()," \
	" deleted_by = $2::uuid FROM old WHERE x.id = old.id AND old.created_by = $2::uuid" \
	" RETURNING x.id) SELECT old.id IS NOT NULL, old.created_by = $2::uuid" \
	" FROM (VALUES (1)) one LEFT JOIN old ON true"
/* clang-format on */

/* DELETE /activities/{id}: 204; only its creator may. Its relations stay (DDS). */
static void
provenance_activity_delete(struct req *r)
{
	provenance_soft_delete(r, PROVENANCE_SQL_SOFT_DELETE("activities"), "activity");
}

/* ---- relations ---- */

/* Columns of the relation creates. */
enum {
	PROVENANCE_RW_A_FOUND,  /* the activity (or the used file version) exists, live */
	PROVENANCE_RW_A_OK,     /* the caller created that activity (or may view that version) */
	PROVENANCE_RW_V_FOUND,  /* the file version exists in a live project */
	PROVENANCE_RW_V_OK,     /* the caller holds the permission there */
	PROVENANCE_RW_CLASH,    /* used and was_generated_by of the same pair would both hold */
	PROVENANCE_RW_DELETED,  /* the file version is deleted */
	PROVENANCE_RW_RELATION, /* the relation written, or the same one already live */
};

/* clang-format off */
/* SQL: the CTE name (id, found in a live project, deleted, caller $3 holds perm) of the file
 * version id. */
#define PROVENANCE_SQL_VERSION_CTE(name, id, perm) \
	name " AS (SELECT v.id, NOT p.is_deleted AS live, (v.is_deleted OR f.is_deleted) AS deleted, " \
	ACCESS_SQL_CAN("p", "$3::uuid", perm) " AS may FROM file_versions v JOIN files f ON" \
	" f.id = v.file_id JOIN projects p ON p.id = f.project_id WHERE v.id = " id ")"

/* The relation r answers: the one inserted (ins), or the live one of the same kind and ends. */
#define PROVENANCE_SQL_RELATION_ANSWER(same) \
	" COALESCE((SELECT " PROVENANCE_SQL_RELATION_OBJ("ins") "::text FROM ins), (SELECT " \
	PROVENANCE_SQL_RELATION_OBJ("e") "::text FROM prov_relations e WHERE NOT e.is_deleted" \
	" AND " same "))"
#define PROVENANCE_SQL_INSERT_LIVE \
	" ON CONFLICT (kind, version_id, (COALESCE(activity_id, used_version_id)))" \
	" WHERE NOT is_deleted DO NOTHING RETURNING *)"

/* POST /relations/{used,was_generated_by,was_invalidated_by}: $1 activity, $2 file version,
 * $3 caller, $4 new id, $5 kind, $6 the permission the caller needs on the version's project.
 * The activity row is locked, so that relations of one activity are made one at a time and
 * the used / was_generated_by rule holds. */
static const char provenance_relate_activity_sql[] =
	"WITH act AS (SELECT id, created_by FROM activities WHERE id = $1::uuid AND NOT is_deleted"
	" FOR UPDATE), " PROVENANCE_SQL_VERSION_CTE("ver", "$2::uuid", "$6::text") ", "
	"clash AS (SELECT EXISTS (SELECT 1 FROM prov_relations c WHERE NOT c.is_deleted AND"
	" c.activity_id = $1::uuid AND c.version_id = $2::uuid AND c.kind = CASE $5::text"
	" WHEN 'used' THEN 'was_generated_by' WHEN 'was_generated_by' THEN 'used' END) AS v), "
	"ins AS (INSERT INTO prov_relations (id, kind, activity_id, version_id, created_by)"
	" SELECT $4::uuid, $5::text, act.id, ver.id, $3::uuid FROM act, ver, clash WHERE"
	" act.created_by = $3::uuid AND ver.live AND ver.may AND NOT clash.v AND"
	" ($5::text <> 'was_invalidated_by' OR ver.deleted)" PROVENANCE_SQL_INSERT_LIVE " "
	"SELECT act.id IS NOT NULL, act.created_by = $3::uuid, COALESCE(ver.live, false), ver.may,"
	" clash.v, ver.deleted," PROVENANCE_SQL_RELATION_ANSWER(
	    "e.kind = $5::text AND e.activity_id = $1::uuid AND e.version_id = $2::uuid")
	" FROM clash LEFT JOIN act ON true LEFT JOIN ver ON true";

/* POST /relations/was_derived_from: $1 used file version, $2 generated file version, $3
 * caller, $4 new id; the caller may view both. */
static const char provenance_relate_derived_sql[] =
	"WITH " PROVENANCE_SQL_VERSION_CTE("used", "$1::uuid", ACCESS_LIT(ACCESS_VIEW)) ", "
	PROVENANCE_SQL_VERSION_CTE("gen", "$2::uuid", ACCESS_LIT(ACCESS_VIEW)) ", "
	"ins AS (INSERT INTO prov_relations (id, kind, version_id, used_version_id, created_by)"
	" SELECT $4::uuid, 'was_derived_from', gen.id, used.id, $3::uuid FROM gen, used WHERE"
	" gen.live AND gen.may AND used.live AND used.may" PROVENANCE_SQL_INSERT_LIVE " "
	"SELECT COALESCE(used.live, false), used.may, COALESCE(gen.live, false), gen.may, false,"
	" false," PROVENANCE_SQL_RELATION_ANSWER(
	    "e.kind = 'was_derived_from' AND e.version_id = $2::uuid AND e.used_version_id = $1::uuid")
	" FROM (VALUES (1)) one LEFT JOIN used ON true LEFT JOIN gen ON true";
/* clang-format on */

/* The string at key of obj (nested in a body at field, named `name` in errors, e.g.
 * "entity[id]"): 1 with *out borrowed, 0 when absent or null, -1 after answering 400. */
static int
provenance_str(struct req *r, json_t *obj, const char *key, const char *name, const char **out)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		http_invalid(r, name, "must be a string");
		return -1;
	}
	*out = json_string_value(v);
	return 1;
}

/* Reads {kind, id} at field of body into *id (a UUID; anything else names nothing, 404 for
 * `what`); kinds lists the kinds accepted (two, NULL-ended), or is NULL when kind is not
 * read. 1, or 0 after answering. */
static int
provenance_ref(struct req *r, json_t *body, const char *field, const char *const *kinds,
               const char *what, const char **id)
{
	json_t *o;
	const char *kind = NULL;
	char name[64];
	int rc = http_field_obj(r, body, field, &o);

	if (rc < 0)
		return 0;
	if (rc == 0) {
		http_invalid(r, field,
		             kinds != NULL ? "is required: {\"kind\", \"id\"}"
		                           : "is required: {\"id\"}");
		return 0;
	}
	if (kinds != NULL) {
		snprintf(name, sizeof(name), "%s[kind]", field);
		if (provenance_str(r, o, "kind", name, &kind) < 0)
			return 0;
		if (kind == NULL || (strcmp(kind, kinds[0]) != 0 && strcmp(kind, kinds[1]) != 0)) {
			char *msg = xasprintf("must be %s or %s", kinds[0], kinds[1]);
			http_invalid(r, name, msg);
			free(msg);
			return 0;
		}
	}
	snprintf(name, sizeof(name), "%s[id]", field);
	rc = provenance_str(r, o, "id", name, id);
	if (rc < 0)
		return 0;
	if (rc == 0) {
		http_invalid(r, name, "is required");
		return 0;
	}
	if (!uuid_valid(*id)) {
		http_not_found(r, what);
		return 0;
	}
	return 1;
}

/* The kinds an entity may be given as: DDS relates file versions only, whatever the kind
 * says, and DukeDSClient sends "dds-file" with a file version's id. */
static const char *const provenance_entity_kinds[] = {"dds-file-version", "dds-file", NULL};

/* Answers a relation create from its statement's result (PROVENANCE_RW_* columns): 201 with
 * the relation, or 404 / 403 / 400 naming a (the activity or used entity) or v (the file
 * version). Takes res. */
static void
provenance_relate_answer(struct req *r, PGresult *res, const char *a, const char *a_what,
                         const char *v)
{
	if (res == NULL)
		http_db_error(r);
	else if (!db_get_bool(res, 0, PROVENANCE_RW_A_FOUND))
		http_not_found(r, a_what);
	else if (!db_get_bool(res, 0, PROVENANCE_RW_V_FOUND))
		http_not_found(r, "file version");
	else if (!db_get_bool(res, 0, PROVENANCE_RW_A_OK) ||
	         !db_get_bool(res, 0, PROVENANCE_RW_V_OK))
		http_forbidden(r);
	else if (db_get_bool(res, 0, PROVENANCE_RW_CLASH))
		http_invalid(r, a,
		             "an activity cannot both use and generate the same file version");
	else if (db_get(res, 0, PROVENANCE_RW_RELATION) == NULL)
		http_invalid(r, v, "a file version is invalidated only once it is deleted");
	else
		http_json(r, 201, provenance_obj(res, 0, PROVENANCE_RW_RELATION));
	PQclear(res);
}

/* POST /relations/{kind} of an activity and a file version; perm is what the caller needs
 * on the version's project, besides having created the activity. */
static void
provenance_relate_activity(struct req *r, const char *kind, const char *perm)
{
	const char *act, *ver;
	char id[UUID_STR_LEN];
	json_t *body = http_body_object(r);

	if (body == NULL)
		return;
	if (provenance_ref(r, body, "activity", NULL, "activity", &act) &&
	    provenance_ref(r, body, "entity", provenance_entity_kinds, "file version", &ver)) {
		uuid_generate(id);
		const char *q[] = {act, ver, r->user_id, id, kind, perm};
		provenance_relate_answer(r, db_exec(r->db, provenance_relate_activity_sql, 6, q),
		                         "activity", "activity", "entity");
	}
	json_decref(body);
}

/* POST /relations/used: the activity (the caller's) used a file version they may view. */
static void
provenance_relate_used(struct req *r)
{
	provenance_relate_activity(r, "used", ACCESS_VIEW);
}

/* POST /relations/was_generated_by: a file version the caller may view was generated by
 * their activity. */
static void
provenance_relate_generated(struct req *r)
{
	provenance_relate_activity(r, "was_generated_by", ACCESS_VIEW);
}

/* POST /relations/was_invalidated_by: a deleted file version was invalidated by the
 * caller's activity; they need delete_file on its project (DDS). */
static void
provenance_relate_invalidated(struct req *r)
{
	provenance_relate_activity(r, "was_invalidated_by", ACCESS_DELETE);
}

/* POST /relations/was_derived_from: the generated file version was derived from the used
 * one; the caller may view both. */
static void
provenance_relate_derived(struct req *r)
{
	const char *used, *gen;
	char id[UUID_STR_LEN];
	json_t *body = http_body_object(r);

	if (body == NULL)
		return;
	if (provenance_ref(r, body, "used_entity", provenance_entity_kinds, "file version",
	                   &used) &&
	    provenance_ref(r, body, "generated_entity", provenance_entity_kinds, "file version",
	                   &gen)) {
		uuid_generate(id);
		const char *q[] = {used, gen, r->user_id, id};
		provenance_relate_answer(r, db_exec(r->db, provenance_relate_derived_sql, 4, q),
		                         "used_entity", "file version", "generated_entity");
	}
	json_decref(body);
}

/* GET /relations/{id}: whoever sees it (PROVENANCE_SQL_RELATION_SEES). */
static void
provenance_relation_get(struct req *r)
{
	provenance_get(
	    r,
	    "SELECT r.id IS NOT NULL, " PROVENANCE_SQL_RELATION_SEES(
	        "r", "$2::uuid") ", " PROVENANCE_SQL_RELATION_OBJ("r") "::text FROM"
	                                                               " (VALUES (1)) one LEFT "
	                                                               "JOIN prov_relations r ON"
	                                                               " r.id = $1::uuid",
	    "relation");
}

/* DELETE /relations/{id}: 204; only its creator may. */
static void
provenance_relation_delete(struct req *r)
{
	provenance_soft_delete(r, PROVENANCE_SQL_SOFT_DELETE("prov_relations"), "relation");
}

/* clang-format off */
/* SQL: columns found and sees (whether user sees it) of the node id of kind (SQL
 * expressions; kind dds-activity or dds-file-version). */
#define PROVENANCE_SQL_NODE_SEES(id, user, kind) \
	"SELECT COALESCE(a.id, v.id) IS NOT NULL AS found, CASE WHEN a.id IS NOT NULL THEN " \
	PROVENANCE_SQL_ACTIVITY_SEES("a", user) " ELSE " \
	PROVENANCE_SQL_VERSION_SEES("v.id", user) " END AS sees FROM (VALUES (1)) one" \
	" LEFT JOIN activities a ON a.id = " id " AND " kind " = 'dds-activity'" \
	" LEFT JOIN file_versions v ON v.id = " id " AND " kind " = 'dds-file-version'"

/* SQL: the live relations of node $1 that the caller ($2) sees. */
#define PROVENANCE_RELATIONS_OF \
	" FROM prov_relations r WHERE NOT r.is_deleted AND (r.activity_id = $1::uuid OR" \
	" r.version_id = $1::uuid OR r.used_version_id = $1::uuid) AND " \
	PROVENANCE_SQL_RELATION_SEES("r", "$2::uuid")
#define PROVENANCE_RELATION_BYTES \
	"COALESCE((SELECT octet_length(ba.name) + COALESCE(octet_length(ba.description), 0)" \
	" FROM activities ba WHERE ba.id = r.activity_id), 0)"
#define PROVENANCE_RELATIONS_K \
	HTTP_SQL_PAGE_K(PROVENANCE_RELATION_BYTES, PROVENANCE_RELATIONS_OF, "$3")
/* clang-format on */

/* Reads the PROVENANCE_GET_FOUND and _SEES columns of a node of kind in row 0 of res (NULL:
 * the statement failed): 1 when it exists and the caller sees it, else 0 after answering
 * 404, 403 or a database error. */
static int
provenance_node_verdict(struct req *r, const PGresult *res, const char *kind)
{
	if (res == NULL)
		http_db_error(r);
	else if (!db_get_bool(res, 0, PROVENANCE_GET_FOUND))
		http_not_found(r, strcmp(kind, "dds-activity") == 0 ? "activity" : "file version");
	else if (!db_get_bool(res, 0, PROVENANCE_GET_SEES))
		http_forbidden(r);
	else
		return 1;
	return 0;
}

/* The kinds of provenance nodes. */
static const char *const provenance_node_kinds[] = {"dds-activity", "dds-file-version", NULL};

/* True when kind is one of provenance_node_kinds. */
static bool
provenance_node_kind(const char *kind)
{
	return strcmp(kind, provenance_node_kinds[0]) == 0 ||
	       strcmp(kind, provenance_node_kinds[1]) == 0;
}

/* clang-format off */
/* GET /relations/{object_kind}/{object_id} in one statement: $1 the node of kind $5, $2 the
 * caller, $3 per_page asked for, $4 page. Columns: PROVENANCE_GET_* (the node found, seen, a
 * relation of the page), then the collection's total and per (HTTP_SQL_PAGE_K); at least one
 * row, whose relation is NULL when the page has none. */
static const char provenance_relation_list_sql[] =
	PROVENANCE_RELATIONS_K ", st AS (" PROVENANCE_SQL_NODE_SEES("$1::uuid", "$2::uuid",
	                                                            "$5::text") ") "
	"SELECT st.found, st.sees, x.obj, " HTTP_SQL_PAGE_COLS " FROM st LEFT JOIN LATERAL"
	" (SELECT " PROVENANCE_SQL_RELATION_OBJ("r") "::text AS obj, r.created_at, r.id"
	PROVENANCE_RELATIONS_OF " AND st.sees ORDER BY r.created_at DESC, r.id"
	HTTP_SQL_PAGE_LIMIT("$4") ") x ON true ORDER BY x.created_at DESC, x.id";
/* clang-format on */

/* Columns of provenance_relation_list_sql after the PROVENANCE_GET_* ones. */
enum { PROVENANCE_LIST_TOTAL = PROVENANCE_GET_OBJ + 1, PROVENANCE_LIST_PER };

/* GET /relations/{object_kind}/{object_id}: the live relations of an activity or file
 * version the caller sees, newest first, paged in pages of at most HTTP_MAX_PAGE_BYTES of
 * text; those the caller does not see are left out. 404 / 403 for the object. */
static void
provenance_relation_list(struct req *r)
{
	int64_t page, per_page;
	char lim[24], pg[24];

	if (!provenance_node_kind(r->params[0])) {
		http_not_found(r, "object kind");
		return;
	}
	if (http_paging_args(r, &page, &per_page, lim, NULL) < 0)
		return;
	snprintf(pg, sizeof(pg), "%lld", (long long)page);
	const char *q[] = {r->params[1], r->user_id, lim, pg, r->params[0]};
	PGresult *res = db_exec(r->db, provenance_relation_list_sql, 5, q);
	if (provenance_node_verdict(r, res, r->params[0])) {
		json_t *results = json_array();
		for (int i = 0; i < PQntuples(res); i++) {
			if (db_get(res, i, PROVENANCE_GET_OBJ) != NULL)
				json_array_append_new(results,
				                      provenance_obj(res, i, PROVENANCE_GET_OBJ));
		}
		http_paging_headers(r, page, db_get_i64(res, 0, PROVENANCE_LIST_PER),
		                    db_get_i64(res, 0, PROVENANCE_LIST_TOTAL));
		http_json(r, 200, json_pack("{s:o}", "results", results));
	}
	PQclear(res);
}

/* ---- searches ---- */

/* clang-format off */
/* POST /search/provenance in one statement: $1 start node of kind $4, $2 max hops (NULL: no
 * limit), $3 caller; columns PROVENANCE_GET_* (the start node found, seen, the graph). A
 * breadth-first walk over the live relations in either direction: each step
 * holds the nodes seen so far and the newest ones (frontier), and ends when nothing new is
 * reached or at max hops. The relationships are those with an end reached in fewer than max
 * hops (so on a path of at most max hops from the start). */
static const char provenance_search_sql[] =
	"WITH RECURSIVE st AS (" PROVENANCE_SQL_NODE_SEES("$1::uuid", "$3::uuid", "$4::text") "), "
	"bfs(seen, frontier, hops) AS ("
	" SELECT ARRAY[$1::uuid], ARRAY[$1::uuid], 0 FROM st WHERE st.sees"
	" UNION ALL"
	" SELECT b.seen || n.new, n.new, b.hops + 1 FROM bfs b CROSS JOIN LATERAL ("
	"SELECT array_agg(DISTINCT x.id) AS new FROM prov_relations w CROSS JOIN LATERAL"
	" (VALUES (" PROVENANCE_SQL_FROM_ID("w") "), (" PROVENANCE_SQL_TO_ID("w") ")) x(id)"
	" WHERE NOT w.is_deleted AND (" PROVENANCE_SQL_FROM_ID("w") " = ANY (b.frontier) OR "
	PROVENANCE_SQL_TO_ID("w") " = ANY (b.frontier)) AND NOT x.id = ANY (b.seen)) n"
	" WHERE n.new IS NOT NULL AND ($2::int IS NULL OR b.hops < $2::int)), "
	"dist AS (SELECT f.id, min(b.hops) AS hops FROM bfs b, unnest(b.frontier) f(id)"
	" GROUP BY f.id), "
	"gn AS (SELECT id FROM dist), "
	"ge AS (SELECT e.* FROM prov_relations e JOIN dist df ON df.id = "
	PROVENANCE_SQL_FROM_ID("e") " JOIN dist dt ON dt.id = " PROVENANCE_SQL_TO_ID("e")
	" WHERE NOT e.is_deleted AND ($2::int IS NULL OR least(df.hops, dt.hops) < $2::int))"
	" SELECT st.found, st.sees, (" PROVENANCE_SQL_GRAPH("$3::uuid") ") FROM st";

/* POST /search/provenance/origin in one statement: $1 the file versions (uuid[]), $2 the
 * caller; columns PROVENANCE_GET_* (always found and seen, the graph). For each: the activity that generated it, what that activity used and
 * generated, and the file versions it was derived from (DDS's origin query). */
static const char provenance_origin_sql[] =
	"WITH fv AS (SELECT v.id FROM file_versions v WHERE v.id = ANY ($1::uuid[])), "
	"gen AS (SELECT e.* FROM prov_relations e JOIN fv ON e.version_id = fv.id"
	" WHERE NOT e.is_deleted AND e.kind = 'was_generated_by'), "
	"con AS (SELECT e.* FROM prov_relations e JOIN gen g ON e.activity_id = g.activity_id"
	" WHERE NOT e.is_deleted AND e.kind IN ('was_generated_by', 'used')), "
	"der AS (SELECT e.* FROM prov_relations e JOIN fv ON e.version_id = fv.id"
	" WHERE NOT e.is_deleted AND e.kind = 'was_derived_from'), "
	"ge AS (SELECT * FROM gen UNION SELECT * FROM con UNION SELECT * FROM der), "
	"gn AS (SELECT id FROM fv UNION SELECT activity_id FROM gen UNION SELECT version_id"
	" FROM con UNION SELECT used_version_id FROM der)"
	" SELECT true, true, (" PROVENANCE_SQL_GRAPH("$2::uuid") ")";
/* clang-format on */

/* Answers 201 {"graph": …} from the result of a search (columns PROVENANCE_GET_*; the
 * start node's kind), or 404 / 403 for the start node. Takes res. */
static void
provenance_graph_answer(struct req *r, PGresult *res, const char *kind)
{
	if (provenance_node_verdict(r, res, kind))
		http_json(r, 201,
		          json_pack("{s:o}", "graph", provenance_obj(res, 0, PROVENANCE_GET_OBJ)));
	PQclear(res);
}

/* POST /search/provenance {start_node: {kind, id}, max_hops?}: the graph around an activity
 * or file version the caller sees; nodes and relations they do not see are restricted
 * (DDS). */
static void
provenance_search(struct req *r)
{
	const char *id, *kind;
	int64_t hops = 0;
	char hops_s[24];
	json_t *body = http_body_object(r), *start;

	if (body == NULL)
		return;
	if (!provenance_ref(r, body, "start_node", provenance_node_kinds, "start node", &id))
		goto out;
	int rc = http_field_i64(r, body, "max_hops", &hops);
	if (rc < 0)
		goto out;
	if (rc == 1 && hops < 1) {
		http_invalid(r, "max_hops", "must be 1 or more");
		goto out;
	}
	start = json_object_get(body, "start_node");
	kind = json_string_value(json_object_get(start, "kind"));
	snprintf(hops_s, sizeof(hops_s), "%lld", (long long)(hops > 1000000 ? 1000000 : hops));
	const char *q[] = {id, rc == 1 ? hops_s : NULL, r->user_id, kind};
	provenance_graph_answer(r, db_exec(r->db, provenance_search_sql, 4, q), kind);
out:
	json_decref(body);
}

/* Reads file_versions [{id}] of an origin search into a Postgres uuid[] literal (ids that
 * are not UUIDs name nothing and are left out). New string, or NULL after answering 400. */
static char *
provenance_origin_ids(struct req *r, json_t *body)
{
	json_t *list = json_object_get(body, "file_versions"), *v;
	size_t i, n = json_array_size(list);
	char *out, *p;

	if (!json_is_array(list) || n == 0 || n > PROVENANCE_MAX_ORIGIN_IDS) {
		char *msg = xasprintf("is required: a list of 1 to %d objects {\"id\"}",
		                      PROVENANCE_MAX_ORIGIN_IDS);
		http_invalid(r, "file_versions", msg);
		free(msg);
		return NULL;
	}
	out = p = xmalloc(n * (UUID_STR_LEN + 1) + 3);
	*p++ = '{';
	json_array_foreach(list, i, v)
	{
		const char *id = json_string_value(json_object_get(v, "id"));
		if (id == NULL) {
			http_invalid(r, "file_versions[id]",
			             "each must be an object with a string id");
			free(out);
			return NULL;
		}
		if (uuid_valid(id))
			p += sprintf(p, "%s%s", p[-1] == '{' ? "" : ",", id);
	}
	strcpy(p, "}");
	return out;
}

/* POST /search/provenance/origin {file_versions: [{id}]}: how those file versions came
 * to be; unknown ids give nothing (DDS). */
static void
provenance_origin(struct req *r)
{
	json_t *body = http_body_object(r);
	char *ids;

	if (body == NULL)
		return;
	if ((ids = provenance_origin_ids(r, body)) != NULL) {
		const char *q[] = {ids, r->user_id};
		provenance_graph_answer(r, db_exec(r->db, provenance_origin_sql, 2, q), "");
		free(ids);
	}
	json_decref(body);
}

const struct route provenance_routes[] = {
    {.method = "POST",
     .pattern = "/api/v1/activities",
     .flags = ROUTE_AUTH,
     .name = "activities.create",
     .handle = provenance_activity_create},
    {.method = "GET",
     .pattern = "/api/v1/activities",
     .flags = ROUTE_AUTH,
     .name = "activities.list",
     .handle = provenance_activity_list},
    {.method = "GET",
     .pattern = "/api/v1/activities/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "activities.get",
     .handle = provenance_activity_get},
    {.method = "PUT",
     .pattern = "/api/v1/activities/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "activities.update",
     .handle = provenance_activity_update},
    {.method = "DELETE",
     .pattern = "/api/v1/activities/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "activities.delete",
     .handle = provenance_activity_delete},
    {.method = "POST",
     .pattern = "/api/v1/relations/used",
     .flags = ROUTE_AUTH,
     .name = "relations.used",
     .handle = provenance_relate_used},
    {.method = "POST",
     .pattern = "/api/v1/relations/was_generated_by",
     .flags = ROUTE_AUTH,
     .name = "relations.was_generated_by",
     .handle = provenance_relate_generated},
    {.method = "POST",
     .pattern = "/api/v1/relations/was_derived_from",
     .flags = ROUTE_AUTH,
     .name = "relations.was_derived_from",
     .handle = provenance_relate_derived},
    {.method = "POST",
     .pattern = "/api/v1/relations/was_invalidated_by",
     .flags = ROUTE_AUTH,
     .name = "relations.was_invalidated_by",
     .handle = provenance_relate_invalidated},
    {.method = "GET",
     .pattern = "/api/v1/relations/:object_kind:text/:object_id:uuid",
     .flags = ROUTE_AUTH,
     .name = "relations.list",
     .handle = provenance_relation_list},
    {.method = "GET",
     .pattern = "/api/v1/relations/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "relations.get",
     .handle = provenance_relation_get},
    {.method = "DELETE",
     .pattern = "/api/v1/relations/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "relations.delete",
     .handle = provenance_relation_delete},
    {.method = "POST",
     .pattern = "/api/v1/search/provenance",
     .flags = ROUTE_AUTH,
     .name = "search.provenance",
     .handle = provenance_search},
    {.method = "POST",
     .pattern = "/api/v1/search/provenance/origin",
     .flags = ROUTE_AUTH,
     .name = "search.provenance_origin",
     .handle = provenance_origin},
    {.method = NULL},
};
