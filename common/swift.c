/* swift.c: Swift's HTTP API through libcurl, for the Swift storage provider
 * (storage_swift.c): tempauth, the session's token, one call, the check of its status.
 * Every call makes its own curl handle on one shared connection cache, so connections are
 * reused across calls and threads. Failures set errno as storage.h says (EAGAIN: Swift is
 * unavailable; ENOENT: a 404). */
#include "swift.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"

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

void
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
int
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
int
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
int
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

int
swift_start(char **err)
{
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
	return 0;
}

char *
swift_account(void)
{
	char *account = NULL;

	pthread_mutex_lock(&swift_lock);
	if (swift_account_path != NULL)
		account = xstrdup(swift_account_path);
	pthread_mutex_unlock(&swift_lock);
	return account;
}
