/* versions.c: the changes DDS makes to a file's versions (issue 19 item 4): a version's label,
 * the deletion of an older version, and the promotion of an older version to current (a new
 * version on its upload). Reading versions is with the files, in files.c. Each call is one
 * statement (a promotion two, in one transaction): the role check, the write and the
 * answer's columns. */
#include <string.h>

#include "access.h"
#include "db.h"
#include "resource_delete.h"
#include "router.h"
#include "uuid.h"
#include "views.h"

/* The project of a live version ($1) of a live file, for ACCESS_SQL: a deleted version is
 * gone for every change (DDS's hide_logically_deleted). */
#define VERSIONS_LOOKUP                                                                            \
	"SELECT f.project_id FROM file_versions v JOIN files f ON f.id = v.file_id"                \
	" WHERE v.id = $1 AND NOT v.is_deleted AND NOT f.is_deleted"

/* SQL, a CTE named cur(current): whether version $1 is its file's current one. */
#define VERSIONS_SQL_CURRENT                                                                       \
	"cur AS (SELECT " VIEWS_SQL_IS_CURRENT("x") " AS current FROM file_versions x"             \
	                                            " WHERE x.id = $1::uuid)"

/* The statements below (versions_promote_sql apart) answer the ACCESS_VERDICT_NCOLS columns,
 * then whether the version is the current one, then (PUT) the VIEWS_SQL_FILE_VERSION columns
 * of the version written, (DELETE) the id of the version deleted, or (the take of POST) the
 * id of the file taken. */
enum {
	VERSIONS_COL_CURRENT = ACCESS_VERDICT_NCOLS,
	VERSIONS_COL_WRITTEN,
};

/* clang-format off */
/* PUT: $3 the label (NULL: unchanged). */
static const char versions_label_sql[] =
	"WITH acc AS (" ACCESS_SQL(VERSIONS_LOOKUP, ACCESS_LIT(ACCESS_UPDATE)) "), "
	VERSIONS_SQL_CURRENT ", "
	"upd AS (UPDATE file_versions x SET label = coalesce($3::text, x.label) FROM acc"
	" WHERE x.id = $1::uuid AND NOT x.is_deleted AND acc.member AND NOT acc.is_deleted"
	" RETURNING x.*)"
	" SELECT acc.id IS NOT NULL, acc.member, acc.is_deleted, true, cur.current, "
	VIEWS_SQL_FILE_VERSION("x", "u") " FROM (VALUES (1)) one LEFT JOIN acc ON true"
	" LEFT JOIN cur ON true LEFT JOIN (upd x JOIN uploads u ON u.id = x.upload_id) ON true";

/* DELETE: marks the version deleted unless it is the current one, and queues its
 * resource.delete ($3 message id, $4 kind), which purges its upload's bytes when no live
 * version uses the upload any more (jobs/resource_delete.c). */
static const char versions_delete_sql[] =
	"WITH acc AS (" ACCESS_SQL(VERSIONS_LOOKUP, ACCESS_LIT(ACCESS_DELETE)) "), "
	VERSIONS_SQL_CURRENT ", "
	"del AS (UPDATE file_versions d SET is_deleted = true FROM acc, cur"
	" WHERE d.id = $1::uuid AND NOT d.is_deleted AND NOT cur.current AND acc.member"
	" AND NOT acc.is_deleted RETURNING d.id), "
	OUTBOX_SQL_CTE("$3::uuid", "$4::text", "del.id", "del")
	" SELECT acc.id IS NOT NULL, acc.member, acc.is_deleted, true, cur.current, del.id"
	" FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN cur ON true LEFT JOIN del ON true";

/* POST …/current, first of two statements in one transaction: takes the file of version $1
 * (its row locked by the UPDATE, the version FOR SHARE so that it cannot be deleted
 * meanwhile) and marks it updated by $2. Answers the verdict, whether $1 is current, and
 * the file's id when it was taken. */
static const char versions_take_sql[] =
	"WITH acc AS (" ACCESS_SQL(VERSIONS_LOOKUP, ACCESS_LIT(ACCESS_UPDATE)) "), "
	VERSIONS_SQL_CURRENT ", "
	"src AS (SELECT x.file_id FROM file_versions x"
	" WHERE x.id = $1::uuid AND NOT x.is_deleted FOR SHARE), "
	"fi AS (UPDATE files f SET updated_at = now(), updated_by = $2::uuid FROM src, acc, cur"
	" WHERE f.id = src.file_id AND NOT f.is_deleted AND NOT cur.current AND acc.member"
	" AND NOT acc.is_deleted RETURNING f.id)"
	" SELECT acc.id IS NOT NULL, acc.member, acc.is_deleted, true, cur.current, fi.id"
	" FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN cur ON true LEFT JOIN fi ON true";

/* Second: the new version $3, on the upload and with the label of version $1, made by $2,
 * numbered after the highest. A statement of its own, so that its snapshot, taken once the
 * file's row is ours, sees every version a promotion or PUT /files/{id} (which lock that
 * row first too) committed before: two at once on one file never take the same number.
 * Answers the VIEWS_SQL_FILE_VERSION columns of the new version. */
