-- The statements of api/files.c: files and their versions (create from a completed upload,
-- read, new versions, delete) and the signed download URLs. A file is answered with the
-- columns of settle_file_view, a version with those of settle_file_version_view (views_file
-- and views_file_version read them in order).

-- unit: files_access
-- access_project's check for live file $1, user $2 and permission $3: its project's access
-- row, none when the file is not live or does not exist.
-- returns: id, storage_container, is_consistent, is_deleted, has_error, member
SELECT acc.id, acc.storage_container, acc.is_consistent, acc.is_deleted, acc.has_error,
       acc.member
FROM files t JOIN LATERAL settle_access(t.project_id, $2::uuid, $3::text) acc ON true
WHERE t.id = $1::uuid AND NOT t.is_deleted

-- unit: files_create_in_project
-- POST /files at the root of project $1: when the caller $6 may create files there and
-- upload $2 is a completed upload of that project that backs no version yet, inserts the
-- file $3 (named as the upload) and its first version $4 (label $5). Answers
-- access_verdict's columns, the upload's checks (in_project, completed, taken), then the
-- file from what was inserted and what the statement read (settle_file_created, migration
-- 0026: the caller its creator, the project's row its name and ancestors; its current
-- version the one inserted).
-- returns: found, member, deleted, consistent, in_project, completed, taken, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version
WITH par AS (SELECT p.id AS project_id, NULL::uuid AS folder_id, p.name AS project_name,
                    p.is_deleted,
                    EXISTS (SELECT FROM settle_can($6::uuid, p.id, 'create_file')) AS member
             FROM projects p WHERE p.id = $1::uuid),
up AS (SELECT u.id, u.project_id, u.completed_at IS NOT NULL AS completed, u.name,
              EXISTS (SELECT FROM file_versions v WHERE v.upload_id = u.id) AS taken
       FROM uploads u WHERE u.id = $2::uuid),
fi AS (INSERT INTO files (id, project_id, parent_id, name, created_by)
       SELECT $3::uuid, par.project_id, par.folder_id, up.name, $6::uuid
       FROM par JOIN up ON up.project_id = par.project_id
       WHERE par.member AND NOT par.is_deleted AND up.completed AND NOT up.taken
       RETURNING *),
ve AS (INSERT INTO file_versions (id, file_id, version, label, upload_id, created_by)
       SELECT $4::uuid, fi.id, 1, $5::text, $2::uuid, $6::uuid FROM fi RETURNING *)
SELECT par.project_id IS NOT NULL AS found, par.member, par.is_deleted AS deleted,
       true AS consistent, up.project_id IS NOT DISTINCT FROM par.project_id AS in_project,
       up.completed, up.taken, r.id, r.name, r.project_id, r.parent_id, r.is_deleted, r.audit,
       r.ancestors, r.project_name,
       (SELECT settle_version_brief(ve::file_versions, (SELECT b FROM settle_upload_brief(vu) b))
        FROM ve JOIN uploads vu ON vu.id = ve.upload_id) AS current_version
FROM (VALUES (1)) one LEFT JOIN par ON true LEFT JOIN up ON true LEFT JOIN fi ON true
LEFT JOIN users s ON s.id = fi.created_by
LEFT JOIN LATERAL settle_file_created(ROW(fi.*)::files, ROW(s.*)::users, par.project_name,
                                      settle_root_ancestors(par.project_id, par.project_name))
                  r ON true

-- unit: files_create_in_folder
-- files_create_in_project in folder $1, a live folder (not deleted itself), of a live
-- project.
-- returns: found, member, deleted, consistent, in_project, completed, taken, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version
WITH par AS (SELECT p.id AS project_id, f.id AS folder_id, p.name AS project_name,
                    p.is_deleted,
                    EXISTS (SELECT FROM settle_can($6::uuid, p.id, 'create_file')) AS member
             FROM folders f JOIN projects p ON p.id = f.project_id
             WHERE f.id = $1::uuid AND NOT f.is_deleted),
up AS (SELECT u.id, u.project_id, u.completed_at IS NOT NULL AS completed, u.name,
              EXISTS (SELECT FROM file_versions v WHERE v.upload_id = u.id) AS taken
       FROM uploads u WHERE u.id = $2::uuid),
