-- PUT /uploads/{id}/complete and PUT /uploads/{id}/hashes (api/uploads_complete.c): the calls
-- that record an upload's hashes. The hash given at complete is recorded in the upload's row
-- (completed_hash_algorithm, completed_hash_value), any other in fingerprints; the hashes of
-- an upload are both (settle_hashes_with, migration 0027). Both answer the upload in the
-- columns of sql/uploads.sql (settle_upload_row).

-- unit: uploads_complete_mark
-- PUT /uploads/{id}/complete in one statement: locks upload $1 and reads its latest state (a
-- concurrent complete or purge is waited for and seen), checks the caller ($4: create_file),
-- marks it completed with the hash ($2 value, $3 algorithm) when it is not yet, is not
-- purged, is held by the configured storage provider ($7) and no other value that binds it
-- is recorded for that algorithm (recorded: one its creator reported; one another user, a
-- project admin, reported before complete gives way to the hash given at complete, which the
-- worker verifies: docs/api.md "Reported and verified hashes"), and queues the
-- upload.complete job ($5 message id, $6 kind). Answers the upload as completed (NULL when it
-- was not completed now: its hashes the one given with those of the other algorithms), the
-- verdict, then whether it was completed before (done) and with which hash, the value
-- recorded before for the algorithm, whether it was purged and the storage provider that
-- holds its bytes.
-- returns: id, name, content_type, size, etag, project_id, created_on, ready_for_chunks, completed_on, is_consistent, purged_on, error_on, error_message, chunks, hashes, created_by, storage_provider, found, member, deleted, consistent, done, done_value, done_algorithm, recorded, purged, held_by
WITH acc AS (SELECT u.id, u.completed_at IS NOT NULL AS completed, u.completed_hash_value,
                    u.completed_hash_algorithm, p.is_deleted, true AS is_consistent,
                    u.purged_at IS NOT NULL AS purged, u.storage_provider,
                    EXISTS (SELECT FROM settle_can($4::uuid, p.id, 'create_file')) AS member,
                    (SELECT f.value FROM fingerprints f
                     WHERE f.upload_id = u.id AND f.algorithm = $3::text
                       AND f.reported_by = u.created_by) AS recorded
             FROM uploads u JOIN projects p ON p.id = u.project_id
             WHERE u.id = $1::uuid FOR UPDATE OF u),
upd AS (UPDATE uploads u SET completed_at = now(), completed_hash_value = $2::text,
                             completed_hash_algorithm = $3::text
        FROM acc
        WHERE u.id = acc.id AND acc.member AND NOT acc.is_deleted AND NOT acc.completed
          AND NOT acc.purged AND acc.storage_provider = $7::text
          AND coalesce(acc.recorded = $2::text, true)
        RETURNING u.*),
outbox_job AS (INSERT INTO outbox (id, kind, resource_id)
               SELECT $5::uuid, $6::text, upd.id FROM upd RETURNING resource_id)
SELECT r.id, r.name, r.content_type, r.size, r.etag, r.project_id, r.created_on,
       r.ready_for_chunks, r.completed_on, r.is_consistent, r.purged_on, r.error_on,
       r.error_message, r.chunks, r.hashes, r.created_by, r.storage_provider,
       acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted,
       acc.is_consistent AS consistent, acc.completed AS done,
       acc.completed_hash_value AS done_value, acc.completed_hash_algorithm AS done_algorithm,
       acc.recorded, acc.purged, acc.storage_provider AS held_by
FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN upd u ON true
LEFT JOIN users s ON s.id = u.created_by
CROSS JOIN LATERAL settle_upload_row(u::uploads, ROW(s.*)::users) r

-- unit: uploads_complete_hashes
-- PUT /uploads/{id}/hashes in one statement: share-locks upload $1 (complete waits for it
-- and it for complete) and reads its latest state, checks the caller ($2: create_file, and
-- the upload's creator or a project admin) and records the fingerprint ($5) of the upload,
-- algorithm $3, value $4, reported by the caller, unless that algorithm has a hash: the one
-- given at complete, or a fingerprint (on a conflict, the newest committed one, whatever the
-- statement's snapshot); a recorded hash is never replaced (API.md "Limits on input").
-- Answers the upload with the algorithm's recorded hash, the verdict, then the value
-- recorded for the algorithm, which differs from $4 when it had one (read only when the
-- upload is answered: the caller may see it).
-- returns: id, name, content_type, size, etag, project_id, created_on, ready_for_chunks, completed_on, is_consistent, purged_on, error_on, error_message, chunks, hashes, created_by, storage_provider, found, member, deleted, consistent, recorded
WITH acc AS (SELECT u.id, p.is_deleted, true AS is_consistent,
                    CASE WHEN u.completed_hash_algorithm = $3::text
                         THEN u.completed_hash_value END AS completed_value,
                    EXISTS (SELECT FROM settle_can($2::uuid, p.id, 'create_file'))
                    AND (u.created_by = $2::uuid
                         OR EXISTS (SELECT FROM settle_is_admin($2::uuid, p.id))) AS member
             FROM uploads u JOIN projects p ON p.id = u.project_id
             WHERE u.id = $1::uuid FOR SHARE OF u),
fp AS (INSERT INTO fingerprints (id, upload_id, algorithm, value, reported_by)
       SELECT $5::uuid, acc.id, $3::text, $4::text, $2::uuid
       FROM acc WHERE acc.member AND NOT acc.is_deleted AND acc.completed_value IS NULL
       ON CONFLICT (upload_id, algorithm) DO UPDATE SET value = fingerprints.value
       RETURNING algorithm, value)
SELECT r.id, r.name, r.content_type, r.size, r.etag, r.project_id, r.created_on,
       r.ready_for_chunks, r.completed_on, r.is_consistent, r.purged_on, r.error_on,
       r.error_message, r.chunks,
       hw.hashes,
       r.created_by, r.storage_provider,
       acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted,
       acc.is_consistent AS consistent, rec.value AS recorded
FROM (VALUES (1)) one LEFT JOIN acc ON true
LEFT JOIN (SELECT x.* FROM uploads x, acc
           WHERE x.id = $1::uuid AND acc.member AND NOT acc.is_deleted) u ON true
LEFT JOIN users s ON s.id = u.created_by
CROSS JOIN LATERAL settle_upload_row(u::uploads, ROW(s.*)::users) r
LEFT JOIN fp ON true
CROSS JOIN LATERAL (SELECT coalesce(acc.completed_value, fp.value) AS value) rec
CROSS JOIN LATERAL settle_hashes_with(u::uploads, $3::text, rec.value) hw
