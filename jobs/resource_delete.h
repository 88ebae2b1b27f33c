/* resource_delete.h: the resource.delete job (resource_delete.c), and the purge of stored
 * bytes that housekeeping shares with it. */
#ifndef SETTLE_RESOURCE_DELETE_H
#define SETTLE_RESOURCE_DELETE_H

#include "kind.h"
#include "util.h"

#define JOB_RESOURCE_DELETE "resource.delete"

/* Moves what lies under a trashed folder to the trash with it, purges the stored bytes of
 * what was purged from the trash, and deletes a deleted project with everything in it. */
extern const struct job_kind resource_delete_kind;

/* SQL, one column: the chunk numbers registered for uploads row alias u, as a Postgres array
 * text ("{1,2,3}"): the names of its chunks in the store (resource_delete_purge). */
#define RESOURCE_DELETE_SQL_CHUNK_NUMBERS(u)                                                       \
	"(SELECT coalesce(array_agg(c.number ORDER BY c.number), '{}') FROM chunks c"              \
	" WHERE c.upload_id = " u ".id)::text"
/* SQL, one boolean: whether no live file version uses the uploads row alias u: only then
 * are its bytes purged with a deleted version or file (one upload may back several versions
 * of a file: POST /file_versions/{id}/current). */
#define RESOURCE_DELETE_SQL_UPLOAD_UNUSED(u)                                                       \
	"NOT EXISTS (SELECT 1 FROM file_versions uv WHERE uv.upload_id = " u ".id"                 \
	" AND NOT uv.is_deleted)"

/* Deletes through the storage provider the stored bytes of every upload that sql (with
 * its nparams params) selects as (id, storage_container, RESOURCE_DELETE_SQL_CHUNK_NUMBERS),
 * by those chunk numbers (no store listing needed), and sets its purged_at, inside the
 * caller's transaction; adds their number to *purged. Missing bytes are fine, so a second
 * run succeeds. resource.delete and the purge of expired uploads both use it. 0, or a
 * negative storage code (storage.h: -STORAGE_EUNAVAILABLE when storage is unavailable,
 * -STORAGE_EIO for the database) with *err (caller frees). */
int resource_delete_purge(PGconn *c, const char *sql, int nparams, const char *const *params,
                          int *purged, char **err) MUSTCHECK;

#endif
