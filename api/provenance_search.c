/* provenance_search.c: the provenance graph searches (docs/api.md "Provenance"): the graph
 * around an activity or file version, and the origin of file versions. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "db.h"
#include "provenance.h"
#include "router.h"
#include "uuid.h"
#include "views.h"

/* docs/api.md "Limits on input": the file versions of one origin search. */
#define PROVENANCE_SEARCH_MAX_ORIGIN_IDS 1000

/* clang-format off */
/* SQL, one JSON expression: the graph node of the id SQL expression n for user (a uuid SQL
 * expression): {id, labels, properties}, properties being the whole object when the
 * user sees it, else only {kind, id, is_deleted} (DDS's restricted object). */
#define PROVENANCE_SEARCH_SQL_NODE(n, user) \
	"COALESCE((SELECT json_build_object('id', na.id, 'labels', json_build_array('Activity')," \
	" 'properties', CASE WHEN " PROVENANCE_SQL_ACTIVITY_SEES("na", user) " THEN " \
	PROVENANCE_SQL_ACTIVITY_OBJ("na") " ELSE json_build_object('kind', 'dds-activity', 'id'," \
	" na.id, 'is_deleted', na.is_deleted) END) FROM activities na WHERE na.id = " n "), " \
	"(SELECT json_build_object('id', nv.id, 'labels', json_build_array('FileVersion')," \
	" 'properties', CASE WHEN " PROVENANCE_SQL_VERSION_SEES("nv.id", user) " THEN " \
	PROVENANCE_SQL_VERSION_OBJ("nv.id") " ELSE json_build_object('kind', 'dds-file-version'," \
	" 'id', nv.id, 'is_deleted', nv.is_deleted) END) FROM file_versions nv WHERE nv.id = " n "))"

/* SQL, one JSON expression: the graph relationship of the prov_relations row alias e: {id,
 * type (Used, WasGeneratedBy, WasDerivedFrom, WasInvalidatedBy), start_node, end_node,
 * properties (the relation, or null when the user does not see it)}. */
#define PROVENANCE_SEARCH_SQL_EDGE(e, user) \
	"json_build_object('id', " e ".id, 'type', replace(initcap(" e ".kind), '_', '')," \
	" 'start_node', " PROVENANCE_SQL_FROM_ID(e) ", 'end_node', " PROVENANCE_SQL_TO_ID(e) "," \
	" 'properties', CASE WHEN " PROVENANCE_SQL_RELATION_SEES(e, user) " THEN " \
	PROVENANCE_SQL_RELATION_OBJ(e) " END)"

/* SQL, one column: the graph {nodes, relationships} of the CTEs gn (column id: the nodes)
 * and ge (prov_relations rows: the relationships), as JSON text, for user (a uuid SQL
 * expression). */
#define PROVENANCE_SEARCH_SQL_GRAPH(user) \
	" SELECT json_build_object('nodes', COALESCE((SELECT json_agg(" \
	PROVENANCE_SEARCH_SQL_NODE("gn.id", user) " ORDER BY gn.id) FROM gn), '[]'::json)," \
	" 'relationships', COALESCE((SELECT json_agg(" PROVENANCE_SEARCH_SQL_EDGE("ge", user) \
	" ORDER BY ge.created_at, ge.id) FROM ge), '[]'::json))::text"
/* clang-format on */

/* clang-format off */
/* POST /search/provenance in one statement: $1 start node of kind $4, $2 max hops (NULL: no
 * limit), $3 caller; columns PROVENANCE_GET_* (the start node found, seen, the graph). A
 * breadth-first walk over the live relations in either direction: each step
 * holds the nodes seen so far and the newest ones (frontier), and ends when nothing new is
 * reached or at max hops. The relationships are those with an end reached in fewer than max
 * hops (so on a path of at most max hops from the start). */
