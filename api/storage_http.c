/* storage_http.c: the local storage provider's signed URLs (outside /api/v1; the Swift
 * provider issues none of them). PUT streams a chunk's bytes to
 * the storage provider while hashing them; GET streams an upload's chunks back in order,
 * honouring Range. Both use constant memory whatever the size. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "db.h"
#include "hash.h"
#include "log.h"
#include "router.h"
#include "sign.h"
#include "storage.h"
#include "storage_http.h"
#include "storage_local.h"
#include "storage_local_write.h"

#define STORAGE_HTTP_BLOCK (256 * 1024)

/* State of a chunk PUT. */
struct storage_put {
	struct storage_local_writer *w;
	int number;
	unsigned algs;
	int64_t declared, got;
	char hash_value[HASH_HEX_MAX];
};

/* The chunk number of the path, or -1 after answering 404. */
static int
storage_http_number(struct req *r)
{
	int64_t n;

	if (!util_parse_i64(r->params[1], &n) || n < 1 || n > INT32_MAX) {
		http_not_found(r, "chunk");
		return -1;
	}
	return (int)n;
}

/* Looks the chunk up (unit storage_http_chunk), checks it against the upload's limits (a
 * chunk registered before them, or two registered at once, may break them) and opens its
 * writer into s. 0, or -1 after answering. */
static int
storage_http_open(struct req *r, struct storage_put *s)
{
	char num[16], min[24], *err = NULL;
	const char *params[3] = {r->params[0], num, min};
	PGresult *res;
	enum hash_alg alg = HASH_MD5;
	int rc = -1;

	snprintf(num, sizeof(num), "%d", s->number);
	snprintf(min, sizeof(min), "%lld", (long long)cfg.min_chunk_size);
	res = db_exec(r->db, SQL_STORAGE_HTTP_CHUNK, params);
	if (res == NULL) {
		http_db_error(r);
		return -1;
	}
	if (PQntuples(res) == 0) {
		http_not_found(r, "chunk");
	} else if (db_get_bool(res, 0, STORAGE_HTTP_CHUNK_C_COMPLETED)) {
		http_error(r, 409, "conflict", "the upload is already completed",
		           "begin a new upload process");
	} else if (!storage_http_holds(r, db_get(res, 0, STORAGE_HTTP_CHUNK_C_STORAGE_PROVIDER),
	                               409)) {
		/* answered */
	} else if (!db_get_bool(res, 0, STORAGE_HTTP_CHUNK_C_FITS)) {
		http_error(r, 413, "payload_too_large",
		           "the chunk does not fit in the upload's declared size",
		           "register the chunk again, within the upload's size");
	} else {
		if (!hash_parse_alg(db_get(res, 0, STORAGE_HTTP_CHUNK_C_HASH_ALGORITHM), &alg))
			alg = HASH_MD5;
		s->algs = (1u << HASH_MD5) | (1u << alg);
		s->declared = db_get_i64(res, 0, STORAGE_HTTP_CHUNK_C_SIZE);
		snprintf(s->hash_value, sizeof(s->hash_value), "%s",
		         db_get(res, 0, STORAGE_HTTP_CHUNK_C_HASH_VALUE));
		s->w =
		    storage_local_write_open(db_get(res, 0, STORAGE_HTTP_CHUNK_C_STORAGE_CONTAINER),
		                             r->params[0], s->number, s->algs, &err);
		if (s->w == NULL) {
			log_error("storage_open_failed upload=%s chunk=%d error=\"%s\"",
			          r->params[0], s->number, err);
			http_error(r, 500, "not_provided", "the storage provider failed",
			           "retry the upload of this chunk");
		} else {
			rc = 0;
		}
	}
	free(err);
	PQclear(res);
	return rc;
}

/* Before the body of PUT /storage/{upload_id}/{number} (the lifecycle checked the signature):
 * chunk, writer. */
static int
storage_http_put_begin(struct req *r)
{
	struct storage_put *s = xcalloc(1, sizeof(*s));
	const char *clen = http_req_header(r, "Content-Length");
	int64_t len;

	r->stream = s;
	if ((s->number = storage_http_number(r)) < 0)
		return -1;
	if (storage_http_open(r, s) < 0)
		return -1;
	if (clen != NULL && util_parse_i64(clen, &len) && len > s->declared) {
		http_error(r, 413, "payload_too_large", "the body is larger than the chunk's size",
		           "register the chunk with its real size");
		return -1;
	}
	return 0;
}

