-- The trash bin (docs/api.md "Trash bin", api/trashbin.c): an item in the trash, the
-- listings (what they hold: settle_trash_* of migration 0022; a page of them:
-- settle_trash_page of 0023), and restore and purge of an item. Each statement on an item
-- comes twice, for a folder and for a file; the listings come for a project's trash roots or
-- whole trash, and for what lies directly in a trashed folder or anywhere below it.

-- unit: trashbin_get_folder
-- GET /trashbin/dds-folder/{id}: the verdict of the project of folder $1, in the trash, for
-- the caller ($2: view_project), then the folder (settle_folder_view's columns), NULL unless
-- the caller may see it.
-- returns: found, member, deleted, consistent, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name
WITH acc AS (SELECT a.id, a.is_deleted, a.member
             FROM folders t JOIN LATERAL settle_access(t.project_id, $2::uuid, 'view_project') a
                  ON true
             WHERE t.id = $1::uuid AND settle_in_trash(t.is_deleted, t.purged_at))
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       x.id, x.name, x.project_id, x.parent_id, x.is_deleted, x.audit, x.ancestors,
       x.project_name
FROM (VALUES (1)) one LEFT JOIN acc ON true
LEFT JOIN settle_folder_view x ON x.id = $1::uuid AND acc.member AND NOT acc.is_deleted

-- unit: trashbin_get_file
-- GET /trashbin/dds-file/{id}: as trashbin_get_folder for file $1 (settle_file_view's
-- columns).
-- returns: found, member, deleted, consistent, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version
WITH acc AS (SELECT a.id, a.is_deleted, a.member
             FROM files t JOIN LATERAL settle_access(t.project_id, $2::uuid, 'view_project') a
                  ON true
             WHERE t.id = $1::uuid AND settle_in_trash(t.is_deleted, t.purged_at))
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       x.id, x.name, x.project_id, x.parent_id, x.is_deleted, x.audit, x.ancestors,
       x.project_name, x.current_version
FROM (VALUES (1)) one LEFT JOIN acc ON true
LEFT JOIN settle_file_view x ON x.id = $1::uuid AND acc.member AND NOT acc.is_deleted

-- unit: trashbin_page_roots
-- GET /trashbin/projects/{id}/children: a page of the trash roots of project $1 whose names
-- contain $2 (settle_name_contains), most recently deleted first ($3 LIMIT, $4 OFFSET), as
-- settle_trash_page (migration 0023) makes it: each item's kind, its columns as
-- settle_child_row (migration 0021) gives them, and the number of items.
-- returns: kind, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version, total
SELECT t.kind, t.id, t.name, t.project_id, t.parent_id, t.is_deleted, t.audit, t.ancestors,
       t.project_name, t.current_version, t.total
FROM settle_trash_page('roots', $1::uuid, $2::text, $3, $4) t
ORDER BY t.deleted_at DESC, t.item

-- unit: trashbin_count_roots
-- The number of items of trashbin_page_roots ($1 project, $2 name pattern), for a page past
-- the end.
-- returns: total
SELECT count(*) AS total FROM settle_trash_roots($1::uuid, $2::text)

-- unit: trashbin_page_project
-- GET /trashbin/projects/{id}/children?recurse=true: as trashbin_page_roots for every item
-- in the trash of project $1.
-- returns: kind, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version, total
SELECT t.kind, t.id, t.name, t.project_id, t.parent_id, t.is_deleted, t.audit, t.ancestors,
       t.project_name, t.current_version, t.total
FROM settle_trash_page('project', $1::uuid, $2::text, $3, $4) t
ORDER BY t.deleted_at DESC, t.item

-- unit: trashbin_count_project
-- The number of items of trashbin_page_project ($1 project, $2 name pattern).
-- returns: total
SELECT count(*) AS total FROM settle_trash_of_project($1::uuid, $2::text)

-- unit: trashbin_page_folder
-- GET /trashbin/folders/{id}/children: as trashbin_page_roots for what was trashed with
-- folder $1 and lies directly in it.
-- returns: kind, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version, total
SELECT t.kind, t.id, t.name, t.project_id, t.parent_id, t.is_deleted, t.audit, t.ancestors,
       t.project_name, t.current_version, t.total
FROM settle_trash_page('folder', $1::uuid, $2::text, $3, $4) t
ORDER BY t.deleted_at DESC, t.item

-- unit: trashbin_count_folder
-- The number of items of trashbin_page_folder ($1 folder, $2 name pattern).
-- returns: total
SELECT count(*) AS total FROM settle_trash_in_folder($1::uuid, $2::text)

-- unit: trashbin_page_below
-- GET /trashbin/folders/{id}/children?recurse=true: as trashbin_page_roots for what was
-- trashed with folder $1 and lies anywhere below it.
-- returns: kind, id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version, total
SELECT t.kind, t.id, t.name, t.project_id, t.parent_id, t.is_deleted, t.audit, t.ancestors,
       t.project_name, t.current_version, t.total
FROM settle_trash_page('below', $1::uuid, $2::text, $3, $4) t
ORDER BY t.deleted_at DESC, t.item

-- unit: trashbin_count_below
-- The number of items of trashbin_page_below ($1 folder, $2 name pattern).
-- returns: total
SELECT count(*) AS total FROM settle_trash_below_folder($1::uuid, $2::text)

-- unit: trashbin_folder_access
-- access_check (api/access.h) of folder $1, live or in the trash but not purged: its
-- project's access row (settle_access) for the caller $2 and permission $3.
-- returns: id, storage_container, is_consistent, is_deleted, has_error, member
SELECT a.id, a.storage_container, a.is_consistent, a.is_deleted, a.has_error, a.member
FROM folders t JOIN LATERAL settle_access(t.project_id, $2::uuid, $3::text) a ON true
WHERE t.id = $1::uuid AND t.purged_at IS NULL

-- unit: trashbin_purge_folder
-- PUT /trashbin/dds-folder/{id}/purge in one statement: checks that the caller ($2) may
-- delete files in the project of folder $1, purges the folder (sets purged_at) if it is in
-- the trash, queues its resource.delete job ($3 message id, $4 kind), which purges what was
-- trashed with it and the bytes (jobs/resource_delete.c: the one way out of the trash), and
-- answers the verdict. A folder purged already is found and left as it is.
-- returns: found, member, deleted, consistent
WITH acc AS (SELECT a.id, a.is_deleted, a.member
             FROM folders t JOIN LATERAL settle_access(t.project_id, $2::uuid, 'delete_file') a
                  ON true
             WHERE t.id = $1::uuid AND t.is_deleted),
pur AS (UPDATE folders tp SET purged_at = now()
        WHERE tp.id IN (SELECT $1::uuid FROM acc WHERE acc.member AND NOT acc.is_deleted)
          AND settle_in_trash(tp.is_deleted, tp.purged_at)
        RETURNING tp.id),
outbox_job AS (INSERT INTO outbox (id, kind, resource_id)
               SELECT $3::uuid, $4::text, pur.id FROM pur RETURNING resource_id)
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent
FROM (VALUES (1)) one LEFT JOIN acc ON true

-- unit: trashbin_purge_file
-- PUT /trashbin/dds-file/{id}/purge: as trashbin_purge_folder for file $1.
-- returns: found, member, deleted, consistent
WITH acc AS (SELECT a.id, a.is_deleted, a.member
             FROM files t JOIN LATERAL settle_access(t.project_id, $2::uuid, 'delete_file') a
                  ON true
             WHERE t.id = $1::uuid AND t.is_deleted),
pur AS (UPDATE files tp SET purged_at = now()
        WHERE tp.id IN (SELECT $1::uuid FROM acc WHERE acc.member AND NOT acc.is_deleted)
          AND settle_in_trash(tp.is_deleted, tp.purged_at)
        RETURNING tp.id),
outbox_job AS (INSERT INTO outbox (id, kind, resource_id)
               SELECT $3::uuid, $4::text, pur.id FROM pur RETURNING resource_id)
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent
FROM (VALUES (1)) one LEFT JOIN acc ON true

-- unit: trashbin_access_folder
-- The access check of a restore of folder $1, in the trash: its project's access row (as
-- settle_access) for the caller $2 and permission $3, the project row locked, as for moves,
-- so that no move or other restore changes the target meanwhile.
-- returns: id, storage_container, is_consistent, is_deleted, has_error, member
SELECT p.id, p.storage_container, p.is_consistent, p.is_deleted, p.error_at IS NOT NULL AS has_error,
       EXISTS (SELECT FROM settle_can($2::uuid, p.id, $3::text)) AS member
