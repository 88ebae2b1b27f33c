/* provenance.h: what the provenance handlers share (activities.c, relations.c,
 * provenance_search.c; docs/api.md "Provenance"): the SQL rules of who sees what and of
 * DDS's direction of a relation, the JSON of activities, file versions and relations, and
 * provenance.c's reads, deletes and body parsing. Everything is answered at once from
 * Postgres (migration 0013); no job runs. Each call is one statement. */
#ifndef SETTLE_PROVENANCE_H
#define SETTLE_PROVENANCE_H

#include <jansson.h>
#include <libpq-fe.h>

#include "access.h"
#include "http.h"
#include "views.h"

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

/* SQL: columns found and sees (whether user sees it) of the node id of kind (SQL
 * expressions; kind dds-activity or dds-file-version). */
#define PROVENANCE_SQL_NODE_SEES(id, user, kind) \
	"SELECT COALESCE(a.id, v.id) IS NOT NULL AS found, CASE WHEN a.id IS NOT NULL THEN " \
	PROVENANCE_SQL_ACTIVITY_SEES("a", user) " ELSE " \
	PROVENANCE_SQL_VERSION_SEES("v.id", user) " END AS sees FROM (VALUES (1)) one" \
	" LEFT JOIN activities a ON a.id = " id " AND " kind " = 'dds-activity'" \
	" LEFT JOIN file_versions v ON v.id = " id " AND " kind " = 'dds-file-version'"

/* SQL of provenance_soft_delete for table. */
#define PROVENANCE_SQL_SOFT_DELETE(table) \
	"WITH old AS (SELECT id, created_by FROM " table " WHERE id = $1::uuid AND NOT is_deleted" \
	" FOR UPDATE), del AS (UPDATE " table " x SET is_deleted = true, deleted_at = now()," \
	" deleted_by = $2::uuid FROM old WHERE x.id = old.id AND old.created_by = $2::uuid" \
	" RETURNING x.id) SELECT old.id IS NOT NULL, old.created_by = $2::uuid" \
	" FROM (VALUES (1)) one LEFT JOIN old ON true"
/* clang-format on */

/* The first columns of the units that provenance_get and provenance_node_verdict read:
 * found, seen by the caller, the object (JSON text; provenance_get only). Each caller
 * checks that its unit's columns are these (_Static_assert). */
enum { PROVENANCE_GET_FOUND, PROVENANCE_GET_SEES, PROVENANCE_GET_OBJ };

/* Whether column a of one unit and column b of another (or a PROVENANCE_* column) are the
 * same column, for _Static_assert (each unit's columns are an enum type of their own). */
#define PROVENANCE_COL_EQ(a, b) ((int)(a) == (int)(b))

/* The columns of the units that provenance_soft_delete runs: found (and not deleted), the
 * caller created it. */
enum { PROVENANCE_DEL_FOUND, PROVENANCE_DEL_OWNER };

/* A JSON-text column of a provenance object, its file versions' storage providers made
 * objects. New reference. */
json_t *provenance_obj(const PGresult *res, int row, int col);

/* Answers 200 with the object of the one-row read sql (a unit's SQL_TEXT: $1 id, $2 caller;
 * columns PROVENANCE_GET_*), or 404 for `what`, or 403. */
void provenance_get(struct req *r, const char *sql, const char *what);

/* Marks the row r->params[0] deleted with sql (a unit's SQL_TEXT: $1 id, $2 caller; columns
 * PROVENANCE_DEL_*) when the caller created it, in one statement: 204, or 404 for `what`,
 * or 403. */
void provenance_soft_delete(struct req *r, const char *sql, const char *what);

/* Reads {kind, id} at field of body into *id (a UUID; anything else names nothing, 404 for
 * `what`); kinds lists the kinds accepted (two, NULL-ended), or is NULL when kind is not
 * read. 1, or 0 after answering. */
int provenance_ref(struct req *r, json_t *body, const char *field, const char *const *kinds,
                   const char *what, const char **id) MUSTCHECK;

/* Reads the PROVENANCE_GET_FOUND and _SEES columns of a node of kind in row 0 of res (NULL:
 * the statement failed): 1 when it exists and the caller sees it, else 0 after answering
 * 404, 403 or a database error. */
int provenance_node_verdict(struct req *r, const PGresult *res, const char *kind) MUSTCHECK;

/* The kinds of provenance nodes. */
extern const char *const provenance_node_kinds[];

/* True when kind is one of provenance_node_kinds. */
bool provenance_node_kind(const char *kind);

#endif
