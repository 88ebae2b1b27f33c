-- The resource.delete job (jobs/resource_delete.c): moves what lies under a trashed folder
-- to the trash with it, purges the stored bytes of what was purged from the trash, and
-- deletes a deleted project with everything in it. The statements that select uploads to
-- purge all return id, storage_container and chunks (settle_chunk_numbers, migration 0018),
-- in that order, for resource_delete_purge.

-- unit: resource_delete_lookup
-- What resource $1 is: type 'p' a project (with its storage_container), 'd' a folder, 'f' a
-- file, 'v' a file version, looked up in that order; no row when it is none of those.
-- returns: type, storage_container
SELECT 'p' AS type, storage_container FROM projects WHERE id = $1
UNION ALL SELECT 'd', NULL FROM folders WHERE id = $1
UNION ALL SELECT 'f', NULL FROM files WHERE id = $1
UNION ALL SELECT 'v', NULL FROM file_versions WHERE id = $1 LIMIT 1

-- unit: resource_delete_purged
-- The stored bytes of upload $1 are deleted: it is purged (once).
UPDATE uploads SET purged_at = now() WHERE id = $1 AND purged_at IS NULL

-- unit: resource_delete_project_folders
-- Every folder of deleted project $1 is deleted with it and purged (not restorable),
-- inheriting the project's deleted_by when it has none.
UPDATE folders SET is_deleted = true, deleted_at = COALESCE(deleted_at, now()),
    deleted_by = COALESCE(deleted_by, (SELECT deleted_by FROM projects WHERE id = $1)),
    purged_at = now()
WHERE project_id = $1 AND purged_at IS NULL

-- unit: resource_delete_project_files
-- Every file of deleted project $1, as resource_delete_project_folders.
UPDATE files SET is_deleted = true, deleted_at = COALESCE(deleted_at, now()),
    deleted_by = COALESCE(deleted_by, (SELECT deleted_by FROM projects WHERE id = $1)),
    purged_at = now()
WHERE project_id = $1 AND purged_at IS NULL

-- unit: resource_delete_project_versions
-- Every version of a file of deleted project $1 is deleted.
UPDATE file_versions SET is_deleted = true
WHERE NOT is_deleted AND file_id IN (SELECT id FROM files WHERE project_id = $1)

-- unit: resource_delete_project_uploads
-- The uploads of deleted project $1 not purged yet, to purge.
-- returns: id, storage_container, chunks
SELECT id::text AS id, storage_container,
       (SELECT n FROM settle_chunk_numbers(uploads.id) n)::text AS chunks
FROM uploads WHERE project_id = $1 AND purged_at IS NULL ORDER BY id

-- unit: resource_delete_lock_folder
-- Locks folder $1 (so that a restore or purge of it waits for the job, and the job for
-- them) and reads its state: in the trash or purged (is_deleted), purged, and grp, the trash
-- root it was trashed with (its own id for a root). No row for an unknown folder.
-- returns: is_deleted, purged, grp
SELECT is_deleted, purged_at IS NOT NULL AS purged, COALESCE(deleted_with, id)::text AS grp
FROM folders WHERE id = $1 FOR UPDATE

-- unit: resource_delete_lock_file
-- resource_delete_lock_folder of file $1.
-- returns: is_deleted, purged, grp
SELECT is_deleted, purged_at IS NOT NULL AS purged, COALESCE(deleted_with, id)::text AS grp
FROM files WHERE id = $1 FOR UPDATE

-- unit: resource_delete_trash_below
-- Moves to the trash, with folder $1 (of trash group $2), what still lives below it: the
-- live folders under it, walked live (settle_folder_subtree, 0011: a folder trashed on its
-- own stays its own trash root, with what lies below it), and the live files in it and in
-- them. They take the folder's deleted_by and deleted_with = the group.
WITH below AS (SELECT s.id FROM (SELECT array_agg(id) AS a FROM folders
                                 WHERE parent_id = $1::uuid AND NOT is_deleted) k,
               LATERAL settle_folder_subtree(k.a, true) s),
root AS (SELECT deleted_by FROM folders WHERE id = $1::uuid),
fo AS (UPDATE folders f SET is_deleted = true, deleted_at = now(),
           deleted_by = root.deleted_by, deleted_with = $2::uuid
       FROM root WHERE f.id IN (SELECT id FROM below) AND NOT f.is_deleted RETURNING f.id)
