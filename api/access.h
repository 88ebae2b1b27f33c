/* access.h: who may touch what: the caller's role on a project must grant the permission a
 * call needs (API.md's role table; the roles and their permissions are the auth_roles table,
 * migration 0008). Every check of every handler goes through the SQL functions settle_can
 * and settle_access (migration 0017), in the units of sql/ that the functions below run. */
#ifndef SETTLE_ACCESS_H
#define SETTLE_ACCESS_H

#include "http.h"
#include "outbox.h"

struct access_project {
	char id[37];
	char storage_container[80];
	bool is_consistent;
	bool has_error;
};

/* The permissions of API.md, as C strings (the names settle_can takes, migration 0017). */
#define ACCESS_VIEW           "view_project"
#define ACCESS_UPDATE_PROJECT "update_project"
#define ACCESS_DELETE_PROJECT "delete_project"
#define ACCESS_MANAGE         "manage_project_permissions"
#define ACCESS_DOWNLOAD       "download_file"
#define ACCESS_CREATE         "create_file"
#define ACCESS_UPDATE         "update_file"
#define ACCESS_DELETE         "delete_file"

/* The columns that tell the access cases of a write apart, selected by one statement that
 * checks and writes at once, in this order: found (the resource and its project exist),
 * member (the caller's role there grants the permission), deleted (the project is),
 * consistent (the project is). */
#define ACCESS_VERDICT_NCOLS 4

/* Reads the ACCESS_VERDICT_NCOLS columns of row 0 of res that start at col (a unit's
 * <UNIT>_C_FOUND: found, member, deleted, consistent). Returns 1 when the resource exists in
 * a live project where the caller's role grants the permission; otherwise answers 404 for
 * `what` (none, or the project is deleted) or 403 (no role, or one without the permission)
 * and returns 0. A project that is not consistent is left to the caller. */
int access_verdict(struct req *r, const PGresult *res, int col, const char *what) MUSTCHECK;

/* Checks, in one statement, that the caller's role on the project that `id` belongs to
 * grants perm (an ACCESS_* name). u is a unit that takes the resource's id ($1), the caller
 * ($2) and perm ($3) and returns one row, the project's access row, with the columns of
 * access_project (those of settle_access: id, storage_container, is_consistent, is_deleted,
 * has_error, member) in that order, or none when there is no such resource. `what` names the
 * resource for a 404. Returns 1 with *p filled when allowed; 0 after answering 404 (no such
 * resource, or one in a deleted project) or 403 (checked first: no role, or one without perm); -1
 * after answering a database error. */
int access_check(struct req *r, enum sql_unit u, const char *id, const char *perm, const char *what,
                 struct access_project *p) MUSTCHECK;

/* access_check for a project id itself (unit access_project). */
int access_project(struct req *r, const char *project_id, const char *perm,
                   struct access_project *p) MUSTCHECK;

/* Checks at build time that unit U (as in SQL_U) has the columns access_get and
 * access_soft_delete read: access_verdict's from 0, then the view's from
 * ACCESS_VERDICT_NCOLS. */
#define ACCESS_UNIT_SHAPE(U)                                                                       \
	_Static_assert(U##_C_FOUND == 0 && U##_C_ID == ACCESS_VERDICT_NCOLS,                       \
	               #U ": access_verdict's columns, then the view's")

/* GET of the resource r->params[0] with unit u, which takes the resource's id ($1) and the
 * caller ($2) and returns one row: access_verdict's columns (from 0), then from
 * ACCESS_VERDICT_NCOLS on the columns build reads (a settle_*_view's, in its order), NULL
 * unless the caller may see the resource. Answers 200 with build(row, column)
 * of the resource, or 404 for `what`, 403, or a database error, in one statement. */
void access_get(struct req *r, enum sql_unit u, const char *what,
                json_t *(*build)(const PGresult *res, int row, int col));

/* DELETE of the resource r->params[0] with unit u, which takes the resource's id ($1), the
 * caller ($2), a message id ($3) and JOB_RESOURCE_DELETE ($4), marks the resource deleted
 * and queues its resource.delete job, and returns access_verdict's columns (from 0), then
 * from ACCESS_VERDICT_NCOLS on the columns build reads of what it deleted (a
 * settle_*_view's, in its order; NULL when it deleted nothing). Answers 202 with
 * build(row, column) of the deleted resource, or 404 for `what` (no such resource, or
 * deleted already), 403, or a database error. */
void access_soft_delete(struct req *r, enum sql_unit u, const char *what,
                        json_t *(*build)(const PGresult *res, int row, int col));

#endif
