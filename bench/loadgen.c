/* loadgen.c: Settle's upload load generator. Plain sockets, HTTP/1.1 keep-alive, one thread
 * and one connection per client, so that the client costs little next to the server (no
 * libcurl: it is not a project dependency; Python threads would take most of a core).
 *
 *   loadgen flow  HOST PORT TOKEN PROJECT CLIENTS SECONDS RATE SIZE PREFIX
 *       Each client loops: POST /projects/{id}/uploads -> PUT /uploads/{id}/chunks ->
 *       storage PUT -> PUT /uploads/{id}/complete with "Prefer: wait=30" (the server answers
 *       once the upload is consistent; GET /uploads/{id} is polled only if that answer is
 *       not final, or every POLL_US with LOADGEN_WAIT=poll). RATE (uploads/s, all clients together;
 * 0 = as fast as possible) paces the clients. Upload names are PREFIX-<n>, so the database can be
 * asked for its own completed_at -> consistent_at times afterwards.
 *
 *   loadgen poll  HOST PORT TOKEN PROJECT CLIENTS SECONDS PREFIX
 *       A DDS client that polls. Each client loops the non-chunked flow:
 *       POST /projects/{id}/uploads (chunked:false, size 4096, md5 hash) -> storage PUT of
 *       4 KiB to the returned signed_url -> PUT /uploads/{id}/complete (no Prefer: wait) ->
 *       POST /files -> GET /files/{id}/url, again every 10 ms while it answers 404
 *       resource_not_consistent, until 200. As fast as each client can go.
 *
 *   loadgen big   HOST PORT TOKEN PROJECT CHUNKS CHUNK_BYTES NAME
 *       One upload of CHUNKS chunks of CHUNK_BYTES (pseudo-random bytes): prints the storage
 *       PUT rate and the complete -> consistent time seen by the client.
 *
 *   loadgen swift-flow HOST PORT TOKEN PROJECT CLIENTS SECONDS CHUNKS CHUNK_BYTES PREFIX
 *       The whole chunked upload flow of a DDS client, each client looping: create an upload
 *       of CHUNKS chunks of CHUNK_BYTES -> for each chunk, register it and PUT it to the
 *       `host` + `url` it got (with Swift: the proxy and a temp URL) -> complete with the
 *       whole-file md5 (ddsclient always sends one) and Prefer: wait=30 -> consistent and
 *       verified. Clients stop starting flows after SECONDS.
 *
 *   loadgen swift-raw SWIFT_URL ACCOUNT_PATH CONTAINER TEMP_URL_KEY CLIENTS SECONDS CHUNKS
 *                     CHUNK_BYTES PREFIX
 *       The reference of swift-flow: the same client code, data and chunk PUTs, straight to
 *       Swift with temp URLs signed here (HMAC-SHA256 over method, expiry and path, as
 *       Settle signs them) to objects ACCOUNT_PATH/CONTAINER/PREFIX-<client>-<n>/<chunk>, and
 *       nothing else. A "file" is its CHUNKS PUTs.
 *
 *   Both swift modes: a client's rate is its files over its own time (start to the end of
 *   its last file, which may finish after SECONDS); the rates of the clients are added, so a
 *   file cut by the deadline is neither lost nor counted twice. Every chunk of a client is
 *   the same pseudo-random bytes (the client's own).
 *
 * Output: KEY=VALUE lines on stdout. Exit 0 when every upload went through, else 1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POLL_US     1000
#define URL_POLL_US 10000 /* poll mode: GET /files/{id}/url every 10 ms */
#define POLL_SIZE   4096  /* poll mode: bytes of each upload */
#define RESP_MAX    (1 << 20)
#define BIG_PIECE   (16 << 20) /* big mode sends this buffer over and over */

static const char *g_host, *g_token, *g_project, *g_prefix;
static int g_port;
/* 1: complete carries Prefer: wait=30 (the server answers once consistent); 0: poll. */
static int g_wait = 1;
static _Atomic int g_wait_fallbacks; /* waits that came back unfinished */
static bool g_poll;                  /* poll mode: the non-chunked flow, url polled */
static _Atomic long g_url_polls;     /* poll mode: GET /files/{id}/url calls */