UPDATE files f SET is_deleted = true, deleted_at = now(), deleted_by = root.deleted_by,
    deleted_with = $2::uuid
FROM root WHERE NOT f.is_deleted
  AND (f.parent_id = $1::uuid OR f.parent_id IN (SELECT id FROM below))

-- unit: resource_delete_purge_mark
-- Purges, with purged folder $1, what was trashed with it (trash group $2) below it: marks
-- those folders and files purged (sub: the folder and every folder below it, trashed or
-- not). Their versions and bytes follow.
WITH sub(id) AS (SELECT id FROM settle_folder_subtree(ARRAY[$1::uuid], false)),
fo AS (UPDATE folders f SET purged_at = now() WHERE f.id IN (SELECT id FROM sub)
         AND f.is_deleted AND f.purged_at IS NULL AND f.deleted_with = $2::uuid
       RETURNING f.id)
UPDATE files f SET purged_at = now() WHERE f.parent_id IN (SELECT id FROM sub)
  AND f.is_deleted AND f.purged_at IS NULL AND f.deleted_with = $2::uuid

-- unit: resource_delete_purge_versions
-- Deletes the versions of every purged file below purged folder $1.
WITH sub(id) AS (SELECT id FROM settle_folder_subtree(ARRAY[$1::uuid], false))
UPDATE file_versions SET is_deleted = true WHERE NOT is_deleted AND file_id IN
    (SELECT f.id FROM files f JOIN sub ON f.parent_id = sub.id WHERE f.purged_at IS NOT NULL)

-- unit: resource_delete_folder_uploads
-- The uploads of the purged files below purged folder $1 that no live version uses and
-- that are not purged yet, to purge.
-- returns: id, storage_container, chunks
WITH sub(id) AS (SELECT id FROM settle_folder_subtree(ARRAY[$1::uuid], false))
SELECT u.id::text AS id, u.storage_container,
       (SELECT n FROM settle_chunk_numbers(u.id) n)::text AS chunks
FROM uploads u JOIN file_versions v ON v.upload_id = u.id
JOIN files f ON f.id = v.file_id JOIN sub ON f.parent_id = sub.id
WHERE f.purged_at IS NOT NULL AND u.purged_at IS NULL
  AND NOT EXISTS (SELECT FROM settle_uploads_in_use uv WHERE uv.upload_id = u.id)
ORDER BY u.id

-- unit: resource_delete_file_versions
-- Deletes the versions of purged file $1.
UPDATE file_versions SET is_deleted = true WHERE file_id = $1 AND NOT is_deleted

-- unit: resource_delete_file_uploads
-- The uploads of purged file $1's versions that no live version uses and that are not
-- purged yet, to purge.
-- returns: id, storage_container, chunks
SELECT u.id::text AS id, u.storage_container,
       (SELECT n FROM settle_chunk_numbers(u.id) n)::text AS chunks
FROM uploads u JOIN file_versions v ON v.upload_id = u.id
WHERE v.file_id = $1 AND u.purged_at IS NULL
  AND NOT EXISTS (SELECT FROM settle_uploads_in_use uv WHERE uv.upload_id = u.id)
ORDER BY u.id

-- unit: resource_delete_version_uploads
-- The upload of deleted file version $1, to purge unless a live version (one that promoted
-- it, or that it promoted) still uses it or it is purged already.
-- returns: id, storage_container, chunks
SELECT u.id::text AS id, u.storage_container,
       (SELECT n FROM settle_chunk_numbers(u.id) n)::text AS chunks
FROM uploads u JOIN file_versions v ON v.upload_id = u.id
WHERE v.id = $1 AND v.is_deleted AND u.purged_at IS NULL
  AND NOT EXISTS (SELECT FROM settle_uploads_in_use uv WHERE uv.upload_id = u.id)

-- unit: resource_delete_give_up
-- Records on project $1 that its delete job gave up after its last attempt, with message
-- $2, once (a project already failed keeps its first error). A folder, file or version has
-- no error mark: the statement changes nothing for those.
UPDATE projects SET error_at = now(), error_message = $2 WHERE id = $1 AND error_at IS NULL
