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
#include "swift.h"

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

	if (swift_start(err) < 0)
		return -1;
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
	if ((account = swift_account()) == NULL) {
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

static bool
storage_swift_is_http_url(const char *s)
{
	return strncmp(s, "http://", 7) == 0 || strncmp(s, "https://", 8) == 0;
}

/* storage_provider.configure: every SETTLE_SWIFT_* setting is needed; SETTLE_SWIFT_URL loses
 * its trailing slashes. */
static int
storage_swift_configure(char **err)
{
	const char *missing = NULL;

	if (cfg.swift_temp_url_key[0] == '\0')
		missing = "SETTLE_SWIFT_TEMP_URL_KEY";
	if (cfg.swift_key[0] == '\0')
		missing = "SETTLE_SWIFT_KEY";
	if (cfg.swift_user[0] == '\0')
		missing = "SETTLE_SWIFT_USER";
	if (missing != NULL) {
		*err = xasprintf("SETTLE_STORAGE=swift needs %s", missing);
		return -1;
	}
	if (!storage_swift_is_http_url(cfg.swift_url) ||
	    !storage_swift_is_http_url(cfg.swift_auth_url)) {
		*err = xasprintf("SETTLE_STORAGE=swift needs SETTLE_SWIFT_URL and "
		                 "SETTLE_SWIFT_AUTH_URL as http://host:port… or https://…");
		return -1;
	}
	size_t n = strlen(cfg.swift_url);
	while (n > 0 && cfg.swift_url[n - 1] == '/')
		cfg.swift_url[--n] = '\0';
	return 0;
}

const struct storage_provider storage_swift_provider = {
    .info = {"00000000-0000-4000-8000-000000000004", "swift", "OpenStack Swift object storage",
             1000},
    .configure = storage_swift_configure,
    .init = storage_swift_init,
    .container_create = storage_swift_container_create,
    .container_delete = storage_swift_container_delete,
    .url = storage_swift_url,
    .chunk_facts = storage_swift_chunk_facts,
    .chunk_read = storage_swift_chunk_read,
    .finalize = storage_swift_finalize,
    .upload_delete = storage_swift_upload_delete,
    .upload_tidy = storage_swift_upload_tidy,
    .seal = storage_swift_seal,
};