static double
now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
sleep_s(double s)
{
	if (s <= 0)
		return;
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void
die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "loadgen: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* ---- HTTP/1.1 keep-alive client ------------------------------------------------------- */

struct conn {
	char host[64]; /* numeric IPv4 address and port this connection goes to */
	int port;
	int fd;
	char *buf; /* response: headers + body, NUL-terminated */
	size_t len;
	int status;
	char *body;
	const char *extra; /* an extra header line ("Name: value\r\n") for the next call, or NULL */
	char err[1400];
};

static int
conn_open(struct conn *c)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)c->port)};
	int one = 1;

	inet_pton(AF_INET, c->host, &a.sin_addr);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		snprintf(c->err, sizeof(c->err), "connect: %s", strerror(errno));
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return -1;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return 0;
}

/* A closed connection to host:port with its response buffer. */
static struct conn
conn_new(const char *host, int port)
{
	struct conn c = {.port = port, .fd = -1, .buf = malloc(RESP_MAX)};
	snprintf(c.host, sizeof(c.host), "%s", host);
	return c;
}

static void
conn_free(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	free(c->buf);
	c->buf = NULL;
}

/* Splits "http://HOST:PORT[/...]" (a numeric IPv4 host). false if it is not one. */
static bool
parse_http_url(const char *url, char host[64], int *port)
{
	const char *h = strncmp(url, "http://", 7) == 0 ? url + 7 : NULL;
	const char *colon = h ? strchr(h, ':') : NULL;

	if (colon == NULL || colon - h >= 64)
		return false;
	memcpy(host, h, (size_t)(colon - h));
	host[colon - h] = '\0';
	*port = atoi(colon + 1);
	return *port > 0;
}

/* The connection that reaches signed-URL host `host_url`: api's own when it names the API
 * (the local provider), else store, pointed there (the Swift proxy). NULL if unusable. */
static struct conn *
conn_for(struct conn *api, struct conn *store, const char *host_url)
{
	char host[64];
	int port;

	if (!parse_http_url(host_url, host, &port))
		return NULL;
	if (strcmp(host, api->host) == 0 && port == api->port)
		return api;
	if (strcmp(host, store->host) != 0 || port != store->port) {
		if (store->fd >= 0)
			close(store->fd);
		store->fd = -1;
		snprintf(store->host, sizeof(store->host), "%s", host);
		store->port = port;
	}
	return store;
}

