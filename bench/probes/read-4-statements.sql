SELECT project_id FROM files WHERE id = :fid AND NOT is_deleted;
SELECT p.storage_container, p.is_consistent, p.is_deleted, p.error_at IS NOT NULL, m.user_id IS NOT NULL FROM projects p LEFT JOIN project_members m ON m.project_id = p.id AND m.user_id = :uid WHERE p.id = :pid;
SELECT upload_id FROM file_versions WHERE file_id = :fid AND NOT is_deleted ORDER BY version DESC LIMIT 1;
SELECT is_consistent, error_at IS NOT NULL, error_message, purged_at IS NOT NULL FROM uploads WHERE id = :upid;
