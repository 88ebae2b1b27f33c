/* files.c: files and their versions (API.md "Files and versions"): create from a completed
 * upload, read, new versions, delete, and the signed download URLs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "db.h"
#include "folders.h"
#include "names.h"
#include "outbox.h"
#include "router.h"
#include "session.h"
#include "storage_http.h"
#include "uuid.h"
#include "views.h"
#include "wait.h"

static const char files_project_sql[] =
    ACCESS_SQL_CHECK("SELECT project_id FROM files WHERE id = $1 AND NOT is_deleted");

#define FILES_VERSION_SELECT                                                                       \
	"SELECT " VIEWS_SQL_FILE_VERSION("v", "u") ", count(*) OVER () FROM file_versions v "      \
	                                           "JOIN uploads u ON u.id = v.upload_id "

/* clang-format off */
/* POST /files in one statement: the parent (par: the project, or a live folder and its
 * project, by $1), the caller ($6) and the upload ($2) are checked, and the file ($3) and
 * its first version ($4, label $5) inserted. Columns: the FILES_VERDICT_* then, when it
 * was inserted, the file's VIEWS_SQL_FILE columns, rendered from what was inserted (the
 * final SELECT does not see the rows its CTEs write). */
#define FILES_CREATE_SQL(parent) \
	"WITH " parent ", " \
	"up AS (SELECT u.id, u.project_id, u.completed_at IS NOT NULL AS completed, u.name, " \
	"EXISTS (SELECT 1 FROM file_versions v WHERE v.upload_id = u.id) AS taken " \
	"FROM uploads u WHERE u.id = $2::uuid), " \
	"fi AS (INSERT INTO files (id, project_id, parent_id, name, created_by) SELECT $3::uuid, " \
	"par.project_id, par.folder_id, up.name, $6::uuid FROM par JOIN up ON up.project_id = " \
	"par.project_id WHERE par.member AND NOT par.is_deleted AND up.completed AND NOT up.taken " \
	"RETURNING *), " \
	"ve AS (INSERT INTO file_versions (id, file_id, version, label, upload_id, created_by) " \
	"SELECT $4::uuid, fi.id, 1, $5::text, $2::uuid, $6::uuid FROM fi RETURNING *) " \
	"SELECT par.project_id IS NOT NULL, par.member, par.is_deleted, true, " \
	"up.project_id IS NOT DISTINCT FROM par.project_id, up.completed, up.taken, " \
	VIEWS_SQL_FOLDER("fi") ", (SELECT json_build_object('id', ve.id, 'version', ve.version, " \
	"'label', ve.label, 'upload', " VIEWS_SQL_UPLOAD_BRIEF("vu2") ")::text FROM ve JOIN " \
	"uploads vu2 ON vu2.id = ve.upload_id) FROM (VALUES (1)) one LEFT JOIN par ON true " \
	"LEFT JOIN up ON true LEFT JOIN fi ON true"

#define FILES_PARENT_MEMBER ACCESS_SQL_CAN("p", "$6::uuid", ACCESS_LIT(ACCESS_CREATE)) " AS member"

static const char files_create_in_project_sql[] = FILES_CREATE_SQL(
	"par AS (SELECT p.id AS project_id, NULL::uuid AS folder_id, p.is_deleted, "
	FILES_PARENT_MEMBER " FROM projects p WHERE p.id = $1::uuid)");
static const char files_create_in_folder_sql[] = FILES_CREATE_SQL(
	"par AS (SELECT p.id AS project_id, f.id AS folder_id, p.is_deleted, "
	FILES_PARENT_MEMBER " FROM folders f JOIN projects p ON p.id = f.project_id "
	"WHERE f.id = $1::uuid AND NOT f.is_deleted)");
/* clang-format on */

/* Columns of FILES_CREATE_SQL: access_verdict's, then the upload's checks, then the file. */
enum {
	FILES_VERDICT_IN_PROJECT = ACCESS_VERDICT_NCOLS,
	FILES_VERDICT_COMPLETED,
	FILES_VERDICT_TAKEN,
	FILES_VERDICT_NCOLS,
};
/* The new file's name: the second of its VIEWS_SQL_FOLDER columns. */
#define FILES_CREATED_NAME (FILES_VERDICT_NCOLS + 1)

/* Checks the caller may do perm on the live file or version r->params[0] (sql maps it to
 * the project); 1 allowed, else answered. */
