/* upload_complete.c: the upload.complete job: the integrity check of API.md. Reported chunk
 * sizes and hashes must equal what storage computed, chunk numbers must run 1..n, sizes
 * must add up to the upload's size and the whole-file hash must match the stored bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "db.h"
#include "hash.h"
#include "jobs.h"
#include "log.h"
#include "storage.h"

#define UC_BLOCK (1024 * 1024)

/* Columns of the upload query. */
enum { U_ID, U_SIZE, U_COMPLETED, U_CONSISTENT, U_PURGED, U_CONTAINER, U_ALG, U_VALUE, U_SEEN };
/* Columns of the chunk query. */
enum { C_NUMBER, C_SIZE, C_HASH, C_ALG, C_STORED_SIZE, C_MD5, C_SHA1, C_SHA256, C_STORED };

/* What the byte pass needs to know about the upload. */
struct uc_plan {
	const char *upload_id;
	const char *container;
	bool whole;              /* a whole-file hash is to be checked */
	enum hash_alg whole_alg; /* its algorithm */
	const char *whole_value; /* and its reported value */
};

/* The stored digest of chunk row i for alg, or NULL if storage did not compute it. */
static const char *
uc_stored_digest(const PGresult *r, int i, enum hash_alg alg)
{
	return db_get(r, i, C_MD5 + (int)alg);
}

/* The reported hash algorithm of chunk row i when a per-chunk compare is due; false when the
 * reported value is empty (nothing to compare). *bad gets a mismatch message for an
 * unsupported algorithm. */
static bool
uc_chunk_alg(const PGresult *r, int i, enum hash_alg *alg, char **bad)
{
	const char *value = db_get(r, i, C_HASH);

	if (value == NULL || value[0] == '\0')
		return false;
	if (!hash_parse_alg(db_get(r, i, C_ALG), alg)) {
		*bad = xasprintf("chunk %lld: unsupported hash algorithm %s",
		                 (long long)db_get_i64(r, i, C_NUMBER), db_get(r, i, C_ALG));
		return false;
	}
	return true;
}

/* Checks the chunk rows against each other and the upload's size, without reading bytes.
 * Returns a mismatch message (caller frees) or NULL. */
static char *
uc_check_rows(const PGresult *r, int64_t upload_size)
{
	int64_t sum = 0;
	char *bad = NULL;

	for (int i = 0; i < PQntuples(r); i++) {
		long long number = (long long)db_get_i64(r, i, C_NUMBER);
		int64_t size = db_get_i64(r, i, C_SIZE);
		enum hash_alg alg;

		if (number != i + 1)
			return xasprintf(
			    "chunk %d is missing (chunk numbers must run 1..n, found %lld)", i + 1,
			    number);
		if (!db_get_bool(r, i, C_STORED))
			return xasprintf("chunk %lld: never stored", number);
		if (size != db_get_i64(r, i, C_STORED_SIZE))
			return xasprintf(
			    "chunk %lld: reported size %lld does not match stored size %lld",
			    number, (long long)size, (long long)db_get_i64(r, i, C_STORED_SIZE));
		if (uc_chunk_alg(r, i, &alg, &bad)) {
			const char *stored = uc_stored_digest(r, i, alg);
			if (stored != NULL && strcasecmp(stored, db_get(r, i, C_HASH)) != 0)
				return xasprintf(
				    "chunk %lld: reported %s %s does not match stored %s", number,
				    hash_alg_name(alg), db_get(r, i, C_HASH), stored);
		}
		if (bad != NULL)
			return bad;
		sum += size;
	}
	if (sum != upload_size)
		return xasprintf("chunk sizes add up to %lld bytes, upload size is %lld",
		                 (long long)sum, (long long)upload_size);
	return NULL;
}

/* Streams chunk row i through whole (may be NULL) and its own digest when storage did not
 * record one. JOB_DONE (with *bad set on a mismatch) or JOB_RETRY with *err. */
