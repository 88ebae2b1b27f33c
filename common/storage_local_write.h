/* storage_local_write.h: writing a chunk into the local provider's directory
 * (storage_local_write.c); settle-api's storage routes (api/storage_http.c) use it. */
#ifndef SETTLE_STORAGE_LOCAL_WRITE_H
#define SETTLE_STORAGE_LOCAL_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "util.h"

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

#endif