static int
files_access(struct req *r, const char *sql, const char *perm, const char *what,
             struct access_project *p)
{
	return access_check(r, sql, r->params[0], perm, what, p);
}

/* Answers status with the file JSON of id. */
static void
files_answer(struct req *r, int status, const char *id)
{
	http_answer_row(r, status, "SELECT " VIEWS_SQL_FILE("f") " FROM files f WHERE f.id = $1",
	                id, "file", views_file);
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
	PGresult *res = db_exec(r->db,
	                        "SELECT u.project_id, u.completed_at IS NOT NULL, "
	                        "EXISTS (SELECT 1 FROM file_versions v WHERE v.upload_id = u.id) "
	                        "FROM uploads u WHERE u.id = $1",
	                        1, params);
	int rc = 0;

	if (res == NULL)
		return -1;
	if (PQntuples(res) == 0 || strcmp(db_get(res, 0, 0), project_id) != 0)
		http_invalid(r, "upload[id]", "no such upload in this project");
	else if (!db_get_bool(res, 0, 1))
		http_invalid(r, "upload[id]", "the upload is not completed");
	else if (db_get_bool(res, 0, 2))
		http_invalid(r, "upload[id]", "the upload already backs a file version");
	else
		rc = 1;
	PQclear(res);
	return rc;
}

/* Answers the result of FILES_CREATE_SQL: 201 with the file, or why there is none. */
static void
files_created(struct req *r, const PGresult *res, bool in_folder)
{
	if (access_verdict(r, res, 0, in_folder ? "folder" : "project") != 1)
		return;
	if (!db_get_bool(res, 0, FILES_VERDICT_IN_PROJECT))
		http_invalid(r, "upload[id]", "no such upload in this project");
	else if (!db_get_bool(res, 0, FILES_VERDICT_COMPLETED))
		http_invalid(r, "upload[id]", "the upload is not completed");
	else if (db_get_bool(res, 0, FILES_VERDICT_TAKEN))
		http_invalid(r, "upload[id]", "the upload already backs a file version");
	else if (db_get(res, 0, FILES_VERDICT_NCOLS) == NULL)
		http_db_error(r);
	else
		http_json(r, 201, views_file(res, 0, FILES_VERDICT_NCOLS));
}

/* True after answering 400 when the name the new file of a FILES_CREATE_SQL row took from
 * its upload breaks the name rule (names_problem): an upload stored before the rule may. */
