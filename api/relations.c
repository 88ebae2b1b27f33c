/* relations.c: DDS v1 provenance relations between activities and file versions (docs/api.md
 * "Provenance"): used, was_generated_by, was_derived_from and was_invalidated_by; get,
 * delete, and the relations of an activity or file version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "db.h"
#include "provenance.h"
#include "router.h"
#include "uuid.h"
#include "views.h"

/* Columns of the relation creates. */
enum {
	RELATIONS_RW_A_FOUND,  /* the activity (or the used file version) exists, live */
	RELATIONS_RW_A_OK,     /* the caller created that activity (or may view that version) */
	RELATIONS_RW_V_FOUND,  /* the file version exists in a live project */
	RELATIONS_RW_V_OK,     /* the caller holds the permission there */
	RELATIONS_RW_CLASH,    /* used and was_generated_by of the same pair would both hold */
	RELATIONS_RW_DELETED,  /* the file version is deleted */
	RELATIONS_RW_RELATION, /* the relation written, or the same one already live */
};

/* clang-format off */
/* SQL: the CTE name (id, found in a live project, deleted, caller $3 holds perm) of the file
 * version id. */
#define RELATIONS_SQL_VERSION_CTE(name, id, perm) \
	name " AS (SELECT v.id, NOT p.is_deleted AS live, (v.is_deleted OR f.is_deleted) AS deleted, " \
	ACCESS_SQL_CAN("p", "$3::uuid", perm) " AS may FROM file_versions v JOIN files f ON" \
	" f.id = v.file_id JOIN projects p ON p.id = f.project_id WHERE v.id = " id ")"

/* The relation r answers: the one inserted (ins), or the live one of the same kind and ends. */
#define RELATIONS_SQL_ANSWER(same) \
	" COALESCE((SELECT " PROVENANCE_SQL_RELATION_OBJ("ins") "::text FROM ins), (SELECT " \
	PROVENANCE_SQL_RELATION_OBJ("e") "::text FROM prov_relations e WHERE NOT e.is_deleted" \
	" AND " same "))"
#define RELATIONS_SQL_INSERT_LIVE \
	" ON CONFLICT (kind, version_id, (COALESCE(activity_id, used_version_id)))" \
	" WHERE NOT is_deleted DO NOTHING RETURNING *)"

/* POST /relations/{used,was_generated_by,was_invalidated_by}: $1 activity, $2 file version,
 * $3 caller, $4 new id, $5 kind, $6 the permission the caller needs on the version's project.
 * The activity row is locked, so that relations of one activity are made one at a time and
 * the used / was_generated_by rule holds. */
static const char relations_activity_sql[] =
	"WITH act AS (SELECT id, created_by FROM activities WHERE id = $1::uuid AND NOT is_deleted"
	" FOR UPDATE), " RELATIONS_SQL_VERSION_CTE("ver", "$2::uuid", "$6::text") ", "
	"clash AS (SELECT EXISTS (SELECT 1 FROM prov_relations c WHERE NOT c.is_deleted AND"
	" c.activity_id = $1::uuid AND c.version_id = $2::uuid AND c.kind = CASE $5::text"
	" WHEN 'used' THEN 'was_generated_by' WHEN 'was_generated_by' THEN 'used' END) AS v), "
	"ins AS (INSERT INTO prov_relations (id, kind, activity_id, version_id, created_by)"
	" SELECT $4::uuid, $5::text, act.id, ver.id, $3::uuid FROM act, ver, clash WHERE"
	" act.created_by = $3::uuid AND ver.live AND ver.may AND NOT clash.v AND"
	" ($5::text <> 'was_invalidated_by' OR ver.deleted)" RELATIONS_SQL_INSERT_LIVE " "
	"SELECT act.id IS NOT NULL, act.created_by = $3::uuid, COALESCE(ver.live, false), ver.may,"
	" clash.v, ver.deleted," RELATIONS_SQL_ANSWER(
	    "e.kind = $5::text AND e.activity_id = $1::uuid AND e.version_id = $2::uuid")
	" FROM clash LEFT JOIN act ON true LEFT JOIN ver ON true";

/* POST /relations/was_derived_from: $1 used file version, $2 generated file version, $3
 * caller, $4 new id; the caller may view both. */
