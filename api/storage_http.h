/* storage_http.h: signed storage URLs, and the routes of /storage that serve them for the
 * local storage provider. */
#ifndef SETTLE_STORAGE_HTTP_H
#define SETTLE_STORAGE_HTTP_H

#include "http.h"

/* The signed storage URL object {http_verb, host, url, http_headers: []} for a chunk PUT
 * (number >= 1) or the download GET (number 0) of an upload in container, from the storage
 * provider, carrying database position lsn (0: none; see storage_url); NULL when it cannot
 * sign (the caller answers storage_http_unavailable). */
json_t *storage_http_url(const char *method, const char *container, const char *upload_id,
                         int number, uint64_t lsn);
/* Checks the signature of a storage URL request (ROUTE_SIGNED; HEAD is signed as GET): true
 * with *lsn the position the URL carries (0: none), else false after answering 403. */
bool storage_http_signed(struct req *r, uint64_t *lsn) MUSTCHECK;
/* http_unavailable: the storage provider cannot be reached. */
void storage_http_unavailable(struct req *r);
/* Whether the configured storage provider holds the bytes of an upload whose
 * uploads.storage_provider is provider (storage_holds). If not, answers status with a
 * message naming both: 409 conflict for a call that would go on with the upload (chunks,
 * complete: the client begins a new one), http_unavailable for one that wants its bytes
 * (download URLs; they are back once the provider is configured again), and returns
 * false. */
bool storage_http_holds(struct req *r, const char *provider, int status) MUSTCHECK;

#endif
