-- The trash bin (docs/api.md "Trash bin"): a DELETE of a folder or file keeps its rows and bytes.
-- A row in the trash is is_deleted with purged_at NULL. The row the DELETE named (a trash
-- root) has deleted_with NULL; a row that the resource.delete job trashed with it (what
-- lay below a trashed folder) has deleted_with = the root's id, so that restoring or
-- purging an item takes along exactly what was trashed with it. purged_at is set when an
-- item is purged (PUT /trashbin/{kind}/{id}/purge, SETTLE_TRASH_TTL, or its project's
-- delete); the resource.delete job then purges the bytes of its files' uploads.

ALTER TABLE folders ADD COLUMN deleted_with uuid, ADD COLUMN purged_at timestamptz;
ALTER TABLE files ADD COLUMN deleted_with uuid, ADD COLUMN purged_at timestamptz;

-- Before this migration a delete purged the bytes at once: nothing deleted is in the trash.
UPDATE folders SET purged_at = COALESCE(deleted_at, now()) WHERE is_deleted;
UPDATE files SET purged_at = COALESCE(deleted_at, now()) WHERE is_deleted;

-- The trash of a project (its listings) and the trash roots past SETTLE_TRASH_TTL.
CREATE INDEX folders_trash_idx ON folders(project_id, deleted_at)
    WHERE is_deleted AND purged_at IS NULL;
CREATE INDEX files_trash_idx ON files(project_id, deleted_at)
    WHERE is_deleted AND purged_at IS NULL;
CREATE INDEX folders_trash_root_idx ON folders(deleted_at)
    WHERE is_deleted AND purged_at IS NULL AND deleted_with IS NULL;
CREATE INDEX files_trash_root_idx ON files(deleted_at)
    WHERE is_deleted AND purged_at IS NULL AND deleted_with IS NULL;
