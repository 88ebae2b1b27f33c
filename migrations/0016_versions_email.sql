-- File versions that reuse an upload, and users found by their email (issue 19 items 4, 5).
--
-- POST /file_versions/{id}/current promotes an older version: a new version of the same
-- file on the same upload, so one upload may back several versions. It still backs one
-- file only: the first version made of an upload (POST /files, PUT /files/{id}) is unique
-- per upload, a promoted one (promoted = true) repeats an upload of its own file.
ALTER TABLE file_versions ADD COLUMN IF NOT EXISTS promoted boolean NOT NULL DEFAULT false;
ALTER TABLE file_versions DROP CONSTRAINT IF EXISTS file_versions_upload_id_key;
CREATE UNIQUE INDEX IF NOT EXISTS file_versions_upload_first_idx ON file_versions(upload_id)
    WHERE NOT promoted;
CREATE INDEX IF NOT EXISTS file_versions_upload_id_idx ON file_versions(upload_id);

-- A user's email is set by the user (PUT /current_user) or the operator (settle user
-- create --email); GET /users?email= and the affiliates look it up exactly, and clients
-- take two answers for an error: one user per email. Nothing set emails before this
-- migration but SQL by hand: of users sharing one, all but the oldest lose it.
UPDATE users u SET email = NULL WHERE email IS NOT NULL AND EXISTS (
    SELECT 1 FROM users o WHERE o.email = u.email
    AND (o.created_at, o.id) < (u.created_at, u.id));
DROP INDEX IF EXISTS users_email_idx;
CREATE UNIQUE INDEX IF NOT EXISTS users_email_key ON users(email);
