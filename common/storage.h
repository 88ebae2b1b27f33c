/* storage.h: the storage provider interface. SETTLE_STORAGE picks the provider at start by
 * name from the list of storage.c (storage_provider.h): local (a directory, bytes through
 * settle-api's storage routes: storage_local.h) or swift (OpenStack Swift, bytes straight
 * between clients and Swift). Job functions and handlers call only these functions. Every
 * call that fails returns a negative error code (libuv style, storage_provider.h):
 * -STORAGE_ENOENT when what was asked for does not exist, -STORAGE_EUNAVAILABLE when the
 * store is unavailable (could not be reached, or answered that it cannot serve now: the
 * same call may succeed later), -STORAGE_EINVAL for a bad name or setting, -STORAGE_EIO
 * otherwise; and *err gets a message (the caller frees it). storage_url returns NULL on
 * failure. */
#ifndef SETTLE_STORAGE_H
#define SETTLE_STORAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hash.h"
#include "storage_provider.h"
#include "util.h"

/* The provider whose name (the value of uploads.storage_provider: "local", "swift") is
 * name, or NULL when none is. Static. */
const struct storage_info *storage_info(const char *name);
/* The i-th provider (from 0), or NULL past the last: every provider, whichever started.
 * Static. */
const struct storage_info *storage_info_at(size_t i);
/* The name of the provider storage_init started: what a new upload records. Static. */
const char *storage_name(void);
/* Whether the started provider holds the bytes of an upload whose uploads.storage_provider
 * is name (a deployment that changed SETTLE_STORAGE keeps older uploads in the other one).
 * When not, *err gets a message naming both (caller frees). */
bool storage_holds(const char *name, char **err) MUSTCHECK;

/* Picks the provider that cfg.storage (SETTLE_STORAGE) names and checks its settings
 * (SETTLE_SWIFT_*, ...), without starting it. 0, or -STORAGE_EINVAL with *err naming the
 * setting (an unknown name: with the names of every provider). */
int storage_configure(char **err) MUSTCHECK;
/* storage_configure, then starts the provider. Call once at start, before any thread. 0,
 * or a negative code (-STORAGE_EINVAL: a configuration error). */
int storage_init(char **err) MUSTCHECK;
/* storage_init for a binary's main: 0, or the exit status after a message on stderr: 2
 * for a configuration error ("<program>: configuration error: ..."), else 1. */
int storage_start(const char *program) MUSTCHECK;

/* The most chunks an upload may have in this store (Swift: the 1000 segments of a manifest;
 * INT64_MAX: no limit). */
int64_t storage_max_chunks(void);
/* The smallest chunk clients are told to send for an upload of size bytes: at least
 * SETTLE_MIN_CHUNK_SIZE, and large enough for storage_max_chunks. */
int64_t storage_min_chunk_size(int64_t size);

/* Creates the container of a project; idempotent. 0 or a negative code. */
int storage_container_create(const char *container, char **err) MUSTCHECK;
/* Removes a container and everything in it; missing is fine. 0 or a negative code. */
int storage_container_delete(const char *container, char **err) MUSTCHECK;

/* A signed URL valid until epoch second `expires`, made without calling the store: method
 * PUT for chunk `number` (>= 1) of an upload, GET for the whole upload (number 0). lsn (0:
 * none) is the database position the URL was issued at: the local provider's URLs carry it
 * (signed), so that settle-api serves them from a standby that has replayed it; Swift's
 * involve no database and ignore it. *host gets the scheme://host:port clients call
 * (static); returns the path and query (caller frees). */
char *storage_url(const char *method, const char *container, const char *upload_id, int number,
                  int64_t expires, uint64_t lsn, const char **host);

/* What the store knows of chunk number of an upload (struct storage_facts). 0 or a
 * negative code (-STORAGE_ENOENT: not stored). */
int storage_chunk_facts(const char *container, const char *upload_id, int number,
                        struct storage_facts *out, char **err) MUSTCHECK;

/* Makes the stored bytes of chunks numbers[0..n) of a completed upload unchangeable by any
 * storage URL issued for it (a chunk PUT URL stays valid until it expires): chunk_facts,
 * chunk_read and finalize then see only what was sealed, so the bytes the integrity check
 * verifies are the bytes downloads serve. Sealing again re-seals from the chunks as they
 * are; a chunk missing is fine (its facts then say whether an earlier seal holds it).
 * Local: nothing to do (settle-api refuses chunk PUTs of a completed upload). Swift: copies
 * each chunk object to a name no issued URL addresses
 * (docs/operating.md "Storage on OpenStack Swift"). 0 or a negative code. */
int storage_seal(const char *container, const char *upload_id, const int *numbers, int n,
                 char **err) MUSTCHECK;

/* Streams every byte of a chunk, in order, to sink (which returns 0, or -1 to stop). 0, or
 * -STORAGE_ENOENT when the chunk is missing. */
int storage_chunk_read(const char *container, const char *upload_id, int number, storage_sink sink,
                       void *ctx, char **err) MUSTCHECK;

/* Makes chunks 1..nchunks of a verified upload (sizes[i] the size of chunk i + 1) downloadable
 * as one object. 0 or a negative code. */
int storage_finalize(const char *container, const char *upload_id, const int64_t *sizes,
                     int nchunks, char **err) MUSTCHECK;

/* Deletes every stored byte of an upload: what finalize made and its chunks, numbers[0..n)
 * being every chunk number the database registered for it (a chunk registered but never
 * stored is fine: missing is fine). The store must not rely on a listing to find them
 * (Swift's lag). 0 or a negative code. */
int storage_upload_delete(const char *container, const char *upload_id, const int *numbers, int n,
                          char **err) MUSTCHECK;
/* Deletes what interrupted chunk writes left of an upload whose chunks can no longer change.
 * How many it deleted, or a negative code. */
int storage_upload_tidy(const char *container, const char *upload_id, char **err) MUSTCHECK;

#endif