static enum job_result
uc_stream_chunk(const struct uc_plan *plan, const PGresult *r, int i, struct hash_set *whole,
                unsigned char *buf, char **bad, char **err)
{
	long long number = (long long)db_get_i64(r, i, C_NUMBER);
	int64_t expect = db_get_i64(r, i, C_STORED_SIZE), got = 0, fsize = 0;
	enum hash_alg alg = HASH_MD5;
	bool own = uc_chunk_alg(r, i, &alg, bad) && uc_stored_digest(r, i, alg) == NULL;
	struct hash_set *h = own ? hash_set_new(1u << alg) : NULL;
	enum job_result res = JOB_RETRY;
	char *serr = NULL;
	int fd = storage_read_open(plan->container, plan->upload_id, (int)number, &fsize, &serr);

	if (fd < 0) {
		if (errno == ENOENT) {
			*bad = xasprintf("chunk %lld: stored file missing", number);
			res = JOB_DONE;
		} else {
			*err = xasprintf("storage: %s", serr != NULL ? serr : "open failed");
		}
		goto out;
	}
	while (whole != NULL || h != NULL) {
		ssize_t n = read(fd, buf, UC_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*err =
			    xasprintf("storage: reading chunk %lld: %s", number, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (whole != NULL)
			hash_set_update(whole, buf, (size_t)n);
		if (h != NULL)
			hash_set_update(h, buf, (size_t)n);
		got += n;
	}
	if (whole == NULL && h == NULL)
		got = fsize;
	res = JOB_DONE;
	if (got != expect) {
		*bad = xasprintf("chunk %lld: stored file has %lld bytes, expected %lld", number,
		                 (long long)got, (long long)expect);
	} else if (h != NULL) {
		char out[HASH_ALG_COUNT][HASH_HEX_MAX];
		hash_set_final(h, out);
		h = NULL;
		if (strcasecmp(out[alg], db_get(r, i, C_HASH)) != 0)
			*bad =
			    xasprintf("chunk %lld: reported %s %s does not match stored %s", number,
			              hash_alg_name(alg), db_get(r, i, C_HASH), out[alg]);
	}
out:
	if (h != NULL)
		hash_set_free(h);
	if (fd >= 0)
		close(fd);
	free(serr);
	return res;
}

/* Reads every chunk file once, in order, in 1 MiB blocks (constant memory): checks that each
 * exists with its stored size, computes missing per-chunk digests and the whole-file digest.
 * JOB_DONE (with *bad set on a mismatch) or JOB_RETRY with *err on a storage read error. */
static enum job_result
uc_check_bytes(const struct uc_plan *plan, const PGresult *r, char **bad, char **err)
{
	struct hash_set *whole = plan->whole ? hash_set_new(1u << plan->whole_alg) : NULL;
	unsigned char *buf = xmalloc(UC_BLOCK);
	enum job_result res = JOB_DONE;

	for (int i = 0; i < PQntuples(r) && *bad == NULL; i++) {
		res = uc_stream_chunk(plan, r, i, whole, buf, bad, err);
		if (res != JOB_DONE)
			goto out;
	}
	if (*bad == NULL && whole != NULL) {
		char out[HASH_ALG_COUNT][HASH_HEX_MAX];
		hash_set_final(whole, out);
		whole = NULL;
		if (strcasecmp(out[plan->whole_alg], plan->whole_value) != 0)
			*bad = xasprintf("whole-file %s %s does not match stored bytes %s",
			                 hash_alg_name(plan->whole_alg), plan->whole_value,
			                 out[plan->whole_alg]);
	}
out:
	if (whole != NULL)
		hash_set_free(whole);
	free(buf);
	return res;
}

/* Loads the upload's row: JOB_DONE with *r set, JOB_DUPLICATE if this message ran already,
 * JOB_INVALID if it does not exist or was never completed, JOB_RETRY on a database error. */
static enum job_result
uc_load_upload(PGconn *c, const struct job *j, PGresult **r, char **err)
{
	const char *p[] = {j->resource_id, j->id};

	/* U_SEEN: this message already ran (a redelivery): spares reading the bytes again. A
	 * "gave_up" row does not count: a requeued dead letter runs again. */
	*r = db_exec(c,
	             "SELECT id::text, size, completed_at IS NOT NULL, is_consistent,"
	             " purged_at IS NOT NULL, storage_container, completed_hash_algorithm,"
	             " completed_hash_value, EXISTS (SELECT 1 FROM job_runs WHERE message_id = $2"
	             " AND outcome <> 'gave_up') FROM uploads WHERE id = $1",
	             2, p);
	if (*r == NULL) {
		*err = xstrdup("database: loading the upload failed");
		return JOB_RETRY;
	}
	if (PQntuples(*r) > 0 && db_get_bool(*r, 0, U_SEEN))
		return JOB_DUPLICATE;
	if (PQntuples(*r) == 0 || !db_get_bool(*r, 0, U_COMPLETED)) {
		*err = xasprintf("upload %s %s", j->resource_id,
		                 PQntuples(*r) == 0 ? "does not exist" : "is not completed");
		return JOB_INVALID;
	}
	return JOB_DONE;
}

/* Fills plan from the upload row; *bad gets a message for an unsupported whole-file hash. */
static void
uc_plan_init(struct uc_plan *plan, const PGresult *u, char **bad)
{
	const char *alg = db_get(u, 0, U_ALG), *value = db_get(u, 0, U_VALUE);

	plan->upload_id = db_get(u, 0, U_ID);
	plan->container = db_get(u, 0, U_CONTAINER);
	plan->whole_value = value;
	plan->whole = value != NULL && value[0] != '\0';
	if (plan->whole &&
	    !hash_parse_alg(alg != NULL && alg[0] != '\0' ? alg : "md5", &plan->whole_alg)) {
		*bad = xasprintf("unsupported whole-file hash algorithm %s", alg);
		plan->whole = false;
	}
}

/* Step one of upload.complete, before the transaction: loads the upload and its chunks and
 * verifies them, reading the stored bytes. Fills v (clear it with
 * upload_complete_verdict_clear). JOB_DONE, JOB_DUPLICATE (the message ran
 * already), JOB_INVALID or JOB_RETRY with *err. */
enum job_result
upload_complete_check(PGconn *c, const struct job *j, struct upload_verdict *v, char **err)
{
	struct uc_plan plan = {0};
	PGresult *u = NULL, *r = NULL;
	enum job_result res = uc_load_upload(c, j, &u, err);

	if (res != JOB_DONE)
		goto out;
	if (db_get_bool(u, 0, U_CONSISTENT) || db_get_bool(u, 0, U_PURGED)) {
		v->noop = true;
		goto out;
	}
	const char *p[] = {db_get(u, 0, U_ID)};
	r = db_exec(c,
	            "SELECT number, size, hash_value, hash_algorithm, stored_size, stored_md5,"
	            " stored_sha1, stored_sha256, stored_at IS NOT NULL FROM chunks"
	            " WHERE upload_id = $1 ORDER BY number",
	            1, p);
	if (r == NULL) {
		*err = xstrdup("database: loading the chunks failed");
		res = JOB_RETRY;
		goto out;
	}
	uc_plan_init(&plan, u, &v->error);
	if (v->error == NULL)
		v->error = uc_check_rows(r, db_get_i64(u, 0, U_SIZE));
	if (v->error == NULL)
		res = uc_check_bytes(&plan, r, &v->error, err);
	if (v->error != NULL)
		log_info("upload_integrity_error upload=%s reason=\"%s\"", j->resource_id,
		         v->error);
out:
	PQclear(r);
	PQclear(u);
	return res;
}

/* Step two, inside the transaction: writes the verdict of check(), guarded by NOT
 * is_consistent so that a second run changes nothing. JOB_DONE or JOB_RETRY with *err. */
enum job_result
upload_complete_apply(PGconn *c, const struct job *j, const struct upload_verdict *v,
                      const char **outcome, char **err)
{
	const char *p[] = {j->resource_id, v->error};
	int rc;

	if (v->noop) {
		*outcome = "noop";
		return JOB_DONE;
	}
	if (v->error != NULL)
		rc = db_cmd(c,
		            "UPDATE uploads SET is_consistent = true, consistent_at = now(),"
		            " error_at = now(), error_message = $2"
		            " WHERE id = $1 AND NOT is_consistent AND purged_at IS NULL",
		            2, p);
	else
		rc = db_cmd(c,
		            "UPDATE uploads SET is_consistent = true, consistent_at = now(),"
		            " error_at = NULL, error_message = NULL"
		            " WHERE id = $1 AND NOT is_consistent AND purged_at IS NULL",
		            1, p);
	if (rc < 0) {
		*err = xstrdup("database: updating the upload failed");
		return JOB_RETRY;
	}
	*outcome = v->error != NULL ? "integrity_error" : "consistent";
	return JOB_DONE;
}

/* The whole effect of an upload.complete job in one statement (so one round trip and no
 * BEGIN/COMMIT): records the message in job_runs (or takes over a "gave_up" row), marks the
 * upload consistent (with the error of a failed check) only if the message was recorded,
 * and notifies the upload's and its project's waiters. */
static const char upload_complete_sql[] =
    "WITH rec AS (INSERT INTO job_runs (message_id, kind, resource_id, attempt, outcome)"
    " VALUES ($1, 'upload.complete', $2, $3, $4)"
    " ON CONFLICT (message_id) DO UPDATE SET attempt = EXCLUDED.attempt,"
    " outcome = EXCLUDED.outcome, finished_at = now()"
    " WHERE job_runs.outcome = 'gave_up' RETURNING 1),"
    " upd AS (UPDATE uploads SET is_consistent = true, consistent_at = now(),"
    " error_at = CASE WHEN $5::text IS NULL THEN NULL ELSE now() END, error_message = $5"
    " WHERE id = $2 AND NOT is_consistent AND purged_at IS NULL AND $6::boolean"
    " AND EXISTS (SELECT 1 FROM rec) RETURNING project_id)"
    " SELECT (SELECT count(*) FROM rec),"
    " (SELECT pg_notify('settle_consistent', $2::text) FROM rec),"
    " (SELECT pg_notify('settle_consistent', project_id::text) FROM upd)";

enum job_result
upload_complete_commit(PGconn *c, const struct job *j, const struct upload_verdict *v, char **err)
{
	char attempt[16];
	const char *outcome = v->noop            ? "noop"
	                      : v->error != NULL ? "integrity_error"
	                                         : "consistent";
	PGresult *r;
	enum job_result res;

	snprintf(attempt, sizeof(attempt), "%d", j->attempt);
	const char *p[] = {j->id,   j->resource_id, attempt,
	                   outcome, v->error,       v->noop ? "false" : "true"};
	r = db_exec(c, upload_complete_sql, 6, p);
	if (r == NULL) {
		*err = xstrdup("database: recording the upload's verdict failed");
		return JOB_RETRY;
	}
	res = db_get_i64(r, 0, 0) > 0 ? JOB_DONE : JOB_DUPLICATE;
	PQclear(r);
	return res;
}

/* Frees the message held by v and resets it. */
void
upload_complete_verdict_clear(struct upload_verdict *v)
{
	free(v->error);
	v->error = NULL;
	v->noop = false;
}