static int
send_all(int fd, const void *p, size_t n)
{
	const char *s = p;
	while (n > 0) {
		ssize_t k = send(fd, s, n, MSG_NOSIGNAL);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		s += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Reads one response (Content-Length bodies only) into c. 0 or -1. */
static int
conn_read(struct conn *c, bool *close_after)
{
	size_t clen = 0;
	char *hend = NULL;

	c->len = 0;
	for (;;) {
		if (c->len >= RESP_MAX - 1)
			return -1;
		ssize_t k = recv(c->fd, c->buf + c->len, RESP_MAX - 1 - c->len, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		c->len += (size_t)k;
		c->buf[c->len] = '\0';
		if (hend == NULL && (hend = strstr(c->buf, "\r\n\r\n")) != NULL) {
			char *h = strcasestr(c->buf, "\r\ncontent-length:");
			if (h != NULL && h < hend)
				clen = strtoul(h + 17, NULL, 10);
			h = strcasestr(c->buf, "\r\nconnection: close");
			*close_after = h != NULL && h < hend;
			c->status = atoi(c->buf + 9);
			c->body = hend + 4;
		}
		if (hend != NULL && (size_t)(c->buf + c->len - c->body) >= clen)
			return 0;
	}
}

/* Sends method path with an optional JSON body (or raw body of n bytes repeated from raw
 * until total bytes) and reads the answer into c. Returns the status, or -1. */
static int
http_call(struct conn *c, const char *method, const char *path, const char *json, const void *raw,
          size_t rawlen, size_t total)
{
	char head[4096];
	bool close_after = false;
	int hl;

	for (int attempt = 0; attempt < 2; attempt++) {
		if (c->fd < 0 && conn_open(c) < 0)
			return -1;
		size_t blen = json ? strlen(json) : total;
		hl = snprintf(head, sizeof(head),
		              "%s %s HTTP/1.1\r\nHost: %s:%d\r\n%s%s%s%s"
		              "Content-Length: %zu\r\n%s\r\n",
		              method, path, c->host, c->port, c->extra ? c->extra : "",
		              strncmp(path, "/api/", 5) == 0 ? "Authorization: " : "",
		              strncmp(path, "/api/", 5) == 0 ? g_token : "",
		              strncmp(path, "/api/", 5) == 0 ? "\r\n" : "", blen,
		              json ? "Content-Type: application/json\r\n"
		                   : "Content-Type: application/octet-stream\r\n");
		bool ok = send_all(c->fd, head, (size_t)hl) == 0;
		if (ok && json)
			ok = send_all(c->fd, json, blen) == 0;
		for (size_t sent = 0; ok && !json && sent < total;) {
			size_t n = total - sent < rawlen ? total - sent : rawlen;
			ok = send_all(c->fd, raw, n) == 0;
			sent += n;
		}
		if (ok && conn_read(c, &close_after) == 0) {
			if (close_after) {
				close(c->fd);
				c->fd = -1;
			}
			return c->status;
		}
		snprintf(c->err, sizeof(c->err), "%s %s: connection lost", method, path);
		close(c->fd);
		c->fd = -1;
		if (!json && total > 0)
			break; /* do not resend big bodies */
	}
	return -1;
}

/* ---- tiny JSON lookups -------------------------------------------------------------- */

/* Finds top-level key of the object that s starts with: a pointer to the first character of
 * its value (in s), or NULL. */
static const char *
json_top_value(const char *s, const char *key)
{
	int depth = 0;
	size_t klen = strlen(key);

	for (const char *p = s; *p; p++) {
		if (*p == '{' || *p == '[') {
			depth++;
		} else if (*p == '}' || *p == ']') {
			if (--depth <= 0)
				return NULL; /* the end of the object */
		} else if (*p == '"') {
			const char *start = ++p;
			while (*p && *p != '"')
				p += (*p == '\\' && p[1]) ? 2 : 1;
			if (!*p)
				return NULL;
			const char *q = p + 1;
			while (*q == ' ')
				q++;
			if (depth == 1 && *q == ':' && (size_t)(p - start) == klen &&
			    memcmp(start, key, klen) == 0) {
				q++;
				while (*q == ' ')
					q++;
				return q;
			}
		}
	}
	return NULL;
}

/* Copies the string value of top-level key of the object in s into out. true if found. */
static bool
json_top_str(const char *s, const char *key, char *out, size_t outlen)
{
	const char *q = json_top_value(s, key);
	size_t n = 0;

	if (q == NULL || *q != '"')
		return false;
	for (q++; *q && *q != '"' && n + 1 < outlen; q++) {
		if (*q == '\\' && q[1] == '/')
			q++;
		out[n++] = *q;
	}
	out[n] = '\0';
	return true;
}

static bool
json_consistent(const char *s)
{
	return strstr(s, "\"is_consistent\":true") || strstr(s, "\"is_consistent\": true");
}

/* ---- one upload --------------------------------------------------------------------- */

struct upload_times {
	double put_s;      /* storage PUT time (sum over chunks) */
	double complete_s; /* when complete was sent */
	double ttc_s;      /* complete sent -> consistent seen */
	char id[64];       /* the upload's id */
};

/* Does the whole upload flow for chunks chunks of csize bytes of data (each chunk the same
 * bytes, md5 chunk_md5; whole-file md5 whole_md5). 0 with *t filled, or -1. */
static int
upload_one(struct conn *c, struct conn *store, const char *name, int chunks, size_t csize,
           const unsigned char *data, size_t datalen, const char *chunk_md5, const char *whole_md5,
           struct upload_times *t)
{
	char path[1024], json[1024], id[64], url[1024], host[256];
	struct conn *sc;
	int st;

	snprintf(path, sizeof(path), "/api/v1/projects/%s/uploads", g_project);
	snprintf(json, sizeof(json),
	         "{\"name\":\"%s\",\"content_type\":\"application/octet-stream\",\"size\":%zu}",
	         name, (size_t)chunks * csize);
	if ((st = http_call(c, "POST", path, json, NULL, 0, 0)) != 201 ||
	    !json_top_str(c->body, "id", id, sizeof(id)))
		goto fail;
	snprintf(t->id, sizeof(t->id), "%s", id);
	t->put_s = 0;
	for (int n = 1; n <= chunks; n++) {
		snprintf(path, sizeof(path), "/api/v1/uploads/%s/chunks", id);
		snprintf(json, sizeof(json),
		         "{\"number\":%d,\"size\":%zu,\"hash\":{\"value\":\"%s\",\"algorithm\":"
		         "\"md5\"}}",
		         n, csize, chunk_md5);
		if ((st = http_call(c, "PUT", path, json, NULL, 0, 0)) != 200 ||
		    !json_top_str(c->body, "url", url, sizeof(url)) ||
		    !json_top_str(c->body, "host", host, sizeof(host)))
			goto fail;
		if ((sc = conn_for(c, store, host)) == NULL) {
			snprintf(c->err, sizeof(c->err), "chunk URL host %s: not http://IPv4:port",
			         host);
			return -1;
		}
		double t0 = now_s();
		st = http_call(sc, "PUT", url, NULL, data, datalen, csize);
		t->put_s += now_s() - t0;
		if (st != 201 && st != 200) {
			char why[200];
			snprintf(why, sizeof(why), "%.199s",
			         st >= 0 && sc->body ? sc->body : sc->err);
			snprintf(c->err, sizeof(c->err), "storage PUT %s%.200s -> %d %s", host, url,
			         st, why);
			return -1;
		}
	}
	snprintf(path, sizeof(path), "/api/v1/uploads/%s/complete", id);
	snprintf(json, sizeof(json), "{\"hash\":{\"value\":\"%s\",\"algorithm\":\"md5\"}}",
	         whole_md5);
	t->complete_s = now_s();
	c->extra = g_wait ? "Prefer: wait=30\r\n" : NULL;
	st = http_call(c, "PUT", path, json, NULL, 0, 0);
	c->extra = NULL;
	if (st != 202 && !(g_wait && st == 200))
		goto fail;
	snprintf(path, sizeof(path), "/api/v1/uploads/%s", id);
	/* With Prefer: wait the answer is final when it says consistent; else poll. */
	while (!(st == 200 && json_consistent(c->body))) {
		if (now_s() - t->complete_s > 120) {
			snprintf(c->err, sizeof(c->err), "upload %s not consistent after 120 s",
			         id);
			return -1;
		}
		if (g_wait && st != 200)
			g_wait_fallbacks++; /* counted once: the polls that follow answer 200 */
		sleep_s(POLL_US / 1e6);
		if ((st = http_call(c, "GET", path, NULL, NULL, 0, 0)) != 200)
			goto fail;
	}
	t->ttc_s = now_s() - t->complete_s;
	if (strstr(c->body, "\"error_on\":null") == NULL &&
	    strstr(c->body, "\"error_on\": null") == NULL) {
		snprintf(c->err, sizeof(c->err), "upload %s failed verification: %.200s", id,
		         c->body);
		return -1;
	}
	return 0;
fail:
	if (st >= 0)
		snprintf(c->err, sizeof(c->err), "%s -> %d %.150s", path, st,
		         c->body ? c->body : "");
	return -1;
}

/* The non-chunked flow of a polling DDS client, for POLL_SIZE bytes of data with md5 hex:
 * create, storage PUT, complete, create the file, poll its download URL every URL_POLL_US
 * until 200. 0 with *t filled (ttc_s: complete sent -> 200 seen), or -1. */
static int
poll_one(struct conn *c, const char *name, const unsigned char *data, const char *md5,
         struct upload_times *t)
{
	char path[1024], json[1024], id[64], fid[64], url[1024];
	const char *signed_url;
	int st;

	snprintf(path, sizeof(path), "/api/v1/projects/%s/uploads", g_project);
	snprintf(json, sizeof(json),
	         "{\"name\":\"%s\",\"content_type\":\"application/octet-stream\",\"size\":%d,"
	         "\"chunked\":false,\"hash\":{\"value\":\"%s\",\"algorithm\":\"md5\"}}",
	         name, POLL_SIZE, md5);
	if ((st = http_call(c, "POST", path, json, NULL, 0, 0)) != 201 ||
	    !json_top_str(c->body, "id", id, sizeof(id)) ||
	    (signed_url = json_top_value(c->body, "signed_url")) == NULL ||
	    !json_top_str(signed_url, "url", url, sizeof(url)))
		goto fail;
	snprintf(t->id, sizeof(t->id), "%s", id);
	double t0 = now_s();
	st = http_call(c, "PUT", url, NULL, data, POLL_SIZE, POLL_SIZE);
	t->put_s = now_s() - t0;
	if (st != 201 && st != 200)
		goto fail;
	snprintf(path, sizeof(path), "/api/v1/uploads/%s/complete", id);
	snprintf(json, sizeof(json), "{\"hash\":{\"value\":\"%s\",\"algorithm\":\"md5\"}}", md5);
	t->complete_s = now_s();
	if ((st = http_call(c, "PUT", path, json, NULL, 0, 0)) != 202)
		goto fail;
	snprintf(path, sizeof(path), "/api/v1/files");
	snprintf(json, sizeof(json),
	         "{\"parent\":{\"kind\":\"dds-project\",\"id\":\"%s\"},\"upload\":{\"id\":\"%s\"}}",
	         g_project, id);
	if ((st = http_call(c, "POST", path, json, NULL, 0, 0)) != 201 ||
	    !json_top_str(c->body, "id", fid, sizeof(fid)))
		goto fail;
	snprintf(path, sizeof(path), "/api/v1/files/%s/url", fid);
	for (;;) {
		st = http_call(c, "GET", path, NULL, NULL, 0, 0);
		g_url_polls++;
		if (st == 200)
			break;
		if (st != 404 || strstr(c->body, "resource_not_consistent") == NULL)
			goto fail;
		if (now_s() - t->complete_s > 120) {
			snprintf(c->err, sizeof(c->err), "file %s not consistent after 120 s", fid);
			return -1;
		}
		sleep_s(URL_POLL_US / 1e6);
	}
	t->ttc_s = now_s() - t->complete_s;
	return 0;
fail:
	if (st >= 0)
		snprintf(c->err, sizeof(c->err), "%s -> %d %.150s", path, st,
		         c->body ? c->body : "");
	return -1;
}

static void
hex16(const unsigned char md[16], char out[33])
{
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", md[i]);
}

static void
fill_random(unsigned char *p, size_t n, uint64_t seed)
{
	uint64_t x = seed | 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (unsigned char)x;
	}
}

/* ---- flow mode ---------------------------------------------------------------------- */

struct client {
	pthread_t th;
	int idx, nclients;
	double start, end, interval; /* interval 0: no pacing */
	size_t size;
	int done, late, failed; /* late: flows run whose complete went after the end */
	double *ttc;
	size_t nttc, cap;
	char err[1400];
};

static void *
client_run(void *arg)
{
	struct client *cl = arg;
	struct conn c = conn_new(g_host, g_port), store = conn_new("", 0);
	unsigned char *data = malloc(cl->size ? cl->size : 1);
	unsigned char md[16];
	unsigned int mdlen;
	char hex[33], name[256];
	double next = cl->start + (cl->interval * cl->idx) / cl->nclients;

	fill_random(data, cl->size, 0x9e3779b97f4a7c15ull * (uint64_t)(cl->idx + 1));
	EVP_Digest(data, cl->size, md, &mdlen, EVP_md5(), NULL);
	hex16(md, hex);
	for (int n = 0;; n++) {
		if (cl->interval > 0) {
			sleep_s(next - now_s());
			next += cl->interval;
		}
		if (now_s() >= cl->end)
			break;
		struct upload_times t;
		snprintf(name, sizeof(name), "%s-%d-%d", g_prefix, cl->idx, n);
		int rc = g_poll ? poll_one(&c, name, data, hex, &t)
		                : upload_one(&c, &store, name, 1, cl->size, data, cl->size, hex,
		                             hex, &t);
		if (rc < 0) {
			cl->failed++;
			snprintf(cl->err, sizeof(cl->err), "%s", c.err);
			if (cl->failed > 20)
				break;
			continue;
		}
		if (t.complete_s >= cl->end) {
			cl->late++;
			break;
		}
		cl->done++;
		if (cl->nttc == cl->cap) {
			cl->cap = cl->cap ? 2 * cl->cap : 256;
			cl->ttc = realloc(cl->ttc, cl->cap * sizeof(double));
		}
		cl->ttc[cl->nttc++] = t.ttc_s;
	}
	conn_free(&c);
	conn_free(&store);
	free(data);
	return NULL;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	if (n == 0)
		return 0;
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static int
flow_main(int clients, double seconds, double rate, size_t size)
{
	struct client *cl = calloc((size_t)clients, sizeof(*cl));
	double start = now_s() + 0.2;
	size_t total = 0, k = 0;
	int done = 0, late = 0, failed = 0;

	for (int i = 0; i < clients; i++) {
		cl[i].idx = i;
		cl[i].nclients = clients;
		cl[i].start = start;
		cl[i].end = start + seconds;
		cl[i].interval = rate > 0 ? clients / rate : 0;
		cl[i].size = size;
		pthread_create(&cl[i].th, NULL, client_run, &cl[i]);
	}
	for (int i = 0; i < clients; i++) {
		pthread_join(cl[i].th, NULL);
		total += cl[i].nttc;
	}
	double *all = malloc((total ? total : 1) * sizeof(double));
	for (int i = 0; i < clients; i++) {
		memcpy(all + k, cl[i].ttc, cl[i].nttc * sizeof(double));
		k += cl[i].nttc;
		done += cl[i].done;
		late += cl[i].late;
		failed += cl[i].failed;
		if (cl[i].failed)
			fprintf(stderr, "loadgen: client %d: %d failed, last: %s\n", i,
			        cl[i].failed, cl[i].err);
		free(cl[i].ttc);
	}
	qsort(all, total, sizeof(double), cmp_double);
	printf("clients=%d\nseconds=%.1f\ntarget_rate=%.1f\nuploads=%d\nfailed=%d\n"
	       "uploads_per_s=%.1f\nttc_client_p50_ms=%.1f\nttc_client_p95_ms=%.1f\n"
	       "ttc_client_p99_ms=%.1f\nttc_client_max_ms=%.1f\n",
	       clients, seconds, rate, done, failed, done / seconds, 1e3 * pct(all, total, 0.50),
	       1e3 * pct(all, total, 0.95), 1e3 * pct(all, total, 0.99),
	       total ? 1e3 * all[total - 1] : 0);
	printf("flows_run=%d\n", done + late); /* every flow that reached complete */
	if (g_poll)
		printf("wait_mode=url-poll\nurl_polls=%ld\nurl_polls_per_flow=%.2f\n",
		       (long)g_url_polls, done ? (double)g_url_polls / done : 0);
	else
		printf("wait_mode=%s\nwait_fallbacks=%d\n", g_wait ? "prefer" : "poll",
		       (int)g_wait_fallbacks);
	free(all);
	free(cl);
	return failed == 0 && done > 0 ? 0 : 1;
}

/* ---- big mode ----------------------------------------------------------------------- */

/* md5 (hex) of data[0..n) repeated times times. */
static void
md5_repeat(const unsigned char *data, size_t n, size_t times, char hex[33])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char md[16];
	unsigned int mdlen;

	EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
	for (size_t i = 0; i < times; i++)
		EVP_DigestUpdate(ctx, data, n);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	hex16(md, hex);
}

static int
big_main(int chunks, size_t csize, const char *name)
{
	struct conn c = conn_new(g_host, g_port), store = conn_new("", 0);
	size_t dlen = csize < BIG_PIECE ? csize : BIG_PIECE; /* csize: a multiple of it */
	unsigned char *data = malloc(dlen);
	char chunk_hex[33], whole_hex[33];
	struct upload_times t;

	if (csize % dlen != 0)
		die("CHUNK_BYTES must be below or a multiple of %d", BIG_PIECE);
	fill_random(data, dlen, 12345);
	md5_repeat(data, dlen, csize / dlen, chunk_hex);
	md5_repeat(data, dlen, (size_t)chunks * (csize / dlen), whole_hex);
	if (upload_one(&c, &store, name, chunks, csize, data, dlen, chunk_hex, whole_hex, &t) < 0) {
		fprintf(stderr, "loadgen: big upload failed: %s\n", c.err);
		return 1;
	}
	double bytes = (double)chunks * (double)csize;
	printf("upload_id=%s\n", t.id);
	printf("bytes=%.0f\nput_s=%.3f\nput_mb_per_s=%.1f\nttc_client_ms=%.1f\n", bytes, t.put_s,
	       bytes / 1e6 / t.put_s, 1e3 * t.ttc_s);
	conn_free(&c);
	conn_free(&store);
	free(data);
	return 0;
}

/* ---- swift modes: the whole flow through Swift, and its raw-PUT reference ------------- */

static const char *g_account, *g_container, *g_temp_url_key; /* swift-raw */

/* A temp URL (path and query) for PUT of path, as Swift's tempurl middleware checks it. */
static void
temp_url_put(const char *path, char *out, size_t outlen)
{
	long long expires = (long long)time(NULL) + 3600;
	char msg[1024], hex[65];
	unsigned char md[32];
	unsigned int mdlen = 0;

	snprintf(msg, sizeof(msg), "PUT\n%lld\n%s", expires, path);
	HMAC(EVP_sha256(), g_temp_url_key, (int)strlen(g_temp_url_key), (unsigned char *)msg,
	     strlen(msg), md, &mdlen);
	for (unsigned int i = 0; i < mdlen; i++)
		sprintf(hex + 2 * i, "%02x", md[i]);
	snprintf(out, outlen, "%s?temp_url_sig=%s&temp_url_expires=%lld", path, hex, expires);
}

/* The raw PUTs of one file's chunks to ACCOUNT/CONTAINER/name/n. 0, or -1 with c->err. */
static int
raw_one(struct conn *c, const char *name, int chunks, const unsigned char *data, size_t csize)
{
	char path[512], url[1024];

	for (int n = 1; n <= chunks; n++) {
		snprintf(path, sizeof(path), "%s/%s/%s/%d", g_account, g_container, name, n);
		temp_url_put(path, url, sizeof(url));
		int st = http_call(c, "PUT", url, NULL, data, csize, csize);
		if (st != 201) {
			char why[200];
			snprintf(why, sizeof(why), "%.199s", st >= 0 && c->body ? c->body : c->err);
			snprintf(c->err, sizeof(c->err), "PUT %s -> %d %s", path, st, why);
			return -1;
		}
	}
	return 0;
}

struct sclient {
	pthread_t th;
	int idx;
	bool raw;
	int chunks;
	size_t csize;
	double start, end, last; /* last: when its last file finished */
	int files, failed;
	unsigned char *data; /* its chunk, made before the clock starts */
	char chunk_hex[33], whole_hex[33];
	char err[1400];
};

static void *
sclient_run(void *arg)
{
	struct sclient *cl = arg;
	struct conn c = conn_new(g_host, g_port), store = conn_new("", 0);
	char name[256];
	struct upload_times t;

	sleep_s(cl->start - now_s());
	cl->last = cl->start;
	for (int n = 0; now_s() < cl->end && cl->failed <= 5; n++) {
		snprintf(name, sizeof(name), "%s-%d-%d", g_prefix, cl->idx, n);
		int rc = cl->raw ? raw_one(&c, name, cl->chunks, cl->data, cl->csize)
		                 : upload_one(&c, &store, name, cl->chunks, cl->csize, cl->data,
		                              cl->csize, cl->chunk_hex, cl->whole_hex, &t);
		if (rc < 0) {
			cl->failed++;
			snprintf(cl->err, sizeof(cl->err), "%s", c.err);
			continue;
		}
		cl->files++;
		cl->last = now_s();
	}
	conn_free(&c);
	conn_free(&store);
	return NULL;
}

static int
swift_main(bool raw, int clients, double seconds, int chunks, size_t csize)
{
	struct sclient *cl = calloc((size_t)clients, sizeof(*cl));
	double start, files_per_s = 0, span = 0;
	int files = 0, failed = 0;

	for (int i = 0; i < clients; i++) {
		cl[i] = (struct sclient){.idx = i, .raw = raw, .chunks = chunks, .csize = csize};
		cl[i].data = malloc(csize);
		fill_random(cl[i].data, csize, 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1));
		md5_repeat(cl[i].data, csize, 1, cl[i].chunk_hex);
		md5_repeat(cl[i].data, csize, (size_t)chunks, cl[i].whole_hex);
	}
	start = now_s() + 0.5; /* the clients' data is made before the clock starts */
	for (int i = 0; i < clients; i++) {
		cl[i].start = start;
		cl[i].end = start + seconds;
		pthread_create(&cl[i].th, NULL, sclient_run, &cl[i]);
	}
	for (int i = 0; i < clients; i++) {
		pthread_join(cl[i].th, NULL);
		if (cl[i].files > 0)
			files_per_s += cl[i].files / (cl[i].last - start);
		if (cl[i].last - start > span)
			span = cl[i].last - start;
		files += cl[i].files;
		failed += cl[i].failed;
		if (cl[i].failed)
			fprintf(stderr, "loadgen: client %d: %d failed, last: %s\n", i,
			        cl[i].failed, cl[i].err);
		free(cl[i].data);
	}
	printf("mode=%s\nclients=%d\nseconds=%.1f\nspan_s=%.2f\nchunks=%d\nchunk_bytes=%zu\n"
	       "files=%d\nfailed=%d\nfiles_per_s=%.3f\nmb_per_s=%.1f\n",
	       raw ? "raw" : "flow", clients, seconds, span, chunks, csize, files, failed,
	       files_per_s, files_per_s * chunks * (double)csize / 1e6);
	free(cl);
	return failed == 0 && files > 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	const char *w = getenv("LOADGEN_WAIT");
	if (w != NULL && strcmp(w, "poll") == 0)
		g_wait = 0;
	if (argc < 2)
		die("usage: loadgen flow|poll|big ... (see the top of loadgen.c)");
	if (strcmp(argv[1], "flow") == 0 && argc == 11) {
		g_host = argv[2];
		g_port = atoi(argv[3]);
		g_token = argv[4];
		g_project = argv[5];
		g_prefix = argv[10];
		return flow_main(atoi(argv[6]), atof(argv[7]), atof(argv[8]),
		                 strtoul(argv[9], NULL, 10));
	}
	if (strcmp(argv[1], "poll") == 0 && argc == 9) {
		g_poll = true;
		g_host = argv[2];
		g_port = atoi(argv[3]);
		g_token = argv[4];
		g_project = argv[5];
		g_prefix = argv[8];
		return flow_main(atoi(argv[6]), atof(argv[7]), 0, POLL_SIZE);
	}
	if (strcmp(argv[1], "big") == 0 && argc == 9) {
		g_host = argv[2];
		g_port = atoi(argv[3]);
		g_token = argv[4];
		g_project = argv[5];
		return big_main(atoi(argv[6]), strtoul(argv[7], NULL, 10), argv[8]);
	}
	if (strcmp(argv[1], "swift-flow") == 0 && argc == 11) {
		g_host = argv[2];
		g_port = atoi(argv[3]);
		g_token = argv[4];
		g_project = argv[5];
		g_prefix = argv[10];
		return swift_main(false, atoi(argv[6]), atof(argv[7]), atoi(argv[8]),
		                  strtoul(argv[9], NULL, 10));
	}
	if (strcmp(argv[1], "swift-raw") == 0 && argc == 11) {
		static char host[64];
		if (!parse_http_url(argv[2], host, &g_port))
			die("SWIFT_URL must be http://IPv4:port");
		g_host = host;
		g_account = argv[3];
		g_container = argv[4];
		g_temp_url_key = argv[5];
		g_prefix = argv[10];
		return swift_main(true, atoi(argv[6]), atof(argv[7]), atoi(argv[8]),
		                  strtoul(argv[9], NULL, 10));
	}
	die("bad arguments (see the top of loadgen.c)");
	return 1;
}
