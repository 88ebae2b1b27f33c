-- The statements of api/moves.c: move and rename of files and folders, in one transaction
-- each: the access check that locks the project, the target's check, and the update.

-- unit: moves_lock_file
-- access_project's check for live file $1, user $2 and permission $3, locking the file's
-- project row, so that the moves of one project run one at a time and no two of them build
-- a cycle together. None when the file is not live or does not exist. The columns of
-- settle_access are written out: FOR UPDATE locks a table of the statement itself, not one
-- that a function reads.
-- returns: id, storage_container, is_consistent, is_deleted, has_error, member
SELECT p.id, p.storage_container, p.is_consistent, p.is_deleted,
       p.error_at IS NOT NULL AS has_error,
       EXISTS (SELECT FROM settle_can($2::uuid, p.id, $3::text)) AS member
FROM files t JOIN projects p ON p.id = t.project_id
WHERE t.id = $1::uuid AND NOT t.is_deleted
FOR UPDATE OF p

-- unit: moves_lock_folder
-- moves_lock_file for live folder $1 (it and every folder above it live:
-- settle_live_folder).
-- returns: id, storage_container, is_consistent, is_deleted, has_error, member
SELECT p.id, p.storage_container, p.is_consistent, p.is_deleted,
       p.error_at IS NOT NULL AS has_error,
       EXISTS (SELECT FROM settle_can($2::uuid, p.id, $3::text)) AS member
FROM settle_live_folder($1::uuid) t JOIN projects p ON p.id = t.project_id
FOR UPDATE OF p

-- unit: moves_target
-- The target folder $1 of a move of item $2: one row when the folder exists, with its
-- project, whether it or a folder above it is deleted, and whether the item is the folder or
-- above it (a folder cannot move into its own subtree; the walk has no depth cut-off).
-- returns: project_id, deleted, own_subtree
SELECT f.project_id, bool_or(up.is_deleted) AS deleted, bool_or(up.id = $2::uuid) AS own_subtree
FROM folders f, settle_folder_ancestors($1::uuid) up WHERE f.id = $1::uuid
GROUP BY f.project_id

-- unit: moves_update_file
-- The move or rename of live file $1: its name $2 (NULL: kept), its parent $4 when $3 (NULL:
-- the project root), updated by $5. Answers the file from what the UPDATE returned (the
-- columns of settle_file_view), none when it was not live.
-- returns: id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version
WITH upd AS (UPDATE files f SET name = COALESCE($2, f.name),
                    parent_id = CASE WHEN $3::boolean THEN $4::uuid ELSE f.parent_id END,
                    updated_at = now(), updated_by = $5::uuid
             WHERE f.id = $1 AND NOT f.is_deleted RETURNING f.*)
SELECT r.id, r.name, r.project_id, r.parent_id, r.is_deleted, r.audit, r.ancestors,
       r.project_name, r.current_version
FROM upd CROSS JOIN LATERAL settle_file_row(ROW(upd.*)::files) r

-- unit: moves_update_folder
-- moves_update_file for a live folder $1; answers the columns of settle_folder_view.
-- returns: id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name
WITH upd AS (UPDATE folders f SET name = COALESCE($2, f.name),
                    parent_id = CASE WHEN $3::boolean THEN $4::uuid ELSE f.parent_id END,
                    updated_at = now(), updated_by = $5::uuid
             WHERE f.id = $1 AND NOT f.is_deleted RETURNING f.*)
SELECT r.id, r.name, r.project_id, r.parent_id, r.is_deleted, r.audit, r.ancestors,
       r.project_name
FROM upd CROSS JOIN LATERAL settle_folder_row(ROW(upd.*)::folders) r
