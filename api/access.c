/* access.c: project membership checks. */
#include "access.h"

#include <stdio.h>
#include <string.h>

#include "db.h"
#include "outbox.h"

int
access_check(struct req *r, const char *sql, const char *id, const char *what,
             struct access_project *p)
{
	const char *params[2] = {id, r->user_id};
	PGresult *res;
	int rc;

	res = db_exec(r->db, sql, 1, params);
	if (res == NULL) {
		http_db_error(r);
		return -1;
	}
	if (PQntuples(res) == 0) {
		PQclear(res);
		http_not_found(r, what);
		return 0;
	}
	snprintf(p->id, sizeof(p->id), "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	params[0] = p->id;
	res = db_exec(r->db,
	              "SELECT p.storage_container, p.is_consistent, p.is_deleted, "
	              "p.error_at IS NOT NULL, m.user_id IS NOT NULL FROM projects p "
	              "LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = $2 "
	              "WHERE p.id = $1",
	              2, params);
	if (res == NULL) {
		http_db_error(r);
		return -1;
	}
	rc = 1;
	if (PQntuples(res) == 0) {
		http_not_found(r, what);
		rc = 0;
	} else if (!db_get_bool(res, 0, 4)) {
		http_forbidden(r);
		rc = 0;
	} else {
		snprintf(p->storage_container, sizeof(p->storage_container), "%s",
		         PQgetvalue(res, 0, 0));
		p->is_consistent = db_get_bool(res, 0, 1);
		p->is_deleted = db_get_bool(res, 0, 2);
		p->has_error = db_get_bool(res, 0, 3);
	}
	PQclear(res);
	return rc;
}

int
access_project(struct req *r, const char *project_id, struct access_project *p)
{
	int rc = access_check(r, "SELECT id FROM projects WHERE id = $1", project_id, "project", p);
	if (rc == 1 && p->is_deleted) {
		http_not_found(r, "project");
		return 0;
	}
	return rc;
}

int
access_soft_delete(struct req *r, const char *sql, const char *id, const char *what)
{
	const char *q[] = {id, r->user_id};
	PGresult *res = NULL;
	int rc = -1;

	if (db_begin(r->db) < 0 || (res = db_exec(r->db, sql, 2, q)) == NULL)
		goto fail;
	if (PQntuples(res) == 0) {
		db_rollback(r->db);
		http_not_found(r, what);
		rc = 0;
		goto out;
	}
	if (outbox_insert(r->db, "resource.delete", id) < 0 || db_commit(r->db) < 0)
		goto fail;
	rc = 1;
	goto out;
fail:
	db_rollback(r->db);
	http_db_error(r);
out:
	PQclear(res);
	return rc;
}
