-- The statements of api/relations.c: DDS v1 provenance relations between activities and
-- file versions (docs/api.md "Provenance"). Who sees a relation, the file version one is
-- written against and its JSON are migration 0020's settle_sees_relation,
-- settle_version_access and settle_relation_obj.

-- unit: relations_activity
-- POST /relations/{used,was_generated_by,was_invalidated_by}: $1 activity, $2 file version,
-- $3 caller, $4 new id, $5 kind, $6 the permission the caller needs on the version's
-- project. The activity row is locked, so that relations of one activity are made one at a
-- time and the used / was_generated_by rule holds. a_found: the activity exists, live;
-- a_ok: the caller created it; v_found: the file version exists in a live project; v_ok:
-- the caller holds $6 there; clash: used and was_generated_by of the same pair would both
-- hold; deleted: the file version is deleted (was_invalidated_by needs it); relation: the
-- relation written, or the same one already live, as JSON (NULL when none).
-- returns: a_found, a_ok, v_found, v_ok, clash, deleted, relation
WITH act AS (SELECT id, created_by FROM activities WHERE id = $1::uuid AND NOT is_deleted
             FOR UPDATE),
ver AS (SELECT * FROM settle_version_access($2::uuid, $3::uuid, $6::text)),
clash AS (SELECT EXISTS (SELECT FROM prov_relations c
                         WHERE NOT c.is_deleted AND c.activity_id = $1::uuid
                           AND c.version_id = $2::uuid
                           AND c.kind = CASE $5::text WHEN 'used' THEN 'was_generated_by'
                                                      WHEN 'was_generated_by' THEN 'used' END)
                  AS v),
ins AS (INSERT INTO prov_relations (id, kind, activity_id, version_id, created_by)
        SELECT $4::uuid, $5::text, act.id, ver.id, $3::uuid FROM act, ver, clash
        WHERE act.created_by = $3::uuid AND ver.live AND ver.may AND NOT clash.v
          AND ($5::text <> 'was_invalidated_by' OR ver.deleted)
        ON CONFLICT (kind, version_id, (COALESCE(activity_id, used_version_id)))
        WHERE NOT is_deleted DO NOTHING RETURNING *)
SELECT act.id IS NOT NULL AS a_found, act.created_by = $3::uuid AS a_ok,
       COALESCE(ver.live, false) AS v_found, ver.may AS v_ok, clash.v AS clash,
       ver.deleted,
       COALESCE((SELECT o::text FROM ins CROSS JOIN LATERAL settle_relation_obj(ins) o),
                (SELECT o::text FROM prov_relations e CROSS JOIN LATERAL settle_relation_obj(e) o
                 WHERE NOT e.is_deleted AND e.kind = $5::text AND e.activity_id = $1::uuid
                   AND e.version_id = $2::uuid)) AS relation
FROM clash LEFT JOIN act ON true LEFT JOIN ver ON true

-- unit: relations_derived
-- POST /relations/was_derived_from: $1 used file version, $2 generated file version, $3
-- caller, $4 new id; the caller may view both. The columns of relations_activity: a_found
-- and a_ok of the used file version (exists in a live project, the caller may view it),
-- v_found and v_ok of the generated one; clash and deleted are false.
-- returns: a_found, a_ok, v_found, v_ok, clash, deleted, relation
WITH used AS (SELECT * FROM settle_version_access($1::uuid, $3::uuid, 'view_project')),
gen AS (SELECT * FROM settle_version_access($2::uuid, $3::uuid, 'view_project')),
ins AS (INSERT INTO prov_relations (id, kind, version_id, used_version_id, created_by)
        SELECT $4::uuid, 'was_derived_from', gen.id, used.id, $3::uuid FROM gen, used
        WHERE gen.live AND gen.may AND used.live AND used.may
        ON CONFLICT (kind, version_id, (COALESCE(activity_id, used_version_id)))
        WHERE NOT is_deleted DO NOTHING RETURNING *)
