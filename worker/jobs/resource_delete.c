/* resource_delete.c: the resource.delete job: soft-deletes what lies under a deleted
 * project, folder or file and purges the stored bytes of its uploads (of a deleted file
 * version: of its upload, once no live version uses it). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "jobs.h"
#include "log.h"
#include "storage.h"

/* The folder $1 and all its descendants, deleted or not, as a CTE named sub(id) (the walk
 * is the migration's settle_folder_subtree, 0011). */
#define RD_SUBTREE "WITH sub(id) AS (SELECT id FROM settle_folder_subtree(ARRAY[$1::uuid], false)) "

/* Runs the statements of sqls (each taking $1 = id) in order. 0 or -1 with *err. */
static int
rd_run_all(PGconn *c, const char *id, const char *const *sqls, int n, char **err)
{
	const char *p[] = {id};

	for (int i = 0; i < n; i++) {
		if (db_cmd(c, sqls[i], 1, p) < 0) {
			*err = xstrdup("database: soft-deleting children failed");
			errno = EIO;
			return -1;
		}
	}
	return 0;
}

/* The chunk numbers of a JOBS_SQL_CHUNK_NUMBERS column ("{1,2,3}"), in *n; new array
 * (caller frees). */
static int *
rd_chunk_numbers(const char *text, int *n)
{
	int *numbers = xcalloc(strlen(text) / 2 + 1, sizeof(*numbers)); /* "{1,2}": 2 of 5 */
	char *end;

	*n = 0;
	for (const char *s = text + (*text == '{'); *s >= '0' && *s <= '9'; s = end + (*end == ','))
		numbers[(*n)++] = (int)strtol(s, &end, 10);
	return numbers;
}

/* Deletes the stored bytes of upload id in container, by its chunk numbers (the text of a
 * JOBS_SQL_CHUNK_NUMBERS column), and sets its purged_at. 0, or -1 with *err and errno. */
static int
rd_purge_one(PGconn *c, const char *id, const char *container, const char *chunks, char **err)
{
	const char *q[] = {id};
	char *serr = NULL;
	int n, rc = -1, e = EIO;
	int *numbers = rd_chunk_numbers(chunks, &n);

	if (storage_upload_delete(container, id, numbers, n, &serr) < 0) {
		e = errno;
		*err =
		    xasprintf("storage: purging upload %s: %s", id, serr != NULL ? serr : "failed");
		goto out;
	}
	if (db_cmd(c, "UPDATE uploads SET purged_at = now() WHERE id = $1 AND purged_at IS NULL", 1,
	           q) < 0) {
		*err = xstrdup("database: marking an upload purged failed");
		goto out;
	}
	rc = 0;
out:
	free(serr);
	free(numbers);
	errno = e;
	return rc;
}

/* Purges the uploads that sql selects (see jobs.h). */
int
resource_delete_purge(PGconn *c, const char *sql, int nparams, const char *const *params,
                      int *purged, char **err)
{
	PGresult *r = db_exec(c, sql, nparams, params);
	int rc = -1, e = EIO;

	if (r == NULL) {
		*err = xstrdup("database: listing uploads to purge failed");
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		if (rd_purge_one(c, db_get(r, i, 0), db_get(r, i, 1), db_get(r, i, 2), err) < 0) {
			e = errno;
			goto out;
		}
		(*purged)++;
	}
	rc = 0;
out:
	PQclear(r);
	errno = e;
	return rc;
}

/* Deletes everything of project id and its storage container; children inherit the
 * project's deleted_by. 0 or -1 with *err. */
static int
rd_project(PGconn *c, const char *id, const char *container, int *purged, char **err)
{
	static const char *const sqls[] = {
	    "UPDATE folders SET is_deleted = true, deleted_at = now(),"
	    " deleted_by = (SELECT deleted_by FROM projects WHERE id = $1)"
	    " WHERE project_id = $1 AND NOT is_deleted",
	    "UPDATE files SET is_deleted = true, deleted_at = now(),"
	    " deleted_by = (SELECT deleted_by FROM projects WHERE id = $1)"
	    " WHERE project_id = $1 AND NOT is_deleted",
	    "UPDATE file_versions SET is_deleted = true WHERE NOT is_deleted"
	    " AND file_id IN (SELECT id FROM files WHERE project_id = $1)",
	};
	const char *p[] = {id};
	char *serr = NULL;
	int rc = -1;

	if (rd_run_all(c, id, sqls, (int)ARRAY_LEN(sqls), err) < 0 ||
	    resource_delete_purge(c,
	                          "SELECT id::text, storage_container, " JOBS_SQL_CHUNK_NUMBERS(
	                              "uploads") " FROM uploads WHERE project_id = $1 AND "
	                                         "purged_at IS NULL ORDER BY id",
	                          1, p, purged, err) < 0)
		goto out;
	if (storage_container_delete(container, &serr) < 0) {
		int e = errno;
		*err = xasprintf("storage: deleting container %s: %s", container,
		                 serr != NULL ? serr : "failed");
		errno = e;
		goto out;
	}
	rc = 0;
out:
	free(serr);
	return rc;
}

/* Deletes the subtree of folder id: its folders, their files and versions (children inherit
 * the folder's deleted_by), and purges the uploads behind those versions. 0 or -1 with
 * *err. */
