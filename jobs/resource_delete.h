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

/* Deletes through the storage provider the stored bytes of every upload that unit u (with
 * its params) selects, its columns col, col + 1 and col + 2 being the upload's
 * id, storage_container and chunks (its chunk numbers as a Postgres array text,
 * settle_chunk_numbers: migration 0018), by those chunk numbers (no store listing needed),
 * and sets its purged_at, inside the caller's transaction; adds their number to *purged.
 * Missing bytes are fine, so a second run succeeds. resource.delete and the purge of
 * expired uploads both use it. 0, or a negative storage code (storage.h:
 * -STORAGE_EUNAVAILABLE when storage is unavailable, -STORAGE_EIO for the database) with
 * *err (caller frees). */
int resource_delete_purge(PGconn *c, enum sql_unit u, const char *const *params, int col,
                          int *purged, char **err) MUSTCHECK;

#endif
