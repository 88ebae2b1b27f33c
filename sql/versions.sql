-- The statements of api/versions.c: a version's label, the deletion of an older version,
-- and the promotion of an older version to current. Each checks the caller's role on the
-- project of a live version of a live file (settle_live_version) and whether the version
-- is its file's current one (settle_newer_version: none above it), and answers
-- access_verdict's columns, then current, then what it wrote.

-- unit: versions_label
-- PUT /file_versions/{id}: when the caller $2 may update files there, the label of version
-- $1 becomes $3 (NULL: unchanged). Then the version written (the columns of
-- settle_file_version_view), none when it was gone meanwhile.
-- returns: found, member, deleted, consistent, current, id, version, label, is_deleted, upload, file_id
WITH acc AS (SELECT a.* FROM settle_live_version($1::uuid) t
             JOIN LATERAL settle_access(t.project_id, $2::uuid, 'update_file') a ON true),
cur AS (SELECT NOT EXISTS (SELECT FROM settle_newer_version(x.file_id, x.version)) AS current
        FROM file_versions x WHERE x.id = $1::uuid),
upd AS (UPDATE file_versions x SET label = coalesce($3::text, x.label) FROM acc
        WHERE x.id = $1::uuid AND NOT x.is_deleted AND acc.member AND NOT acc.is_deleted
        RETURNING x.*)
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       cur.current, w.id, w.version, w.label, w.is_deleted, w.upload, w.file_id
FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN cur ON true LEFT JOIN upd x ON true
LEFT JOIN LATERAL settle_file_version_row(ROW(x.*)::file_versions) w ON true

-- unit: versions_delete
-- DELETE /file_versions/{id}: when the caller $2 may delete files there and version $1 is
-- not the current one, marks it deleted and queues its resource.delete job ($3 message id,
-- $4 kind), which purges its upload's bytes when no live version uses the upload any more.
-- Then the id of the version deleted (deleted_id), none when nothing was.
-- returns: found, member, deleted, consistent, current, deleted_id
WITH acc AS (SELECT a.* FROM settle_live_version($1::uuid) t
             JOIN LATERAL settle_access(t.project_id, $2::uuid, 'delete_file') a ON true),
cur AS (SELECT NOT EXISTS (SELECT FROM settle_newer_version(x.file_id, x.version)) AS current
        FROM file_versions x WHERE x.id = $1::uuid),
del AS (UPDATE file_versions d SET is_deleted = true FROM acc, cur
        WHERE d.id = $1::uuid AND NOT d.is_deleted AND NOT cur.current AND acc.member
        AND NOT acc.is_deleted RETURNING d.id),
outbox_job AS (INSERT INTO outbox (id, kind, resource_id)
               SELECT $3::uuid, $4::text, del.id FROM del RETURNING resource_id)
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       cur.current, del.id AS deleted_id
FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN cur ON true LEFT JOIN del ON true

-- unit: versions_take
-- POST /file_versions/{id}/current, first of two statements in one transaction: when the
-- caller $2 may update files there and version $1 is not the current one, takes its file
-- (the file's row locked by the UPDATE, the version FOR SHARE so that it cannot be deleted
-- meanwhile) and marks it updated by $2. Then the file's id when it was taken (file_id).
-- returns: found, member, deleted, consistent, current, file_id
WITH acc AS (SELECT a.* FROM settle_live_version($1::uuid) t
             JOIN LATERAL settle_access(t.project_id, $2::uuid, 'update_file') a ON true),
cur AS (SELECT NOT EXISTS (SELECT FROM settle_newer_version(x.file_id, x.version)) AS current
        FROM file_versions x WHERE x.id = $1::uuid),
src AS (SELECT x.file_id FROM file_versions x WHERE x.id = $1::uuid AND NOT x.is_deleted
        FOR SHARE),
fi AS (UPDATE files f SET updated_at = now(), updated_by = $2::uuid FROM src, acc, cur
       WHERE f.id = src.file_id AND NOT f.is_deleted AND NOT cur.current AND acc.member
       AND NOT acc.is_deleted RETURNING f.id)
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       cur.current, fi.id AS file_id
FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN cur ON true LEFT JOIN fi ON true

-- unit: versions_promote
-- Second: the new version $3, on the upload and with the label of version $1, made by $2,
-- numbered after the highest. A statement of its own, so that its snapshot, taken once the
-- file's row is ours, sees every version a promotion or PUT /files/{id} (which lock that
-- row first too) committed before: two at once on one file never take the same number.
-- Answers the new version (the columns of settle_file_version_view).
-- returns: id, version, label, is_deleted, upload, file_id
WITH ins AS (INSERT INTO file_versions (id, file_id, version, label, upload_id, created_by,
                                        promoted)
             SELECT $3::uuid, s.file_id, (SELECT max(y.version) + 1 FROM file_versions y
                                          WHERE y.file_id = s.file_id),
                    s.label, s.upload_id, $2::uuid, true
             FROM file_versions s WHERE s.id = $1::uuid RETURNING *)
SELECT w.id, w.version, w.label, w.is_deleted, w.upload, w.file_id
FROM ins x CROSS JOIN LATERAL settle_file_version_row(ROW(x.*)::file_versions) w
