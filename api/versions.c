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

/* The units versions_label, versions_delete and versions_take return access_verdict's
 * columns, then whether the version is the current one (current), then what they wrote:
 * versions_exec reads the verdict of each by the names of versions_label's. */
_Static_assert(HTTP_SAME_COLUMN(VERSIONS_DELETE_C_FOUND, VERSIONS_LABEL_C_FOUND) &&
                   HTTP_SAME_COLUMN(VERSIONS_TAKE_C_FOUND, VERSIONS_LABEL_C_FOUND) &&
                   HTTP_SAME_COLUMN(VERSIONS_DELETE_C_CURRENT, VERSIONS_LABEL_C_CURRENT) &&
                   HTTP_SAME_COLUMN(VERSIONS_TAKE_C_CURRENT, VERSIONS_LABEL_C_CURRENT),
               "the columns of the three units");

/* Runs u, one of those units (params: the version r->params[0], the caller, then
 * extra[0..n), n its parameters past those two), and checks its verdict. Returns the result when
 * the caller may change a live version (the caller PQclear-s it), else NULL after answering 404,
 * 403 or a database error. */
static PGresult *
versions_exec(struct req *r, enum sql_unit u, const char *const *extra, int n)
{
	const char *params[4] = {r->params[0], r->user_id, n > 0 ? extra[0] : NULL,
	                         n > 1 ? extra[1] : NULL};
	PGresult *res = db_exec(r->db, u, params);

	if (res == NULL) {
		http_db_error(r);
		return NULL;
	}
	if (access_verdict(r, res, VERSIONS_LABEL_C_FOUND, "file version") != 1) {
		PQclear(res);
		return NULL;
	}
	return res;
}

/* Answers 200 with the version a PUT wrote, or 404 when it was gone meanwhile. Takes res. */
static void
versions_answer(struct req *r, PGresult *res)
{
	if (db_get(res, 0, VERSIONS_LABEL_C_ID) == NULL)
		http_not_found(r, "file version");
	else
		http_json(r, 200, views_file_version(res, 0, VERSIONS_LABEL_C_ID));
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
	if ((res = versions_exec(r, SQL_VERSIONS_LABEL, &label, 1)) != NULL)
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
	if ((res = versions_exec(r, SQL_VERSIONS_DELETE, extra, 2)) == NULL)
		return;
	if (db_get_bool(res, 0, VERSIONS_DELETE_C_CURRENT))
		http_invalid(r, "is_deleted", "the current file version cannot be deleted");
	else if (db_get(res, 0, VERSIONS_DELETE_C_DELETED_ID) == NULL)
		http_not_found(r, "file version"); /* deleted meanwhile */
	else
		http_raw(r, 204,
		         MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT));
	PQclear(res);
}

/* POST /file_versions/{id}/current: 201 with a new current version of the file on the
 * upload (and label) of that older version (DDS's promotion); the current version: 400.
 * Needs update_file. One transaction of two statements (versions_take, versions_promote). */
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
	if ((res = versions_exec(r, SQL_VERSIONS_TAKE, NULL, 0)) == NULL)
		goto fail;
	if (db_get_bool(res, 0, VERSIONS_TAKE_C_CURRENT)) {
		http_invalid(r, "upload_id", "the version is the current file version already");
		goto fail;
	}
	if (db_get(res, 0, VERSIONS_TAKE_C_FILE_ID) == NULL) {
		http_not_found(r, "file version"); /* deleted meanwhile */
		goto fail;
	}
	PQclear(res);
	_Static_assert(VERSIONS_PROMOTE_C_ID == 0, "http_commit_result reads the version from 0");
	http_commit_result(r, 201, db_exec(r->db, SQL_VERSIONS_PROMOTE, params), "file version",
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