static const char relations_derived_sql[] =
	"WITH " RELATIONS_SQL_VERSION_CTE("used", "$1::uuid", ACCESS_LIT(ACCESS_VIEW)) ", "
	RELATIONS_SQL_VERSION_CTE("gen", "$2::uuid", ACCESS_LIT(ACCESS_VIEW)) ", "
	"ins AS (INSERT INTO prov_relations (id, kind, version_id, used_version_id, created_by)"
	" SELECT $4::uuid, 'was_derived_from', gen.id, used.id, $3::uuid FROM gen, used WHERE"
	" gen.live AND gen.may AND used.live AND used.may" RELATIONS_SQL_INSERT_LIVE " "
	"SELECT COALESCE(used.live, false), used.may, COALESCE(gen.live, false), gen.may, false,"
	" false," RELATIONS_SQL_ANSWER(
	    "e.kind = 'was_derived_from' AND e.version_id = $2::uuid AND e.used_version_id = $1::uuid")
	" FROM (VALUES (1)) one LEFT JOIN used ON true LEFT JOIN gen ON true";
/* clang-format on */

/* The kinds an entity may be given as: DDS relates file versions only, whatever the kind
 * says, and DukeDSClient sends "dds-file" with a file version's id. */
static const char *const relations_entity_kinds[] = {"dds-file-version", "dds-file", NULL};

/* Answers a relation create from its statement's result (RELATIONS_RW_* columns): 201 with
 * the relation, or 404 / 403 / 400 naming a (the activity or used entity) or v (the file
 * version). Takes res. */
static void
relations_answer(struct req *r, PGresult *res, const char *a, const char *a_what, const char *v)
{
	if (res == NULL)
		http_db_error(r);
	else if (!db_get_bool(res, 0, RELATIONS_RW_A_FOUND))
		http_not_found(r, a_what);
	else if (!db_get_bool(res, 0, RELATIONS_RW_V_FOUND))
		http_not_found(r, "file version");
	else if (!db_get_bool(res, 0, RELATIONS_RW_A_OK) || !db_get_bool(res, 0, RELATIONS_RW_V_OK))
		http_forbidden(r);
	else if (db_get_bool(res, 0, RELATIONS_RW_CLASH))
		http_invalid(r, a,
		             "an activity cannot both use and generate the same file version");
	else if (db_get(res, 0, RELATIONS_RW_RELATION) == NULL)
		http_invalid(r, v, "a file version is invalidated only once it is deleted");
	else
		http_json(r, 201, provenance_obj(res, 0, RELATIONS_RW_RELATION));
	PQclear(res);
}

/* POST /relations/{kind} of an activity and a file version; perm is what the caller needs
 * on the version's project, besides having created the activity. */
static void
relations_activity(struct req *r, const char *kind, const char *perm)
{
	const char *act, *ver;
	char id[UUID_STR_LEN];
	json_t *body = http_body_object(r);

	if (body == NULL)
		return;
	if (provenance_ref(r, body, "activity", NULL, "activity", &act) &&
	    provenance_ref(r, body, "entity", relations_entity_kinds, "file version", &ver)) {
		uuid_generate(id);
		const char *q[] = {act, ver, r->user_id, id, kind, perm};
		relations_answer(r, db_exec(r->db, relations_activity_sql, 6, q), "activity",
		                 "activity", "entity");
	}
	json_decref(body);
}

/* POST /relations/used: the activity (the caller's) used a file version they may view. */
static void
relations_used(struct req *r)
{
	relations_activity(r, "used", ACCESS_VIEW);
}

/* POST /relations/was_generated_by: a file version the caller may view was generated by
 * their activity. */
static void
relations_generated(struct req *r)
{
	relations_activity(r, "was_generated_by", ACCESS_VIEW);
}

/* POST /relations/was_invalidated_by: a deleted file version was invalidated by the
 * caller's activity; they need delete_file on its project (DDS). */
static void
relations_invalidated(struct req *r)
{
	relations_activity(r, "was_invalidated_by", ACCESS_DELETE);
}

/* POST /relations/was_derived_from: the generated file version was derived from the used
 * one; the caller may view both. */
static void
relations_derived(struct req *r)
{
	const char *used, *gen;
	char id[UUID_STR_LEN];
	json_t *body = http_body_object(r);

	if (body == NULL)
		return;
	if (provenance_ref(r, body, "used_entity", relations_entity_kinds, "file version", &used) &&
	    provenance_ref(r, body, "generated_entity", relations_entity_kinds, "file version",
	                   &gen)) {
		uuid_generate(id);
		const char *q[] = {used, gen, r->user_id, id};
		relations_answer(r, db_exec(r->db, relations_derived_sql, 4, q), "used_entity",
		                 "file version", "generated_entity");
	}
	json_decref(body);
}

