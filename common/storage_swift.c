/* storage_swift.c: the OpenStack Swift storage provider.
 *
 * Each project has a container; chunk n of upload U is the object U/n, which clients PUT
 * with a temp URL (HMAC-SHA256 over method, expiry and path with the account's temp-URL
 * key: no call to Swift). Such a URL stays valid until it expires, completed or not, so the
 * worker first seals each chunk: a server-side copy to U/sealed/n, a name no issued URL
 * addresses; facts, reads and the Static Large Object manifest U that finalize writes use
 * only the sealed copies, and the chunks U/n go once the manifest is written. The download
 * URL is a temp URL GET of the manifest. Settle's own calls go to the storage
 * URL tempauth answers, with its token; a 401 re-authenticates once. Every call makes its
 * own curl handle on one shared connection cache, so connections are reused across calls
 * and threads.
 */
#include "storage_swift.h"

#include <curl/curl.h>
#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "log.h"

#define SWIFT_CONNECT_TIMEOUT 10L
#define SWIFT_TIMEOUT         600L /* a whole GET of a chunk of up to 5 GiB may be slow */
#define SWIFT_LOW_SPEED       60L  /* seconds below 1 byte/s ends a transfer */
/* Receive buffer of a read into a sink (libcurl's default is 16 KiB): fewer, larger calls
 * of the sink (hashing) and of recv while a chunk is read back. */
#define SWIFT_READ_BUFFER (512L * 1024)

/* The session: token and storage URL from tempauth, the account's path (/v1/AUTH_x) for
 * temp URLs. Guarded by swift_lock; a call copies what it needs. */
static pthread_mutex_t swift_lock = PTHREAD_MUTEX_INITIALIZER;
static char *swift_token;
static char *swift_storage_url;
static char *swift_account_path;
static CURLSH *swift_share;
/* One lock per kind of shared data: curl may hold one while taking another. */
static pthread_mutex_t swift_share_locks[CURL_LOCK_DATA_LAST];

/* What one request gives back. */
struct swift_reply {
	CURL *h;
	long status;
	int64_t length; /* Content-Length, -1 if none */
	char etag[HASH_HEX_MAX];
	char *token, *storage_url; /* tempauth's headers */
	storage_sink sink;         /* body bytes go here when set, else into body */
	void *ctx;
	bool slow; /* Swift answers only once done (a copy): no low-speed limit */
	bool sink_failed;
	char *body;
	size_t body_len;
};

static void
swift_share_lock_fn(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
	pthread_mutex_lock(&swift_share_locks[d]);
}

static void
swift_share_unlock_fn(CURL *h, curl_lock_data d, void *u)
{
	pthread_mutex_unlock(&swift_share_locks[d]);
}

void
storage_swift_sign(const char *key, const char *method, int64_t expires, const char *path,
                   char out[65])
{
	unsigned char md[32];
	size_t md_len = 0;
	char *msg = xasprintf("%s\n%lld\n%s", method, (long long)expires, path);

	if (EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, strlen(key),
	              (const unsigned char *)msg, strlen(msg), md, sizeof(md), &md_len) == NULL ||
	    md_len != sizeof(md))
		md_len = 0;
	for (size_t i = 0; i < md_len; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[2 * md_len] = '\0';
	free(msg);
}

static char *
swift_header_value(const char *line, size_t n, const char *name)
{
	size_t k = strlen(name);

	if (n <= k || strncasecmp(line, name, k) != 0 || line[k] != ':')
		return NULL;
	line += k + 1;
	n -= k + 1;
	while (n > 0 && (*line == ' ' || *line == '\t')) {
		line++;
		n--;
	}
	while (n > 0 && (line[n - 1] == '\r' || line[n - 1] == '\n' || line[n - 1] == ' '))
		n--;
	return xstrndup(line, n);
}

