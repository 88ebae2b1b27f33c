/* storage.c: the storage provider interface: dispatches each call to the provider that
 * storage_init picked from cfg (storage_local.c or storage_swift.c). */
#include "storage.h"

#include <errno.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "storage_local.h"
#include "storage_swift.h"

struct storage_provider {
	struct storage_info info;
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

/* The providers, each with what clients see of it (id, name, description, the most chunks
 * of an upload: DDS's storage provider; GET /storage_providers lists them in this order). The name
 * is what uploads.storage_provider records (migration 0009 lists the names it accepts); an id never
 * changes once clients have seen it. */
static const struct storage_provider storage_providers[] = {
    {
        {"00000000-0000-4000-8000-000000000001", "local", "local directory storage", INT64_MAX},
        storage_local_container_create,
        storage_local_container_delete,
        storage_local_url,
        storage_local_chunk_facts,
        storage_local_chunk_read,
        storage_local_finalize,
        storage_local_upload_delete,
        storage_local_upload_tidy,
        NULL, /* settle-api refuses chunk PUTs once the upload is completed */
    },
    {
        {"00000000-0000-4000-8000-000000000004", "swift", "OpenStack Swift object storage", 1000},
        storage_swift_container_create,
        storage_swift_container_delete,
        storage_swift_url,
        storage_swift_chunk_facts,
        storage_swift_chunk_read,
        storage_swift_finalize,
        storage_swift_upload_delete,
        storage_swift_upload_tidy,
        storage_swift_seal,
    },
};

/* Set once by storage_init, before any thread starts. */
static const struct storage_provider *storage_provider = &storage_providers[0];

int
storage_init(char **err)
{
	if (cfg.swift) {
		storage_provider = &storage_providers[1];
		return storage_swift_init(err);
	}
	storage_provider = &storage_providers[0];
	return storage_local_init(cfg.storage_dir, err);
}

const struct storage_info *
storage_info(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(storage_providers); i++)
		if (name != NULL && strcmp(storage_providers[i].info.name, name) == 0)
			return &storage_providers[i].info;
	return NULL;
}

const struct storage_info *
storage_info_at(size_t i)
{
	return i < ARRAY_LEN(storage_providers) ? &storage_providers[i].info : NULL;
}

const char *
storage_name(void)
{
	return storage_provider->info.name;
}

bool
storage_holds(const char *name, char **err)
{
	if (name != NULL && strcmp(name, storage_provider->info.name) == 0)
		return true;
	*err = xasprintf("the upload's bytes are in storage provider %s, and this deployment uses "
	                 "%s (SETTLE_STORAGE)",
	                 name != NULL ? name : "(none)", storage_provider->info.name);
	return false;
}

int64_t
storage_max_chunks(void)
{
	return storage_provider->info.max_chunks;
}

int64_t
storage_min_chunk_size(int64_t size)
{
	int64_t n = storage_provider->info.max_chunks;
	int64_t need = size / n + (size % n != 0);

	return need > cfg.min_chunk_size ? need : cfg.min_chunk_size;
}

int
storage_container_create(const char *container, char **err)
{
	return storage_provider->container_create(container, err);
}

int
storage_container_delete(const char *container, char **err)
{
	return storage_provider->container_delete(container, err);
}

char *
storage_url(const char *method, const char *container, const char *upload_id, int number,
            int64_t expires, uint64_t lsn, const char **host)
{
	return storage_provider->url(method, container, upload_id, number, expires, lsn, host);
}

int
storage_chunk_facts(const char *container, const char *upload_id, int number,
                    struct storage_facts *out, char **err)
{
	return storage_provider->chunk_facts(container, upload_id, number, out, err);
}

int
storage_chunk_read(const char *container, const char *upload_id, int number, storage_sink sink,
                   void *ctx, char **err)
{
	return storage_provider->chunk_read(container, upload_id, number, sink, ctx, err);
}

int
storage_finalize(const char *container, const char *upload_id, const int64_t *sizes, int nchunks,
                 char **err)
{
	return storage_provider->finalize(container, upload_id, sizes, nchunks, err);
}

int
storage_upload_delete(const char *container, const char *upload_id, const int *numbers, int n,
                      char **err)
{
	if (cfg.fault_delete_ms > 0) { /* SETTLE_FAULT_DELETE_MS: a slow store, tests only */
		log_warn("injected_delay call=upload_delete upload=%s ms=%lld", upload_id,
		         (long long)cfg.fault_delete_ms);
		util_sleep_ms(cfg.fault_delete_ms, NULL);
	}
	return storage_provider->upload_delete(container, upload_id, numbers, n, err);
}

int
storage_upload_tidy(const char *container, const char *upload_id, char **err)
{
	return storage_provider->upload_tidy(container, upload_id, err);
}

int
storage_seal(const char *container, const char *upload_id, const int *numbers, int n, char **err)
{
	if (storage_provider->seal == NULL)
		return 0;
	return storage_provider->seal(container, upload_id, numbers, n, err);
}
