-- PUT /uploads/{id}/chunks (api/uploads_chunks.c): registers a chunk of an upload within
-- the limits on chunks (settle_chunk_max_number and settle_chunk_room, migration 0022).

-- unit: uploads_chunks_register
-- PUT /uploads/{id}/chunks in one statement: share-locks upload $1 (complete and the purge
-- of expired uploads wait for it, and it for them), checks the caller ($6: create_file) and
-- registers or replaces chunk $2 ($3 size, $4 hash value, $5 algorithm) while the upload is
-- not completed nor purged, is held by the configured storage provider ($9) and the chunk
-- fits its limits: its number at most the highest one the upload's size needs at chunks of
-- the minimum size ($7), or of the size that keeps it within the most chunks storage takes
-- ($8), and its size within the room the other chunks leave. Answers the verdict, whether
-- the upload is completed, whether the chunk was written, whether the number and the size
-- are within the limits, the highest number, the room, whether the upload is purged, its
-- storage container and its storage provider; no upload, no row of it (found false).
-- returns: found, member, deleted, consistent, completed, written, number_ok, size_ok, max_number, room, purged, storage_container, storage_provider
WITH acc AS (SELECT u.id, u.completed_at IS NOT NULL AS completed, p.is_deleted,
                    u.purged_at IS NOT NULL AS purged, u.storage_container, u.storage_provider,
                    EXISTS (SELECT FROM settle_can($6::uuid, p.id, 'create_file')) AS member,
                    settle_chunk_max_number(u.size, greatest($7::bigint,
                        ceil(u.size::numeric / $8::bigint)::bigint)) AS max_number,
                    (SELECT r FROM settle_chunk_room(u.id, u.size, $2::integer) r) AS room
             FROM uploads u JOIN projects p ON p.id = u.project_id
             WHERE u.id = $1::uuid FOR SHARE OF u),
lim AS (SELECT acc.*, $2::bigint <= acc.max_number AS number_ok,
               $3::bigint <= acc.room AS size_ok
        FROM acc),
ins AS (INSERT INTO chunks (upload_id, number, size, hash_value, hash_algorithm)
        SELECT lim.id, $2::integer, $3::bigint, $4::text, $5::text FROM lim
        WHERE lim.member AND NOT lim.is_deleted AND NOT lim.completed AND NOT lim.purged
          AND lim.number_ok AND lim.size_ok AND lim.storage_provider = $9::text
        ON CONFLICT (upload_id, number) DO UPDATE
        SET size = EXCLUDED.size, hash_value = EXCLUDED.hash_value,
            hash_algorithm = EXCLUDED.hash_algorithm, stored_size = NULL, stored_md5 = NULL,
            stored_sha1 = NULL, stored_sha256 = NULL, stored_at = NULL, created_at = now()
        RETURNING number)
SELECT lim.id IS NOT NULL AS found, lim.member, lim.is_deleted AS deleted, true AS consistent,
       lim.completed, EXISTS (SELECT FROM ins) AS written, lim.number_ok, lim.size_ok,
       lim.max_number, lim.room, lim.purged, lim.storage_container, lim.storage_provider
FROM (VALUES (1)) one LEFT JOIN lim ON true