FROM folders t JOIN projects p ON p.id = t.project_id
WHERE t.id = $1::uuid AND settle_in_trash(t.is_deleted, t.purged_at)
FOR UPDATE OF p

-- unit: trashbin_access_file
-- As trashbin_access_folder for file $1.
-- returns: id, storage_container, is_consistent, is_deleted, has_error, member
SELECT p.id, p.storage_container, p.is_consistent, p.is_deleted, p.error_at IS NOT NULL AS has_error,
       EXISTS (SELECT FROM settle_can($2::uuid, p.id, $3::text)) AS member
FROM files t JOIN projects p ON p.id = t.project_id
WHERE t.id = $1::uuid AND settle_in_trash(t.is_deleted, t.purged_at)
FOR UPDATE OF p

-- unit: trashbin_lock_folder
-- In a restore's transaction: folder $1, in the trash, under a row lock (a resource.delete
-- job still trashing what lies below it commits first, and the restore's next statement
-- sees all of it): its parent folder ('' at the project root) and its trash group (the trash
-- root it went with).
-- returns: parent, grp
SELECT COALESCE(t.parent_id::text, '') AS parent, COALESCE(t.deleted_with, t.id)::text AS grp
FROM folders t
WHERE t.id = $1::uuid AND settle_in_trash(t.is_deleted, t.purged_at)
FOR UPDATE

