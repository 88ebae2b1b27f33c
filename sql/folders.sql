-- The statements of api/folders.c: the access check of a live folder, the depth a move or
-- restore would give a folder's subtree, and create, read and delete folders. A folder is
-- answered with the columns of settle_folder_view (views_folder reads them in order).

-- unit: folders_access
-- access_project's check for live folder $1 (it and every folder above it live:
-- settle_live_folder), user $2 and permission $3: its project's access row, none when the
-- folder is not live or does not exist.
-- returns: id, storage_container, is_consistent, is_deleted, has_error, member
SELECT acc.id, acc.storage_container, acc.is_consistent, acc.is_deleted, acc.has_error,
       acc.member
FROM settle_live_folder($1::uuid) t
JOIN LATERAL settle_access(t.project_id, $2::uuid, $3::text) acc ON true

-- unit: folders_depth
-- The depth that the deepest folder below folder $2 (or $2 itself), trashed ones included
-- (a restore brings them back), would have once $2 lies in folder $1 (NULL: the project
-- root).
-- returns: depth
SELECT (SELECT count(*) FROM settle_folder_ancestors($1::uuid)) + 1
       + COALESCE((SELECT max(s.depth) FROM settle_folder_subtree(ARRAY[$2::uuid], false) s), 0)
       AS depth

-- unit: folders_depth_live
-- folders_depth counting only the live folders below $2.
-- returns: depth
SELECT (SELECT count(*) FROM settle_folder_ancestors($1::uuid)) + 1
       + COALESCE((SELECT max(s.depth) FROM settle_folder_subtree(ARRAY[$2::uuid], true) s), 0)
       AS depth

-- unit: folders_create_in_project
-- POST /folders at the root of project $1: when the caller $2 may create files there,
-- inserts the folder $3 named $4. Answers access_verdict's columns, then the folder from
-- what was inserted, then whether it would lie deeper than $5 (FOLDERS_MAX_DEPTH): never
-- at the root.
-- returns: found, member, deleted, consistent, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, too_deep
WITH acc AS (SELECT a.* FROM settle_access($1::uuid, $2::uuid, 'create_file') a),
deep AS (SELECT 1 > $5::integer AS too_deep),
ins AS (INSERT INTO folders (id, project_id, parent_id, name, created_by)
        SELECT $3::uuid, acc.id, NULL::uuid, $4::text, $2::uuid FROM acc, deep
        WHERE acc.member AND NOT acc.is_deleted AND NOT deep.too_deep RETURNING *)
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       r.id, r.name, r.project_id, r.parent_id, r.is_deleted, r.audit, r.ancestors,
       r.project_name, deep.too_deep
FROM (VALUES (1)) one CROSS JOIN deep LEFT JOIN acc ON true LEFT JOIN ins f ON true
LEFT JOIN LATERAL settle_folder_row(ROW(f.*)::folders) r ON true

-- unit: folders_create_in_folder
-- POST /folders in folder $1, live (settle_live_folder): folders_create_in_project, the new
-- folder's depth being one more than $1's.
-- returns: found, member, deleted, consistent, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, too_deep
WITH acc AS (SELECT a.* FROM settle_live_folder($1::uuid) t
             JOIN LATERAL settle_access(t.project_id, $2::uuid, 'create_file') a ON true),
deep AS (SELECT (SELECT count(*) + 1 FROM settle_folder_ancestors($1::uuid)) > $5::integer
                AS too_deep),
ins AS (INSERT INTO folders (id, project_id, parent_id, name, created_by)
        SELECT $3::uuid, acc.id, $1::uuid, $4::text, $2::uuid FROM acc, deep
        WHERE acc.member AND NOT acc.is_deleted AND NOT deep.too_deep RETURNING *)
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       r.id, r.name, r.project_id, r.parent_id, r.is_deleted, r.audit, r.ancestors,
       r.project_name, deep.too_deep
FROM (VALUES (1)) one CROSS JOIN deep LEFT JOIN acc ON true LEFT JOIN ins f ON true
LEFT JOIN LATERAL settle_folder_row(ROW(f.*)::folders) r ON true

-- unit: folders_get
-- GET /folders/{id}: whether the caller $2 may view live folder $1 (access_verdict's
-- columns), then the folder, selected only when they may.
-- returns: found, member, deleted, consistent, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       x.id, x.name, x.project_id, x.parent_id, x.is_deleted, x.audit, x.ancestors,
       x.project_name
FROM (VALUES (1)) one
LEFT JOIN (SELECT a.* FROM settle_live_folder($1::uuid) t
           JOIN LATERAL settle_access(t.project_id, $2::uuid, 'view_project') a ON true) acc
  ON true
LEFT JOIN settle_folder_view x ON x.id = $1::uuid AND acc.member AND NOT acc.is_deleted

-- unit: folders_delete
-- DELETE /folders/{id}: when the caller $2 may delete files in the project of live folder
-- $1, marks it deleted unless it is already and queues its resource.delete job ($3 message
-- id, $4 kind), which trashes what lies below it. Answers access_verdict's columns, then the
-- deleted folder from what the UPDATE returned (none when nothing was deleted).
-- returns: found, member, deleted, consistent, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name
WITH acc AS (SELECT a.* FROM settle_live_folder($1::uuid) t
             JOIN LATERAL settle_access(t.project_id, $2::uuid, 'delete_file') a ON true),
del AS (UPDATE folders d SET is_deleted = true, deleted_at = now(), deleted_by = $2::uuid
        FROM acc WHERE d.id = $1::uuid AND NOT d.is_deleted AND acc.member
        AND NOT acc.is_deleted RETURNING d.*),
outbox_job AS (INSERT INTO outbox (id, kind, resource_id)
               SELECT $3::uuid, $4::text, del.id FROM del RETURNING resource_id)
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       x.id, x.name, x.project_id, x.parent_id, x.is_deleted, x.audit, x.ancestors,
       x.project_name
FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN del d ON true
LEFT JOIN LATERAL settle_folder_row(ROW(d.*)::folders) x ON true