/* GET /relations/{id}: whoever sees it (PROVENANCE_SQL_RELATION_SEES). */
static void
relations_get(struct req *r)
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
relations_delete(struct req *r)
{
	provenance_soft_delete(r, PROVENANCE_SQL_SOFT_DELETE("prov_relations"), "relation");
}

/* clang-format off */
/* SQL: the live relations of node $1 that the caller ($2) sees. */
#define RELATIONS_OF \
	" FROM prov_relations r WHERE NOT r.is_deleted AND (r.activity_id = $1::uuid OR" \
	" r.version_id = $1::uuid OR r.used_version_id = $1::uuid) AND " \
	PROVENANCE_SQL_RELATION_SEES("r", "$2::uuid")
#define RELATIONS_BYTES \
	"COALESCE((SELECT octet_length(ba.name) + COALESCE(octet_length(ba.description), 0)" \
	" FROM activities ba WHERE ba.id = r.activity_id), 0)"
#define RELATIONS_K \
	HTTP_SQL_PAGE_K(RELATIONS_BYTES, RELATIONS_OF, "$3")
/* clang-format on */

/* clang-format off */
/* GET /relations/{object_kind}/{object_id} in one statement: $1 the node of kind $5, $2 the
 * caller, $3 per_page asked for, $4 page. Columns: PROVENANCE_GET_* (the node found, seen, a
 * relation of the page), then the collection's total and per (HTTP_SQL_PAGE_K); at least one
 * row, whose relation is NULL when the page has none. */
static const char relations_list_sql[] =
	RELATIONS_K ", st AS (" PROVENANCE_SQL_NODE_SEES("$1::uuid", "$2::uuid",
	                                                            "$5::text") ") "
	"SELECT st.found, st.sees, x.obj, " HTTP_SQL_PAGE_COLS " FROM st LEFT JOIN LATERAL"
	" (SELECT " PROVENANCE_SQL_RELATION_OBJ("r") "::text AS obj, r.created_at, r.id"
	RELATIONS_OF " AND st.sees ORDER BY r.created_at DESC, r.id"
	HTTP_SQL_PAGE_LIMIT("$4") ") x ON true ORDER BY x.created_at DESC, x.id";
/* clang-format on */

/* Columns of relations_list_sql after the PROVENANCE_GET_* ones. */
enum { RELATIONS_LIST_TOTAL = PROVENANCE_GET_OBJ + 1, RELATIONS_LIST_PER };

/* GET /relations/{object_kind}/{object_id}: the live relations of an activity or file
 * version the caller sees, newest first, paged in pages of at most HTTP_MAX_PAGE_BYTES of
 * text; those the caller does not see are left out. 404 / 403 for the object. */
static void
relations_list(struct req *r)
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
	PGresult *res = db_exec(r->db, relations_list_sql, 5, q);
	if (provenance_node_verdict(r, res, r->params[0])) {
		json_t *results = json_array();
		for (int i = 0; i < PQntuples(res); i++) {
			if (db_get(res, i, PROVENANCE_GET_OBJ) != NULL)
				json_array_append_new(results,
				                      provenance_obj(res, i, PROVENANCE_GET_OBJ));
		}
		http_paging_headers(r, page, db_get_i64(res, 0, RELATIONS_LIST_PER),
		                    db_get_i64(res, 0, RELATIONS_LIST_TOTAL));
		http_json(r, 200, json_pack("{s:o}", "results", results));
	}
	PQclear(res);
}

const struct route relations_routes[] = {
    {.method = "POST",
     .pattern = "/api/v1/relations/used",
     .flags = ROUTE_AUTH,
     .name = "relations.used",
     .handle = relations_used},
    {.method = "POST",
     .pattern = "/api/v1/relations/was_generated_by",
     .flags = ROUTE_AUTH,
     .name = "relations.was_generated_by",
     .handle = relations_generated},
    {.method = "POST",
     .pattern = "/api/v1/relations/was_derived_from",
     .flags = ROUTE_AUTH,
     .name = "relations.was_derived_from",
     .handle = relations_derived},
    {.method = "POST",
     .pattern = "/api/v1/relations/was_invalidated_by",
     .flags = ROUTE_AUTH,
     .name = "relations.was_invalidated_by",
     .handle = relations_invalidated},
    {.method = "GET",
     .pattern = "/api/v1/relations/:object_kind:text/:object_id:uuid",
     .flags = ROUTE_AUTH,
     .name = "relations.list",
     .handle = relations_list},
    {.method = "GET",
     .pattern = "/api/v1/relations/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "relations.get",
     .handle = relations_get},
    {.method = "DELETE",
     .pattern = "/api/v1/relations/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "relations.delete",
     .handle = relations_delete},
    {.method = NULL},
};
