-- The statements of cli/ops.c: settle stats and settle message-log drain.

-- unit: cli_ops_stats
-- settle stats: resource states and backlogs, each column printed as "name value" by its
-- name. oldest_pending_seconds: the age of the oldest project or completed upload still
-- waiting for its worker (0: none).
-- returns: projects_pending, projects_consistent, projects_failed, uploads_pending, uploads_consistent, uploads_failed, uploads_incomplete, uploads_incomplete_bytes, oldest_pending_seconds, outbox_backlog, jobs_run
SELECT
    (SELECT count(*) FROM projects WHERE NOT is_deleted AND NOT is_consistent
                                     AND error_at IS NULL) AS projects_pending,
    (SELECT count(*) FROM projects WHERE NOT is_deleted AND is_consistent) AS projects_consistent,
    (SELECT count(*) FROM projects WHERE error_at IS NOT NULL) AS projects_failed,
    (SELECT count(*) FROM uploads WHERE completed_at IS NOT NULL AND NOT is_consistent
                                    AND error_at IS NULL) AS uploads_pending,
    (SELECT count(*) FROM uploads WHERE is_consistent AND error_at IS NULL)
        AS uploads_consistent,
    (SELECT count(*) FROM uploads WHERE error_at IS NOT NULL) AS uploads_failed,
    (SELECT count(*) FROM uploads WHERE completed_at IS NULL AND purged_at IS NULL)
        AS uploads_incomplete,
    (SELECT coalesce(sum((SELECT sum(c.stored_size) FROM chunks c WHERE c.upload_id = u.id)), 0)
     FROM uploads u WHERE u.completed_at IS NULL AND u.purged_at IS NULL)
        AS uploads_incomplete_bytes,
    (SELECT coalesce(extract(epoch FROM now() - min(t))::bigint, 0) FROM (
        SELECT min(created_at) t FROM projects WHERE NOT is_consistent AND NOT is_deleted
                                                 AND error_at IS NULL
        UNION ALL SELECT min(completed_at) FROM uploads WHERE completed_at IS NOT NULL
                                                          AND NOT is_consistent
                                                          AND error_at IS NULL) s)
        AS oldest_pending_seconds,
    (SELECT count(*) FROM outbox) AS outbox_backlog,
    (SELECT count(*) FROM job_runs) AS jobs_run

-- unit: cli_ops_log_insert
-- settle message-log drain: one message of settle.message_log, $1 its message id ('' when it
-- had none), $2 its routing key, $3 its body (JSON).
INSERT INTO message_log(message_id, routing_key, payload) VALUES (nullif($1, ''), $2, $3::jsonb)
