-- The statements of api/children.c: what lies in a project or folder (GET
-- /projects/{id}/children, GET /folders/{id}/children, with or without name_contains), and
-- a project's files with what their download URLs need (GET /projects/{id}/files).
--
-- A page of children (settle_children_page, migration 0023): the items (kind, id, name) of
-- settle_children_at_* or settle_matches_at_*, folders first then files, each by name and
-- id, each row its kind, the columns of settle_file_view (settle_child_row: views_folder and
-- views_file read them in order) and the number of items (total). The four pages return the
-- same columns.

-- unit: children_project
-- GET /projects/{id}/children: the page of the live folders and files at the root of project
-- $1, $2 items from offset $3.
-- returns: kind, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version, total
SELECT t.kind, t.id, t.name, t.project_id, t.parent_id, t.is_deleted, t.audit, t.ancestors,
       t.project_name, t.current_version, t.total
FROM settle_children_page('project', $1::uuid, NULL, $2, $3) t
ORDER BY t.kind DESC, t.item_name, t.item

-- unit: children_project_count
-- The number of items children_project pages ($1 the project).
-- returns: total
SELECT count(*) AS total FROM settle_children_at_project($1::uuid) c

-- unit: children_project_deep
-- GET /projects/{id}/children?name_contains=: the page of every live folder and file in
-- project $1 whose name matches $2 (ILIKE, escaped with \), $3 items from offset $4.
-- returns: kind, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version, total
SELECT t.kind, t.id, t.name, t.project_id, t.parent_id, t.is_deleted, t.audit, t.ancestors,
       t.project_name, t.current_version, t.total
FROM settle_children_page('project_deep', $1::uuid, $2::text, $3, $4) t
ORDER BY t.kind DESC, t.item_name, t.item

-- unit: children_project_deep_count
-- The number of items children_project_deep pages ($1 the project, $2 the pattern).
-- returns: total
SELECT count(*) AS total FROM settle_matches_at_project($1::uuid, $2::text) c

-- unit: children_folder
-- GET /folders/{id}/children: the page of the live folders and files in folder $1, $2 items
-- from offset $3.
-- returns: kind, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version, total
SELECT t.kind, t.id, t.name, t.project_id, t.parent_id, t.is_deleted, t.audit, t.ancestors,
       t.project_name, t.current_version, t.total
FROM settle_children_page('folder', $1::uuid, NULL, $2, $3) t
ORDER BY t.kind DESC, t.item_name, t.item

-- unit: children_folder_count
-- The number of items children_folder pages ($1 the folder).
-- returns: total
SELECT count(*) AS total FROM settle_children_at_folder($1::uuid) c

-- unit: children_folder_deep
-- GET /folders/{id}/children?name_contains=: the page of every live folder and file below
-- folder $1 whose name matches $2 (ILIKE, escaped with \), $3 items from offset $4.
-- returns: kind, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version, total
SELECT t.kind, t.id, t.name, t.project_id, t.parent_id, t.is_deleted, t.audit, t.ancestors,
       t.project_name, t.current_version, t.total
FROM settle_children_page('folder_deep', $1::uuid, $2::text, $3, $4) t
ORDER BY t.kind DESC, t.item_name, t.item

-- unit: children_folder_deep_count
-- The number of items children_folder_deep pages ($1 the folder, $2 the pattern).
-- returns: total
SELECT count(*) AS total FROM settle_matches_at_folder($1::uuid, $2::text) c

-- unit: children_files_count
-- The number of live files of project $1 (settle_live_files), of those whose upload is not
-- consistent yet, and whether user $2 may download them.
-- returns: total, pending, download
SELECT count(*) AS total, count(*) FILTER (WHERE NOT u.is_consistent) AS pending,
       (SELECT EXISTS (SELECT FROM settle_can($2::uuid, p.id, 'download_file'))
        FROM projects p WHERE p.id = $1::uuid) AS download
FROM settle_live_files($1::uuid) lf JOIN uploads u ON u.id = lf.upload_id

-- unit: children_files
-- GET /projects/{id}/files: the page of the live files of project $1 (settle_live_files),
-- oldest first, $2 from offset $3: each one's id, name, size, hashes and ancestors, and
-- what its download URL needs: its upload, the upload's storage container and provider,
-- and the position the statement saw.
-- returns: id, name, size, hashes, ancestors, upload_id, storage_container, position, storage_provider
SELECT lf.id, lf.name, u.size, (SELECT h FROM settle_hashes(u) h)::text AS hashes,
       (SELECT a FROM settle_ancestors(lf.project_id, lf.parent_id) a) AS ancestors,
       u.id AS upload_id, u.storage_container, settle_position()::text AS position,
       u.storage_provider
FROM settle_live_files($1::uuid) lf JOIN uploads u ON u.id = lf.upload_id
ORDER BY lf.created_at, lf.id LIMIT $2 OFFSET $3
