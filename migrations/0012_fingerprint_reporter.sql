-- Who reported each whole-file hash of an upload (docs/api.md "Reported and verified hashes"):
-- the caller of PUT /uploads/{id}/hashes (the upload's creator or a project admin) or of
-- complete. A hash reported before complete binds complete only when the upload's creator
-- reported it; one a project admin reported on another user's upload gives way to the hash
-- given at complete, which the worker verifies. Rows from before this migration have none
-- (NULL: unknown), which binds nothing. Users are never deleted (only disabled), so the
-- foreign key needs no index for deletes.
ALTER TABLE fingerprints ADD COLUMN IF NOT EXISTS reported_by uuid REFERENCES users(id);
