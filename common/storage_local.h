/* storage_local.h: the local-directory storage provider. storage.h calls it; settle-api's
 * storage routes (api/storage_http.c) write and read its chunks directly. */
#ifndef SETTLE_STORAGE_LOCAL_H
#define SETTLE_STORAGE_LOCAL_H

#include <stdint.h>
#include <sys/types.h>

#include "hash.h"
#include "storage.h"
#include "util.h"

/* Sets the root directory of the local provider (created if missing). 0 or -1. */
int storage_local_init(const char *root, char **err) MUSTCHECK;

/* Creates the container (a directory) of a project; idempotent. 0 or -1 + *err. */
int storage_local_container_create(const char *container, char **err) MUSTCHECK;
/* Removes a container and everything in it; missing is fine. 0 or -1. */
int storage_local_container_delete(const char *container, char **err) MUSTCHECK;

/* A chunk being written: bytes go to a temporary file and through the hashes of `algs`
 * (bit mask of 1 << enum hash_alg; md5 is always included). */
struct storage_local_writer;
struct storage_local_writer *storage_local_write_open(const char *container, const char *upload_id,
                                                      int number, unsigned algs,
                                                      char **err) MUSTCHECK;
int storage_local_write(struct storage_local_writer *w, const void *data, size_t n,
                        char **err) MUSTCHECK;
/* fsync, atomic rename into place; fills size and hex digests. Frees w. 0 or -1. */
int storage_local_write_commit(struct storage_local_writer *w, int64_t *size,
                               char digests[HASH_ALG_COUNT][HASH_HEX_MAX], char **err) MUSTCHECK;
/* Discards the temporary file. Frees w. */
void storage_local_write_abort(struct storage_local_writer *w);

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
