/* resource_delete.c: the resource.delete job: moves what lies under a trashed folder to
 * the trash with it, purges the stored bytes of what was purged from the trash
 * (docs/api.md "Trash bin"; of a deleted file version: of its upload, once no live version
 * uses it), and deletes a deleted project with everything in it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "log.h"
#include "resource_delete.h"
#include "storage.h"

/* Runs the statements of sqls (each taking $1 = id) in order. 0 or -STORAGE_EIO with
 * *err. */
static int
rd_run_all(PGconn *c, const char *id, const char *const *sqls, int n, char **err)
{
	const char *p[] = {id};

	for (int i = 0; i < n; i++) {
		if (db_cmd(c, sqls[i], 1, p) < 0) {
			*err = xstrdup("database: soft-deleting children failed");
			return -STORAGE_EIO;
		}
	}
	return 0;
}

/* The chunk numbers of a RESOURCE_DELETE_SQL_CHUNK_NUMBERS column ("{1,2,3}"), in *n; new array
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
 * RESOURCE_DELETE_SQL_CHUNK_NUMBERS column), and sets its purged_at. 0, or a negative
 * storage code with *err (-STORAGE_EIO for the database). */
static int
rd_purge_one(PGconn *c, const char *id, const char *container, const char *chunks, char **err)
{
	const char *q[] = {id};
	char *serr = NULL;
	int n, rc;
	int *numbers = rd_chunk_numbers(chunks, &n);

	if ((rc = storage_upload_delete(container, id, numbers, n, &serr)) < 0) {
		*err =
		    xasprintf("storage: purging upload %s: %s", id, serr != NULL ? serr : "failed");
		goto out;
	}
	if (db_cmd(c, "UPDATE uploads SET purged_at = now() WHERE id = $1 AND purged_at IS NULL", 1,
	           q) < 0) {
		*err = xstrdup("database: marking an upload purged failed");
		rc = -STORAGE_EIO;
		goto out;
	}
	rc = 0;
out:
	free(serr);
	free(numbers);
	return rc;
}

/* Purges the uploads that sql selects (see resource_delete.h). */
int
resource_delete_purge(PGconn *c, const char *sql, int nparams, const char *const *params,
                      int *purged, char **err)
{
	PGresult *r = db_exec(c, sql, nparams, params);
	int rc = -STORAGE_EIO;

	if (r == NULL) {
		*err = xstrdup("database: listing uploads to purge failed");
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		if ((rc = rd_purge_one(c, db_get(r, i, 0), db_get(r, i, 1), db_get(r, i, 2), err)) <
		    0)
			goto out;
		(*purged)++;
	}
	rc = 0;
out:
	PQclear(r);
	return rc;
}

/* Deletes everything of project id and its storage container; children inherit the
 * project's deleted_by and are purged with it (not restorable). 0 or a negative storage
 * code with *err. */
static int
rd_project(PGconn *c, const char *id, const char *container, int *purged, char **err)
{
	static const char *const sqls[] = {
	    "UPDATE folders SET is_deleted = true, deleted_at = COALESCE(deleted_at, now()),"
	    " deleted_by = COALESCE(deleted_by, (SELECT deleted_by FROM projects WHERE id = $1)),"
	    " purged_at = now() WHERE project_id = $1 AND purged_at IS NULL",
	    "UPDATE files SET is_deleted = true, deleted_at = COALESCE(deleted_at, now()),"
	    " deleted_by = COALESCE(deleted_by, (SELECT deleted_by FROM projects WHERE id = $1)),"
	    " purged_at = now() WHERE project_id = $1 AND purged_at IS NULL",
	    "UPDATE file_versions SET is_deleted = true WHERE NOT is_deleted"
	    " AND file_id IN (SELECT id FROM files WHERE project_id = $1)",
	};
	const char *p[] = {id};
	char *serr = NULL;
	int rc;

	if ((rc = rd_run_all(c, id, sqls, (int)ARRAY_LEN(sqls), err)) < 0 ||
	    (rc = resource_delete_purge(
	         c,
	         "SELECT id::text, storage_container, " RESOURCE_DELETE_SQL_CHUNK_NUMBERS(
	             "uploads") " FROM uploads WHERE project_id = $1 AND "
	                        "purged_at IS NULL ORDER BY id",
	         1, p, purged, err)) < 0)
		goto out;
	if ((rc = storage_container_delete(container, &serr)) < 0) {
		*err = xasprintf("storage: deleting container %s: %s", container,
		                 serr != NULL ? serr : "failed");
		goto out;
	}
	rc = 0;
out:
	free(serr);
	return rc;
}

