/* folders.h: folder checks that other resources (files, children, moves) share. */
#ifndef SETTLE_FOLDERS_H
#define SETTLE_FOLDERS_H

#include <jansson.h>

#include "access.h"
#include "http.h"

/* SQL with one parameter (a folder id): one row with the folder's project id when the
 * folder and every folder above it are live; a lookup for ACCESS_SQL. */
#define FOLDERS_SQL_LIVE                                                                           \
	"WITH RECURSIVE up(id, parent_id, is_deleted, depth) AS (SELECT id, parent_id,"            \
	" is_deleted, 0 FROM folders WHERE id = $1 UNION ALL SELECT f.id, f.parent_id,"            \
	" f.is_deleted, up.depth + 1 FROM folders f JOIN up ON f.id = up.parent_id"                \
	" WHERE up.depth < 1000) SELECT project_id FROM folders WHERE id = $1"                     \
	" AND NOT EXISTS (SELECT 1 FROM up WHERE up.is_deleted)"

/* Checks that folder_id is a live folder of a live project where the caller's role grants
 * perm (an ACCESS_* name). Returns 1 with *p filled; 0 after answering 404/403; -1 after
 * answering a database error. */
int folders_access(struct req *r, const char *folder_id, const char *perm,
                   struct access_project *p) MUSTCHECK;

/* The one reader of body["parent"] = {"kind": "dds-project"|"dds-folder", "id"} (POST
 * /folders, POST /files, moves): 1 with *is_folder and *id (borrowed from body) set; 0 when
 * there is no "parent" and it is not required (nothing answered); -1 after answering 400
 * (missing when required, bad shape or kind) or 404 (a malformed id). */
int folders_read_parent(struct req *r, json_t *body, bool required, bool *is_folder,
                        const char **id) MUSTCHECK;

#endif
