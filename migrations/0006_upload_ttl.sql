-- Uploads never completed are purged after SETTLE_UPLOAD_TTL seconds without activity by
-- the worker's housekeeping. Their last activity is the latest of the upload's created_at
-- and its chunks' created_at (set again when a chunk is registered again) and stored_at (the
-- storage PUT), so the upload flow writes nothing more for it. This index finds the
-- candidates (and the bytes `settle stats` counts) among the uploads still in progress
-- only: created_at never changes, and completed_at and purged_at change once each (the
-- former already outside HOT because of uploads_pending_idx).
CREATE INDEX uploads_incomplete_idx ON uploads(created_at)
    WHERE completed_at IS NULL AND purged_at IS NULL;
