/* storage_local.h: the local-directory storage provider. storage.h calls it; settle-api's
 * storage routes (api/storage_http.c) write and read its chunks directly. */
#ifndef SETTLE_STORAGE_LOCAL_H
#define SETTLE_STORAGE_LOCAL_H

#include <stdint.h>
#include <sys/types.h>

#include "hash.h"
#include "storage_provider.h"
#include "util.h"

/* The local provider (storage_provider.h): a directory, SETTLE_STORAGE_DIR. */
extern const struct storage_provider storage_local_provider;

/* Sets the root directory of the local provider (created if missing). 0 or -1. */
int storage_local_init(const char *root, char **err) MUSTCHECK;

/* Creates the container (a directory) of a project; idempotent. 0 or -1 + *err. */
int storage_local_container_create(const char *container, char **err) MUSTCHECK;
/* Removes a container and everything in it; missing is fine. 0 or -1. */
int storage_local_container_delete(const char *container, char **err) MUSTCHECK;

/* Checks a container name, an upload name and a chunk number (not negative). 0, or -1 with
 * *err. */
int storage_local_check_chunk(const char *container, const char *upload_id, int number,
                              char **err) MUSTCHECK;
/* Opens the directory of an upload in an existing container, creating it first when create
 * is true. A descriptor (caller closes), or -1 with errno and, when err is not NULL, *err. */
int storage_local_open_upload_dir(const char *container, const char *upload_id, bool create,
                                  char **err) MUSTCHECK;
/* fsync of a directory (one without fsync support is fine). 0 or -1 with errno. */
int storage_local_fsync_dir(int dirfd) MUSTCHECK;

/* Opens a stored chunk for reading: a file descriptor (caller closes) or -1 + *err.
 * *size gets its length. errno ENOENT is reported as "missing". */
int storage_local_read_open(const char *container, const char *upload_id, int number, int64_t *size,
                            char **err) MUSTCHECK;
/* Deletes every chunk of an upload, the whole directory (numbers are not needed). 0 or -1. */
int storage_local_upload_delete(const char *container, const char *upload_id, const int *numbers,
                                int n, char **err) MUSTCHECK;
/* Deletes the temporary files that writers killed mid-chunk left in an upload's directory
 * (a writer that lives removes its own). Only for an upload whose chunks can no longer
 * change: a live writer's file would go too. How many it deleted, or -1 + *err. */
int storage_local_upload_tidy(const char *container, const char *upload_id, char **err) MUSTCHECK;

/* The provider's side of storage.h (see there). */
char *storage_local_url(const char *method, const char *container, const char *upload_id,
                        int number, int64_t expires, uint64_t lsn, const char **host);
int storage_local_chunk_facts(const char *container, const char *upload_id, int number,
                              struct storage_facts *out, char **err) MUSTCHECK;
int storage_local_chunk_read(const char *container, const char *upload_id, int number,
                             storage_sink sink, void *ctx, char **err) MUSTCHECK;
int storage_local_finalize(const char *container, const char *upload_id, const int64_t *sizes,
                           int nchunks, char **err) MUSTCHECK;

#endif