static size_t
swift_on_header(char *line, size_t size, size_t nitems, void *arg)
{
	struct swift_reply *rep = arg;
	size_t n = size * nitems;
	char *v;

	if ((v = swift_header_value(line, n, "Etag")) != NULL) {
		const char *e = v[0] == '"' ? v + 1 : v;
		snprintf(rep->etag, sizeof(rep->etag), "%.*s", (int)strcspn(e, "\""), e);
		free(v);
	} else if ((v = swift_header_value(line, n, "Content-Length")) != NULL) {
		if (!util_parse_i64(v, &rep->length))
			rep->length = -1;
		free(v);
	} else if ((v = swift_header_value(line, n, "X-Auth-Token")) != NULL) {
		free(rep->token);
		rep->token = v;
	} else if ((v = swift_header_value(line, n, "X-Storage-Url")) != NULL) {
		free(rep->storage_url);
		rep->storage_url = v;
	}
	return n;
}

static size_t
swift_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct swift_reply *rep = arg;
	size_t n = size * nmemb;

	if (rep->status == 0)
		curl_easy_getinfo(rep->h, CURLINFO_RESPONSE_CODE, &rep->status);
	if (rep->status < 200 || rep->status > 299 || rep->sink == NULL) {
		if (rep->body_len + n > 1024 * 1024 * 64)
			return 0;
		rep->body = xrealloc(rep->body, rep->body_len + n + 1);
		memcpy(rep->body + rep->body_len, data, n);
		rep->body_len += n;
		rep->body[rep->body_len] = '\0';
		return n;
	}
	if (rep->sink(rep->ctx, data, n) < 0) {
		rep->sink_failed = true;
		return 0;
	}
	return n;
}

static void
swift_reply_free(struct swift_reply *rep)
{
	free(rep->token);
	free(rep->storage_url);
	free(rep->body);
}

/* One request to url with the given headers (NULL-terminated) and body (PUT when set).
 * Fills *rep (status 0 when Swift could not be reached). 0, or -1 with *err. */
static int
swift_perform(const char *method, const char *url, const char *const *headers, const char *body,
              struct swift_reply *rep, char **err)
{
	struct curl_slist *hl = NULL;
	CURL *h = curl_easy_init();
	CURLcode rc;

	if (h == NULL) {
		util_set_err(err, "swift: curl_easy_init failed");
		return -1;
	}
	rep->h = h;
	rep->length = -1;
	for (; headers != NULL && *headers != NULL; headers++)
		hl = curl_slist_append(hl, *headers);
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SHARE, swift_share);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "HEAD") == 0)
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, swift_on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, rep);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, swift_on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, rep);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	if (rep->sink != NULL)
		curl_easy_setopt(h, CURLOPT_BUFFERSIZE, SWIFT_READ_BUFFER);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, SWIFT_CONNECT_TIMEOUT);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, SWIFT_TIMEOUT);
	if (!rep->slow) {
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, SWIFT_LOW_SPEED);
	}
	rc = curl_easy_perform(h);
	if (rep->status == 0)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &rep->status);
	curl_slist_free_all(hl);
	curl_easy_cleanup(h);
	rep->h = NULL;
	if (rc != CURLE_OK && !rep->sink_failed) {
		util_set_err(err, "swift: %s %s: %s", method, url, curl_easy_strerror(rc));
		errno = EAGAIN; /* not reached, or the transfer broke off: try again later */
		return -1;
	}
	return 0;
}

/* Authenticates with tempauth (v1): the one function to replace for Keystone. Sets the
 * session. 0, or -1 with *err. */
static int
swift_auth(char **err)
{
	char *user = xasprintf("X-Auth-User: %s", cfg.swift_user);
	char *key = xasprintf("X-Auth-Key: %s", cfg.swift_key);
	const char *headers[] = {user, key, NULL};
	struct swift_reply rep = {0};
	int rc = -1;

	if (swift_perform("GET", cfg.swift_auth_url, headers, NULL, &rep, err) < 0)
		goto out;
	if (rep.status < 200 || rep.status > 299 || rep.token == NULL || rep.storage_url == NULL) {
		util_set_err(err, "swift: authentication at %s answered %ld", cfg.swift_auth_url,
		             rep.status);
		errno = rep.status >= 500 ? EAGAIN : EIO;
		goto out;
	}
	const char *p = strstr(rep.storage_url, "://");
	p = p != NULL ? strchr(p + 3, '/') : NULL;
	pthread_mutex_lock(&swift_lock);
	free(swift_token);
	free(swift_storage_url);
	free(swift_account_path);
	swift_token = rep.token;
	swift_storage_url = rep.storage_url;
	swift_account_path = xstrdup(p != NULL ? p : "");
	rep.token = rep.storage_url = NULL;
	pthread_mutex_unlock(&swift_lock);
	rc = 0;
out:
	swift_reply_free(&rep);
	free(user);
	free(key);
	return rc;
}