/* One piece of the body: straight to the writer, 413 past the declared size. */
static int
storage_http_put_data(struct req *r, const char *data, size_t n)
{
	struct storage_put *s = r->stream;
	char *err = NULL;

	if (s->w == NULL)
		return -1;
	if ((int64_t)n > s->declared - s->got) {
		storage_local_write_abort(s->w);
		s->w = NULL;
		http_error(r, 413, "payload_too_large", "the body is larger than the chunk's size",
		           "register the chunk with its real size");
		return -1;
	}
	if (storage_local_write(s->w, data, n, &err) < 0) {
		log_error("storage_write_failed upload=%s chunk=%d error=\"%s\"", r->params[0],
		          s->number, err);
		free(err);
		storage_local_write_abort(s->w);
		s->w = NULL;
		http_error(r, 500, "not_provided", "the storage provider failed",
		           "retry the upload of this chunk");
		return -1;
	}
	s->got += (int64_t)n;
	return 0;
}

/* Records what storage computed, under a share lock of the upload so that complete or the
 * purge of expired uploads cannot slip in between (a PUT that waited for a purge finds the
 * upload purged and stores nothing). 1 done, 0 conflict (completed, purged or chunk
 * re-registered), -1 failure with the writer already consumed or aborted. */
static int
storage_http_commit(struct req *r, struct storage_put *s)
{
	char num[16], size[24], declared[24], digests[HASH_ALG_COUNT][HASH_HEX_MAX], *err = NULL;
	const char *params[8] = {r->params[0], num,  size,          NULL,
	                         NULL,         NULL, s->hash_value, declared};
	PGresult *res = NULL;
	int rc = -1;
	int64_t stored;

	snprintf(num, sizeof(num), "%d", s->number);
	snprintf(declared, sizeof(declared), "%lld", (long long)s->declared);
	if (db_begin(r->db) < 0)
		goto fail;
	/* The chunk row lock also orders two PUTs of the same chunk: rename and UPDATE of one
	 * finish before the other's begin, so the stored digests are those of the file. */
	res = db_exec(r->db, SQL_STORAGE_HTTP_LOCK, params);
	if (res == NULL || PQntuples(res) != 1 || !db_get_bool(res, 0, STORAGE_HTTP_LOCK_C_OPEN)) {
		rc = res == NULL ? -1 : 0;
		goto fail;
	}
	if (storage_local_write_commit(s->w, &stored, digests, &err) < 0) {
		s->w = NULL;
		log_error("storage_commit_failed upload=%s chunk=%d error=\"%s\"", r->params[0],
		          s->number, err);
		goto fail;
	}
	s->w = NULL;
	snprintf(size, sizeof(size), "%lld", (long long)stored);
	for (int a = 0; a < HASH_ALG_COUNT; a++)
		params[3 + a] = (s->algs & (1u << a)) ? digests[a] : NULL;
	PQclear(res);
	/* The UPDATE and the COMMIT in one round trip; on failure the transaction is over. */
	if ((res = db_exec_commit(r->db, SQL_STORAGE_HTTP_STORED, params)) == NULL)
		return -1;
	rc = PQntuples(res) == 1;
	PQclear(res);
	return rc;
fail:
	free(err);
	PQclear(res);
	db_rollback(r->db);
	return rc;
}

/* After the last piece: commit the chunk file and record its size and digests: 201 {}. */
static void
storage_http_put(struct req *r)
{
	struct storage_put *s = r->stream;
	int rc;

	if (s == NULL || s->w == NULL) {
		http_error(r, 500, "not_provided", "no storage writer", "retry the upload");
		return;
	}
	rc = storage_http_commit(r, s);
	if (rc < 0) {
		if (r->response == NULL)
			http_db_error(r);
	} else if (rc == 0) {
		http_error(r, 409, "conflict",
		           "the upload was completed or expired, or the chunk registered again "
		           "meanwhile",
		           "register the chunk again");
	} else {
		http_json(r, 201, json_object());
	}
}

/* Frees the PUT state, discarding a chunk file that was not committed. */
static void
storage_http_put_free(struct req *r)
{
	struct storage_put *s = r->stream;

	if (s == NULL)
		return;
	if (s->w != NULL)
		storage_local_write_abort(s->w);
	free(s);
	r->stream = NULL;
}

/* A download in progress: the chunks of one upload, read one after another. */
struct storage_get {
	char *container;
	char upload_id[37];
	int n;
	int *numbers;
	int64_t *sizes;
	int64_t start, len; /* the byte range served */
	int cur;            /* index of the open chunk, or -1 */
	int64_t cur_base;   /* offset of chunk cur in the whole upload */
	int fd;
};

static void
storage_http_get_free(void *cls)
{
	struct storage_get *g = cls;

	if (g->fd >= 0)
		close(g->fd);
	free(g->container);
	free(g->numbers);
	free(g->sizes);
	free(g);
}

