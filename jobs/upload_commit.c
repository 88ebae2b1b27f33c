/* upload_commit.c: step two of the upload.complete job: commits the verdicts of a batch, with
 * their job_runs rows, in one statement. */
#include "upload_commit.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

static const char *
upload_commit_outcome(const struct job_verdict *v)
{
	return v->noop ? "noop" : v->error != NULL ? "integrity_error" : "consistent";
}

/* True if item i takes part in the commit statement. */
static bool
upload_commit_committable(const struct jobs_item *it)
{
	return it->res == JOB_DONE && !it->deferred;
}

/* Marks committable items that repeat an earlier one's message id as duplicates: a message
 * published twice can arrive twice in one window, and one statement cannot record a
 * message twice. */
static void
upload_commit_dedupe(struct jobs_item *items, int n)
{
	for (int i = 1; i < n; i++)
		for (int k = 0; k < i && upload_commit_committable(&items[i]); k++)
			if (upload_commit_committable(&items[k]) &&
			    strcmp(items[i].j->id, items[k].j->id) == 0)
				items[i].res = JOB_DUPLICATE;
}

/* Step two of upload.complete (struct job_kind.commit). */
int
upload_commit_run(PGconn *c, struct jobs_item *items, int n)
{
	json_t *arr = json_array();
	PGresult *r;
	char *body;

	upload_commit_dedupe(items, n);
	for (int i = 0; i < n; i++)
		if (upload_commit_committable(&items[i]))
			json_array_append_new(
			    arr, json_pack("{s:s,s:s,s:s,s:i,s:s,s:s?,s:b}", "mid", items[i].j->id,
			                   "kind", items[i].j->kind, "rid", items[i].j->resource_id,
			                   "attempt", items[i].j->attempt, "outcome",
			                   upload_commit_outcome(&items[i].v), "error",
			                   items[i].v.error, "apply", !items[i].v.noop));
	if (json_array_size(arr) == 0) {
		json_decref(arr);
		return 0;
	}
	body = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	/* The whole effect of the batch in one statement, which ends the transaction of the
	 * batch's load when one is open (its COMMIT in the same round trip). */
	r = db_exec_commit(c, SQL_UPLOAD_COMMIT_RUN, (const char *[]){body});
	free(body);
	if (r == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		if (!upload_commit_committable(&items[i]))
			continue;
		items[i].res = JOB_DUPLICATE;
		for (int k = 0; k < PQntuples(r); k++)
			if (strcmp(db_get(r, k, UPLOAD_COMMIT_RUN_C_MESSAGE_ID), items[i].j->id) ==
			    0)
				items[i].res = JOB_DONE;
	}
	PQclear(r);
	return 0;
}

/* Frees the message held by v and resets it (struct job_kind.clear). */
void
upload_commit_clear(struct job_verdict *v)
{
	free(v->error);
	v->error = NULL;
	v->noop = false;
}