/* The state of a trashed folder or file, read under its row lock (so that a restore or
 * purge of it waits for this job, and this job for them). */
struct rd_item {
	bool deleted;   /* in the trash (or purged) */
	bool purged;    /* purged: its bytes go */
	char group[37]; /* the trash root it was trashed with (its own id for a root) */
};

/* Locks folder (or, with file, file) id and reads its state into *it. 1 found, 0 not,
 * -STORAGE_EIO with *err. */
static int
rd_lock(PGconn *c, bool file, const char *id, struct rd_item *it, char **err)
{
	static const char *const sqls[2] = {
	    "SELECT is_deleted, purged_at IS NOT NULL AS purged,"
	    " COALESCE(deleted_with, id)::text AS grp FROM folders WHERE id = $1 FOR UPDATE",
	    "SELECT is_deleted, purged_at IS NOT NULL AS purged,"
	    " COALESCE(deleted_with, id)::text AS grp FROM files WHERE id = $1 FOR UPDATE",
	};
	const char *p[] = {id};
	PGresult *r = db_exec(c, sqls[file], 1, p);
	int rc = -STORAGE_EIO;

	if (r == NULL) {
		*err = xstrdup("database: locking the resource failed");
		goto out;
	}
	rc = PQntuples(r) > 0;
	if (rc == 1) {
		it->deleted = db_get_bool(r, 0, PQfnumber(r, "is_deleted"));
		it->purged = db_get_bool(r, 0, PQfnumber(r, "purged"));
		snprintf(it->group, sizeof(it->group), "%s", db_get(r, 0, PQfnumber(r, "grp")));
	}
out:
	PQclear(r);
	return rc;
}

/* Runs sql (taking $1 = the folder or file id, $2 = its trash group) once. 0 or
 * -STORAGE_EIO with *err. */
static int
rd_group_cmd(PGconn *c, const char *sql, const char *id, const struct rd_item *it, char **err)
{
	const char *p[] = {id, it->group};

	if (db_cmd(c, sql, 2, p) < 0) {
		*err = xstrdup("database: trashing or purging children failed");
		return -STORAGE_EIO;
	}
	return 0;
}

/* Moves to the trash, with folder $1 (of trash group $2), what still lives below it: the
 * live folders under it, walked live (settle_folder_subtree, 0011: a folder trashed on its
 * own stays its own trash root, with what lies below it), and the live files in it and in
 * them. They take the folder's deleted_by and deleted_with = the group. */
/* clang-format off */
#define RD_TRASH_BELOW \
	"WITH below AS (SELECT s.id FROM (SELECT array_agg(id) AS a FROM folders" \
	" WHERE parent_id = $1::uuid AND NOT is_deleted) k," \
	" LATERAL settle_folder_subtree(k.a, true) s), " \
	"root AS (SELECT deleted_by FROM folders WHERE id = $1::uuid), " \
	"fo AS (UPDATE folders f SET is_deleted = true, deleted_at = now()," \
	" deleted_by = root.deleted_by, deleted_with = $2::uuid FROM root" \
	" WHERE f.id IN (SELECT id FROM below) AND NOT f.is_deleted RETURNING f.id)" \
	" UPDATE files f SET is_deleted = true, deleted_at = now(), deleted_by = root.deleted_by," \
	" deleted_with = $2::uuid FROM root WHERE NOT f.is_deleted" \
	" AND (f.parent_id = $1::uuid OR f.parent_id IN (SELECT id FROM below))"
/* clang-format on */

/* The folder $1 and every folder below it, trashed or not, as a CTE named sub(id). */
#define RD_SUBTREE "WITH sub(id) AS (SELECT id FROM settle_folder_subtree(ARRAY[$1::uuid], false)) "

/* Purges, with purged folder $1, what was trashed with it (trash group $2) below it: marks
 * those folders and files purged and the versions of every purged file below it deleted.
 * Their bytes follow (rd_purge_below). */
/* clang-format off */
#define RD_PURGE_MARK \
	RD_SUBTREE ", fo AS (UPDATE folders f SET purged_at = now() WHERE f.id IN (SELECT id FROM sub)" \
	" AND f.is_deleted AND f.purged_at IS NULL AND f.deleted_with = $2::uuid RETURNING f.id)" \
	" UPDATE files f SET purged_at = now() WHERE f.parent_id IN (SELECT id FROM sub)" \
	" AND f.is_deleted AND f.purged_at IS NULL AND f.deleted_with = $2::uuid"
