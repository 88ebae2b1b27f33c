/* access.h: who may touch what: project membership checks shared by the handlers. */
#ifndef SETTLE_ACCESS_H
#define SETTLE_ACCESS_H

#include "http.h"

struct access_project {
	char id[37];
	char storage_container[80];
	bool is_consistent;
	bool is_deleted;
	bool has_error;
};

/* Looks up the project that `id` belongs to with `sql` (one parameter, the id; returns one
 * row with the project id in column 0) and checks the caller is a member. `what` names
 * the resource for a 404. Returns 1 with *p filled when allowed; 0 after answering 404
 * (no such resource) or 403 (not a member); -1 after answering a database error. */
int access_check(struct req *r, const char *sql, const char *id, const char *what,
                 struct access_project *p) MUSTCHECK;

/* access_check for a project id itself. Deleted projects answer 404. */
int access_project(struct req *r, const char *project_id, struct access_project *p) MUSTCHECK;

/* Marks a resource deleted with sql ($1 = id, $2 = the caller; an UPDATE guarded by NOT
 * is_deleted, RETURNING id) and queues its resource.delete job, in one transaction.
 * Returns 1 when done (the caller answers 202), 0 after answering 404 (deleted meanwhile),
 * -1 after answering a database error. */
int access_soft_delete(struct req *r, const char *sql, const char *id, const char *what) MUSTCHECK;

#endif