SELECT COALESCE(used.live, false) AS a_found, used.may AS a_ok,
       COALESCE(gen.live, false) AS v_found, gen.may AS v_ok, false AS clash, false AS deleted,
       COALESCE((SELECT o::text FROM ins CROSS JOIN LATERAL settle_relation_obj(ins) o),
                (SELECT o::text FROM prov_relations e CROSS JOIN LATERAL settle_relation_obj(e) o
                 WHERE NOT e.is_deleted AND e.kind = 'was_derived_from'
                   AND e.version_id = $2::uuid AND e.used_version_id = $1::uuid)) AS relation
FROM (VALUES (1)) one LEFT JOIN used ON true LEFT JOIN gen ON true

-- unit: relations_get
-- GET /relations/{id}: $1 id, $2 caller. found: the relation exists (deleted or not);
-- sees: the caller sees it (settle_sees_relation); relation: its JSON.
-- returns: found, sees, relation
SELECT r.id IS NOT NULL AS found, s.sees, o::text AS relation
FROM (VALUES (1)) one LEFT JOIN prov_relations r ON r.id = $1::uuid
CROSS JOIN LATERAL settle_sees_relation($2::uuid, r.created_by, r.version_id,
                                        r.used_version_id, r.activity_id) s
CROSS JOIN LATERAL settle_relation_obj(r) o

-- unit: relations_delete
-- DELETE /relations/{id}: $1 id, $2 caller. Marks the live relation deleted when the caller
-- created it. found: it exists and is not deleted; owner: the caller created it.
-- returns: found, owner
WITH old AS (SELECT id, created_by FROM prov_relations WHERE id = $1::uuid AND NOT is_deleted
             FOR UPDATE),
del AS (UPDATE prov_relations x SET is_deleted = true, deleted_at = now(),
               deleted_by = $2::uuid
        FROM old WHERE x.id = old.id AND old.created_by = $2::uuid RETURNING x.id)
SELECT old.id IS NOT NULL AS found, old.created_by = $2::uuid AS owner
FROM (VALUES (1)) one LEFT JOIN old ON true

-- unit: relations_list
-- GET /relations/{object_kind}/{object_id}: $1 the node (an activity or file version) of
-- kind $5, $2 the caller, $3 the per_page asked for, $4 the page. found and sees: of the
-- node (settle_prov_node_sees); relation: one of the page of its live relations the caller
-- sees, newest first; total: how many there are; per: the page size (settle_page_per, each
-- relation's text being its activity's name and description). At least one row, whose
-- relation is NULL when the page has none (or the caller does not see the node).
-- returns: found, sees, relation, total, per
WITH k AS (SELECT count(*) AS total,
                  settle_page_per($3::bigint, max(COALESCE(
                      (SELECT octet_length(ba.name) + COALESCE(octet_length(ba.description), 0)
                       FROM activities ba WHERE ba.id = r.activity_id), 0))) AS per
           FROM prov_relations r
           CROSS JOIN LATERAL settle_sees_relation($2::uuid, r.created_by, r.version_id,
                                                   r.used_version_id, r.activity_id) s
           WHERE NOT r.is_deleted AND (r.activity_id = $1::uuid OR r.version_id = $1::uuid
                                       OR r.used_version_id = $1::uuid) AND s.sees),
st AS (SELECT * FROM settle_prov_node_sees($2::uuid, $5::text, $1::uuid))
SELECT st.found, st.sees, x.relation, (SELECT total FROM k) AS total,
       (SELECT per FROM k) AS per
FROM st LEFT JOIN LATERAL (
    SELECT o::text AS relation, r.created_at, r.id
    FROM prov_relations r
    CROSS JOIN LATERAL settle_sees_relation($2::uuid, r.created_by, r.version_id,
                                            r.used_version_id, r.activity_id) s
    CROSS JOIN LATERAL settle_relation_obj(r) o
    WHERE NOT r.is_deleted AND (r.activity_id = $1::uuid OR r.version_id = $1::uuid
                                OR r.used_version_id = $1::uuid) AND s.sees AND st.sees
    ORDER BY r.created_at DESC, r.id
    LIMIT (SELECT per FROM k) OFFSET ($4::bigint - 1) * (SELECT per FROM k)) x ON true
ORDER BY x.created_at DESC, x.id
