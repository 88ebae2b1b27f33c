-- The upload.complete job (jobs/upload_complete.c): the load of a batch's uploads and
-- chunks before the integrity check, the give-up of an upload, the uploads to reconcile.
-- Its verdicts are committed by upload_commit_run (sql/upload_commit.sql).

-- unit: upload_complete_load
-- Every upload of a batch with its chunks, a row per chunk (one row with null chunk columns
-- for an upload without any, and with null upload columns for an unknown upload), in the
-- order of the jobs: $1 their message ids and $2 their upload ids, as uuid arrays of the
-- same length; ord is a job's position (1..n). seen: this message already ran (a
-- redelivery: spares reading the bytes again; a "gave_up" row does not count, so a requeued
-- dead letter runs again); storage_provider: the provider that holds its bytes. The stored_*
-- columns are what storage computed of a chunk while storing it (stored_md5, stored_sha1,
-- stored_sha256 in the order of enum hash_alg).
-- Each table is reached through its index with the batch's ids (= ANY of the arrays): the
-- generic plan guesses the number of jobs, and with a guess larger than the batch it chose
-- to read a table whole (job_runs, uploads) while the table was small, and kept that plan as
-- the table grew (bench/notes.md "Plans that read a table whole").
-- returns: ord, id, size, completed, consistent, purged, storage_container, hash_algorithm, hash_value, seen, storage_provider, number, chunk_size, chunk_hash_value, chunk_hash_algorithm, stored_size, stored_md5, stored_sha1, stored_sha256, stored
SELECT j.ord, u.id::text AS id, u.size, u.completed_at IS NOT NULL AS completed,
       u.is_consistent AS consistent, u.purged_at IS NOT NULL AS purged,
       u.storage_container, u.completed_hash_algorithm AS hash_algorithm,
       u.completed_hash_value AS hash_value,
       j.mid IN (SELECT r.message_id FROM job_runs r
                 WHERE r.message_id = ANY ($1::uuid[]) AND r.outcome <> 'gave_up') AS seen,
       u.storage_provider, c.number, c.size AS chunk_size, c.hash_value AS chunk_hash_value,
       c.hash_algorithm AS chunk_hash_algorithm, c.stored_size, c.stored_md5, c.stored_sha1,
       c.stored_sha256, c.stored_at IS NOT NULL AS stored
FROM unnest($1::uuid[], $2::uuid[]) WITH ORDINALITY AS j(mid, rid, ord)
LEFT JOIN uploads u ON u.id = j.rid AND u.id = ANY ($2::uuid[])
LEFT JOIN chunks c ON c.upload_id = u.id AND c.upload_id = ANY ($2::uuid[])
ORDER BY j.ord, c.number

-- unit: upload_complete_give_up
-- Records on upload $1 that its job gave up after its last attempt, with message $2: once
-- (an upload already failed keeps its first error), and not on an upload already
-- consistent.
UPDATE uploads SET error_at = now(), error_message = $2
WHERE id = $1 AND error_at IS NULL AND NOT is_consistent

-- unit: upload_complete_pending
-- The completed uploads not consistent, without error nor purged, completed more than $1
-- seconds ago and without an unsent job row: reconcile enqueues their job again.
-- returns: id
SELECT u.id FROM uploads u WHERE u.completed_at IS NOT NULL
  AND NOT u.is_consistent AND u.error_at IS NULL AND u.purged_at IS NULL
  AND u.completed_at < now() - make_interval(secs => $1)
  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.resource_id = u.id)