static bool
files_name_refused(struct req *r, const PGresult *res)
{
	const char *name = db_get(res, 0, FILES_CREATED_NAME);
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
	res = db_exec(r->db, in_folder ? files_create_in_folder_sql : files_create_in_project_sql,
	              6, params);
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

static const char files_get_sql[] =
    ACCESS_SQL_GET("SELECT project_id FROM files WHERE id = $1 AND NOT is_deleted", "files x",
                   VIEWS_SQL_FILE("x"));

/* GET /files/{id}: one statement. */
static void
files_get(struct req *r)
{
	access_get(r, files_get_sql, "file", views_file);
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
	res = db_exec(r->db,
	              "UPDATE files SET updated_at = now(), updated_by = $2 "
	              "WHERE id = $1 AND NOT is_deleted RETURNING id",
	              2, f);
	if (res == NULL)
		goto fail;
	if (PQntuples(res) == 0) {
		rc = 1;
		goto fail;
	}
	if (db_cmd(r->db,
	           "INSERT INTO file_versions (id, file_id, version, label, upload_id, created_by) "
	           "SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5 FROM file_versions "
	           "WHERE file_id = $2",
	           5, v) < 0 ||
	    db_commit(r->db) < 0) {
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
	    files_access(r, files_project_sql, ACCESS_UPDATE, "file", &p) != 1)
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

static const char files_delete_sql[] =
    ACCESS_SQL_DELETE("SELECT project_id FROM files WHERE id = $1 AND NOT is_deleted",
                      ACCESS_LIT(ACCESS_DELETE), "files", VIEWS_SQL_FILE("d"));

/* DELETE /files/{id}: marks it deleted and queues resource.delete in one statement; 202. */
static void
files_delete(struct req *r)
{
	access_soft_delete(r, files_delete_sql, "file", views_file);
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
	    files_access(r, files_project_sql, ACCESS_VIEW, "file", &p) != 1)
		return;
	res = db_exec(r->db,
	              FILES_VERSION_SELECT "WHERE v.file_id = $1 ORDER BY v.version LIMIT $2 "
	                                   "OFFSET $3",
	              3, params);
	if (res == NULL)
		http_db_error(r);
	else
		http_answer_page(r, res, VIEWS_FILE_VERSION_NCOLS, views_file_version,
		                 "SELECT count(*) FROM file_versions WHERE file_id = $1",
		                 r->params[0], page, per_page);
}

static const char files_version_get_sql[] = ACCESS_SQL_GET(
    "SELECT f.project_id FROM file_versions v JOIN files f ON f.id = v.file_id WHERE v.id = $1 "
    "AND NOT f.is_deleted",
    "(file_versions x JOIN uploads u ON u.id = x.upload_id)", VIEWS_SQL_FILE_VERSION("x", "u"));

/* GET /file_versions/{id}: one statement. */
static void
files_version_get(struct req *r)
{
	access_get(r, files_version_get_sql, "file version", views_file_version);
}

/* The state of a version's upload and the caller's right to it, in one round trip (the
 * read path clients poll). $1 is the file or version id, $2 the user. Columns: may download,
 * upload id, is_consistent, has error, error_message, purged, storage container, the
 * position the statement saw (for the URL), the storage provider that holds its bytes. */
#define FILES_URL_SQL(from, where)                                                                 \
	"SELECT " ACCESS_SQL_CAN(                                                                  \
	    "p", "$2::uuid",                                                                       \
	    ACCESS_LIT(                                                                            \
	        ACCESS_DOWNLOAD)) ", u.id, "                                                       \
	                          "u.is_consistent, u.error_at IS NOT NULL, "                      \
	                          "u.error_message, u.purged_at IS NOT NULL, "                     \
	                          "u.storage_container, " SESSION_SQL_POSITION                     \
	                          ", u.storage_provider FROM " from                                \
	                          " JOIN projects p ON p.id = f.project_id AND NOT p.is_deleted"   \
	                          " JOIN uploads u ON u.id = v.upload_id"                          \
	                          " WHERE " where

static const char files_url_sql[] =
    FILES_URL_SQL("files f JOIN LATERAL (SELECT upload_id FROM file_versions WHERE file_id = "
                  "f.id AND NOT is_deleted ORDER BY version DESC LIMIT 1) v ON true",
                  "f.id = $1 AND NOT f.is_deleted");
/* A deleted version has no download URL (DDS), even while another version keeps its bytes. */
static const char files_version_url_sql[] =
    FILES_URL_SQL("file_versions v JOIN files f ON f.id = v.file_id",
                  "v.id = $1 AND NOT v.is_deleted AND NOT f.is_deleted");

/* Answers the download URL of the upload that sql selects for r->params[0]: 200 when
 * consistent, 400 integrity_exception after a failed check, 404 not consistent before
 * (waiting first under Prefer: wait), 403 without download_file, 404 when there is none,
 * 503 when the configured storage provider does not hold its bytes. */
static void
files_url_answer(struct req *r, const char *sql, const char *what)
{
	const char *params[2] = {r->params[0], r->user_id};
	PGresult *res = db_exec(r->db, sql, 2, params);

	if (res == NULL) {
		http_db_error(r);
		return;
	}
	if (PQntuples(res) > 0)
		session_saw(r, db_get(res, 0, 7)); /* whatever the answer (ROUTE_SEES) */
	if (PQntuples(res) == 0 || db_get_bool(res, 0, 5)) {
		http_not_found(r, what);
	} else if (!db_get_bool(res, 0, 0)) {
		http_forbidden(r);
	} else if (db_get_bool(res, 0, 3)) {
		const char *msg = db_get(res, 0, 4);
		http_error(r, 400, "integrity_exception",
		           msg != NULL ? msg : "the upload failed its integrity check",
		           "You must begin a new upload process");
	} else if (!db_get_bool(res, 0, 2)) {
		/* Under Prefer: wait the route's handler runs again once it is consistent. */
		if (!wait_for(r, db_get(res, 0, 1), r->route->handle))
			http_not_consistent(r);
	} else if (!storage_http_holds(r, db_get(res, 0, 8), 503)) {
		/* answered */
	} else {
		json_t *url = storage_http_url("GET", db_get(res, 0, 6), db_get(res, 0, 1), 0,
		                               r->session_lsn);
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
	files_url_answer(r, files_url_sql, "file");
}

/* GET /file_versions/{id}/url: the download URL of that version. */
static void
files_version_url(struct req *r)
{
	files_url_answer(r, files_version_url_sql, "file version");
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