static int
rd_folder(PGconn *c, const char *id, int *purged, char **err)
{
	static const char *const sqls[] = {
	    RD_SUBTREE "UPDATE folders SET is_deleted = true, deleted_at = now(),"
	               " deleted_by = (SELECT deleted_by FROM folders WHERE id = $1)"
	               " WHERE id IN (SELECT id FROM sub) AND NOT is_deleted",
	    RD_SUBTREE "UPDATE files SET is_deleted = true, deleted_at = now(),"
	               " deleted_by = (SELECT deleted_by FROM folders WHERE id = $1)"
	               " WHERE parent_id IN (SELECT id FROM sub) AND NOT is_deleted",
	    RD_SUBTREE "UPDATE file_versions SET is_deleted = true WHERE NOT is_deleted AND"
	               " file_id IN (SELECT f.id FROM files f JOIN sub ON f.parent_id = sub.id)",
	};
	const char *p[] = {id};

	if (rd_run_all(c, id, sqls, (int)ARRAY_LEN(sqls), err) < 0)
		return -1;
	return resource_delete_purge(
	    c,
	    RD_SUBTREE "SELECT u.id::text, u.storage_container, " JOBS_SQL_CHUNK_NUMBERS(
	        "u") " FROM uploads u"
	             " JOIN file_versions v ON v.upload_id = u.id"
	             " JOIN files f ON f.id = v.file_id JOIN sub ON f.parent_id = sub.id"
	             " WHERE u.purged_at IS NULL AND " JOBS_SQL_UPLOAD_UNUSED("u") " ORDER BY u.id",
	    1, p, purged, err);
}

/* Deletes the versions of file id and purges their uploads. 0 or -1 with *err. */
static int
rd_file(PGconn *c, const char *id, int *purged, char **err)
{
	static const char *const sqls[] = {
	    "UPDATE file_versions SET is_deleted = true WHERE file_id = $1 AND NOT is_deleted",
	};
	const char *p[] = {id};

	if (rd_run_all(c, id, sqls, (int)ARRAY_LEN(sqls), err) < 0)
		return -1;
	return resource_delete_purge(
	    c,
	    "SELECT u.id::text, u.storage_container, " JOBS_SQL_CHUNK_NUMBERS(
	        "u") " FROM uploads u"
	             " JOIN file_versions v ON v.upload_id = u.id"
	             " WHERE v.file_id = $1 AND u.purged_at IS NULL AND " JOBS_SQL_UPLOAD_UNUSED(
	                 "u") " ORDER BY u.id",
	    1, p, purged, err);
}

/* Purges the upload of the deleted file version id, unless a live version (one that
 * promoted it, or that it promoted) still uses it. 0 or -1 with *err. */
static int
rd_version(PGconn *c, const char *id, int *purged, char **err)
{
	const char *p[] = {id};

	return resource_delete_purge(
	    c,
	    "SELECT u.id::text, u.storage_container, " JOBS_SQL_CHUNK_NUMBERS(
	        "u") " FROM uploads u JOIN file_versions v ON v.upload_id = u.id"
	             " WHERE v.id = $1 AND v.is_deleted AND u.purged_at IS NULL "
	             "AND " JOBS_SQL_UPLOAD_UNUSED("u"),
	    1, p, purged, err);
}

/* Finds what j->resource_id is: 'p' project (with *container, caller frees), 'd' folder,
 * 'f' file, 'v' file version, 0 none, -1 database error. */
static int
rd_lookup(PGconn *c, const char *id, char **container)
{
	const char *p[] = {id};
	PGresult *r =
	    db_exec(c,
	            "SELECT 'p', storage_container FROM projects WHERE id = $1"
	            " UNION ALL SELECT 'd', NULL FROM folders WHERE id = $1"
	            " UNION ALL SELECT 'f', NULL FROM files WHERE id = $1"
	            " UNION ALL SELECT 'v', NULL FROM file_versions WHERE id = $1 LIMIT 1",
	            1, p);
	int type = -1;

	if (r == NULL)
		goto out;
	type = 0;
	if (PQntuples(r) == 0)
		goto out;
	type = db_get(r, 0, 0)[0];
	if (type == 'p')
		*container = xstrdup(db_get(r, 0, 1));
out:
	PQclear(r);
	return type;
}

/* Runs resource.delete for j->resource_id (a project, folder, file or file version, looked
 * up in that order) inside the caller's transaction. Idempotent. JOB_DONE, JOB_INVALID when the id
 * is none of those, JOB_RETRY on a database or storage failure, JOB_UNAVAILABLE when storage is
 * (*err set, caller frees). */
enum job_result
resource_delete_run(PGconn *c, const struct job *j, const char **outcome, char **err)
{
	char *container = NULL;
	int purged = 0, rc = -1;
	int type = rd_lookup(c, j->resource_id, &container);
	enum job_result res = JOB_RETRY;

	if (type < 0) {
		*err = xstrdup("database: looking up the resource failed");
		goto out;
	}
	if (type == 0) {
		*err = xasprintf("resource %s is no project, folder, file or file version",
		                 j->resource_id);
		res = JOB_INVALID;
		goto out;
	}
	if (type == 'p')
		rc = rd_project(c, j->resource_id, container, &purged, err);
	else if (type == 'd')
		rc = rd_folder(c, j->resource_id, &purged, err);
	else if (type == 'f')
		rc = rd_file(c, j->resource_id, &purged, err);
	else
		rc = rd_version(c, j->resource_id, &purged, err);
	if (rc < 0) {
		res = jobs_storage_failed(errno);
		goto out;
	}
	log_debug("resource_deleted resource=%s type=%c purged=%d", j->resource_id, type, purged);
	*outcome = type == 'p'   ? "project_deleted"
	           : type == 'd' ? "folder_deleted"
	           : type == 'f' ? "file_deleted"
	                         : "version_deleted";
	res = JOB_DONE;
out:
	free(container);
	return res;
}
