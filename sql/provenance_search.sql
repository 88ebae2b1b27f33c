-- The statements of api/provenance_search.c: the provenance graph searches (docs/api.md
-- "Provenance"). Each answers the graph {nodes, relationships} as JSON text, its nodes and
-- relationships made by migration 0020's settle_prov_node and settle_prov_edge (restricted
-- where the caller does not see them), the nodes ordered by id and the relationships by
-- creation.

-- unit: provenance_search_graph
-- POST /search/provenance: $1 the start node, of kind $4 ('dds-activity' or
-- 'dds-file-version'), $2 the most hops (NULL: no limit), $3 the caller. found and sees: of
-- the start node (settle_prov_node_sees); graph: when the caller sees it, the graph around
-- it. A breadth-first walk over the live relations in either direction (settle_prov_from,
-- settle_prov_to): each step holds the nodes seen so far and the newest ones (frontier),
-- and ends when nothing new is reached or at $2 hops. The relationships are those with an
-- end reached in fewer than $2 hops (so on a path of at most $2 hops from the start).
-- returns: found, sees, graph
WITH RECURSIVE st AS (SELECT * FROM settle_prov_node_sees($3::uuid, $4::text, $1::uuid)),
bfs(seen, frontier, hops) AS (
    SELECT ARRAY[$1::uuid], ARRAY[$1::uuid], 0 FROM st WHERE st.sees
    UNION ALL
    SELECT b.seen || n.new, n.new, b.hops + 1
    FROM bfs b CROSS JOIN LATERAL (
        SELECT array_agg(DISTINCT x.id) AS new
        FROM prov_relations w
        CROSS JOIN LATERAL (VALUES (settle_prov_from(w)), (settle_prov_to(w))) x(id)
        WHERE NOT w.is_deleted
          AND (settle_prov_from(w) = ANY (b.frontier) OR settle_prov_to(w) = ANY (b.frontier))
          AND NOT x.id = ANY (b.seen)) n
    WHERE n.new IS NOT NULL AND ($2::int IS NULL OR b.hops < $2::int)),
dist AS (SELECT f.id, min(b.hops) AS hops FROM bfs b, unnest(b.frontier) f(id) GROUP BY f.id),
gn AS (SELECT id FROM dist),
ge AS (SELECT e.* FROM prov_relations e
       JOIN dist df ON df.id = settle_prov_from(e) JOIN dist dt ON dt.id = settle_prov_to(e)
       WHERE NOT e.is_deleted AND ($2::int IS NULL OR least(df.hops, dt.hops) < $2::int))
SELECT st.found, st.sees,
       (SELECT json_build_object(
            'nodes', COALESCE((SELECT json_agg(n ORDER BY gn.id)
                               FROM gn CROSS JOIN LATERAL settle_prov_node($3::uuid, gn.id) n),
                              '[]'::json),
            'relationships', COALESCE((SELECT json_agg(x ORDER BY ge.created_at, ge.id)
                                       FROM ge CROSS JOIN LATERAL settle_prov_edge($3::uuid, ge) x),
                                      '[]'::json))::text) AS graph
FROM st

-- unit: provenance_search_origin
-- POST /search/provenance/origin: $1 the file versions (uuid[]), $2 the caller. found and
-- sees are always true; graph: for each file version, the activity that generated it, what
-- that activity used and generated, and the file versions it was derived from (DDS's
-- origin query).
-- returns: found, sees, graph
WITH fv AS (SELECT v.id FROM file_versions v WHERE v.id = ANY ($1::uuid[])),
gen AS (SELECT e.* FROM prov_relations e JOIN fv ON e.version_id = fv.id
        WHERE NOT e.is_deleted AND e.kind = 'was_generated_by'),
con AS (SELECT e.* FROM prov_relations e JOIN gen g ON e.activity_id = g.activity_id
        WHERE NOT e.is_deleted AND e.kind IN ('was_generated_by', 'used')),
der AS (SELECT e.* FROM prov_relations e JOIN fv ON e.version_id = fv.id
        WHERE NOT e.is_deleted AND e.kind = 'was_derived_from'),
ge AS (SELECT * FROM gen UNION SELECT * FROM con UNION SELECT * FROM der),
gn AS (SELECT id FROM fv UNION SELECT activity_id FROM gen UNION SELECT version_id FROM con
       UNION SELECT used_version_id FROM der)
SELECT true AS found, true AS sees,
       (SELECT json_build_object(
            'nodes', COALESCE((SELECT json_agg(n ORDER BY gn.id)
                               FROM gn CROSS JOIN LATERAL settle_prov_node($2::uuid, gn.id) n),
                              '[]'::json),
            'relationships', COALESCE((SELECT json_agg(x ORDER BY ge.created_at, ge.id)
                                       FROM ge CROSS JOIN LATERAL settle_prov_edge($2::uuid, ge) x),
                                      '[]'::json))::text) AS graph