fi AS (INSERT INTO files (id, project_id, parent_id, name, created_by)
       SELECT $3::uuid, par.project_id, par.folder_id, up.name, $6::uuid
       FROM par JOIN up ON up.project_id = par.project_id
       WHERE par.member AND NOT par.is_deleted AND up.completed AND NOT up.taken
       RETURNING *),
ve AS (INSERT INTO file_versions (id, file_id, version, label, upload_id, created_by)
       SELECT $4::uuid, fi.id, 1, $5::text, $2::uuid, $6::uuid FROM fi RETURNING *)
SELECT par.project_id IS NOT NULL AS found, par.member, par.is_deleted AS deleted,
       true AS consistent, up.project_id IS NOT DISTINCT FROM par.project_id AS in_project,
       up.completed, up.taken, r.id, r.name, r.project_id, r.parent_id, r.is_deleted, r.audit,
       r.ancestors, r.project_name,
       (SELECT settle_version_brief(ve::file_versions, (SELECT b FROM settle_upload_brief(vu) b))
        FROM ve JOIN uploads vu ON vu.id = ve.upload_id) AS current_version
FROM (VALUES (1)) one LEFT JOIN par ON true LEFT JOIN up ON true LEFT JOIN fi ON true
LEFT JOIN users s ON s.id = fi.created_by
LEFT JOIN LATERAL settle_ancestors(par.project_id, par.folder_id) anc(a) ON true
LEFT JOIN LATERAL settle_file_created(ROW(fi.*)::files, ROW(s.*)::users, par.project_name,
                                      anc.a) r ON true

-- unit: files_one
-- The file $1 as it is now: one row, none when there is no such file.
-- returns: id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version
SELECT x.id, x.name, x.project_id, x.parent_id, x.is_deleted, x.audit, x.ancestors,
       x.project_name, x.current_version
FROM settle_file_view x WHERE x.id = $1::uuid

-- unit: files_check_upload
-- Upload $1, for a new version: its project, whether it is completed, and whether it backs
-- a version already. None when there is no such upload.
-- returns: project_id, completed, taken
SELECT u.project_id, u.completed_at IS NOT NULL AS completed,
       EXISTS (SELECT FROM file_versions v WHERE v.upload_id = u.id) AS taken
FROM uploads u WHERE u.id = $1::uuid

-- unit: files_get
-- GET /files/{id}: whether the caller $2 may view live file $1 (access_verdict's columns),
-- then the file, selected only when they may.
-- returns: found, member, deleted, consistent, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       x.id, x.name, x.project_id, x.parent_id, x.is_deleted, x.audit, x.ancestors,
       x.project_name, x.current_version
FROM (VALUES (1)) one
LEFT JOIN (SELECT a.* FROM files t
           JOIN LATERAL settle_access(t.project_id, $2::uuid, 'view_project') a ON true
           WHERE t.id = $1::uuid AND NOT t.is_deleted) acc ON true
LEFT JOIN settle_file_view x ON x.id = $1::uuid AND acc.member AND NOT acc.is_deleted

-- unit: files_touch
-- PUT /files/{id}, first statement of its transaction: marks live file $1 updated by $2,
-- locking its row, so that two new versions of one file never take the same number. Its id,
-- none when it is not live.
-- returns: id
UPDATE files SET updated_at = now(), updated_by = $2 WHERE id = $1 AND NOT is_deleted
RETURNING id

-- unit: files_add_version
-- PUT /files/{id}, second statement: the version $1 of file $2, numbered after its highest,
-- with label $3, on upload $4, made by $5.
INSERT INTO file_versions (id, file_id, version, label, upload_id, created_by)
SELECT $1, $2, coalesce(max(version), 0) + 1, $3, $4, $5 FROM file_versions WHERE file_id = $2

-- unit: files_delete
-- DELETE /files/{id}: when the caller $2 may delete live file $1, marks it deleted unless it
-- is already and queues its resource.delete job ($3 message id, $4 kind). Answers
-- access_verdict's columns, then the deleted file from what the UPDATE returned (none when
-- nothing was deleted).
-- returns: found, member, deleted, consistent, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version
WITH acc AS (SELECT a.* FROM files t
             JOIN LATERAL settle_access(t.project_id, $2::uuid, 'delete_file') a ON true
             WHERE t.id = $1::uuid AND NOT t.is_deleted),
