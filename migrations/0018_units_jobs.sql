-- The rules that the statements of the workers' purges share (sql/resource_delete.sql,
-- sql/housekeep.sql): the chunk numbers of an upload, its chunks' names in the store, and
-- the uploads a live file version uses (their bytes stay). Written in C macros before
-- (jobs/resource_delete.h).
--
-- As in 0011 and 0017: the function is LANGUAGE sql, STABLE, not STRICT, without SET
-- options, so that the planner inlines it into the calling statement; call it in a
-- sub-select's FROM, with no sub-select as an argument. The view is expanded into the
-- statement as any view.

-- The chunk numbers registered for upload, in order, as an array ('{}' for none): one row.
-- resource_delete_purge deletes the stored bytes of an upload by them, with no listing of
-- the store. Use as (SELECT n FROM settle_chunk_numbers(u.id) n)::text.
CREATE FUNCTION settle_chunk_numbers(upload uuid) RETURNS SETOF integer[]
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(array_agg(c.number ORDER BY c.number), '{}')
    FROM chunks c WHERE c.upload_id = settle_chunk_numbers.upload
$$;

-- The uploads that a live file version uses, one row per version: only an upload none
-- uses has its bytes purged with a deleted version or file (one upload may back several
-- versions of a file: POST /file_versions/{id}/current). Use as
-- NOT EXISTS (SELECT FROM settle_uploads_in_use uv WHERE uv.upload_id = u.id), which the
-- planner turns into an anti-join on file_versions_upload_id_idx.
CREATE VIEW settle_uploads_in_use AS
    SELECT uv.upload_id FROM file_versions uv WHERE NOT uv.is_deleted;
