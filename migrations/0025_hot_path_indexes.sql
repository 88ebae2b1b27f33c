-- Indexes: smaller where every upload writes them (issue 22), and one for every foreign key.
--
-- files.updated_by and files.deleted_by are NULL for every file until it is changed or
-- deleted, yet every INSERT wrote a NULL entry into both indexes. Partial indexes over the
-- non-NULL values serve all their readers, the foreign-key checks of a DELETE of a user
-- (`updated_by = $1` implies `IS NOT NULL`) included, and a new file writes neither.
DROP INDEX files_updated_by_idx;
CREATE INDEX files_updated_by_idx ON files (updated_by) WHERE updated_by IS NOT NULL;
DROP INDEX files_deleted_by_idx;
CREATE INDEX files_deleted_by_idx ON files (deleted_by) WHERE deleted_by IS NOT NULL;

-- message_log stays GIN-indexed for search by containment (payload @> '{...}'), with the
-- jsonb_path_ops class: one entry per path and value instead of one per key and per value,
-- so each message relayed writes about half the entries. It does not serve the key-exists
-- operators (?, ?|, ?&), which nothing of Settle's uses.
DROP INDEX message_log_payload_idx;
CREATE INDEX message_log_payload_idx ON message_log USING gin (payload jsonb_path_ops);

-- DESIGN's "every foreign key indexed" had six exceptions, from provenance (0013) and the
-- fingerprints' reporter: the DELETE of a user or a file version scanned these tables.
-- tests/integration/test_foundation.py checks every key from now on.
CREATE INDEX activities_updated_by_idx ON activities (updated_by) WHERE updated_by IS NOT NULL;
CREATE INDEX activities_deleted_by_idx ON activities (deleted_by) WHERE deleted_by IS NOT NULL;
CREATE INDEX fingerprints_reported_by_idx ON fingerprints (reported_by)
    WHERE reported_by IS NOT NULL;
CREATE INDEX prov_relations_version_idx ON prov_relations (version_id);
CREATE INDEX prov_relations_created_by_idx ON prov_relations (created_by);
CREATE INDEX prov_relations_deleted_by_idx ON prov_relations (deleted_by)
    WHERE deleted_by IS NOT NULL;