/* The session's token and storage URL (copies), authenticating first when there is none
 * or `renew`. 0, or -1 with *err. */
static int
swift_session(bool renew, char **token, char **storage_url, char **err)
{
	pthread_mutex_lock(&swift_lock);
	bool have = swift_token != NULL && !renew;
	pthread_mutex_unlock(&swift_lock);
	if (!have && swift_auth(err) < 0)
		return -1;
	pthread_mutex_lock(&swift_lock);
	*token = xasprintf("X-Auth-Token: %s", swift_token);
	*storage_url = xstrdup(swift_storage_url);
	pthread_mutex_unlock(&swift_lock);
	return 0;
}

/* method on the storage URL + path (e.g. "/container/object"), with the session's token
 * and extra headers; re-authenticates once on a 401. 0 (rep->status says how it went), or
 * -1 with *err when Swift could not be reached. */
static int
swift_call(const char *method, const char *path, const char *extra, const char *body,
           struct swift_reply *rep, char **err)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		char *token = NULL, *base = NULL, *url;
		const char *headers[] = {NULL, extra, NULL};
		int rc;

		if (swift_session(attempt > 0, &token, &base, err) < 0)
			return -1;
		headers[0] = token;
		url = xasprintf("%s%s", base, path);
		swift_reply_free(rep);
		*rep = (struct swift_reply){.sink = rep->sink, .ctx = rep->ctx, .slow = rep->slow};
		rc = swift_perform(method, url, headers, body, rep, err);
		free(url);
		free(token);
		free(base);
		if (rc < 0 || rep->status != 401)
			return rc;
	}
	return 0;
}

/* 0 when rep's status is 2xx (or 404 and missing_ok); else -1 with *err, errno ENOENT for a
 * 404 and EAGAIN for a 5xx (Swift or a server behind its proxy is unavailable). */
static int
swift_check(const struct swift_reply *rep, const char *what, bool missing_ok, char **err)
{
	if (rep->status >= 200 && rep->status <= 299)
		return 0;
	if (rep->status == 404 && missing_ok)
		return 0;
	util_set_err(err, "swift: %s answered %ld", what, rep->status);
	errno = rep->status == 404 ? ENOENT : rep->status >= 500 ? EAGAIN : EIO;
	return -1;
}

/* True when a manifest PUT's 400 body ("Errors:" then a "<segment>, <status> <reason>" line
 * per segment Swift could not check) blames only 5xx answers of servers behind the proxy:
 * the segments are not wrong, Swift could not look at them now. */
static bool
swift_manifest_unavailable(const char *body)
{
	const char *line = body != NULL ? strstr(body, "Errors:") : NULL;
	int n = 0;

	if (line == NULL)
		return false;
	while ((line = strchr(line, '\n')) != NULL && *++line != '\0') {
		const char *comma = strstr(line, ", ");
		const char *end = strchr(line, '\n');
		if (comma == NULL || (end != NULL && comma > end) || comma[2] != '5')
			return false;
		n++;
	}
	return n > 0;
}