del AS (UPDATE files d SET is_deleted = true, deleted_at = now(), deleted_by = $2::uuid
        FROM acc WHERE d.id = $1::uuid AND NOT d.is_deleted AND acc.member
        AND NOT acc.is_deleted RETURNING d.*),
outbox_job AS (INSERT INTO outbox (id, kind, resource_id)
               SELECT $3::uuid, $4::text, del.id FROM del RETURNING resource_id)
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       x.id, x.name, x.project_id, x.parent_id, x.is_deleted, x.audit, x.ancestors,
       x.project_name, x.current_version
FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN del d ON true
LEFT JOIN LATERAL settle_file_row(ROW(d.*)::files) x ON true

-- unit: files_versions
-- GET /files/{id}/versions: the versions of file $1, oldest first, $2 from offset $3, each
-- with the number of versions (total).
-- returns: id, version, label, is_deleted, upload, file_id, total
SELECT x.id, x.version, x.label, x.is_deleted, x.upload, x.file_id, count(*) OVER () AS total
FROM settle_file_version_view x WHERE x.file_id = $1::uuid
ORDER BY x.version LIMIT $2 OFFSET $3

-- unit: files_versions_count
-- The number of versions of file $1, for a page of files_versions past the end.
-- returns: total
SELECT count(*) AS total FROM file_versions WHERE file_id = $1::uuid

-- unit: files_version_get
-- GET /file_versions/{id}: whether the caller $2 may view version $1 of a live file
-- (access_verdict's columns), then the version, selected only when they may.
-- returns: found, member, deleted, consistent, id, version, label, is_deleted, upload, file_id
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       x.id, x.version, x.label, x.is_deleted, x.upload, x.file_id
FROM (VALUES (1)) one
LEFT JOIN (SELECT a.* FROM file_versions v JOIN files f ON f.id = v.file_id
           JOIN LATERAL settle_access(f.project_id, $2::uuid, 'view_project') a ON true
           WHERE v.id = $1::uuid AND NOT f.is_deleted) acc ON true
LEFT JOIN settle_file_version_view x ON x.id = $1::uuid AND acc.member AND NOT acc.is_deleted

-- unit: files_url
-- GET /files/{id}/url: for the current version of live file $1 in a live project, whether
-- user $2 may download it, then the state of its upload: its id, whether it is consistent,
-- failed its check (and why) or was purged, its storage container, the position the
-- statement saw (for the URL) and the storage provider that holds its bytes. None when
-- there is no such file or version.
-- returns: download, upload_id, is_consistent, has_error, error_message, purged, storage_container, position, storage_provider
SELECT EXISTS (SELECT FROM settle_can($2::uuid, p.id, 'download_file')) AS download,
       u.id AS upload_id, u.is_consistent, u.error_at IS NOT NULL AS has_error,
       u.error_message, u.purged_at IS NOT NULL AS purged, u.storage_container,
       settle_position()::text AS position, u.storage_provider
FROM files f
JOIN LATERAL (SELECT upload_id FROM file_versions
              WHERE file_id = f.id AND NOT is_deleted ORDER BY version DESC LIMIT 1) v ON true
JOIN projects p ON p.id = f.project_id AND NOT p.is_deleted
JOIN uploads u ON u.id = v.upload_id
WHERE f.id = $1::uuid AND NOT f.is_deleted

-- unit: files_version_url
-- GET /file_versions/{id}/url: files_url for version $1. A deleted version has no download
-- URL (DDS), even while another version keeps its bytes.
-- returns: download, upload_id, is_consistent, has_error, error_message, purged, storage_container, position, storage_provider
SELECT EXISTS (SELECT FROM settle_can($2::uuid, p.id, 'download_file')) AS download,
       u.id AS upload_id, u.is_consistent, u.error_at IS NOT NULL AS has_error,
       u.error_message, u.purged_at IS NOT NULL AS purged, u.storage_container,
       settle_position()::text AS position, u.storage_provider
FROM file_versions v JOIN files f ON f.id = v.file_id
JOIN projects p ON p.id = f.project_id AND NOT p.is_deleted
JOIN uploads u ON u.id = v.upload_id
WHERE v.id = $1::uuid AND NOT v.is_deleted AND NOT f.is_deleted