static const char provenance_search_sql[] =
	"WITH RECURSIVE st AS (" PROVENANCE_SQL_NODE_SEES("$1::uuid", "$3::uuid", "$4::text") "), "
	"bfs(seen, frontier, hops) AS ("
	" SELECT ARRAY[$1::uuid], ARRAY[$1::uuid], 0 FROM st WHERE st.sees"
	" UNION ALL"
	" SELECT b.seen || n.new, n.new, b.hops + 1 FROM bfs b CROSS JOIN LATERAL ("
	"SELECT array_agg(DISTINCT x.id) AS new FROM prov_relations w CROSS JOIN LATERAL"
	" (VALUES (" PROVENANCE_SQL_FROM_ID("w") "), (" PROVENANCE_SQL_TO_ID("w") ")) x(id)"
	" WHERE NOT w.is_deleted AND (" PROVENANCE_SQL_FROM_ID("w") " = ANY (b.frontier) OR "
	PROVENANCE_SQL_TO_ID("w") " = ANY (b.frontier)) AND NOT x.id = ANY (b.seen)) n"
	" WHERE n.new IS NOT NULL AND ($2::int IS NULL OR b.hops < $2::int)), "
	"dist AS (SELECT f.id, min(b.hops) AS hops FROM bfs b, unnest(b.frontier) f(id)"
	" GROUP BY f.id), "
	"gn AS (SELECT id FROM dist), "
	"ge AS (SELECT e.* FROM prov_relations e JOIN dist df ON df.id = "
	PROVENANCE_SQL_FROM_ID("e") " JOIN dist dt ON dt.id = " PROVENANCE_SQL_TO_ID("e")
	" WHERE NOT e.is_deleted AND ($2::int IS NULL OR least(df.hops, dt.hops) < $2::int))"
	" SELECT st.found, st.sees, (" PROVENANCE_SEARCH_SQL_GRAPH("$3::uuid") ") FROM st";

/* POST /search/provenance/origin in one statement: $1 the file versions (uuid[]), $2 the
 * caller; columns PROVENANCE_GET_* (always found and seen, the graph). For each: the activity that generated it, what that activity used and
 * generated, and the file versions it was derived from (DDS's origin query). */
static const char provenance_search_origin_sql[] =
	"WITH fv AS (SELECT v.id FROM file_versions v WHERE v.id = ANY ($1::uuid[])), "
	"gen AS (SELECT e.* FROM prov_relations e JOIN fv ON e.version_id = fv.id"
	" WHERE NOT e.is_deleted AND e.kind = 'was_generated_by'), "
	"con AS (SELECT e.* FROM prov_relations e JOIN gen g ON e.activity_id = g.activity_id"
	" WHERE NOT e.is_deleted AND e.kind IN ('was_generated_by', 'used')), "
	"der AS (SELECT e.* FROM prov_relations e JOIN fv ON e.version_id = fv.id"
	" WHERE NOT e.is_deleted AND e.kind = 'was_derived_from'), "
	"ge AS (SELECT * FROM gen UNION SELECT * FROM con UNION SELECT * FROM der), "
	"gn AS (SELECT id FROM fv UNION SELECT activity_id FROM gen UNION SELECT version_id"
	" FROM con UNION SELECT used_version_id FROM der)"
	" SELECT true, true, (" PROVENANCE_SEARCH_SQL_GRAPH("$2::uuid") ")";
/* clang-format on */

/* Answers 201 {"graph": …} from the result of a search (columns PROVENANCE_GET_*; the
 * start node's kind), or 404 / 403 for the start node. Takes res. */
static void
provenance_search_answer(struct req *r, PGresult *res, const char *kind)
{
	if (provenance_node_verdict(r, res, kind))
		http_json(r, 201,
		          json_pack("{s:o}", "graph", provenance_obj(res, 0, PROVENANCE_GET_OBJ)));
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
	provenance_search_answer(r, db_exec(r->db, provenance_search_sql, 4, q), kind);
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
		provenance_search_answer(r, db_exec(r->db, provenance_search_origin_sql, 2, q), "");
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
