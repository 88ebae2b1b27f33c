/* files.c: files and their versions (API.md "Files and versions"): create from a completed
 * upload, read, new versions, delete, and the signed download URLs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "db.h"
#include "folders.h"
#include "names.h"
#include "router.h"
#include "session.h"
#include "storage_http.h"
#include "uuid.h"
#include "views.h"
#include "wait.h"

/* The two units of POST /files return the same columns: files_create reads them by the
 * names of files_create_in_project's. */
_Static_assert(HTTP_SAME_COLUMN(FILES_CREATE_IN_FOLDER_C_FOUND, FILES_CREATE_IN_PROJECT_C_FOUND) &&
                   HTTP_SAME_COLUMN(FILES_CREATE_IN_FOLDER_C_IN_PROJECT,
                                    FILES_CREATE_IN_PROJECT_C_IN_PROJECT) &&
                   HTTP_SAME_COLUMN(FILES_CREATE_IN_FOLDER_C_COMPLETED,
                                    FILES_CREATE_IN_PROJECT_C_COMPLETED) &&
                   HTTP_SAME_COLUMN(FILES_CREATE_IN_FOLDER_C_TAKEN,
                                    FILES_CREATE_IN_PROJECT_C_TAKEN) &&
                   HTTP_SAME_COLUMN(FILES_CREATE_IN_FOLDER_C_ID, FILES_CREATE_IN_PROJECT_C_ID) &&
                   HTTP_SAME_COLUMN(FILES_CREATE_IN_FOLDER_C_NAME, FILES_CREATE_IN_PROJECT_C_NAME),
               "the columns of the two units");

/* Checks the caller may do perm on the live file r->params[0]; 1 allowed, else answered. */
static int
files_access(struct req *r, const char *perm, struct access_project *p)
{
	return access_check(r, SQL_FILES_ACCESS, r->params[0], perm, "file", p);
}

/* Answers status with the file JSON of id. */
static void
files_answer(struct req *r, int status, const char *id)
{
	http_answer_row(r, status, SQL_FILES_ONE, id, "file", views_file);
}

/* Reads {"upload": {"id"}} and the optional label (HTTP_MAX_LABEL) of a create or update
 * body. 0, or -1 after answering 400. */
static int
files_read_upload(struct req *r, json_t *body, const char **upload_id, const char **label)
{
	json_t *u = NULL;
	int rc;

	if ((rc = http_field_obj(r, body, "upload", &u)) < 0)
		return -1;
	if (rc == 0) {
		http_invalid(r, "upload", "is required");
		return -1;
	}
	if ((rc = http_field_str(r, u, "id", upload_id)) < 0)
		return -1;
	if (rc == 0 || !uuid_valid(*upload_id)) {
		http_invalid(r, "upload[id]", "must be the id of an upload");
		return -1;
	}
	return http_field_text(r, body, "label", HTTP_MAX_LABEL, 0, label) < 0 ? -1 : 0;
}

/* Checks that upload_id may back a new version in project_id: it exists there, is
 * completed and backs no version yet. 1 when it may, 0 after answering, -1 on a database
 * error (not answered). */
static int
files_check_upload(struct req *r, const char *upload_id, const char *project_id)
{
	const char *params[1] = {upload_id};
	PGresult *res = db_exec(r->db, SQL_FILES_CHECK_UPLOAD, params);
	int rc = 0;

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0 ||
	    strcmp(db_get(res, 0, FILES_CHECK_UPLOAD_C_PROJECT_ID), project_id) != 0)
		http_invalid(r, "upload[id]", "no such upload in this project");
	else if (!db_get_bool(res, 0, FILES_CHECK_UPLOAD_C_COMPLETED))
		http_invalid(r, "upload[id]", "the upload is not completed");
	else if (db_get_bool(res, 0, FILES_CHECK_UPLOAD_C_TAKEN))
		http_invalid(r, "upload[id]", "the upload already backs a file version");
	else
		rc = 1;
	PQclear(res);
	return rc;
}

