/* upload_complete.c: the upload.complete job: the integrity check of API.md. Reported chunk
 * sizes and hashes must equal what storage computed, chunk numbers must run 1..n, sizes
 * must add up to the upload's size and the whole-file hash must match the stored bytes. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db.h"
#include "hash.h"
#include "log.h"
#include "storage.h"
#include "upload_commit.h"
#include "upload_complete.h"

/* What storage computed of one chunk: from the chunk's row when the provider recorded it
 * while storing the bytes (local), else from the store itself (storage_chunk_facts: Swift,
 * where the bytes never pass through Settle). */
struct uc_fact {
	bool stored;
	bool from_store; /* asked of the store in this run */
	int64_t size;
	const char *digest[HASH_ALG_COUNT]; /* NULL: not computed */
	char md5[HASH_HEX_MAX];
};

/* The rows of one job in the load result: row0 .. row0 + n - 1 are its chunks (n = 0: the
 * upload has none; its one row then only has the upload's columns), with their facts. */
struct uc_rows {
	const PGresult *r;
	int row0, n;
	struct uc_fact *facts; /* n of them, by chunk order */
};

/* What the byte pass needs to know about the upload. */
struct uc_plan {
	const char *upload_id;
	const char *container;
	bool whole;               /* a whole-file hash is to be checked */
	enum hash_alg whole_alg;  /* its algorithm */
	const char *whole_value;  /* and its reported value */
	const char *whole_stored; /* storage's digest of the whole file when it has one (a
	                             single chunk), which spares reading the bytes */
};

/* The stored digest of chunk row i for alg, or NULL if storage did not compute it. */
static const char *
uc_stored_digest(const struct uc_rows *rows, int i, enum hash_alg alg)
{
	return rows->facts[i - rows->row0].digest[alg];
}

/* The stored digests of a chunk row are its columns stored_md5 .. stored_sha256, one per
 * enum hash_alg in its order. */
_Static_assert((int)UPLOAD_COMPLETE_LOAD_C_STORED_SHA1 - UPLOAD_COMPLETE_LOAD_C_STORED_MD5 ==
                       HASH_SHA1 - HASH_MD5 &&
                   (int)UPLOAD_COMPLETE_LOAD_C_STORED_SHA256 - UPLOAD_COMPLETE_LOAD_C_STORED_MD5 ==
                       HASH_SHA256 - HASH_MD5,
               "the stored digests of upload_complete_load in enum hash_alg's order");

/* Fills the facts of each chunk of rows (see struct uc_fact). JOB_DONE, or JOB_RETRY /
 * JOB_UNAVAILABLE with *err when the store cannot answer. */
static enum job_result
uc_load_facts(const struct uc_plan *plan, struct uc_rows *rows, char **err)
{
	for (int k = 0; k < rows->n; k++) {
		int i = rows->row0 + k;
		struct uc_fact *f = &rows->facts[k];
		struct storage_facts sf;
		char *serr = NULL;

		if (db_get_bool(rows->r, i, UPLOAD_COMPLETE_LOAD_C_STORED)) {
			f->stored = true;
			f->size = db_get_i64(rows->r, i, UPLOAD_COMPLETE_LOAD_C_STORED_SIZE);
			for (int a = 0; a < HASH_ALG_COUNT; a++)
				f->digest[a] =
				    db_get(rows->r, i, UPLOAD_COMPLETE_LOAD_C_STORED_MD5 + a);
			continue;
		}
		int rc = storage_chunk_facts(
		    plan->container, plan->upload_id,
		    (int)db_get_i64(rows->r, i, UPLOAD_COMPLETE_LOAD_C_NUMBER), &sf, &serr);
		if (rc < 0) {
			if (rc != -STORAGE_ENOENT) {
				*err =
				    xasprintf("storage: %s", serr != NULL ? serr : "chunk facts");
				free(serr);
				return kind_storage_failed(rc);
			}
			free(serr);
			continue;
		}
		f->stored = f->from_store = true;
		f->size = sf.size;
		memcpy(f->md5, sf.md5, sizeof(f->md5));
		f->digest[HASH_MD5] = f->md5[0] != '\0' ? f->md5 : NULL;
	}
	return JOB_DONE;
}

/* The reported hash algorithm of chunk row i when a per-chunk compare is due; false when the
 * reported value is empty (nothing to compare). *bad gets a mismatch message for an
 * unsupported algorithm. */
