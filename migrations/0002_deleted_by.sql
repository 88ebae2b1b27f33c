-- Who deleted a project, folder or file (the audit's deleted_by), and the index behind the
-- project list (the caller's projects ordered by created_at, id).

ALTER TABLE projects ADD COLUMN deleted_by uuid REFERENCES users(id);
ALTER TABLE folders ADD COLUMN deleted_by uuid REFERENCES users(id);
ALTER TABLE files ADD COLUMN deleted_by uuid REFERENCES users(id);
CREATE INDEX projects_deleted_by_idx ON projects(deleted_by);
CREATE INDEX folders_deleted_by_idx ON folders(deleted_by);
CREATE INDEX files_deleted_by_idx ON files(deleted_by);
CREATE INDEX projects_created_at_idx ON projects(created_at, id) WHERE NOT is_deleted;