/* Answers the result of files_create_in_*: 201 with the file, or why there is none. */
static void
files_created(struct req *r, const PGresult *res, bool in_folder)
{
	if (access_verdict(r, res, FILES_CREATE_IN_PROJECT_C_FOUND,
	                   in_folder ? "folder" : "project") != 1)
		return;
	if (!db_get_bool(res, 0, FILES_CREATE_IN_PROJECT_C_IN_PROJECT))
		http_invalid(r, "upload[id]", "no such upload in this project");
	else if (!db_get_bool(res, 0, FILES_CREATE_IN_PROJECT_C_COMPLETED))
		http_invalid(r, "upload[id]", "the upload is not completed");
	else if (db_get_bool(res, 0, FILES_CREATE_IN_PROJECT_C_TAKEN))
		http_invalid(r, "upload[id]", "the upload already backs a file version");
	else if (db_get(res, 0, FILES_CREATE_IN_PROJECT_C_ID) == NULL)
		http_db_error(r);
	else
		http_json(r, 201, views_file(res, 0, FILES_CREATE_IN_PROJECT_C_ID));
}

/* True after answering 400 when the name the new file of a files_create_in_* row took from
 * its upload breaks the name rule (names_problem): an upload stored before the rule may. */
static bool
files_name_refused(struct req *r, const PGresult *res)
{
	const char *name = db_get(res, 0, FILES_CREATE_IN_PROJECT_C_NAME);
	const char *problem = name != NULL ? names_problem(name, strlen(name)) : NULL;
	char *msg;

	if (problem == NULL)
		return false;
	msg = xasprintf("the upload's name %s", problem);
	http_invalid(r, "upload[id]", msg);
	free(msg);
	return true;
}

/* POST /files {"parent", "upload", "label"?}: 201 with the file and its first version.
 * One statement checks the parent, the caller and the upload and inserts both rows; it
 * runs in a transaction that is rolled back when the name the file took from its upload
 * breaks the name rule. */
static void
files_create(struct req *r)
{
	json_t *body = http_body_object(r);
	const char *parent = NULL, *upload_id = NULL, *label = NULL;
	char id[UUID_STR_LEN], vid[UUID_STR_LEN];
	const char *params[6] = {NULL, NULL, id, vid, NULL, r->user_id};
	bool in_folder = false;
	PGresult *res = NULL;

	if (body == NULL || files_read_upload(r, body, &upload_id, &label) < 0 ||
	    folders_read_parent(r, body, true, &in_folder, &parent) < 0)
		goto out;
	uuid_generate(id);
	uuid_generate(vid);
	params[0] = parent;
	params[1] = upload_id;
	params[4] = label;
	if (db_begin(r->db) < 0) {
		http_db_error(r);
		goto out;
	}
	res = db_exec(r->db, in_folder ? SQL_FILES_CREATE_IN_FOLDER : SQL_FILES_CREATE_IN_PROJECT,
	              params);
	if (res == NULL || files_name_refused(r, res)) {
		bool taken = res == NULL && strcmp(db_last_sqlstate(), "23505") == 0;
		db_rollback(r->db);
		if (taken) /* the upload taken meanwhile */
			http_invalid(r, "upload[id]", "the upload already backs a file version");
		else if (res == NULL)
			http_db_error(r);
	} else if (db_commit(r->db) < 0) {
		http_db_error(r);
	} else {
		files_created(r, res, in_folder);
	}
	PQclear(res);
out:
	json_decref(body);
}

ACCESS_UNIT_SHAPE(FILES_GET);
ACCESS_UNIT_SHAPE(FILES_DELETE);
ACCESS_UNIT_SHAPE(FILES_VERSION_GET);

/* GET /files/{id}: one statement. */
static void
files_get(struct req *r)
{
	access_get(r, SQL_FILES_GET, "file", views_file);
}

/* Adds the next version of file r->params[0] in one transaction (the file row locked).
 * The file keeps its name, as in DDS: only its current version (upload, label) changes.
 * 0, -1 database error, 1 when the file is gone or the upload was taken meanwhile. */
