/* access.h: who may touch what: project membership checks shared by the handlers. */
#ifndef SETTLE_ACCESS_H
#define SETTLE_ACCESS_H

#include "http.h"
#include "outbox.h"

struct access_project {
	char id[37];
	char storage_container[80];
	bool is_consistent;
	bool is_deleted;
	bool has_error;
};

/* SQL, one boolean column: whether user (a uuid SQL expression) is a member of the project
 * of the projects row alias p. */
/* clang-format off */
#define ACCESS_SQL_MEMBER(p, user) \
	"EXISTS (SELECT 1 FROM project_members am WHERE am.project_id = " p ".id" \
	" AND am.user_id = " user ")"
/* clang-format on */

/* SQL of access_check, made of `lookup`, a query with one parameter ($1, an id) that selects
 * one row with the id of the project the resource belongs to in its first column: in one
 * statement, the project's storage_container, is_consistent, is_deleted, has error, and
 * whether the caller ($2) is a member. */
/* clang-format off */
#define ACCESS_SQL(lookup) \
	"SELECT p.id, p.storage_container, p.is_consistent, p.is_deleted," \
	" p.error_at IS NOT NULL AS has_error, " ACCESS_SQL_MEMBER("p", "$2::uuid") " AS member" \
	" FROM (" lookup ") t(project_id) JOIN projects p ON p.id = t.project_id"
/* clang-format on */

/* The columns that tell the access cases of a write apart, selected by one statement that
 * checks and writes at once: found (the resource and its project exist), member (the caller
 * is a member of the project), deleted (the project is), consistent (the project is). */
#define ACCESS_VERDICT_NCOLS 4

/* Reads the ACCESS_VERDICT_NCOLS columns at col of row 0 of res. Returns 1 when the
 * resource exists in a live project of which the caller is a member; otherwise answers 404
 * for `what` (none, or the project is deleted) or 403 (not a member) and returns 0. A
 * project that is not consistent is left to the caller. */
int access_verdict(struct req *r, const PGresult *res, int col, const char *what) MUSTCHECK;

/* Checks, in one statement, that the caller is a member of the project that `id` belongs
 * to. sql is ACCESS_SQL(lookup). `what` names the resource for a 404. Returns 1 with *p
 * filled when allowed; 0 after answering 404 (no such resource) or 403 (not a member); -1
 * after answering a database error. */
int access_check(struct req *r, const char *sql, const char *id, const char *what,
                 struct access_project *p) MUSTCHECK;

/* access_check for a project id itself. Deleted projects answer 404. */
int access_project(struct req *r, const char *project_id, struct access_project *p) MUSTCHECK;

/* SQL of access_get for a resource in `from` (a FROM item with the resource's alias x) that
 * `lookup` maps to its project (as for ACCESS_SQL): in one statement, checks the caller ($2) and
 * answers the verdict (ACCESS_VERDICT_NCOLS columns), then `cols`, the view's columns of the
 * resource ($1), selected only when the caller may see it. */
/* clang-format off */
#define ACCESS_SQL_GET(lookup, from, cols) \
	"WITH acc AS (" ACCESS_SQL(lookup) ")" \
	" SELECT acc.id IS NOT NULL, acc.member, acc.is_deleted, true, " cols \
	" FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN " from " ON x.id = $1::uuid" \
	" AND acc.member AND NOT acc.is_deleted"
/* clang-format on */

/* GET of the resource r->params[0] with sql, an ACCESS_SQL_GET: answers 200 with
 * build(row, column) of the resource, or 404 for `what`, 403, or a database error, in one
 * statement. */
void access_get(struct req *r, const char *sql, const char *what,
                json_t *(*build)(const PGresult *res, int row, int col));

/* SQL of access_soft_delete for a resource of `table` (projects, folders or files) that
 * `lookup` maps to its project (as for ACCESS_SQL): in one statement, checks the caller
 * ($2), marks the resource ($1) deleted unless it is already, queues its resource.delete
 * job ($3 message id, $4 kind) and answers the verdict (ACCESS_VERDICT_NCOLS columns), then
 * `cols`, the view's columns of the deleted row (alias d) from what the UPDATE returned. */
/* clang-format off */
#define ACCESS_SQL_DELETE(lookup, table, cols) \
	"WITH acc AS (" ACCESS_SQL(lookup) "), " \
	"del AS (UPDATE " table " d SET is_deleted = true, deleted_at = now()," \
	" deleted_by = $2::uuid FROM acc WHERE d.id = $1::uuid AND NOT d.is_deleted" \
	" AND acc.member AND NOT acc.is_deleted RETURNING d.*), " \
	OUTBOX_SQL_CTE("$3::uuid", "$4::text", "del.id", "del") \
	" SELECT acc.id IS NOT NULL, acc.member, acc.is_deleted, true, " cols \
	" FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN del d ON true"
/* clang-format on */

/* DELETE of the resource r->params[0] with sql, an ACCESS_SQL_DELETE: marks it deleted
 * and queues its resource.delete job in one statement, and answers 202 with build(row,
 * column) of the deleted resource, or 404 for `what` (no such resource, or deleted
 * already), 403, or a database error. */
void access_soft_delete(struct req *r, const char *sql, const char *what,
                        json_t *(*build)(const PGresult *res, int row, int col));

#endif
