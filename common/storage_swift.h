/* storage_swift.h: the OpenStack Swift storage provider (see storage.h). */
#ifndef SETTLE_STORAGE_SWIFT_H
#define SETTLE_STORAGE_SWIFT_H

#include "storage_provider.h"
#include "util.h"

/* The Swift provider (storage_provider.h): SETTLE_SWIFT_*. */
extern const struct storage_provider storage_swift_provider;

/* Authenticates (tempauth) and sets the account's temp-URL key when allowed. A Swift that
 * cannot be reached yet is not an error: each call authenticates when it must. 0 or -1. */
int storage_swift_init(char **err) MUSTCHECK;

int storage_swift_container_create(const char *container, char **err) MUSTCHECK;
int storage_swift_container_delete(const char *container, char **err) MUSTCHECK;
char *storage_swift_url(const char *method, const char *container, const char *upload_id,
                        int number, int64_t expires, uint64_t lsn, const char **host);
int storage_swift_chunk_facts(const char *container, const char *upload_id, int number,
                              struct storage_facts *out, char **err) MUSTCHECK;
int storage_swift_chunk_read(const char *container, const char *upload_id, int number,
                             storage_sink sink, void *ctx, char **err) MUSTCHECK;
int storage_swift_finalize(const char *container, const char *upload_id, const int64_t *sizes,
                           int nchunks, char **err) MUSTCHECK;
int storage_swift_upload_delete(const char *container, const char *upload_id, const int *numbers,
                                int n, char **err) MUSTCHECK;
int storage_swift_upload_tidy(const char *container, const char *upload_id, char **err) MUSTCHECK;
int storage_swift_seal(const char *container, const char *upload_id, const int *numbers, int n,
                       char **err) MUSTCHECK;

/* Temp URL signature (HMAC-SHA256, hex) of method, expiry and path with key. out: 65 bytes. */
void storage_swift_sign(const char *key, const char *method, int64_t expires, const char *path,
                        char out[65]);

#endif