static int
files_add_version(struct req *r, const char *upload_id, const char *label)
{
	char vid[UUID_STR_LEN];
	const char *v[5] = {vid, r->params[0], label, upload_id, r->user_id};
	const char *f[2] = {r->params[0], r->user_id};
	PGresult *res = NULL;
	int rc = -1;

	uuid_generate(vid);
	if (db_begin(r->db) < 0)
		return -1;
	res = db_exec(r->db, SQL_FILES_TOUCH, f);
	if (res == NULL)
		goto fail;
	if (PQntuples(res) == 0) {
		rc = 1;
		goto fail;
	}
	if (db_cmd(r->db, SQL_FILES_ADD_VERSION, v) < 0 || db_commit(r->db) < 0) {
		rc = strcmp(db_last_sqlstate(), "23505") == 0 ? 1 : -1;
		goto fail;
	}
	PQclear(res);
	return 0;
fail:
	PQclear(res);
	db_rollback(r->db);
	return rc;
}

/* PUT /files/{id} {"upload": {"id"}, "label"?}: a new current version, 200; the name stays. */
static void
files_update(struct req *r)
{
	struct access_project p;
	json_t *body = http_body_object(r);
	const char *upload_id = NULL, *label = NULL;
	int rc;

	if (body == NULL || files_read_upload(r, body, &upload_id, &label) < 0 ||
	    files_access(r, ACCESS_UPDATE, &p) != 1)
		goto out;
	rc = files_check_upload(r, upload_id, p.id);
	if (rc <= 0) {
		if (rc < 0)
			http_db_error(r);
		goto out;
	}
	rc = files_add_version(r, upload_id, label);
	if (rc < 0)
		http_db_error(r);
	else if (rc > 0)
		http_invalid(r, "upload[id]", "the upload already backs a file version");
	else
		files_answer(r, 200, r->params[0]);
out:
	json_decref(body);
}

/* DELETE /files/{id}: marks it deleted and queues resource.delete in one statement; 202. */
static void
files_delete(struct req *r)
{
	access_soft_delete(r, SQL_FILES_DELETE, "file", views_file);
}

/* GET /files/{id}/versions: every version, oldest first, paged. */
static void
files_versions(struct req *r)
{
	struct access_project p;
	int64_t page, per_page;
	char lim[24], off[24];
	const char *params[3] = {r->params[0], lim, off};
	PGresult *res;

	if (http_paging_args(r, &page, &per_page, lim, off) < 0 ||
	    files_access(r, ACCESS_VIEW, &p) != 1)
		return;
	res = db_exec(r->db, SQL_FILES_VERSIONS, params);
	if (res == NULL)
		http_db_error(r);
	else
		http_answer_page(r, res, FILES_VERSIONS_C_TOTAL, views_file_version,
		                 SQL_FILES_VERSIONS_COUNT, r->params[0], page, per_page);
}

/* GET /file_versions/{id}: one statement. */
static void
files_version_get(struct req *r)
{
	access_get(r, SQL_FILES_VERSION_GET, "file version", views_file_version);
}

/* The two units of the download URLs (the read path clients poll) return the same columns:
 * files_url_answer reads them by the names of files_url's. */
_Static_assert(HTTP_SAME_COLUMN(FILES_URL_NCOLS, FILES_VERSION_URL_NCOLS) &&
                   HTTP_SAME_COLUMN(FILES_URL_C_DOWNLOAD, FILES_VERSION_URL_C_DOWNLOAD) &&
                   HTTP_SAME_COLUMN(FILES_URL_C_UPLOAD_ID, FILES_VERSION_URL_C_UPLOAD_ID) &&
                   HTTP_SAME_COLUMN(FILES_URL_C_IS_CONSISTENT, FILES_VERSION_URL_C_IS_CONSISTENT) &&
                   HTTP_SAME_COLUMN(FILES_URL_C_HAS_ERROR, FILES_VERSION_URL_C_HAS_ERROR) &&
                   HTTP_SAME_COLUMN(FILES_URL_C_ERROR_MESSAGE, FILES_VERSION_URL_C_ERROR_MESSAGE) &&
                   HTTP_SAME_COLUMN(FILES_URL_C_PURGED, FILES_VERSION_URL_C_PURGED) &&
                   HTTP_SAME_COLUMN(FILES_URL_C_STORAGE_CONTAINER,
                                    FILES_VERSION_URL_C_STORAGE_CONTAINER) &&
                   HTTP_SAME_COLUMN(FILES_URL_C_POSITION, FILES_VERSION_URL_C_POSITION) &&
                   HTTP_SAME_COLUMN(FILES_URL_C_STORAGE_PROVIDER,
                                    FILES_VERSION_URL_C_STORAGE_PROVIDER),
               "the columns of the two units");