static bool
uc_chunk_alg(const PGresult *r, int i, enum hash_alg *alg, char **bad)
{
	const char *value = db_get(r, i, UPLOAD_COMPLETE_LOAD_C_CHUNK_HASH_VALUE);

	if (value == NULL || value[0] == '\0')
		return false;
	if (!hash_parse_alg(db_get(r, i, UPLOAD_COMPLETE_LOAD_C_CHUNK_HASH_ALGORITHM), alg)) {
		*bad = xasprintf("chunk %lld: unsupported hash algorithm %s",
		                 (long long)db_get_i64(r, i, UPLOAD_COMPLETE_LOAD_C_NUMBER),
		                 db_get(r, i, UPLOAD_COMPLETE_LOAD_C_CHUNK_HASH_ALGORITHM));
		return false;
	}
	return true;
}

/* Checks the chunk rows against each other and the upload's size, without reading bytes.
 * Returns a mismatch message (caller frees) or NULL. */
static char *
uc_check_rows(const struct uc_rows *rows, int64_t upload_size)
{
	const PGresult *r = rows->r;
	int64_t sum = 0;
	char *bad = NULL;

	for (int k = 0; k < rows->n; k++) {
		int i = rows->row0 + k;
		long long number = (long long)db_get_i64(r, i, UPLOAD_COMPLETE_LOAD_C_NUMBER);
		int64_t size = db_get_i64(r, i, UPLOAD_COMPLETE_LOAD_C_CHUNK_SIZE);
		enum hash_alg alg;

		if (number != k + 1)
			return xasprintf(
			    "chunk %d is missing (chunk numbers must run 1..n, found %lld)", k + 1,
			    number);
		if (!rows->facts[k].stored)
			return xasprintf("chunk %lld: never stored", number);
		if (size != rows->facts[k].size)
			return xasprintf(
			    "chunk %lld: reported size %lld does not match stored size %lld",
			    number, (long long)size, (long long)rows->facts[k].size);
		if (uc_chunk_alg(r, i, &alg, &bad)) {
			const char *stored = uc_stored_digest(rows, i, alg);
			if (stored != NULL &&
			    strcasecmp(stored,
			               db_get(r, i, UPLOAD_COMPLETE_LOAD_C_CHUNK_HASH_VALUE)) != 0)
				return xasprintf(
				    "chunk %lld: reported %s %s does not match stored %s", number,
				    hash_alg_name(alg),
				    db_get(r, i, UPLOAD_COMPLETE_LOAD_C_CHUNK_HASH_VALUE), stored);
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

/* Where a chunk's bytes go while it is read back: the whole-file hash and its own. */
struct uc_sink {
	struct hash_set *whole, *own;
	int64_t got;
};

static int
uc_sink_bytes(void *ctx, const void *data, size_t n)
{
	struct uc_sink *s = ctx;

	if (s->whole != NULL)
		hash_set_update(s->whole, data, n);
	if (s->own != NULL)
		hash_set_update(s->own, data, n);
	s->got += (int64_t)n;
	return 0;
}

/* Reads chunk number through s, or only asks its size when nothing is to be hashed (and the
 * store was not asked already in this run). JOB_DONE (with *bad set when it is missing) or
 * JOB_RETRY / JOB_UNAVAILABLE with *err. */
static enum job_result
uc_read_chunk(const struct uc_plan *plan, const struct uc_fact *f, long long number,
              struct uc_sink *s, char **bad, char **err)
{
	struct storage_facts sf;
	char *serr = NULL;
	int rc;

	if (s->whole == NULL && s->own == NULL && f->from_store) {
		s->got = f->size;
		return JOB_DONE;
	}
	if (s->whole == NULL && s->own == NULL) {
		rc = storage_chunk_facts(plan->container, plan->upload_id, (int)number, &sf, &serr);
		s->got = rc == 0 ? sf.size : 0;
	} else {
		rc = storage_chunk_read(plan->container, plan->upload_id, (int)number,
		                        uc_sink_bytes, s, &serr);
	}
	if (rc == -STORAGE_ENOENT)
		*bad = xasprintf("chunk %lld: stored file missing", number);
	else if (rc < 0)
		*err = xasprintf("storage: %s", serr != NULL ? serr : "read failed");
	free(serr);
	return rc < 0 && rc != -STORAGE_ENOENT ? kind_storage_failed(rc) : JOB_DONE;
}

/* Streams chunk row i through whole (may be NULL) and its own digest when storage did not
 * record one. JOB_DONE (with *bad set on a mismatch) or JOB_RETRY with *err. */
static enum job_result
uc_stream_chunk(const struct uc_plan *plan, const struct uc_rows *rows, int i,
                struct hash_set *whole, char **bad, char **err)
{
	const PGresult *r = rows->r;
	long long number = (long long)db_get_i64(r, i, UPLOAD_COMPLETE_LOAD_C_NUMBER);
	const struct uc_fact *f = &rows->facts[i - rows->row0];
	enum hash_alg alg = HASH_MD5;
	bool own = uc_chunk_alg(r, i, &alg, bad) && uc_stored_digest(rows, i, alg) == NULL;
	struct uc_sink s = {whole, own ? hash_set_new(1u << alg) : NULL, 0};
	enum job_result res = uc_read_chunk(plan, f, number, &s, bad, err);

	if (res != JOB_DONE || *bad != NULL)
		goto out;
	if (s.got != f->size) {
		*bad = xasprintf("chunk %lld: stored file has %lld bytes, expected %lld", number,
		                 (long long)s.got, (long long)f->size);
	} else if (s.own != NULL) {
		char out[HASH_ALG_COUNT][HASH_HEX_MAX];
		hash_set_final(s.own, out);
		s.own = NULL;
		if (strcasecmp(out[alg], db_get(r, i, UPLOAD_COMPLETE_LOAD_C_CHUNK_HASH_VALUE)) !=
		    0)
			*bad = xasprintf("chunk %lld: reported %s %s does not match stored %s",
			                 number, hash_alg_name(alg),
			                 db_get(r, i, UPLOAD_COMPLETE_LOAD_C_CHUNK_HASH_VALUE),
			                 out[alg]);
	}
out:
	if (s.own != NULL)
		hash_set_free(s.own);
	return res;
}

/* Reads every chunk file once, in order, in 1 MiB blocks (constant memory): checks that each
 * exists with its stored size, computes missing per-chunk digests and the whole-file digest
 * (unless storage already knows it). JOB_DONE (with *bad set on a mismatch) or JOB_RETRY
 * with *err on a storage read error. */
static enum job_result
uc_check_bytes(const struct uc_plan *plan, const struct uc_rows *rows, char **bad, char **err)
{
	bool hash_whole = plan->whole && plan->whole_stored == NULL;
	struct hash_set *whole = hash_whole ? hash_set_new(1u << plan->whole_alg) : NULL;
	enum job_result res = JOB_DONE;
	char out[HASH_ALG_COUNT][HASH_HEX_MAX];
	const char *digest = plan->whole_stored;

	for (int k = 0; k < rows->n && *bad == NULL; k++) {
		res = uc_stream_chunk(plan, rows, rows->row0 + k, whole, bad, err);
		if (res != JOB_DONE)
			goto out;
	}
	if (*bad == NULL && whole != NULL) {
		hash_set_final(whole, out);
		whole = NULL;
		digest = out[plan->whole_alg];
	}
	if (*bad == NULL && plan->whole && strcasecmp(digest, plan->whole_value) != 0)
		*bad = xasprintf("whole-file %s %s does not match stored bytes %s",
		                 hash_alg_name(plan->whole_alg), plan->whole_value, digest);
out:
	if (whole != NULL)
		hash_set_free(whole);
	return res;
}

/* How many stored bytes uc_check_bytes will read for this plan. */
static int64_t
uc_read_bytes(const struct uc_plan *plan, const struct uc_rows *rows)
{
	int64_t total = 0;

	for (int k = 0; k < rows->n; k++) {
		int i = rows->row0 + k;
		enum hash_alg alg;
		char *bad = NULL;
		bool own =
		    uc_chunk_alg(rows->r, i, &alg, &bad) && uc_stored_digest(rows, i, alg) == NULL;

		free(bad);
		if (own || (plan->whole && plan->whole_stored == NULL))
			total += rows->facts[k].size;
	}
	return total;
}

/* Stored bytes uc_check_bytes will read for certain, known from the rows before the store
 * is asked: all of them for a whole-file hash over more than one chunk (only a single
 * chunk's stored digest can stand for the whole file's), by their reported sizes. */
static int64_t
uc_read_bytes_reported(const struct uc_plan *plan, const struct uc_rows *rows)
{
	int64_t total = 0;

	if (!plan->whole || rows->n < 2)
		return 0;
	for (int k = 0; k < rows->n; k++)
		total += db_get_i64(rows->r, rows->row0 + k, UPLOAD_COMPLETE_LOAD_C_CHUNK_SIZE);
	return total;
}

/* Fills plan from the job's upload columns; *bad gets a message for an unsupported
 * whole-file hash. A single stored chunk's own digest is the whole file's. */
static void
uc_plan_init(struct uc_plan *plan, const struct uc_rows *rows, char **bad)
{
	const PGresult *u = rows->r;
	int row = rows->row0;
	const char *alg = db_get(u, row, UPLOAD_COMPLETE_LOAD_C_HASH_ALGORITHM),
	           *value = db_get(u, row, UPLOAD_COMPLETE_LOAD_C_HASH_VALUE);

	plan->upload_id = db_get(u, row, UPLOAD_COMPLETE_LOAD_C_ID);
	plan->container = db_get(u, row, UPLOAD_COMPLETE_LOAD_C_STORAGE_CONTAINER);
	plan->whole_value = value;
	plan->whole = value != NULL && value[0] != '\0';
	plan->whole_stored = NULL;
	if (plan->whole &&
	    !hash_parse_alg(alg != NULL && alg[0] != '\0' ? alg : "md5", &plan->whole_alg)) {
		*bad = xasprintf("unsupported whole-file hash algorithm %s", alg);
		plan->whole = false;
	}
}

/* A single stored chunk's own digest is the whole file's. Needs the facts. */
static void
uc_plan_whole_stored(struct uc_plan *plan, const struct uc_rows *rows)
{
	if (plan->whole && rows->n == 1)
		plan->whole_stored = uc_stored_digest(rows, rows->row0, plan->whole_alg);
}

/* Deletes what storage writers killed mid-chunk left beside the upload's chunks: it is
 * completed, so none of them can change any more. A failure only costs disk space. */
static void
uc_tidy(const struct uc_plan *plan)
{
	char *err = NULL;
	int n = storage_upload_tidy(plan->container, plan->upload_id, &err);

	if (n < 0)
		log_warn("upload_tidy_failed upload=%s error=\"%s\"", plan->upload_id, err);
	else if (n > 0)
		log_info("upload_tidied upload=%s temp_files=%d", plan->upload_id, n);
	free(err);
}

/* Makes a verified upload downloadable (storage_finalize). 0 or a negative storage code
 * with *err. */
static int
uc_finalize(const struct uc_plan *plan, const struct uc_rows *rows, char **err)
{
	int64_t *sizes = xcalloc((size_t)rows->n + 1, sizeof(*sizes));
	int rc;

	for (int k = 0; k < rows->n; k++)
		sizes[k] = rows->facts[k].size;
	rc = storage_finalize(plan->container, plan->upload_id, sizes, rows->n, err);
	free(sizes);
	return rc;
}

/* Seals the chunks of the job's rows (storage_seal): what is checked from here on is what
 * downloads will serve. JOB_DONE, or JOB_RETRY / JOB_UNAVAILABLE with *err. */
static enum job_result
uc_seal(const struct uc_plan *plan, const struct uc_rows *rows, char **err)
{
	int *numbers = xcalloc((size_t)rows->n + 1, sizeof(*numbers));
	char *serr = NULL;
	enum job_result res = JOB_DONE;

	for (int k = 0; k < rows->n; k++)
		numbers[k] =
		    (int)db_get_i64(rows->r, rows->row0 + k, UPLOAD_COMPLETE_LOAD_C_NUMBER);
	int rc = storage_seal(plan->container, plan->upload_id, numbers, rows->n, &serr);
	if (rc < 0) {
		res = kind_storage_failed(rc);
		*err = xasprintf("storage: %s", serr != NULL ? serr : "seal failed");
	}
	free(serr);
	free(numbers);
	return res;
}

/* The byte-level checks of a job whose rows agree: the chunks sealed, facts from the store, bytes
 * read back where a hash is to be computed (deferred when more than read_max: before the store is
 * asked anything when the rows already say so, as the run that reads asks again), then
 * what makes it downloadable. Sets it->res, it->err, it->v.error, it->deferred. */
static void
uc_check_stored(struct jobs_item *it, struct uc_plan *plan, struct uc_rows *rows, int64_t read_max)
{
	char *serr = NULL;
	int rc;

	if (uc_read_bytes_reported(plan, rows) > read_max) {
		it->deferred = true;
		return;
	}
	rows->facts = xcalloc((size_t)rows->n + 1, sizeof(*rows->facts));
	if ((it->res = uc_seal(plan, rows, &it->err)) != JOB_DONE ||
	    (it->res = uc_load_facts(plan, rows, &it->err)) != JOB_DONE)
		goto out;
	uc_plan_whole_stored(plan, rows);
	it->v.error =
	    uc_check_rows(rows, db_get_i64(rows->r, rows->row0, UPLOAD_COMPLETE_LOAD_C_SIZE));
	if (it->v.error == NULL && uc_read_bytes(plan, rows) > read_max) {
		it->deferred = true;
		goto out;
	}
	if (it->v.error == NULL)
		it->res = uc_check_bytes(plan, rows, &it->v.error, &it->err);
	if (it->res == JOB_DONE && it->v.error == NULL &&
	    (rc = uc_finalize(plan, rows, &serr)) < 0) {
		it->res = kind_storage_failed(rc);
		it->err = xasprintf("storage: %s", serr != NULL ? serr : "finalize failed");
	}
	if (it->res == JOB_DONE)
		uc_tidy(plan);
out:
	free(serr);
	free(rows->facts);
	rows->facts = NULL;
}

/* Verifies one job from its rows (see upload_complete_check). */
static void
uc_check_one(struct jobs_item *it, struct uc_rows *rows, int64_t read_max)
{
	const PGresult *r = rows->r;
	struct uc_plan plan = {0};

	it->res = JOB_DONE;
	if (db_get(r, rows->row0, UPLOAD_COMPLETE_LOAD_C_ID) == NULL ||
	    !db_get_bool(r, rows->row0, UPLOAD_COMPLETE_LOAD_C_COMPLETED)) {
		it->err = xasprintf("upload %s %s", it->j->resource_id,
		                    db_get(r, rows->row0, UPLOAD_COMPLETE_LOAD_C_ID) == NULL
		                        ? "does not exist"
		                        : "is not completed");
		it->res = JOB_INVALID;
		return;
	}
	if (db_get_bool(r, rows->row0, UPLOAD_COMPLETE_LOAD_C_SEEN)) {
		it->res = JOB_DUPLICATE;
		return;
	}
	if (db_get_bool(r, rows->row0, UPLOAD_COMPLETE_LOAD_C_CONSISTENT) ||
	    db_get_bool(r, rows->row0, UPLOAD_COMPLETE_LOAD_C_PURGED)) {
		it->v.noop = true;
		return;
	}
	/* Bytes this worker's provider does not hold are not judged: retried like any failure
	 * (a worker that holds them may take it, during a change of SETTLE_STORAGE), then given
	 * up with the error on the upload, not consistent, its job in settle.dead. */
	if (!storage_holds(db_get(r, rows->row0, UPLOAD_COMPLETE_LOAD_C_STORAGE_PROVIDER),
	                   &it->err)) {
		it->res = JOB_RETRY;
		return;
	}
	uc_plan_init(&plan, rows, &it->v.error);
	if (it->v.error == NULL)
		uc_check_stored(it, &plan, rows, read_max);
	if (it->v.error != NULL)
		log_info("upload_integrity_error upload=%s reason=\"%s\"", it->j->resource_id,
		         it->v.error);
}

/* Builds the "{a,b,…}" array literal of one uuid field of the items. Caller frees. */
static char *
uc_uuid_array(const struct jobs_item *items, int n, bool resource)
{
	size_t cap = (size_t)n * 38 + 3, len = 0;
	char *s = xmalloc(cap);

	s[len++] = '{';
	for (int i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%s", i > 0 ? "," : "",
		                        resource ? items[i].j->resource_id : items[i].j->id);
	snprintf(s + len, cap - len, "}");
	return s;
}

/* Step one of upload.complete, before any transaction (struct job_kind.check). */
static void
upload_complete_check(PGconn *c, struct jobs_item *items, int n, int64_t read_max)
{
	char *mids = uc_uuid_array(items, n, false), *rids = uc_uuid_array(items, n, true);
	const char *p[] = {mids, rids};
	PGresult *r = db_exec(c, SQL_UPLOAD_COMPLETE_LOAD, p);
	int row = 0;

	for (int i = 0; i < n; i++) {
		struct uc_rows rows = {r, row, 0, NULL};

		if (r == NULL) {
			items[i].res = JOB_RETRY;
			items[i].err = xstrdup("database: loading the upload failed");
			continue;
		}
		while (row < PQntuples(r) &&
		       db_get_i64(r, row, UPLOAD_COMPLETE_LOAD_C_ORD) == i + 1)
			row++;
		rows.n = db_get(r, rows.row0, UPLOAD_COMPLETE_LOAD_C_NUMBER) != NULL
		             ? row - rows.row0
		             : 0;
		log_set_id(items[i].j->id);
		uc_check_one(&items[i], &rows, read_max);
		log_set_id(NULL);
	}
	PQclear(r);
	free(mids);
	free(rids);
}

const struct job_kind upload_complete_kind = {
    .name = JOB_UPLOAD_COMPLETE,
    .check = upload_complete_check,
    .commit = upload_commit_run,
    .clear = upload_commit_clear,
    .give_up_unit = SQL_UPLOAD_COMPLETE_GIVE_UP,
    .pending_unit = SQL_UPLOAD_COMPLETE_PENDING,
    .pending_col = UPLOAD_COMPLETE_PENDING_C_ID,
};