-- unit: trashbin_lock_file
-- As trashbin_lock_folder for file $1.
-- returns: parent, grp
SELECT COALESCE(t.parent_id::text, '') AS parent, COALESCE(t.deleted_with, t.id)::text AS grp
FROM files t
WHERE t.id = $1::uuid AND settle_in_trash(t.is_deleted, t.purged_at)
FOR UPDATE

-- unit: trashbin_target_folder
-- The target of a restore of folder $3: whether folder $1 exists in project $2 with every
-- folder up to the root live (true for $1 NULL, the project's root), and whether a live item
-- named like folder $3 lies in it.
-- returns: live, taken
SELECT ($1::uuid IS NULL
        OR EXISTS (SELECT FROM folders f
                   WHERE f.id = $1::uuid AND f.project_id = $2::uuid
                     AND NOT EXISTS (SELECT FROM settle_folder_ancestors($1::uuid) up
                                     WHERE up.is_deleted))) AS live,
       (SELECT i.name FROM folders i WHERE i.id = $3::uuid)
       IN (SELECT name FROM folders
           WHERE project_id = $2::uuid AND parent_id IS NOT DISTINCT FROM $1::uuid
             AND NOT is_deleted
           UNION ALL
           SELECT name FROM files
           WHERE project_id = $2::uuid AND parent_id IS NOT DISTINCT FROM $1::uuid
             AND NOT is_deleted) AS taken

-- unit: trashbin_target_file
-- As trashbin_target_folder for file $3.
-- returns: live, taken
SELECT ($1::uuid IS NULL
        OR EXISTS (SELECT FROM folders f
                   WHERE f.id = $1::uuid AND f.project_id = $2::uuid
                     AND NOT EXISTS (SELECT FROM settle_folder_ancestors($1::uuid) up
                                     WHERE up.is_deleted))) AS live,
       (SELECT i.name FROM files i WHERE i.id = $3::uuid)
       IN (SELECT name FROM folders
           WHERE project_id = $2::uuid AND parent_id IS NOT DISTINCT FROM $1::uuid
             AND NOT is_deleted
           UNION ALL
           SELECT name FROM files
           WHERE project_id = $2::uuid AND parent_id IS NOT DISTINCT FROM $1::uuid
             AND NOT is_deleted) AS taken

-- unit: trashbin_restore_folder
-- The restore of folder $1 of trash group $2 into parent folder $3 (NULL: the project root)
-- by user $4, in one statement: the folder and what was trashed with it below it (one walk
-- down, settle_folder_subtree of 0011) leave the trash; answers the folder (the columns of
-- settle_folder_view, made by settle_folder_row of 0021), no row when it is not of that
-- group.
-- returns: id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name
WITH sub AS (SELECT s.id FROM settle_folder_subtree(ARRAY[$1::uuid], false) s),
fo AS (UPDATE folders t
       SET is_deleted = false, deleted_with = NULL, deleted_at = NULL, deleted_by = NULL
       WHERE t.id IN (SELECT id FROM sub) AND t.id <> $1::uuid
         AND settle_in_trash(t.is_deleted, t.purged_at) AND t.deleted_with = $2::uuid),
fi AS (UPDATE files t
       SET is_deleted = false, deleted_with = NULL, deleted_at = NULL, deleted_by = NULL
       WHERE t.parent_id IN (SELECT id FROM sub)
         AND settle_in_trash(t.is_deleted, t.purged_at) AND t.deleted_with = $2::uuid),
fr AS (UPDATE folders f
       SET is_deleted = false, deleted_with = NULL, deleted_at = NULL, deleted_by = NULL,
           parent_id = $3::uuid, updated_at = now(), updated_by = $4::uuid
       WHERE f.id = $1::uuid AND COALESCE(f.deleted_with, f.id) = $2::uuid
       RETURNING f.*)
SELECT r.id, r.name, r.project_id, r.parent_id, r.is_deleted, r.audit, r.ancestors,
       r.project_name
FROM fr CROSS JOIN LATERAL settle_folder_row(fr::folders) r

-- unit: trashbin_restore_file
-- The restore of file $1 of trash group $2 into parent folder $3 (NULL: the project root)
-- by user $4; answers the file (the columns of settle_file_view, made by settle_file_row of
-- 0021), no row when it is not of that group.
-- returns: id, name, project_id, parent_id, is_deleted, audit, ancestors, project_name, current_version
WITH fr AS (UPDATE files f
            SET is_deleted = false, deleted_with = NULL, deleted_at = NULL, deleted_by = NULL,
                parent_id = $3::uuid, updated_at = now(), updated_by = $4::uuid
            WHERE f.id = $1::uuid AND COALESCE(f.deleted_with, f.id) = $2::uuid
            RETURNING f.*)
SELECT r.id, r.name, r.project_id, r.parent_id, r.is_deleted, r.audit, r.ancestors,
       r.project_name, r.current_version
FROM fr CROSS JOIN LATERAL settle_file_row(fr::files) r
