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

/* Runs the units (each taking $1 = id) in order. 0 or -STORAGE_EIO with *err. */
static int
rd_run_all(PGconn *c, const char *id, const enum sql_unit *units, int n, char **err)
{
	const char *p[] = {id};

	for (int i = 0; i < n; i++) {
		if (db_cmd(c, units[i], p) < 0) {
			*err = xstrdup("database: soft-deleting children failed");
			return -STORAGE_EIO;
		}
	}
	return 0;
}

/* The chunk numbers of a chunks column ("{1,2,3}", see resource_delete.h), in *n; new array
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
 * chunks column), and sets its purged_at. 0, or a negative storage code with *err
 * (-STORAGE_EIO for the database). */
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
	if (db_cmd(c, SQL_RESOURCE_DELETE_PURGED, q) < 0) {
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

/* Purges the uploads that u selects (see resource_delete.h). */
int
resource_delete_purge(PGconn *c, enum sql_unit u, const char *const *params, int col, int *purged,
                      char **err)
{
	PGresult *r = db_exec(c, u, params);
	int rc = -STORAGE_EIO;

	if (r == NULL) {
		*err = xstrdup("database: listing uploads to purge failed");
		goto out;
	}
	for (int i = 0; i < PQntuples(r); i++) {
		if ((rc = rd_purge_one(c, db_get(r, i, col), db_get(r, i, col + 1),
		                       db_get(r, i, col + 2), err)) < 0)
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
	static const enum sql_unit units[] = {
	    SQL_RESOURCE_DELETE_PROJECT_FOLDERS,
	    SQL_RESOURCE_DELETE_PROJECT_FILES,
	    SQL_RESOURCE_DELETE_PROJECT_VERSIONS,
	};
	const char *p[] = {id};
	char *serr = NULL;
	int rc;

	if ((rc = rd_run_all(c, id, units, (int)ARRAY_LEN(units), err)) < 0 ||
	    (rc = resource_delete_purge(c, SQL_RESOURCE_DELETE_PROJECT_UPLOADS, p,
	                                RESOURCE_DELETE_PROJECT_UPLOADS_C_ID, purged, err)) < 0)
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

/* The two lock units return the same columns: rd_lock reads either by the folder's names. */
_Static_assert((int)RESOURCE_DELETE_LOCK_FOLDER_C_IS_DELETED ==
                       (int)RESOURCE_DELETE_LOCK_FILE_C_IS_DELETED &&
                   (int)RESOURCE_DELETE_LOCK_FOLDER_C_PURGED ==
                       (int)RESOURCE_DELETE_LOCK_FILE_C_PURGED &&
                   (int)RESOURCE_DELETE_LOCK_FOLDER_C_GRP == (int)RESOURCE_DELETE_LOCK_FILE_C_GRP,
               "the lock units of a folder and a file differ");

/* Locks folder (or, with file, file) id and reads its state into *it. 1 found, 0 not,
 * -STORAGE_EIO with *err. */
static int
rd_lock(PGconn *c, bool file, const char *id, struct rd_item *it, char **err)
{
	static const enum sql_unit units[2] = {SQL_RESOURCE_DELETE_LOCK_FOLDER,
	                                       SQL_RESOURCE_DELETE_LOCK_FILE};
	const char *p[] = {id};
	PGresult *r = db_exec(c, units[file], p);
	int rc = -STORAGE_EIO;

	if (r == NULL) {
		*err = xstrdup("database: locking the resource failed");
		goto out;
	}
	rc = PQntuples(r) > 0;
	if (rc == 1) {
		it->deleted = db_get_bool(r, 0, RESOURCE_DELETE_LOCK_FOLDER_C_IS_DELETED);
		it->purged = db_get_bool(r, 0, RESOURCE_DELETE_LOCK_FOLDER_C_PURGED);
		snprintf(it->group, sizeof(it->group), "%s",
		         db_get(r, 0, RESOURCE_DELETE_LOCK_FOLDER_C_GRP));
	}
out:
	PQclear(r);
	return rc;
}

/* Runs unit u (taking $1 = the folder or file id, $2 = its trash group) once. 0 or
 * -STORAGE_EIO with *err. */
static int
rd_group_cmd(PGconn *c, enum sql_unit u, const char *id, const struct rd_item *it, char **err)
{
	const char *p[] = {id, it->group};

	if (db_cmd(c, u, p) < 0) {
		*err = xstrdup("database: trashing or purging children failed");
		return -STORAGE_EIO;
	}
	return 0;
}

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
	if ((rc = rd_group_cmd(c, SQL_RESOURCE_DELETE_TRASH_BELOW, id, &it, err)) < 0)
		return rc;
	if (!it.purged)
		return 0;
	static const enum sql_unit versions[] = {SQL_RESOURCE_DELETE_PURGE_VERSIONS};
	if ((rc = rd_group_cmd(c, SQL_RESOURCE_DELETE_PURGE_MARK, id, &it, err)) < 0 ||
	    (rc = rd_run_all(c, id, versions, 1, err)) < 0)
		return rc;
	return resource_delete_purge(c, SQL_RESOURCE_DELETE_FOLDER_UPLOADS, p,
	                             RESOURCE_DELETE_FOLDER_UPLOADS_C_ID, purged, err);
}

/* Once trashed file id is purged: deletes its versions and purges their uploads. Nothing
 * while it is live or in the trash. 0 or a negative storage code with *err. */
static int
rd_file(PGconn *c, const char *id, int *purged, char **err)
{
	static const enum sql_unit units[] = {SQL_RESOURCE_DELETE_FILE_VERSIONS};
	struct rd_item it;
	const char *p[] = {id};
	int rc = rd_lock(c, true, id, &it, err);

	if (rc <= 0 || !it.purged)
		return rc;
	if ((rc = rd_run_all(c, id, units, (int)ARRAY_LEN(units), err)) < 0)
		return rc;
	return resource_delete_purge(c, SQL_RESOURCE_DELETE_FILE_UPLOADS, p,
	                             RESOURCE_DELETE_FILE_UPLOADS_C_ID, purged, err);
}

/* Purges the upload of the deleted file version id, unless a live version (one that
 * promoted it, or that it promoted) still uses it. 0 or a negative storage code with *err.
 */
static int
rd_version(PGconn *c, const char *id, int *purged, char **err)
{
	const char *p[] = {id};

	return resource_delete_purge(c, SQL_RESOURCE_DELETE_VERSION_UPLOADS, p,
	                             RESOURCE_DELETE_VERSION_UPLOADS_C_ID, purged, err);
}

/* Finds what j->resource_id is: 'p' project (with *container, caller frees), 'd' folder,
 * 'f' file, 'v' file version, 0 none, -1 database error. */
static int
rd_lookup(PGconn *c, const char *id, char **container)
{
	const char *p[] = {id};
	PGresult *r = db_exec(c, SQL_RESOURCE_DELETE_LOOKUP, p);
	int type = -1;

	if (r == NULL)
		goto out;
	type = 0;
	if (PQntuples(r) == 0)
		goto out;
	type = db_get(r, 0, RESOURCE_DELETE_LOOKUP_C_TYPE)[0];
	if (type == 'p')
		*container = xstrdup(db_get(r, 0, RESOURCE_DELETE_LOOKUP_C_STORAGE_CONTAINER));
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
    .give_up_unit = SQL_RESOURCE_DELETE_GIVE_UP,
    .pending_unit = SQL_UNIT_COUNT,
};
