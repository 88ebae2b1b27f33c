-- The dispatcher's statements (jobs/jobs.c): a job of a kind that runs in one transaction
-- (struct job_kind.run) recorded in job_runs, its waiters notified; a job given up.

-- unit: jobs_seen
-- Whether message $1 already ran with an effect: a row when job_runs records it with
-- another outcome than "gave_up" (a cheap pre-check; jobs_record stays the authority).
-- returns: seen
SELECT 1 AS seen FROM job_runs WHERE message_id = $1 AND outcome <> 'gave_up'

-- unit: jobs_record
-- The job_runs row of a run that starts: message $1, kind $2, resource $3, attempt $4,
-- outcome "running". A message runs once, but a "gave_up" row of the same message (a dead
-- letter requeued) is taken over. One row when recorded, none when the message already ran.
-- The same rule records a batch of upload.complete (upload_commit_run).
-- returns: message_id, resource_id
INSERT INTO job_runs (message_id, kind, resource_id, attempt, outcome)
VALUES ($1::uuid, $2, $3::uuid, $4::int, 'running')
ON CONFLICT (message_id) DO UPDATE SET attempt = EXCLUDED.attempt,
    outcome = EXCLUDED.outcome, finished_at = now()
    WHERE job_runs.outcome = 'gave_up'
RETURNING message_id, resource_id

-- unit: jobs_finish
-- The outcome $2 (a word) of message $1's run, which ends now.
UPDATE job_runs SET outcome = $2, finished_at = now() WHERE message_id = $1

-- unit: jobs_notify
-- Wakes the API requests waiting (Prefer: wait) for resource $1 and, for an upload, for its
-- project; delivered at COMMIT. The same rule ends upload_commit_run.
-- returns: notified, notified_project
SELECT pg_notify('settle_consistent', ($1)::text) AS notified,
       pg_notify('settle_consistent',
                 coalesce((SELECT project_id::text FROM uploads WHERE id = ($1)::uuid),
                          ($1)::text)) AS notified_project

-- unit: jobs_gave_up
-- The job_runs row of message $1 (kind $2, resource $3, attempt $4) that gave up after its
-- last attempt; none when the message has a row already.
INSERT INTO job_runs (message_id, kind, resource_id, attempt, outcome)
VALUES ($1, $2, $3, $4, 'gave_up') ON CONFLICT (message_id) DO NOTHING
