/* storage_provider.h: what a storage provider is (struct storage_provider) and the error
 * codes of storage.h. Types only: each provider (storage_local.c, storage_swift.c) exports
 * one `const struct storage_provider`, and storage.c lists them once; configuration
 * (SETTLE_STORAGE), GET /storage_providers and the check of uploads.storage_provider's
 * constraint (tests/unit/test_storage.c) all derive from that list. */
#ifndef SETTLE_STORAGE_PROVIDER_H
#define SETTLE_STORAGE_PROVIDER_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"

/* The error codes of storage.h's functions, which return them negated (libuv style: -code;
 * they are errno values, so strerror(code) names them). A provider's own functions return
 * -1 and leave the code in errno; storage.c turns that into the negative code. */
#define STORAGE_ENOENT ENOENT /* what was asked for does not exist */
#define STORAGE_EUNAVAILABLE                                                                       \
	EAGAIN                /* the store could not be reached, or answered that it               \
	                         cannot serve now: the same call may succeed later */
#define STORAGE_EINVAL EINVAL /* a bad name or setting (at start: configuration) */
#define STORAGE_EIO    EIO    /* any other failure */

/* What clients see of a storage provider (an upload's storage_provider, GET
 * /storage_providers). Static strings. */
struct storage_info {
	const char *id, *name, *description;
	int64_t max_chunks; /* the most chunks of an upload (INT64_MAX: no limit) */
};

/* What the store knows of a chunk it holds: its size, and its md5 as the store computed it
 * ("" when the store keeps none). */
struct storage_facts {
	int64_t size;
	char md5[HASH_HEX_MAX];
};

/* Where the bytes of storage_chunk_read go: returns 0, or -1 to stop. */
typedef int (*storage_sink)(void *ctx, const void *data, size_t n);

/* A provider: what clients see of it, and its side of each function of storage.h (see
 * there), each returning -1 with errno (the codes above) and *err on failure. */
struct storage_provider {
	struct storage_info info; /* the name is what uploads.storage_provider records; an id
	                             never changes once clients have seen it */
	/* Checks and normalises the provider's settings in cfg (SETTLE_STORAGE named it).
	 * NULL: it has none to check. 0, or -1 with *err naming the setting. */
	int (*configure)(char **err);
	/* Starts the provider (after configure). 0 or -1. */
	int (*init)(char **err);
	int (*container_create)(const char *container, char **err);
	int (*container_delete)(const char *container, char **err);
	char *(*url)(const char *method, const char *container, const char *upload_id, int number,
	             int64_t expires, uint64_t lsn, const char **host);
	int (*chunk_facts)(const char *container, const char *upload_id, int number,
	                   struct storage_facts *out, char **err);
	int (*chunk_read)(const char *container, const char *upload_id, int number,
	                  storage_sink sink, void *ctx, char **err);
	int (*finalize)(const char *container, const char *upload_id, const int64_t *sizes,
	                int nchunks, char **err);
	int (*upload_delete)(const char *container, const char *upload_id, const int *numbers,
	                     int n, char **err);
	int (*upload_tidy)(const char *container, const char *upload_id, char **err);
	/* NULL: chunks cannot change once the upload is completed. */
	int (*seal)(const char *container, const char *upload_id, const int *numbers, int n,
	            char **err);
};

#endif
