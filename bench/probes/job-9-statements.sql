\set mid random(1, 1000000000)
SELECT 1 FROM job_runs WHERE message_id = md5(:mid::text)::uuid AND outcome <> 'gave_up';
SELECT id::text, size, completed_at IS NOT NULL, is_consistent, purged_at IS NOT NULL, storage_container, completed_hash_algorithm, completed_hash_value FROM uploads WHERE id = :up;
SELECT number, size, hash_value, hash_algorithm, stored_size, stored_md5, stored_sha1, stored_sha256, stored_at IS NOT NULL FROM chunks WHERE upload_id = :up ORDER BY number;
BEGIN;
INSERT INTO job_runs (message_id, kind, resource_id, attempt, outcome) VALUES (md5(:mid::text)::uuid, 'upload.complete', :up, 1, 'running') ON CONFLICT (message_id) DO UPDATE SET attempt = EXCLUDED.attempt;
UPDATE uploads SET is_consistent = true, consistent_at = now(), error_at = NULL, error_message = NULL WHERE id = :up AND NOT is_consistent AND purged_at IS NULL;
UPDATE job_runs SET outcome = 'consistent', finished_at = now() WHERE message_id = md5(:mid::text)::uuid;
SELECT pg_notify('settle_consistent', :up), pg_notify('settle_consistent', coalesce((SELECT project_id::text FROM uploads WHERE id = :up::uuid), :up));
COMMIT;
