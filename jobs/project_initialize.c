/* project_initialize.c: the project.initialize job: creates the project's storage container
 * and makes the project consistent. */
#include <stdlib.h>

#include "db.h"
#include "log.h"
#include "project_initialize.h"
#include "storage.h"

/* Runs project.initialize for j->resource_id inside the caller's transaction. Creating the
 * container is idempotent, so a retry after a rollback is harmless; a success clears the
 * error mark of an earlier give-up (a dead letter requeued). JOB_DONE, JOB_INVALID
 * when the project does not exist, JOB_RETRY on a database or storage failure,
 * JOB_UNAVAILABLE when storage is (*err set, caller frees). */
static enum job_result
project_initialize_run(PGconn *c, const struct job *j, const char **outcome, char **err)
{
	const char *p[] = {j->resource_id};
	enum job_result res = JOB_RETRY;
	char *serr = NULL;
	PGresult *r = db_exec(c, SQL_PROJECT_INITIALIZE_LOAD, p);

	if (r == NULL) {
		*err = xstrdup("database: loading the project failed");
		goto out;
	}
	if (PQntuples(r) == 0) {
		*err = xasprintf("project %s does not exist", j->resource_id);
		res = JOB_INVALID;
		goto out;
	}
	bool consistent = db_get_bool(r, 0, PROJECT_INITIALIZE_LOAD_C_IS_CONSISTENT);
	const char *container = db_get(r, 0, PROJECT_INITIALIZE_LOAD_C_STORAGE_CONTAINER);
	if (consistent || db_get_bool(r, 0, PROJECT_INITIALIZE_LOAD_C_IS_DELETED)) {
		/* Already consistent, or deleted before it was initialised: nothing to create. */
		*outcome = consistent ? "noop" : "deleted";
		res = JOB_DONE;
		goto out;
	}
	int rc = storage_container_create(container, &serr);
	if (rc < 0) {
		res = kind_storage_failed(rc);
		*err = xasprintf("storage: creating container %s: %s", container,
		                 serr != NULL ? serr : "failed");
		goto out;
	}
	if (db_cmd(c, SQL_PROJECT_INITIALIZE_DONE, p) < 0) {
		*err = xstrdup("database: updating the project failed");
		goto out;
	}
	log_debug("project_initialized project=%s container=%s", j->resource_id, container);
	*outcome = "consistent";
	res = JOB_DONE;
out:
	free(serr);
	PQclear(r);
	return res;
}

const struct job_kind project_initialize_kind = {
    .name = JOB_PROJECT_INITIALIZE,
    .run = project_initialize_run,
    .give_up_unit = SQL_PROJECT_INITIALIZE_GIVE_UP,
    .pending_unit = SQL_PROJECT_INITIALIZE_PENDING,
    .pending_col = PROJECT_INITIALIZE_PENDING_C_ID,
};
