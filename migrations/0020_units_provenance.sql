-- The rules the statements of sql/activities.sql, relations.sql and provenance_search.sql
-- share beyond migration 0017 (docs/api.md "Provenance"; the tables of migration 0013): who
-- sees a file version, an activity and a relation, the file version a relation is written
-- against, DDS's direction of a relation, the checks of an activity's dates, and the JSON
-- of activities, file versions, relations and the provenance graph's nodes and edges.
-- api/provenance.h held them as C string macros (PROVENANCE_SQL_*) before.
--
-- Like 0011 and 0017: LANGUAGE sql, not STRICT, without SET options, so that the planner
-- inlines them. The settle_sees_* functions other than settle_sees_version return one row,
-- the verdict: call them in FROM (CROSS JOIN LATERAL) with the columns of a row of the same
-- query, and the planner puts their expression in place of their column, as if it were
-- written there. Those that take a whole row (settle_activity_obj, settle_relation_obj,
-- settle_prov_edge) take a row of their table or of a CTE of the same columns (a RETURNING
-- *). Pass none of them a sub-select as an argument.

-- The file version a relation is written against: its id, whether its project is live,
-- whether it or its file is deleted, and whether usr holds perm on its project (settle_can).
-- One row for an existing file version, none otherwise.
CREATE FUNCTION settle_version_access(version uuid, usr uuid, perm text)
RETURNS TABLE (id uuid, live boolean, deleted boolean, may boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT v.id, NOT p.is_deleted, v.is_deleted OR f.is_deleted,
           EXISTS (SELECT FROM settle_can(settle_version_access.usr, p.id,
                                          settle_version_access.perm))
    FROM file_versions v JOIN files f ON f.id = v.file_id JOIN projects p ON p.id = f.project_id
    WHERE v.id = settle_version_access.version
$$;

-- One row (true) when usr may view the live project of file version version, none
-- otherwise: settle_version_access's live and may for view_project. Use as
-- EXISTS (SELECT FROM settle_sees_version(usr, version)). settle_can is joined, not asked
-- with EXISTS, so that the planner joins project_members as it would with its rows written
-- here (an EXISTS whose function takes a column of the row it tests stays a sub-plan); it
-- gives one row at most (project_members' key is project_id, user_id).
CREATE FUNCTION settle_sees_version(usr uuid, version uuid) RETURNS SETOF boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT true
    FROM file_versions cv JOIN files cf ON cf.id = cv.file_id
    JOIN projects p ON p.id = cf.project_id
    CROSS JOIN LATERAL settle_can(settle_sees_version.usr, p.id, 'view_project') c
    WHERE cv.id = settle_sees_version.version AND NOT p.is_deleted
$$;

-- One row, sees: whether usr sees the activity activity, created by creator: they created
-- it, or it has a live relation to a file version they may view.
CREATE FUNCTION settle_sees_activity(usr uuid, activity uuid, creator uuid)
RETURNS TABLE (sees boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT settle_sees_activity.creator = settle_sees_activity.usr
           OR EXISTS (SELECT FROM prov_relations sr
                      CROSS JOIN LATERAL settle_sees_version(settle_sees_activity.usr,
                                                             sr.version_id) sv
                      WHERE sr.activity_id = settle_sees_activity.activity AND NOT sr.is_deleted)
$$;

-- One row, sees: whether usr sees the relation of these columns of prov_relations: they
-- created it or its activity, or may view a file version at either end.
CREATE FUNCTION settle_sees_relation(usr uuid, creator uuid, version uuid, used_version uuid,
                                     activity uuid)
RETURNS TABLE (sees boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT settle_sees_relation.creator = settle_sees_relation.usr
           OR EXISTS (SELECT FROM settle_sees_version(settle_sees_relation.usr,
                                                      settle_sees_relation.version))
           OR (settle_sees_relation.used_version IS NOT NULL
               AND EXISTS (SELECT FROM settle_sees_version(settle_sees_relation.usr,
                                                           settle_sees_relation.used_version)))
           OR EXISTS (SELECT FROM activities sa WHERE sa.id = settle_sees_relation.activity
                                                  AND sa.created_by = settle_sees_relation.usr)
$$;

-- DDS's direction of relation r, its "from" and "to" ends: used goes from the activity to
-- the file version; was_generated_by and was_invalidated_by from the file version to the
-- activity; was_derived_from from the generated file version (version_id) to the used one
-- (used_version_id).
CREATE FUNCTION settle_prov_from(r prov_relations) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT CASE WHEN r.kind = 'used' THEN r.activity_id ELSE r.version_id END $$;

CREATE FUNCTION settle_prov_to(r prov_relations) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN r.kind = 'used' THEN r.version_id
                ELSE COALESCE(r.activity_id, r.used_version_id) END
$$;

-- One row: an activity's dates as a client sent them (started, ended: text, NULL when not
-- given) over its dates before (old_started, old_ended; NULL for a new one): each parsed
-- (settle_parse_ts, migration 0013), whether each was absent or a date, and whether
-- started_on <= ended_on where both are set. The parse runs once for each (OFFSET 0 keeps
-- the sub-select from being merged into its uses).
CREATE FUNCTION settle_activity_dates(started text, ended text, old_started timestamptz,
                                      old_ended timestamptz)
RETURNS TABLE (started_on timestamptz, ended_on timestamptz, started_ok boolean,
               ended_ok boolean, ordered boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT t.s, t.e, settle_activity_dates.started IS NULL OR t.s IS NOT NULL,
           settle_activity_dates.ended IS NULL OR t.e IS NOT NULL,
           COALESCE(COALESCE(t.s, settle_activity_dates.old_started)
                    <= COALESCE(t.e, settle_activity_dates.old_ended), true)
    FROM (SELECT settle_parse_ts(settle_activity_dates.started) AS s,
                 settle_parse_ts(settle_activity_dates.ended) AS e OFFSET 0) t
$$;

-- The dds-activity of activities row a: one row.
CREATE FUNCTION settle_activity_obj(a activities) RETURNS SETOF json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object('kind', 'dds-activity', 'id', a.id, 'name', a.name,
        'description', a.description, 'started_on', settle_ts(a.started_on),
        'ended_on', settle_ts(a.ended_on), 'is_deleted', a.is_deleted,
        'audit', (SELECT x FROM settle_audit(a.created_at, a.created_by, a.updated_at,
                                             a.updated_by, a.deleted_at, a.deleted_by) x)::json)
$$;

-- The dds-file-version of file_versions.id version as DDS serialises it inside a relation
-- (file {id, name, project {id}}, upload with its storage provider's name, made its object
-- by api/provenance.c): one row, none for an unknown id.
CREATE FUNCTION settle_version_obj(version uuid) RETURNS SETOF json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object('kind', 'dds-file-version', 'id', ov.id, 'version', ov.version,
        'label', ov.label, 'is_deleted', ov.is_deleted OR ovf.is_deleted,
        'file', json_build_object('id', ovf.id, 'name', ovf.name,
                                  'project', json_build_object('id', ovf.project_id)),
        'upload', (SELECT b FROM settle_upload_brief(ovu) b),
        'audit', (SELECT x FROM settle_audit(ov.created_at, ov.created_by, NULL, NULL, NULL,
                                             NULL) x)::json)
    FROM file_versions ov JOIN files ovf ON ovf.id = ov.file_id
    JOIN uploads ovu ON ovu.id = ov.upload_id
    WHERE ov.id = settle_version_obj.version
$$;

-- The object of an end of a relation: the dds-activity (kind 'dds-activity') or
-- dds-file-version (any other kind) id. One row, NULL when there is none.
CREATE FUNCTION settle_prov_end(kind text, id uuid) RETURNS SETOF json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN settle_prov_end.kind = 'dds-activity'
                THEN (SELECT o FROM activities ea CROSS JOIN LATERAL settle_activity_obj(ea) o
                      WHERE ea.id = settle_prov_end.id)
                ELSE (SELECT o FROM settle_version_obj(settle_prov_end.id) o) END
$$;

-- The relation r as JSON: kind (dds-relation-used, -was-generated-by, -was-derived-from,
-- -was-invalidated-by), id, audit, from, to (settle_prov_from, settle_prov_to). One row.
CREATE FUNCTION settle_relation_obj(r prov_relations) RETURNS SETOF json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object('kind', 'dds-relation-' || replace(r.kind, '_', '-'), 'id', r.id,
        'audit', (SELECT x FROM settle_audit(r.created_at, r.created_by, NULL, NULL,
                                             r.deleted_at, r.deleted_by) x)::json,
        'from', (SELECT o FROM settle_prov_end(
                     CASE WHEN r.kind = 'used' THEN 'dds-activity' ELSE 'dds-file-version' END,
                     settle_prov_from(r)) o),
        'to', (SELECT o FROM settle_prov_end(
                   CASE WHEN r.kind IN ('was_generated_by', 'was_invalidated_by')
                        THEN 'dds-activity' ELSE 'dds-file-version' END,
                   settle_prov_to(r)) o))
$$;

-- One row: whether the activity or file version id (of kind 'dds-activity' or
-- 'dds-file-version') exists (found), and whether usr sees it (sees).
CREATE FUNCTION settle_prov_node_sees(usr uuid, kind text, id uuid)
RETURNS TABLE (found boolean, sees boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT COALESCE(a.id, v.id) IS NOT NULL,
           CASE WHEN a.id IS NOT NULL THEN sa.sees
                ELSE EXISTS (SELECT FROM settle_sees_version(settle_prov_node_sees.usr, v.id))
           END
    FROM (VALUES (1)) one
    LEFT JOIN activities a ON a.id = settle_prov_node_sees.id
                          AND settle_prov_node_sees.kind = 'dds-activity'
    LEFT JOIN file_versions v ON v.id = settle_prov_node_sees.id
                             AND settle_prov_node_sees.kind = 'dds-file-version'
    CROSS JOIN LATERAL settle_sees_activity(settle_prov_node_sees.usr, a.id, a.created_by) sa
$$;

-- The provenance graph's node of the activity or file version id, for usr: {id, labels,
-- properties}, properties being the whole object when usr sees it, else only {kind, id,
-- is_deleted} (DDS's restricted object). One row, NULL when id is neither.
CREATE FUNCTION settle_prov_node(usr uuid, id uuid) RETURNS SETOF json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT COALESCE(
        (SELECT json_build_object('id', na.id, 'labels', json_build_array('Activity'),
             'properties', CASE WHEN s.sees THEN o.obj
                                ELSE json_build_object('kind', 'dds-activity', 'id', na.id,
                                                       'is_deleted', na.is_deleted) END)
         FROM activities na
         CROSS JOIN LATERAL settle_sees_activity(settle_prov_node.usr, na.id, na.created_by) s
         CROSS JOIN LATERAL settle_activity_obj(na) o(obj)
         WHERE na.id = settle_prov_node.id),
        (SELECT json_build_object('id', nv.id, 'labels', json_build_array('FileVersion'),
             'properties', CASE WHEN EXISTS (SELECT FROM settle_sees_version(settle_prov_node.usr,
                                                                             nv.id))
                                THEN (SELECT o FROM settle_version_obj(nv.id) o)
                                ELSE json_build_object('kind', 'dds-file-version', 'id', nv.id,
                                                       'is_deleted', nv.is_deleted) END)
         FROM file_versions nv WHERE nv.id = settle_prov_node.id))
$$;

-- The provenance graph's relationship of relation e, for usr: {id, type (Used,
-- WasGeneratedBy, WasDerivedFrom, WasInvalidatedBy), start_node, end_node, properties (the
-- relation, or null when usr does not see it)}. One row.
CREATE FUNCTION settle_prov_edge(usr uuid, e prov_relations) RETURNS SETOF json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object('id', e.id, 'type', replace(initcap(e.kind), '_', ''),
        'start_node', settle_prov_from(e), 'end_node', settle_prov_to(e),
        'properties', CASE WHEN s.sees THEN o.obj END)
    FROM settle_sees_relation(settle_prov_edge.usr, e.created_by, e.version_id,
                              e.used_version_id, e.activity_id) s
    CROSS JOIN LATERAL settle_relation_obj(e) o(obj)
$$;
