-- What a worker does besides jobs (jobs/housekeep.c): reconcile's lock, the Idempotency-Keys
-- forgotten, the expired uploads and the trash past its TTL purged.

-- unit: housekeep_lock
-- The transaction-scoped advisory lock that keeps two workers from reconciling at the same
-- moment: locked, true when this transaction holds it now, false when another does.
-- returns: locked
SELECT pg_try_advisory_xact_lock(7450213) AS locked

-- unit: housekeep_forget_keys
-- Forgets the Idempotency-Keys older than 24 hours.
DELETE FROM idempotency_keys WHERE created_at < now() - interval '24 hours'

-- unit: housekeep_expired_lock
-- Locks up to $1 expired uploads, the oldest first, skipping any that a chunk registration,
-- storage PUT or complete in flight holds (or another worker purging it): ids, their ids as
-- a Postgres array text. Expired, after $2 seconds (the same rule as
-- housekeep_expired_uploads): not completed, not purged, and no activity since: not
-- created, no chunk registered (chunks.created_at) nor stored (stored_at).
-- returns: ids
SELECT coalesce(array_agg(id), '{}')::text AS ids
FROM (SELECT u.id FROM uploads u
      WHERE u.completed_at IS NULL AND u.purged_at IS NULL
        AND u.created_at < now() - make_interval(secs => $2)
        AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.upload_id = u.id
                        AND greatest(c.created_at, c.stored_at)
                            >= now() - make_interval(secs => $2))
      ORDER BY u.created_at LIMIT $1 FOR NO KEY UPDATE OF u SKIP LOCKED) x

-- unit: housekeep_expired_uploads
-- Of the uploads $1 (a uuid array) that housekeep_expired_lock locked, those still expired
-- after $2 seconds (its rule, read again with a fresh snapshot, so that an activity
-- committed between that statement's snapshot and its lock spares the upload), to purge.
-- returns: id, storage_container, chunks
SELECT u.id::text AS id, u.storage_container,
       (SELECT n FROM settle_chunk_numbers(u.id) n)::text AS chunks
FROM uploads u
WHERE u.id = ANY($1::uuid[])
  AND u.completed_at IS NULL AND u.purged_at IS NULL
  AND u.created_at < now() - make_interval(secs => $2)
  AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.upload_id = u.id
                  AND greatest(c.created_at, c.stored_at) >= now() - make_interval(secs => $2))
ORDER BY u.id

-- unit: housekeep_trash_folders
-- Purges up to $2 of the folders that are trash roots (settle_trash_root) deleted more than
-- $1 seconds ago, the oldest first, skipping rows a restore or purge holds: sets purged_at
-- and returns their id. The resource.delete job queued for each then purges what was
-- trashed with it and the bytes: the one way out of the trash.
-- returns: id
UPDATE folders tp SET purged_at = now()
WHERE tp.id IN (SELECT t.id FROM folders t
                WHERE settle_trash_root(t.is_deleted, t.purged_at, t.deleted_with)
                  AND t.deleted_at < now() - make_interval(secs => $1)
                ORDER BY t.deleted_at LIMIT $2 FOR UPDATE SKIP LOCKED)
  AND settle_in_trash(tp.is_deleted, tp.purged_at)
RETURNING tp.id

-- unit: housekeep_trash_files
-- housekeep_trash_folders of the files.
-- returns: id
UPDATE files tp SET purged_at = now()
WHERE tp.id IN (SELECT t.id FROM files t
                WHERE settle_trash_root(t.is_deleted, t.purged_at, t.deleted_with)
                  AND t.deleted_at < now() - make_interval(secs => $1)
                ORDER BY t.deleted_at LIMIT $2 FOR UPDATE SKIP LOCKED)
  AND settle_in_trash(tp.is_deleted, tp.purged_at)
RETURNING tp.id