static const char versions_promote_sql[] =
	"WITH ins AS (INSERT INTO file_versions (id, file_id, version, label, upload_id,"
	" created_by, promoted) SELECT $3::uuid, s.file_id, (SELECT max(y.version) + 1"
	" FROM file_versions y WHERE y.file_id = s.file_id), s.label, s.upload_id, $2::uuid, true"
	" FROM file_versions s WHERE s.id = $1::uuid RETURNING *)"
	" SELECT " VIEWS_SQL_FILE_VERSION("x", "u") " FROM ins x JOIN uploads u ON u.id = x.upload_id";
/* clang-format on */

/* Runs sql (params: the version r->params[0], the caller, then extra[0..n)) and checks its
 * verdict. Returns the result when the caller may change a live version (the caller
 * PQclear-s it), else NULL after answering 404, 403 or a database error. */
static PGresult *
versions_exec(struct req *r, const char *sql, const char *const *extra, int n)
{
	const char *params[4] = {r->params[0], r->user_id, n > 0 ? extra[0] : NULL,
	                         n > 1 ? extra[1] : NULL};
	PGresult *res = db_exec(r->db, sql, 2 + n, params);

	if (res == NULL) {
		http_db_error(r);
		return NULL;
	}
	if (access_verdict(r, res, 0, "file version") != 1) {
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Answers 200 with the version a PUT wrote, or 404 when it was gone meanwhile. Takes res. */
static void
versions_answer(struct req *r, PGresult *res)
{
	if (db_get(res, 0, VERSIONS_COL_WRITTEN) == NULL)
		http_not_found(r, "file version");
	else
		http_json(r, 200, views_file_version(res, 0, VERSIONS_COL_WRITTEN));
	PQclear(res);
}

/* PUT /file_versions/{id} {"label"?}: 200 with the version, its label changed (HTTP_MAX_LABEL;
 * absent or null: unchanged, as in DDS). Needs update_file. */
static void
versions_label(struct req *r)
{
	json_t *body = http_body_object(r);
	const char *label = NULL;
	PGresult *res;

	if (body == NULL || http_field_text(r, body, "label", HTTP_MAX_LABEL, 0, &label) < 0)
		goto out;
	if ((res = versions_exec(r, versions_label_sql, &label, 1)) != NULL)
		versions_answer(r, res);
out:
	json_decref(body);
}

/* DELETE /file_versions/{id}: 204, the version deleted (DDS); its upload's bytes are purged
 * in the background when no live version uses it. The current version: 400. Needs
 * delete_file. */
static void
versions_delete(struct req *r)
{
	char mid[UUID_STR_LEN];
	const char *extra[2] = {mid, JOB_RESOURCE_DELETE};
	PGresult *res;

	uuid_generate(mid);
	if ((res = versions_exec(r, versions_delete_sql, extra, 2)) == NULL)
		return;
	if (db_get_bool(res, 0, VERSIONS_COL_CURRENT))
		http_invalid(r, "is_deleted", "the current file version cannot be deleted");
	else if (db_get(res, 0, VERSIONS_COL_WRITTEN) == NULL)
		http_not_found(r, "file version"); /* deleted meanwhile */
	else
		http_raw(r, 204,
		         MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
	PQclear(res);
}

/* POST /file_versions/{id}/current: 201 with a new current version of the file on the
 * upload (and label) of that older version (DDS's promotion); the current version: 400.
 * Needs update_file. One transaction of two statements (versions_take_sql,
 * versions_promote_sql). */
static void
versions_promote(struct req *r)
{
	char vid[UUID_STR_LEN];
	const char *params[3] = {r->params[0], r->user_id, vid};
	PGresult *res;

	uuid_generate(vid);
	if (db_begin(r->db) < 0) {
		http_db_error(r);
		return;
	}
	if ((res = versions_exec(r, versions_take_sql, NULL, 0)) == NULL)
		goto fail;
	if (db_get_bool(res, 0, VERSIONS_COL_CURRENT)) {
		http_invalid(r, "upload_id", "the version is the current file version already");
		goto fail;
	}
	if (db_get(res, 0, VERSIONS_COL_WRITTEN) == NULL) {
		http_not_found(r, "file version"); /* deleted meanwhile */
		goto fail;
	}
	PQclear(res);
	http_commit_result(r, 201, db_exec(r->db, versions_promote_sql, 3, params), "file version",
	                   views_file_version);
	return;
fail:
	PQclear(res);
	db_rollback(r->db);
}

const struct route versions_routes[] = {
    {.method = "PUT",
     .pattern = "/api/v1/file_versions/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "file_versions.update",
     .handle = versions_label},
    {.method = "DELETE",
     .pattern = "/api/v1/file_versions/:id:uuid",
     .flags = ROUTE_AUTH | ROUTE_JOBS,
     .name = "file_versions.delete",
     .handle = versions_delete},
    {.method = "POST",
     .pattern = "/api/v1/file_versions/:id:uuid/current",
     .flags = ROUTE_AUTH,
     .name = "file_versions.promote",
     .handle = versions_promote},
    {.method = NULL},
};
