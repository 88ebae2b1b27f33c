/* providers.c: the storage providers, as DDS lists them (GET /storage_providers): every
 * provider of common/storage.c, whichever this settle-api started, since an upload may be
 * held by either (docs/operating.md "Which provider holds an upload"). */
#include <strings.h>

#include "config.h"
#include "router.h"
#include "storage.h"

/* DDS's storage provider of p: is_default for the provider this settle-api stores new
 * uploads in, is_deprecated for the others (they take no new upload); chunk_max_number is
 * null where the provider sets no limit. New reference. */
static json_t *
providers_object(const struct storage_info *p)
{
	bool started = strcasecmp(p->name, storage_name()) == 0;
	json_t *max_chunks =
	    p->max_chunks == INT64_MAX ? json_null() : json_integer((json_int_t)p->max_chunks);

	return json_pack("{s:s,s:s,s:s,s:b,s:b,s:s,s:o,s:I}", "id", p->id, "name", p->name,
	                 "description", p->description, "is_deprecated", !started, "is_default",
	                 started, "chunk_hash_algorithm", "md5", "chunk_max_number", max_chunks,
	                 "chunk_max_size_bytes", (json_int_t)cfg.max_chunk_size);
}

/* GET /storage_providers: every provider, paged. */
static void
providers_list(struct req *r)
{
	int64_t page, per_page, total = 0;
	json_t *results = json_array();
	const struct storage_info *p;

	if (http_paging_args(r, &page, &per_page, NULL, NULL) < 0) {
		json_decref(results);
		return;
	}
	for (; (p = storage_info_at((size_t)total)) != NULL; total++)
		if (total >= (page - 1) * per_page && total < page * per_page)
			json_array_append_new(results, providers_object(p));
	http_paging_headers(r, page, per_page, total);
	http_json(r, 200, json_pack("{s:o}", "results", results));
}

/* GET /storage_providers/{id}: one provider, or 404. */
static void
providers_get(struct req *r)
{
	const struct storage_info *p;

	for (size_t i = 0; (p = storage_info_at(i)) != NULL; i++) {
		if (strcasecmp(p->id, r->params[0]) == 0) {
			http_json(r, 200, providers_object(p));
			return;
		}
	}
	http_not_found(r, "storage provider");
}

const struct route providers_routes[] = {
    {.method = "GET",
     .pattern = "/api/v1/storage_providers",
     .flags = ROUTE_AUTH | ROUTE_NODB,
     .name = "storage_providers.list",
     .handle = providers_list},
    {.method = "GET",
     .pattern = "/api/v1/storage_providers/:id:uuid",
     .flags = ROUTE_AUTH | ROUTE_NODB,
     .name = "storage_providers.get",
     .handle = providers_get},
    {.method = NULL},
};
