-- Step two of the upload.complete job (jobs/upload_commit.c): a batch's verdicts, committed
-- in one statement.

-- unit: upload_commit_run
-- The whole effect of a batch of upload.complete jobs in one statement (one round trip, no
-- BEGIN/COMMIT). $1 is a JSON array of {mid, kind, rid, attempt, outcome, error, apply}, one
-- per job with distinct message ids. It records each message in job_runs, as jobs_record
-- does (or takes over a "gave_up" row), marks each upload whose message was recorded
-- consistent (with the error of a failed check) at the moment of the statement, notifies
-- the upload's and its project's waiters, as jobs_notify does (delivered at COMMIT), and
-- returns the message ids recorded. The uploads are reached through their index with the
-- batch's ids (= ANY), whatever the plan guesses of the batch (see upload_complete_load).
-- returns: message_id, notified, notified_project
WITH v AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS v(mid uuid, kind text, rid uuid,
                                                            attempt int, outcome text,
                                                            error text, apply boolean)),
rec AS (INSERT INTO job_runs (message_id, kind, resource_id, attempt, outcome)
        SELECT mid, kind, rid, attempt, outcome FROM v
        ON CONFLICT (message_id) DO UPDATE SET attempt = EXCLUDED.attempt,
            outcome = EXCLUDED.outcome, finished_at = now()
            WHERE job_runs.outcome = 'gave_up'
        RETURNING message_id, resource_id),
upd AS (UPDATE uploads u SET is_consistent = true, consistent_at = clock_timestamp(),
            error_at = CASE WHEN v.error IS NULL THEN NULL ELSE clock_timestamp() END,
            error_message = v.error
        FROM v JOIN rec ON rec.message_id = v.mid
        WHERE u.id = v.rid AND u.id = ANY (ARRAY(SELECT rid FROM v)) AND v.apply
          AND NOT u.is_consistent AND u.purged_at IS NULL
        RETURNING u.id, u.project_id)
SELECT rec.message_id::text AS message_id,
       pg_notify('settle_consistent', (rec.resource_id)::text) AS notified,
       pg_notify('settle_consistent',
                 coalesce((SELECT project_id::text FROM uploads
                           WHERE id = (rec.resource_id)::uuid),
                          (rec.resource_id)::text)) AS notified_project
FROM rec
