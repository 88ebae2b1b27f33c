/* kind.h: what a job kind is (struct job_kind) and what a run ends with. Types only: the
 * kinds (one file each) include it, and kinds.c lists them. */
#ifndef SETTLE_KIND_H
#define SETTLE_KIND_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>

#include "job.h"
#include "sql_units.h"
#include "storage_provider.h"

enum job_result {
	JOB_DONE = 0,   /* committed (including a permanent failure recorded on the resource) */
	JOB_DUPLICATE,  /* already ran: nothing done */
	JOB_RETRY,      /* transient failure: nothing committed, try again later */
	JOB_INVALID,    /* malformed or unknown job: drop it (dead-letter) */
	JOB_UNAVAILABLE /* storage unavailable (-STORAGE_EUNAVAILABLE): nothing committed; try again
	                   later, as JOB_RETRY, but never give up for it */
};

/* The result of a job whose storage call failed with the negative code rc (storage.h). */
static inline enum job_result
kind_storage_failed(int rc)
{
	return rc == -STORAGE_EUNAVAILABLE ? JOB_UNAVAILABLE : JOB_RETRY;
}

/* What a kind's check found of one job, for its commit. */
struct job_verdict {
	bool noop;   /* nothing to do (already consistent or purged) */
	char *error; /* a permanent failure to record on the resource, or NULL */
};

/* One job of a batch (jobs_run_batch, and a batchable kind's two steps). */
struct jobs_item {
	const struct job *j;
	enum job_result res; /* out */
	char *err;           /* out: a message unless JOB_DONE / JOB_DUPLICATE; caller frees */
	bool deferred;       /* out: not run, it has too many bytes to read for a batch */
	struct job_verdict v;
};

/* A job kind: its name, how it runs, and what the dispatcher and housekeeping do for it.
 * Every kind is one `const struct job_kind` in its own file, listed once in kinds.c. A kind
 * either runs in one transaction (run) or in two steps, alone or batched (check, commit). */
struct job_kind {
	const char *name; /* the message's kind and routing key; its queue is settle.<name> */
	/* Runs j inside the transaction of jobs_run, which records it in job_runs; sets
	 * *outcome to a static word recorded there. *err (caller frees) unless JOB_DONE. NULL
	 * for a batchable kind. */
	enum job_result (*run)(PGconn *c, const struct job *j, const char **outcome, char **err);
	/* Batchable kinds: step one, no write: loads and verifies items[0..n),
	 * reading at most read_max stored bytes a job (more: the item comes back deferred); each
	 * item gets JOB_DONE with a verdict in v, or another result with err. */
	void (*check)(PGconn *c, struct jobs_item *items, int n, int64_t read_max);
	/* Step two: commits in one statement the verdicts of the JOB_DONE items not deferred,
	 * with their job_runs rows (as the unit jobs_record writes one), and notifies waiters
	 * (as jobs_notify does); each becomes JOB_DONE or JOB_DUPLICATE. The statement ends
	 * the transaction open on c, if any (db_exec_commit: jobs_run_batch's, begun before
	 * the load). 0, or -1 when the statement failed (that transaction rolled back). */
	int (*commit)(PGconn *c, struct jobs_item *items, int n);
	/* Frees what check stored in v. */
	void (*clear)(struct job_verdict *v);
	/* The unit ($1 resource id, $2 message) that records on the resource that its job gave
	 * up after its last attempt, guarded so that a resource already settled is left alone
	 * (<kind>_give_up in sql/<kind>.sql). */
	enum sql_unit give_up_unit;
	/* The unit ($1 seconds) selecting the ids of resources pending for longer than that,
	 * which reconcile enqueues again (<kind>_pending), and its column of the ids
	 * (<KIND>_PENDING_C_ID); SQL_UNIT_COUNT when the kind has none to reconcile. */
	enum sql_unit pending_unit;
	int pending_col;
};

/* True if k runs in two steps and may run in a batch with other jobs of its kind. */
static inline bool
kind_batchable(const struct job_kind *k)
{
	return k->check != NULL;
}

#endif
