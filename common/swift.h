/* swift.h: Swift's HTTP API through libcurl (tempauth, one call, the check of its answer),
 * for the Swift storage provider (storage_swift.c). */
#ifndef SETTLE_SWIFT_H
#define SETTLE_SWIFT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "storage_provider.h"
#include "util.h"

/* What one request gives back. Zero it before the first call; free with swift_reply_free. */
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

/* Initialises libcurl and the shared connection cache. Once, before any call. 0 or -1. */
int swift_start(char **err) MUSTCHECK;
/* Authenticates with tempauth (v1) at cfg.swift_auth_url: the one function to replace for
 * Keystone. Sets the session (token, storage URL, account path). 0, or -1 with *err and
 * errno (EAGAIN: Swift is unavailable). */
int swift_auth(char **err) MUSTCHECK;
/* The account's path (/v1/AUTH_x) of the session, for temp URLs: a copy the caller frees,
 * or NULL before the first authentication. */
char *swift_account(void);
/* method on the storage URL + path (e.g. "/container/object"), with the session's token
 * (authenticating first when there is none) and one extra header (or NULL), body (PUT, or
 * NULL); re-authenticates once on a 401. Keeps rep's sink, ctx and slow. 0 (rep->status
 * says how it went), or -1 with *err and errno EAGAIN when Swift could not be reached. */
int swift_call(const char *method, const char *path, const char *extra, const char *body,
               struct swift_reply *rep, char **err) MUSTCHECK;
/* 0 when rep's status is 2xx (or 404 and missing_ok); else -1 with *err ("swift: <what>
 * answered <status>"), errno ENOENT for a 404 and EAGAIN for a 5xx (Swift or a server
 * behind its proxy is unavailable). */
int swift_check(const struct swift_reply *rep, const char *what, bool missing_ok,
                char **err) MUSTCHECK;
/* Frees what rep holds (not rep). */
void swift_reply_free(struct swift_reply *rep);

#endif
