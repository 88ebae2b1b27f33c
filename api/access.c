/* access.c: role checks: whether the caller's role on a project grants a permission. */
#include "access.h"

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "resource_delete.h"
#include "uuid.h"

int
access_verdict(struct req *r, const PGresult *res, int col, const char *what)
{
	if (PQntuples(res) == 0 || !db_get_bool(res, 0, col)) {
		http_not_found(r, what);
		return 0;
	}
	if (!db_get_bool(res, 0, col + 1)) {
		http_forbidden(r);
		return 0;
	}
	if (db_get_bool(res, 0, col + 2)) {
		http_not_found(r, what);
		return 0;
	}
	return 1;
}

int
access_check(struct req *r, enum sql_unit u, const char *id, const char *perm, const char *what,
             struct access_project *p)
{
	const char *params[3] = {id, r->user_id, perm};
	PGresult *res = db_exec(r->db, u, params);
	int rc = 1;

	if (res == NULL) {
		http_db_error(r);
		return -1;
	}
	if (PQntuples(res) == 0) {
		http_not_found(r, what);
		rc = 0;
	} else if (!db_get_bool(res, 0, ACCESS_PROJECT_C_MEMBER)) {
		http_forbidden(r);
		rc = 0;
	} else if (db_get_bool(res, 0, ACCESS_PROJECT_C_IS_DELETED)) {
		http_not_found(r, what); /* in a deleted project */
		rc = 0;
	} else {
		snprintf(p->id, sizeof(p->id), "%s", PQgetvalue(res, 0, ACCESS_PROJECT_C_ID));
		snprintf(p->storage_container, sizeof(p->storage_container), "%s",
		         PQgetvalue(res, 0, ACCESS_PROJECT_C_STORAGE_CONTAINER));
		p->is_consistent = db_get_bool(res, 0, ACCESS_PROJECT_C_IS_CONSISTENT);
		p->has_error = db_get_bool(res, 0, ACCESS_PROJECT_C_HAS_ERROR);
	}
	PQclear(res);
	return rc;
}

int
access_project(struct req *r, const char *project_id, const char *perm, struct access_project *p)
{
	return access_check(r, SQL_ACCESS_PROJECT, project_id, perm, "project", p);
}

void
access_get(struct req *r, enum sql_unit u, const char *what,
           json_t *(*build)(const PGresult *res, int row, int col))
{
	const char *q[] = {r->params[0], r->user_id};
	PGresult *res;

	if ((res = db_exec(r->db, u, q)) == NULL)
		http_db_error(r);
	else if (access_verdict(r, res, 0, what) != 1)
		; /* answered */
	else if (db_get(res, 0, ACCESS_VERDICT_NCOLS) == NULL)
		http_not_found(r, what);
	else
		http_json(r, 200, build(res, 0, ACCESS_VERDICT_NCOLS));
	PQclear(res);
}

void
access_soft_delete(struct req *r, enum sql_unit u, const char *what,
                   json_t *(*build)(const PGresult *res, int row, int col))
{
	char mid[UUID_STR_LEN];
	const char *q[] = {r->params[0], r->user_id, mid, JOB_RESOURCE_DELETE};
	PGresult *res;

	uuid_generate(mid);
	if ((res = db_exec(r->db, u, q)) == NULL)
		http_db_error(r);
	else if (access_verdict(r, res, 0, what) != 1)
		; /* answered */
	else if (db_get(res, 0, ACCESS_VERDICT_NCOLS) == NULL)
		http_not_found(r, what); /* deleted meanwhile */
	else
		http_json(r, 202, build(res, 0, ACCESS_VERDICT_NCOLS));
	PQclear(res);
}