/* Answers the download URL of the upload that unit u (files_url or files_version_url) selects
 * for r->params[0]: 200 when
 * consistent, 400 integrity_exception after a failed check, 404 not consistent before
 * (waiting first under Prefer: wait), 403 without download_file, 404 when there is none,
 * 503 when the configured storage provider does not hold its bytes. */
static void
files_url_answer(struct req *r, enum sql_unit u, const char *what)
{
	const char *params[2] = {r->params[0], r->user_id};
	PGresult *res = db_exec(r->db, u, params);

	if (res == NULL) {
		http_db_error(r);
		return;
	}
	if (PQntuples(res) > 0)
		session_saw(
		    r, db_get(res, 0, FILES_URL_C_POSITION)); /* whatever the answer (ROUTE_SEES) */
	if (PQntuples(res) == 0 || db_get_bool(res, 0, FILES_URL_C_PURGED)) {
		http_not_found(r, what);
	} else if (!db_get_bool(res, 0, FILES_URL_C_DOWNLOAD)) {
		http_forbidden(r);
	} else if (db_get_bool(res, 0, FILES_URL_C_HAS_ERROR)) {
		const char *msg = db_get(res, 0, FILES_URL_C_ERROR_MESSAGE);
		http_error(r, 400, "integrity_exception",
		           msg != NULL ? msg : "the upload failed its integrity check",
		           "You must begin a new upload process");
	} else if (!db_get_bool(res, 0, FILES_URL_C_IS_CONSISTENT)) {
		/* Under Prefer: wait the route's handler runs again once it is consistent. */
		if (!wait_for(r, db_get(res, 0, FILES_URL_C_UPLOAD_ID), r->route->handle))
			http_not_consistent(r);
	} else if (!storage_http_holds(r, db_get(res, 0, FILES_URL_C_STORAGE_PROVIDER), 503)) {
		/* answered */
	} else {
		json_t *url =
		    storage_http_url("GET", db_get(res, 0, FILES_URL_C_STORAGE_CONTAINER),
		                     db_get(res, 0, FILES_URL_C_UPLOAD_ID), 0, r->session_lsn);
		wait_applied(r);
		if (url != NULL)
			http_json(r, 200, url);
		else
			storage_http_unavailable(r);
	}
	PQclear(res);
}

/* GET /files/{id}/url: the download URL of the current version. */
static void
files_url(struct req *r)
{
	files_url_answer(r, SQL_FILES_URL, "file");
}

/* GET /file_versions/{id}/url: the download URL of that version. */
static void
files_version_url(struct req *r)
{
	files_url_answer(r, SQL_FILES_VERSION_URL, "file version");
}

const struct route files_routes[] = {
    {.method = "POST",
     .pattern = "/api/v1/files",
     .flags = ROUTE_AUTH,
     .name = "files.create",
     .handle = files_create},
    {.method = "GET",
     .pattern = "/api/v1/files/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "files.get",
     .handle = files_get},
    {.method = "PUT",
     .pattern = "/api/v1/files/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "files.update",
     .handle = files_update},
    {.method = "DELETE",
     .pattern = "/api/v1/files/:id:uuid",
     .flags = ROUTE_AUTH | ROUTE_JOBS,
     .name = "files.delete",
     .handle = files_delete},
    {.method = "GET",
     .pattern = "/api/v1/files/:id:uuid/versions",
     .flags = ROUTE_AUTH,
     .name = "files.versions",
     .handle = files_versions},
    {.method = "GET",
     .pattern = "/api/v1/files/:id:uuid/url",
     .flags = ROUTE_AUTH | ROUTE_SEES,
     .name = "files.url",
     .handle = files_url},
    {.method = "GET",
     .pattern = "/api/v1/file_versions/:id:uuid",
     .flags = ROUTE_AUTH,
     .name = "file_versions.get",
     .handle = files_version_get},
    {.method = "GET",
     .pattern = "/api/v1/file_versions/:id:uuid/url",
     .flags = ROUTE_AUTH | ROUTE_SEES,
     .name = "file_versions.url",
     .handle = files_version_url},
    {.method = NULL},
};
