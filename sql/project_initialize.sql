-- The project.initialize job (jobs/project_initialize.c): creates a project's storage
-- container and makes the project consistent.

-- unit: project_initialize_load
-- Locks project $1 and reads what the job needs of it; no row for an unknown project.
-- returns: storage_container, is_consistent, is_deleted
SELECT storage_container, is_consistent, is_deleted FROM projects WHERE id = $1 FOR UPDATE

-- unit: project_initialize_done
-- Project $1 is consistent, its container created; clears the error mark of an earlier
-- give-up (a dead letter requeued).
UPDATE projects SET is_consistent = true, error_at = NULL, error_message = NULL
WHERE id = $1 AND NOT is_consistent

-- unit: project_initialize_give_up
-- Records on project $1 that its job gave up after its last attempt, with message $2: once
-- (a project already failed keeps its first error), and not on a project already
-- consistent.
UPDATE projects SET error_at = now(), error_message = $2
WHERE id = $1 AND error_at IS NULL AND NOT is_consistent

-- unit: project_initialize_pending
-- The projects not consistent, without error nor deleted, created more than $1 seconds ago
-- and without an unsent job row: reconcile enqueues their job again.
-- returns: id
SELECT p.id FROM projects p WHERE NOT p.is_consistent AND p.error_at IS NULL
  AND NOT p.is_deleted AND p.created_at < now() - make_interval(secs => $1)
  AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.resource_id = p.id)