/* Container, upload and object names Settle makes: letters, digits, '-', '_', '.'. */
static bool
swift_name_ok(const char *s)
{
	if (s == NULL || s[0] == '\0' || s[0] == '.' || strlen(s) > 128)
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

static int
swift_names(const char *container, const char *upload_id, char **err)
{
	if (swift_name_ok(container) && (upload_id == NULL || swift_name_ok(upload_id)))
		return 0;
	util_set_err(err, "swift: bad container or upload name");
	errno = EINVAL;
	return -1;
}

/* Sets the account's temp-URL key; a user without the right (401/403) leaves it to the
 * operator. */
static int
swift_set_temp_url_key(char **err)
{
	char *h = xasprintf("X-Account-Meta-Temp-URL-Key: %s", cfg.swift_temp_url_key);
	struct swift_reply rep = {0};
	int rc = swift_call("POST", "", h, "", &rep, err);

	if (rc == 0 && (rep.status == 401 || rep.status == 403))
		log_warn("swift_temp_url_key_not_set status=%ld (assumed set by the operator)",
		         rep.status);
	else if (rc == 0)
		rc = swift_check(&rep, "setting the temp-URL key", false, err);
	swift_reply_free(&rep);
	free(h);
	return rc;
}

int
storage_swift_init(char **err)
{
	char *serr = NULL;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		util_set_err(err, "swift: curl_global_init failed");
		return -1;
	}
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&swift_share_locks[i], NULL);
	swift_share = curl_share_init();
	curl_share_setopt(swift_share, CURLSHOPT_LOCKFUNC, swift_share_lock_fn);
	curl_share_setopt(swift_share, CURLSHOPT_UNLOCKFUNC, swift_share_unlock_fn);
	curl_share_setopt(swift_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	curl_share_setopt(swift_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	if (swift_set_temp_url_key(&serr) < 0) {
		log_warn("swift_unreachable_at_start error=\"%s\"", serr != NULL ? serr : "");
		free(serr);
	}
	return 0;
}

int
storage_swift_container_create(const char *container, char **err)
{
	char *path = xasprintf("/%s", container);
	struct swift_reply rep = {0};
	int rc = swift_names(container, NULL, err);

	if (rc == 0 && (rc = swift_call("PUT", path, NULL, "", &rep, err)) == 0)
		rc = swift_check(&rep, "container PUT", false, err);
	swift_reply_free(&rep);
	free(path);
	return rc;
}

/* Deletes every object of one listing page of container whose name starts with prefix;
 * *n gets how many were listed. A listed object already gone is fine. 0 or -1. */
static int
swift_delete_listed(const char *container, const char *prefix, int *n, char **err)
{
	char *path = xasprintf("/%s?prefix=%s", container, prefix), *save = NULL;
	struct swift_reply rep = {0};
	int rc = swift_call("GET", path, NULL, NULL, &rep, err);

	*n = 0;
	free(path);
	if (rc == 0 && rep.status != 404)
		rc = swift_check(&rep, "container listing", false, err);
	for (char *name = rc == 0 && rep.status != 404 && rep.body != NULL
	                      ? strtok_r(rep.body, "\n", &save)
	                      : NULL;
	     rc == 0 && name != NULL; name = strtok_r(NULL, "\n", &save), (*n)++) {
		struct swift_reply del = {0};
		char *op = xasprintf("/%s/%s", container, name);
		if ((rc = swift_call("DELETE", op, NULL, NULL, &del, err)) == 0)
			rc = swift_check(&del, "object DELETE", true, err);
		swift_reply_free(&del);
		free(op);
	}
	swift_reply_free(&rep);
	return rc;
}

/* Deletes every object of container whose name starts with prefix ("" for all), listing
 * page by page until a listing is empty. 0 or -1. */
static int
swift_delete_prefix(const char *container, const char *prefix, char **err)
{
	for (int round = 0;; round++) {
		int n, rc = swift_delete_listed(container, prefix, &n, err);

		if (rc < 0 || n == 0)
			return rc;
		if (round == 100) {
			util_set_err(err, "swift: %s/%s* still listed after 100 rounds of deletes",
			             container, prefix);
			errno = EIO;
			return -1;
		}
	}
}

int
storage_swift_container_delete(const char *container, char **err)
{
	char *path = xasprintf("/%s", container);
	struct swift_reply rep = {0};
	int rc = swift_names(container, NULL, err);

	if (rc == 0)
		rc = swift_delete_prefix(container, "", err);
	if (rc == 0 && (rc = swift_call("DELETE", path, NULL, NULL, &rep, err)) == 0)
		rc = swift_check(&rep, "container DELETE", true, err);
	swift_reply_free(&rep);
	free(path);
	return rc;
}

/* A temp URL: Swift serves the bytes itself, no database is involved, so the position lsn
 * (storage.h) has no use here. */
char *
storage_swift_url(const char *method, const char *container, const char *upload_id, int number,
                  int64_t expires, uint64_t lsn, const char **host)
{
	char sig[65], *account = NULL, *path, *url, *err = NULL;

	(void)lsn;
	pthread_mutex_lock(&swift_lock);
	if (swift_account_path != NULL)
		account = xstrdup(swift_account_path);
	pthread_mutex_unlock(&swift_lock);
	if (account == NULL) {
		/* Not authenticated yet: the account's path comes from tempauth, once. */
		if (swift_auth(&err) < 0) {
			log_warn("swift_auth_failed error=\"%s\"", err != NULL ? err : "");
			free(err);
			return NULL;
		}
		return storage_swift_url(method, container, upload_id, number, expires, lsn, host);
	}
	path = number > 0 ? xasprintf("%s/%s/%s/%d", account, container, upload_id, number)
	                  : xasprintf("%s/%s/%s", account, container, upload_id);
	storage_swift_sign(cfg.swift_temp_url_key, method, expires, path, sig);
	url = xasprintf("%s?temp_url_sig=%s&temp_url_expires=%lld", path, sig, (long long)expires);
	free(path);
	free(account);
	*host = cfg.swift_url;
	return url;
}

/* The path of the sealed copy of chunk number (storage_swift_seal). Caller frees. */
static char *
swift_sealed_path(const char *container, const char *upload_id, int number)
{
	return xasprintf("/%s/%s/sealed/%d", container, upload_id, number);
}

int
storage_swift_chunk_facts(const char *container, const char *upload_id, int number,
                          struct storage_facts *out, char **err)
{
	char *path = swift_sealed_path(container, upload_id, number);
	struct swift_reply rep = {0};
	int rc = swift_names(container, upload_id, err);

	if (rc == 0 && (rc = swift_call("HEAD", path, NULL, NULL, &rep, err)) == 0)
		rc = swift_check(&rep, "chunk HEAD", false, err);
	if (rc == 0) {
		out->size = rep.length;
		snprintf(out->md5, sizeof(out->md5), "%s", rep.etag);
	}
	swift_reply_free(&rep);
	free(path);
	return rc;
}

int
storage_swift_chunk_read(const char *container, const char *upload_id, int number,
                         storage_sink sink, void *ctx, char **err)
{
	char *path = swift_sealed_path(container, upload_id, number);
	struct swift_reply rep = {.sink = sink, .ctx = ctx};
	int rc = swift_names(container, upload_id, err);

	if (rc == 0 && (rc = swift_call("GET", path, NULL, NULL, &rep, err)) == 0)
		rc = rep.sink_failed ? -1 : swift_check(&rep, "chunk GET", false, err);
	swift_reply_free(&rep);
	free(path);
	return rc;
}

static int swift_delete_object(const char *container, const char *name, const char *what,
                               char **err);

/* Copies chunk U/n over its sealed copy U/sealed/n, inside Swift (PUT with X-Copy-From:
 * Swift answers once the bytes are copied). A chunk missing is fine: an earlier seal may
 * hold it, and its facts tell. 0 or -1 (errno EAGAIN: try later). */
int
storage_swift_seal(const char *container, const char *upload_id, const int *numbers, int n,
                   char **err)
{
	int rc = swift_names(container, upload_id, err);

	for (int i = 0; rc == 0 && i < n; i++) {
		char *path = swift_sealed_path(container, upload_id, numbers[i]);
		char *from = xasprintf("X-Copy-From: /%s/%s/%d", container, upload_id, numbers[i]);
		struct swift_reply rep = {.slow = true};
		if ((rc = swift_call("PUT", path, from, "", &rep, err)) == 0)
			rc = swift_check(&rep, "chunk seal (copy)", true, err);
		swift_reply_free(&rep);
		free(from);
		free(path);
	}
	return rc;
}

/* Deletes chunks U/1..U/nchunks once the manifest names only their sealed copies; a
 * failure only costs space until the upload is purged (which deletes them by name). */
static void
swift_drop_unsealed(const char *container, const char *upload_id, int nchunks)
{
	for (int i = 1; i <= nchunks; i++) {
		char *name = xasprintf("%s/%d", upload_id, i), *err = NULL;
		if (swift_delete_object(container, name, "chunk DELETE", &err) < 0)
			log_warn("swift_unsealed_chunk_kept upload=%s chunk=%d error=\"%s\"",
			         upload_id, i, err != NULL ? err : "");
		free(err);
		free(name);
	}
}

/* The Static Large Object manifest of the sealed copies of the non-empty chunks (Swift
 * refuses empty segments); Swift checks each segment and its size and computes the whole
 * object's ETag. With none, an empty object. Then the unsealed chunks go. */
int
storage_swift_finalize(const char *container, const char *upload_id, const int64_t *sizes,
                       int nchunks, char **err)
{
	size_t cap = 3 + (size_t)nchunks * 340, len = 0;
	char *body = xmalloc(cap), *path;
	struct swift_reply rep = {0};
	int rc = swift_names(container, upload_id, err);

	body[len++] = '[';
	for (int i = 1; i <= nchunks; i++)
		if (sizes[i - 1] > 0)
			len += (size_t)snprintf(
			    body + len, cap - len,
			    "%s{\"path\":\"/%s/%s/sealed/%d\",\"size_bytes\":%lld}",
			    len > 1 ? "," : "", container, upload_id, i, (long long)sizes[i - 1]);
	body[len++] = ']';
	body[len] = '\0';
	path = len > 2 ? xasprintf("/%s/%s?multipart-manifest=put", container, upload_id)
	               : xasprintf("/%s/%s", container, upload_id);
	if (rc == 0 && (rc = swift_call("PUT", path, "Content-Type: application/octet-stream",
	                                len > 2 ? body : "", &rep, err)) == 0)
		rc = swift_check(&rep, "manifest PUT", false, err);
	if (rc < 0) {
		int e = rep.status == 400 && swift_manifest_unavailable(rep.body) ? EAGAIN : errno;
		if (rep.body != NULL)
			log_warn("swift_manifest_refused upload=%s status=%ld body=\"%.200s\"",
			         upload_id, rep.status, rep.body);
		errno = e;
	}
	if (rc == 0)
		swift_drop_unsealed(container, upload_id, nchunks);
	swift_reply_free(&rep);
	free(body);
	free(path);
	return rc;
}

/* DELETEs object name of container; a 404 is success. 0 or -1 (errno EAGAIN: try later). */
static int
swift_delete_object(const char *container, const char *name, const char *what, char **err)
{
	char *path = xasprintf("/%s/%s", container, name);
	struct swift_reply rep = {0};
	int rc = swift_call("DELETE", path, NULL, NULL, &rep, err);

	if (rc == 0)
		rc = swift_check(&rep, what, true, err);
	swift_reply_free(&rep);
	free(path);
	return rc;
}

/* Deletes the manifest, every chunk of numbers and its sealed copy by name (the database knows them
 * all, whatever a listing shows: Swift's listings lag behind object PUTs and fail while a container
 * server is down); one listing page of the upload's prefix then sweeps up strays (it may still show
 * what was just deleted: one page, no more), and its failure only gets a warning. */
int
storage_swift_upload_delete(const char *container, const char *upload_id, const int *numbers, int n,
                            char **err)
{
	char *prefix = NULL, *name = NULL, *serr = NULL;
	int listed, rc = swift_names(container, upload_id, err);

	if (rc == 0)
		rc = swift_delete_object(container, upload_id, "manifest DELETE", err);
	for (int i = 0; rc == 0 && i < 2 * n; i++) {
		free(name);
		name = i < n ? xasprintf("%s/%d", upload_id, numbers[i])
		             : xasprintf("%s/sealed/%d", upload_id, numbers[i - n]);
		rc = swift_delete_object(container, name, "chunk DELETE", err);
	}
	if (rc < 0)
		goto out;
	prefix = xasprintf("%s/", upload_id);
	if (swift_delete_listed(container, prefix, &listed, &serr) < 0)
		log_warn("swift_sweep_failed container=%s upload=%s error=\"%s\"", container,
		         upload_id, serr != NULL ? serr : "unknown");
out:
	free(serr);
	free(name);
	free(prefix);
	return rc;
}

/* Swift keeps no partial objects: nothing to tidy. */
int
storage_swift_upload_tidy(const char *container, const char *upload_id, char **err)
{
	return 0;
}
