/* folders.h: folder checks that other resources (files, children) share. */
#ifndef SETTLE_FOLDERS_H
#define SETTLE_FOLDERS_H

#include <jansson.h>

#include "access.h"
#include "http.h"

/* SQL with one parameter (a folder id): one row with the folder's project id when the
 * folder and every folder above it are live; for access_check. */
#define FOLDERS_SQL_LIVE                                                                           \
	"WITH RECURSIVE up(id, parent_id, is_deleted, depth) AS (SELECT id, parent_id,"            \
	" is_deleted, 0 FROM folders WHERE id = $1 UNION ALL SELECT f.id, f.parent_id,"            \
	" f.is_deleted, up.depth + 1 FROM folders f JOIN up ON f.id = up.parent_id"                \
	" WHERE up.depth < 1000) SELECT project_id FROM folders WHERE id = $1"                     \
	" AND NOT EXISTS (SELECT 1 FROM up WHERE up.is_deleted)"

/* Checks that folder_id is a live folder of a live project the caller is a member of.
 * Returns 1 with *p filled; 0 after answering 404/403; -1 after answering a database
 * error. */
int folders_access(struct req *r, const char *folder_id, struct access_project *p) MUSTCHECK;

/* Reads body["parent"] = {"kind": "dds-project"|"dds-folder", "id"} and checks the parent
 * is live and the caller a member of its project. Returns 1 with *p (the project) and
 * parent_id (the folder id, or "" for the project itself) filled; 0 when there is no
 * "parent" (nothing answered); -1 after answering 400 (bad shape or kind), 404 (unknown or
 * malformed id, deleted), 403 or a database error. */
int folders_parent(struct req *r, json_t *body, struct access_project *p,
                   char parent_id[37]) MUSTCHECK;

#endif