#define RD_PURGE_VERSIONS \
	RD_SUBTREE "UPDATE file_versions SET is_deleted = true WHERE NOT is_deleted AND file_id IN" \
	" (SELECT f.id FROM files f JOIN sub ON f.parent_id = sub.id WHERE f.purged_at IS NOT NULL)"
/* clang-format on */

/* Trashes what lives below trashed folder id, or, once it is purged, purges what was
 * trashed with it and the uploads of every purged file below it. Nothing for a live
 * (restored) folder. 0 or a negative storage code with *err. */
static int
rd_folder(PGconn *c, const char *id, int *purged, char **err)
{
	struct rd_item it;
	const char *p[] = {id};
	int rc = rd_lock(c, false, id, &it, err);

	if (rc <= 0 || !it.deleted)
		return rc;
	if ((rc = rd_group_cmd(c, RD_TRASH_BELOW, id, &it, err)) < 0)
		return rc;
	if (!it.purged)
		return 0;
	static const char *const versions[] = {RD_PURGE_VERSIONS};
	if ((rc = rd_group_cmd(c, RD_PURGE_MARK, id, &it, err)) < 0 ||
	    (rc = rd_run_all(c, id, versions, 1, err)) < 0)
		return rc;
	return resource_delete_purge(
	    c,
	    RD_SUBTREE "SELECT u.id::text, u.storage_container, " RESOURCE_DELETE_SQL_CHUNK_NUMBERS(
	        "u") " FROM uploads u"
	             " JOIN file_versions v ON v.upload_id = u.id"
	             " JOIN files f ON f.id = v.file_id JOIN sub ON f.parent_id = sub.id"
	             " WHERE f.purged_at IS NOT NULL AND u.purged_at IS NULL "
	             "AND " RESOURCE_DELETE_SQL_UPLOAD_UNUSED("u") " ORDER BY u.id",
	    1, p, purged, err);
}

/* Once trashed file id is purged: deletes its versions and purges their uploads. Nothing
 * while it is live or in the trash. 0 or a negative storage code with *err. */
static int
rd_file(PGconn *c, const char *id, int *purged, char **err)
{
	static const char *const sqls[] = {
	    "UPDATE file_versions SET is_deleted = true WHERE file_id = $1 AND NOT is_deleted",
	};
	struct rd_item it;
	const char *p[] = {id};
	int rc = rd_lock(c, true, id, &it, err);

	if (rc <= 0 || !it.purged)
		return rc;
	if ((rc = rd_run_all(c, id, sqls, (int)ARRAY_LEN(sqls), err)) < 0)
		return rc;
	return resource_delete_purge(
	    c,
	    "SELECT u.id::text, u.storage_container, " RESOURCE_DELETE_SQL_CHUNK_NUMBERS(
	        "u") " FROM uploads u"
	             " JOIN file_versions v ON v.upload_id = u.id"
	             " WHERE v.file_id = $1 AND u.purged_at IS NULL "
	             "AND " RESOURCE_DELETE_SQL_UPLOAD_UNUSED("u") " ORDER BY u.id",
	    1, p, purged, err);
}

/* Purges the upload of the deleted file version id, unless a live version (one that
 * promoted it, or that it promoted) still uses it. 0 or a negative storage code with *err.
 */
static int
rd_version(PGconn *c, const char *id, int *purged, char **err)
{
	const char *p[] = {id};

	return resource_delete_purge(
	    c,
	    "SELECT u.id::text, u.storage_container, " RESOURCE_DELETE_SQL_CHUNK_NUMBERS(
	        "u") " FROM uploads u JOIN file_versions v ON v.upload_id = u.id"
	             " WHERE v.id = $1 AND v.is_deleted AND u.purged_at IS NULL "
	             "AND " RESOURCE_DELETE_SQL_UPLOAD_UNUSED("u"),
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
static enum job_result
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
		res = kind_storage_failed(rc);
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

const struct job_kind resource_delete_kind = {
    .name = JOB_RESOURCE_DELETE,
    .run = resource_delete_run,
    /* Of a project only: a folder, file or version has no error mark. */
    .give_up_sql = KIND_SQL_GIVE_UP("projects", ""),
};
