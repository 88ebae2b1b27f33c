/* storage.c: the storage provider interface: the list of providers, and each call
 * dispatched to the provider that storage_configure picked from cfg (storage_local.c or
 * storage_swift.c), its failure turned into a negative code. */
#include "storage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "storage_local.h"
#include "storage_swift.h"

/* Every provider, once: GET /storage_providers lists them in this order, SETTLE_STORAGE
 * names one of them, and migration 0009's constraint on uploads.storage_provider must list
 * the same names (tests/unit/test_storage.c checks it). */
static const struct storage_provider *const storage_providers[] = {
    &storage_local_provider,
    &storage_swift_provider,
};

/* Set once by storage_configure, before any thread starts. */
static const struct storage_provider *storage_provider = &storage_local_provider;

/* The negative code of a provider's failure (-1 with errno), or rc itself. */
static int
storage_code(int rc)
{
	int e = errno;

	if (rc >= 0)
		return rc;
	return e == STORAGE_ENOENT || e == STORAGE_EUNAVAILABLE || e == STORAGE_EINVAL
	           ? -e
	           : -STORAGE_EIO;
}

int
storage_configure(char **err)
{
	const struct storage_provider *p = NULL;

	for (size_t i = 0; i < ARRAY_LEN(storage_providers); i++)
		if (strcmp(storage_providers[i]->info.name, cfg.storage) == 0)
			p = storage_providers[i];
	if (p == NULL) {
		char names[256] = "";
		for (size_t i = 0; i < ARRAY_LEN(storage_providers); i++)
			snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			         i == 0                                 ? ""
			         : i + 1 < ARRAY_LEN(storage_providers) ? ", "
			                                                : " or ",
			         storage_providers[i]->info.name);
		*err = xasprintf("SETTLE_STORAGE=\"%s\": want %s", cfg.storage, names);
		return -STORAGE_EINVAL;
	}
	if (p->configure != NULL && p->configure(err) < 0)
		return -STORAGE_EINVAL;
	storage_provider = p;
	return 0;
}

int
storage_init(char **err)
{
	int rc = storage_configure(err);

	if (rc < 0)
		return rc;
	return storage_code(storage_provider->init(err));
}

int
storage_start(const char *program)
{
	char *err = NULL;
	int rc = storage_init(&err);

	if (rc == 0)
		return 0;
	fprintf(stderr, "%s: %s: %s\n", program,
	        rc == -STORAGE_EINVAL ? "configuration error" : "storage",
	        err != NULL ? err : "failed");
	free(err);
	return rc == -STORAGE_EINVAL ? 2 : 1;
}

const struct storage_info *
storage_info(const char *name)
{
	for (size_t i = 0; i < ARRAY_LEN(storage_providers); i++)
		if (name != NULL && strcmp(storage_providers[i]->info.name, name) == 0)
			return &storage_providers[i]->info;
	return NULL;
}

const struct storage_info *
storage_info_at(size_t i)
{
	return i < ARRAY_LEN(storage_providers) ? &storage_providers[i]->info : NULL;
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
	return storage_code(storage_provider->container_create(container, err));
}

int
storage_container_delete(const char *container, char **err)
{
	return storage_code(storage_provider->container_delete(container, err));
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
	return storage_code(storage_provider->chunk_facts(container, upload_id, number, out, err));
}

int
storage_chunk_read(const char *container, const char *upload_id, int number, storage_sink sink,
                   void *ctx, char **err)
{
	return storage_code(
	    storage_provider->chunk_read(container, upload_id, number, sink, ctx, err));
}

int
storage_finalize(const char *container, const char *upload_id, const int64_t *sizes, int nchunks,
                 char **err)
{
	return storage_code(storage_provider->finalize(container, upload_id, sizes, nchunks, err));
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
	return storage_code(storage_provider->upload_delete(container, upload_id, numbers, n, err));
}

int
storage_upload_tidy(const char *container, const char *upload_id, char **err)
{
	return storage_code(storage_provider->upload_tidy(container, upload_id, err));
}

int
storage_seal(const char *container, const char *upload_id, const int *numbers, int n, char **err)
{
	if (storage_provider->seal == NULL)
		return 0;
	return storage_code(storage_provider->seal(container, upload_id, numbers, n, err));
}
