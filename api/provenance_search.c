/* provenance_search.c: the provenance graph searches (docs/api.md "Provenance"): the graph
 * around an activity or file version, and the origin of file versions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "provenance.h"
#include "router.h"
#include "uuid.h"

/* docs/api.md "Limits on input": the file versions of one origin search. */
#define PROVENANCE_SEARCH_MAX_ORIGIN_IDS 1000

/* provenance_search_answer reads both searches by provenance_search_graph's columns, the
 * first two those of provenance_node_verdict. */
_Static_assert(
    PROVENANCE_COL_EQ(PROVENANCE_SEARCH_GRAPH_C_FOUND, PROVENANCE_GET_FOUND) &&
        PROVENANCE_COL_EQ(PROVENANCE_SEARCH_GRAPH_C_SEES, PROVENANCE_GET_SEES) &&
        PROVENANCE_COL_EQ(PROVENANCE_SEARCH_ORIGIN_C_FOUND, PROVENANCE_SEARCH_GRAPH_C_FOUND) &&
        PROVENANCE_COL_EQ(PROVENANCE_SEARCH_ORIGIN_C_SEES, PROVENANCE_SEARCH_GRAPH_C_SEES) &&
        PROVENANCE_COL_EQ(PROVENANCE_SEARCH_ORIGIN_C_GRAPH, PROVENANCE_SEARCH_GRAPH_C_GRAPH),
    "the searches answer provenance_node_verdict's columns, then the graph");

/* Answers 201 {"graph": …} from the result of provenance_search_graph or
 * provenance_search_origin (kind: the start node's), or 404 / 403 for the start node. Takes
 * res. */
static void
provenance_search_answer(struct req *r, PGresult *res, const char *kind)
{
	if (provenance_node_verdict(r, res, kind))
		http_json(r, 201,
		          json_pack("{s:o}", "graph",
		                    provenance_obj(res, 0, PROVENANCE_SEARCH_GRAPH_C_GRAPH)));
	PQclear(res);
}

/* POST /search/provenance {start_node: {kind, id}, max_hops?}: the graph around an activity
 * or file version the caller sees; nodes and relations they do not see are restricted
 * (DDS). */
static void
provenance_search(struct req *r)
{
	const char *id, *kind;
	int64_t hops = 0;
	char hops_s[24];
	json_t *body = http_body_object(r), *start;

	if (body == NULL)
		return;
	if (!provenance_ref(r, body, "start_node", provenance_node_kinds, "start node", &id))
		goto out;
	int rc = http_field_i64(r, body, "max_hops", &hops);
	if (rc < 0)
		goto out;
	if (rc == 1 && hops < 1) {
		http_invalid(r, "max_hops", "must be 1 or more");
		goto out;
	}
	start = json_object_get(body, "start_node");
	kind = json_string_value(json_object_get(start, "kind"));
	snprintf(hops_s, sizeof(hops_s), "%lld", (long long)(hops > 1000000 ? 1000000 : hops));
	const char *q[] = {id, rc == 1 ? hops_s : NULL, r->user_id, kind};
	provenance_search_answer(r, db_exec(r->db, SQL_PROVENANCE_SEARCH_GRAPH, q), kind);
out:
	json_decref(body);
}

/* Reads file_versions [{id}] of an origin search into a Postgres uuid[] literal (ids that
 * are not UUIDs name nothing and are left out). New string, or NULL after answering 400. */
static char *
provenance_search_origin_ids(struct req *r, json_t *body)
{
	json_t *list = json_object_get(body, "file_versions"), *v;
	size_t i, n = json_array_size(list);
	char *out, *p;

	if (!json_is_array(list) || n == 0 || n > PROVENANCE_SEARCH_MAX_ORIGIN_IDS) {
		char *msg = xasprintf("is required: a list of 1 to %d objects {\"id\"}",
		                      PROVENANCE_SEARCH_MAX_ORIGIN_IDS);
		http_invalid(r, "file_versions", msg);
		free(msg);
		return NULL;
	}
	out = p = xmalloc(n * (UUID_STR_LEN + 1) + 3);
	*p++ = '{';
	json_array_foreach(list, i, v)
	{
		const char *id = json_string_value(json_object_get(v, "id"));
		if (id == NULL) {
			http_invalid(r, "file_versions[id]",
			             "each must be an object with a string id");
			free(out);
			return NULL;
		}
		if (uuid_valid(id))
			p += sprintf(p, "%s%s", p[-1] == '{' ? "" : ",", id);
	}
	strcpy(p, "}");
	return out;
}

/* POST /search/provenance/origin {file_versions: [{id}]}: how those file versions came
 * to be; unknown ids give nothing (DDS). */
static void
provenance_search_origin(struct req *r)
{
	json_t *body = http_body_object(r);
	char *ids;

	if (body == NULL)
		return;
	if ((ids = provenance_search_origin_ids(r, body)) != NULL) {
		const char *q[] = {ids, r->user_id};
		provenance_search_answer(r, db_exec(r->db, SQL_PROVENANCE_SEARCH_ORIGIN, q), "");
		free(ids);
	}
	json_decref(body);
}

const struct route provenance_search_routes[] = {
    {.method = "POST",
     .pattern = "/api/v1/search/provenance",
     .flags = ROUTE_AUTH,
     .name = "search.provenance",
     .handle = provenance_search},
    {.method = "POST",
     .pattern = "/api/v1/search/provenance/origin",
     .flags = ROUTE_AUTH,
     .name = "search.provenance_origin",
     .handle = provenance_search_origin},
    {.method = NULL},
};