/* Makes chunk i (holding absolute offset off) the open one. 0 or -1. */
static int
storage_http_seek(struct storage_get *g, int64_t off)
{
	int64_t base = 0, size;
	char *err = NULL;
	int i = 0;

	while (i < g->n && off >= base + g->sizes[i])
		base += g->sizes[i++];
	if (i >= g->n)
		return -1;
	if (i == g->cur)
		return 0;
	if (g->fd >= 0)
		close(g->fd);
	g->cur = -1;
	g->fd = storage_local_read_open(g->container, g->upload_id, g->numbers[i], &size, &err);
	if (g->fd < 0) {
		log_error("storage_read_failed upload=%s chunk=%d error=\"%s\"", g->upload_id,
		          g->numbers[i], err);
		free(err);
		return -1;
	}
	g->cur = i;
	g->cur_base = base;
	return 0;
}

/* libmicrohttpd content reader: bytes from pos of the served range. */
static ssize_t
storage_http_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct storage_get *g = cls;
	int64_t off = g->start + (int64_t)pos, left = g->len - (int64_t)pos, in_chunk;
	ssize_t k;

	if (left <= 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (storage_http_seek(g, off) < 0)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	in_chunk = g->cur_base + g->sizes[g->cur] - off;
	if ((int64_t)max > in_chunk)
		max = (size_t)in_chunk;
	if ((int64_t)max > left)
		max = (size_t)left;
	do
		k = pread(g->fd, buf, max, off - g->cur_base);
	while (k < 0 && errno == EINTR);
	if (k <= 0) {
		log_error("storage_read_failed upload=%s chunk=%d error=\"%s\"", g->upload_id,
		          g->numbers[g->cur], k < 0 ? strerror(errno) : "short file");
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	return k;
}

/* Parses Range against total into *start and *len. 0: serve everything (no or unusable header),
 * 1: a satisfiable range, -1: unsatisfiable. */
static int
storage_http_range(const char *h, int64_t total, int64_t *start, int64_t *len)
{
	int64_t a = -1, b = -1;
	char *end;

	if (h == NULL || strncmp(h, "bytes=", 6) != 0 || strchr(h, ',') != NULL)
		return 0;
	h += 6;
	if (*h == '-') {
		b = strtoll(h + 1, &end, 10);
		if (end == h + 1 || *end != '\0' || b < 0)
			return 0;
		if (b == 0 || total == 0)
			return -1;
		*start = b > total ? 0 : total - b;
		*len = total - *start;
		return 1;
	}
	a = strtoll(h, &end, 10);
	if (end == h || *end != '-' || a < 0)
		return 0;
	h = end + 1;
	if (*h != '\0') {
		b = strtoll(h, &end, 10);
		if (end == h || *end != '\0' || b < a)
			return 0;
	}
	if (a >= total)
		return -1;
	if (b < 0 || b >= total)
		b = total - 1;
	*start = a;
	*len = b - a + 1;
	return 1;
}

/* Loads the chunks of upload r->params[0] into a new g; 0, or -1 after answering (404, or
 * 503 when the configured storage provider does not hold it). */
static int
storage_http_load(struct req *r, struct storage_get **out, char **etag, int64_t *total)
{
	const char *params[1] = {r->params[0]};
	PGresult *res = db_exec(r->db, SQL_STORAGE_HTTP_LOAD, params);
	struct storage_get *g;

	if (res == NULL) {
		http_db_error(r);
		return -1;
	}
	if (PQntuples(res) == 0 ||
	    !storage_http_holds(r, db_get(res, 0, STORAGE_HTTP_LOAD_C_STORAGE_PROVIDER), 503)) {
		if (PQntuples(res) == 0)
			http_not_found(r, "upload");
		PQclear(res);
		return -1;
	}
	g = xcalloc(1, sizeof(*g));
	g->fd = -1;
	g->cur = -1;
	g->container = xstrdup(db_get(res, 0, STORAGE_HTTP_LOAD_C_STORAGE_CONTAINER));
	snprintf(g->upload_id, sizeof(g->upload_id), "%s", r->params[0]);
	*etag = xasprintf("\"%s\"", db_get(res, 0, STORAGE_HTTP_LOAD_C_ETAG));
	g->numbers = xcalloc((size_t)PQntuples(res), sizeof(int));
	g->sizes = xcalloc((size_t)PQntuples(res), sizeof(int64_t));
	*total = 0;
	for (int i = 0; i < PQntuples(res) && db_get(res, i, STORAGE_HTTP_LOAD_C_NUMBER) != NULL;
	     i++) {
		if (db_get_bool(res, i, STORAGE_HTTP_LOAD_C_NEVER_STORED))
			continue; /* never stored: nothing to serve */
		g->numbers[g->n] = (int)db_get_i64(res, i, STORAGE_HTTP_LOAD_C_NUMBER);
		g->sizes[g->n] = db_get_i64(res, i, STORAGE_HTTP_LOAD_C_STORED_SIZE);
		*total += g->sizes[g->n++];
	}
	PQclear(res);
	*out = g;
	return 0;
}

/* GET (and HEAD) /storage/{upload_id}: the whole upload (or the asked Range), streamed;
 * the URL is signed for GET either way (the lifecycle checked it). With standbys, a URL that
 * carries the position it was issued at is served by a standby that has replayed it
 * (session.h), else by the primary. */
static void
storage_http_get(struct req *r)
{
	struct storage_get *g = NULL;
	struct MHD_Response *resp;
	char *etag = NULL, buf[96];
	int64_t total;
	int range;

	if (storage_http_load(r, &g, &etag, &total) < 0)
		return;
	g->len = total;
	range = storage_http_range(http_req_header(r, "Range"), total, &g->start, &g->len);
	if (range < 0) {
		storage_http_get_free(g);
		http_error(r, 416, "not_provided", "the range is not satisfiable",
		           "ask for bytes within the file");
		snprintf(buf, sizeof(buf), "bytes */%lld", (long long)total);
		http_header(r, "Content-Range", buf);
		free(etag);
		return;
	}
	resp = MHD_create_response_from_callback((uint64_t)g->len, STORAGE_HTTP_BLOCK,
	                                         storage_http_read, g, storage_http_get_free);
	MHD_add_response_header(resp, "Content-Type", "application/octet-stream");
	MHD_add_response_header(resp, "ETag", etag);
	MHD_add_response_header(resp, "Accept-Ranges", "bytes");
	if (range > 0) {
		snprintf(buf, sizeof(buf), "bytes %lld-%lld/%lld", (long long)g->start,
		         (long long)(g->start + g->len - 1), (long long)total);
		MHD_add_response_header(resp, "Content-Range", buf);
	}
	http_raw(r, range > 0 ? 206 : 200, resp);
	free(etag);
}

json_t *
storage_http_url(const char *method, const char *container, const char *upload_id, int number,
                 uint64_t lsn)
{
	int64_t expires = util_wall_ms() / 1000 + cfg.url_ttl;
	const char *host = NULL;
	char *url = storage_url(method, container, upload_id, number, expires, lsn, &host);
	json_t *o;

	if (url == NULL)
		return NULL;
	o = json_pack("{s:s,s:s,s:s,s:[]}", "http_verb", method, "host", host, "url", url,
	              "http_headers");
	free(url);
	return o;
}

bool
storage_http_signed(struct req *r, uint64_t *lsn)
{
	const char *method = strcmp(r->method, "HEAD") == 0 ? "GET" : r->method;

	if (sign_url_verify(method, r->path, http_query(r, "expires"), http_query(r, "lsn"),
	                    http_query(r, "signature"), util_wall_ms() / 1000, lsn))
		return true;
	http_error(r, 403, "forbidden", "the signature of this URL is invalid or expired",
	           "ask the API for a new URL");
	return false;
}

void
storage_http_unavailable(struct req *r)
{
	http_unavailable(r, "the storage service is not reachable", HTTP_RETRY_RECONNECT);
}

bool
storage_http_holds(struct req *r, const char *provider, int status)
{
	char *msg = NULL;

	if (storage_holds(provider, &msg))
		return true;
	log_warn("storage_provider_mismatch path=%s error=\"%s\"", r->path, msg);
	if (status == 409) {
		http_error(r, 409, "conflict", msg, "begin a new upload process");
	} else {
		http_unavailable(r, msg, HTTP_RETRY_OPERATOR);
	}
	free(msg);
	return false;
}

const struct route storage_http_routes[] = {
    {.method = "PUT",
     .pattern = "/storage/:upload_id:uuid/:number:text",
     .flags = ROUTE_STREAM | ROUTE_SIGNED,
     .name = "storage.put",
     .handle = storage_http_put,
     .stream_begin = storage_http_put_begin,
     .stream_data = storage_http_put_data,
     .stream_free = storage_http_put_free},
    {.method = "GET",
     .pattern = "/storage/:upload_id:uuid",
     .flags = ROUTE_SIGNED,
     .name = "storage.get",
     .handle = storage_http_get},
    /* HEAD answers as GET: libmicrohttpd sends the headers and leaves the body out. */
    {.method = "HEAD",
     .pattern = "/storage/:upload_id:uuid",
     .flags = ROUTE_SIGNED,
     .name = "storage.head",
     .handle = storage_http_get},
    {.method = NULL},
};
