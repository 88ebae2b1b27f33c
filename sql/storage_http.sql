-- The local storage provider's signed URLs (api/storage_http.c): the storage PUT of a chunk's
-- bytes (a look-up before the body, then a transaction that records what storage computed)
-- and the GET of an upload's bytes.

-- unit: storage_http_chunk
-- Before the body of a storage PUT: chunk $2 of upload $1, while the upload is not purged
-- and its project not deleted: the upload's storage container, whether it is completed, the
-- chunk's registered size, hash algorithm and value, whether the chunk keeps within the
-- upload's limits at chunks of at least $3 bytes (settle_chunk_max_number,
-- settle_chunk_room: a chunk registered before them, or two registered at once, may break
-- them), and the storage provider that holds the upload. No row for no such chunk.
-- returns: storage_container, completed, size, hash_algorithm, hash_value, fits, storage_provider
SELECT u.storage_container, u.completed_at IS NOT NULL AS completed, c.size, c.hash_algorithm,
       c.hash_value,
       c.number <= settle_chunk_max_number(u.size, $3::bigint)
       AND c.size <= (SELECT r FROM settle_chunk_room(u.id, u.size, c.number) r) AS fits,
       u.storage_provider
FROM chunks c JOIN uploads u ON u.id = c.upload_id JOIN projects p ON p.id = u.project_id
WHERE c.upload_id = $1 AND c.number = $2 AND u.purged_at IS NULL AND NOT p.is_deleted

-- unit: storage_http_lock
-- In the transaction that records a storage PUT: share-locks upload $1 (complete and the
-- purge of expired uploads wait for it) and locks its chunk $2, whose lock also orders two
-- PUTs of the same chunk; answers whether the upload is still open (not completed). No row
-- when the upload was purged or the chunk is gone.
-- returns: open
SELECT u.completed_at IS NULL AS open
FROM uploads u JOIN chunks c ON c.upload_id = u.id
WHERE u.id = $1 AND c.number = $2 AND u.purged_at IS NULL
FOR SHARE OF u FOR UPDATE OF c

-- unit: storage_http_stored
-- Records what storage computed for chunk $2 of upload $1: its size $3 and digests ($4 md5,
-- $5 sha1, $6 sha256, NULL when not computed), unless the chunk was registered again
-- meanwhile with another hash ($7) or size ($8); returns the chunk's number when recorded.
-- returns: number
UPDATE chunks SET stored_size = $3, stored_md5 = $4, stored_sha1 = $5, stored_sha256 = $6,
                  stored_at = now()
WHERE upload_id = $1 AND number = $2 AND hash_value = $7 AND size = $8
RETURNING number

-- unit: storage_http_load
-- GET /storage/{upload_id}: upload $1's storage container, etag and storage provider, on
-- each row of its chunks in number order (number, stored size, and whether it was never
-- stored); one row with NULL chunk columns when it has none, no row when it was purged or a
-- deleted file holds it.
-- returns: storage_container, etag, number, stored_size, never_stored, storage_provider
SELECT u.storage_container, u.etag, c.number, c.stored_size, c.stored_at IS NULL AS never_stored,
       u.storage_provider
FROM uploads u LEFT JOIN chunks c ON c.upload_id = u.id
WHERE u.id = $1 AND u.purged_at IS NULL
  AND NOT EXISTS (SELECT FROM file_versions v JOIN files f ON f.id = v.file_id
                  WHERE v.upload_id = u.id AND f.is_deleted)
ORDER BY c.number
