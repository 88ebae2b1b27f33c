-- The rules that the statements of the upload flow (sql/uploads*.sql, sql/storage_http.sql)
-- and of the trash bin (sql/trashbin.sql) write more than once: an upload's chunk list and
-- one of its hashes, the limits on chunks, and what a trash listing holds. As in 0011 and
-- 0017: LANGUAGE sql, not STRICT, without SET options, never SECURITY DEFINER, so that the
-- planner inlines each into the calling statement (a scalar one is a single expression
-- without sub-selects; call a set-returning one in FROM, or in a sub-select's FROM, and pass
-- it no sub-select as an argument).

-- The chunk list [{number, size, hash {value, algorithm}}] of upload, in number order, as
-- JSON: one row, NULL when the upload has no chunk (callers COALESCE it to '[]', so that the
-- inlined sub-select is the aggregate itself).
CREATE FUNCTION settle_chunks(upload uuid) RETURNS SETOF json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_agg(json_build_object('number', c.number, 'size', c.size,
                                      'hash', json_build_object('value', c.hash_value,
                                                                'algorithm', c.hash_algorithm))
                    ORDER BY c.number)
    FROM chunks c WHERE c.upload_id = settle_chunks.upload
$$;

-- The hash {algorithm, value, verified} of upload u, as settle_hashes (0017) makes each, for
-- a statement that answers a fingerprint it has just written (which its own snapshot does
-- not show): verified when it is the whole-file hash given at complete and the worker found
-- the stored bytes to match. Pass a row whose type is not uploads (a CTE's, a sub-select's)
-- as u::uploads: its columns then reach the planner one by one.
CREATE FUNCTION settle_hash(u uploads, algorithm text, value text) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object('algorithm', settle_hash.algorithm, 'value', settle_hash.value,
                             'verified', u.is_consistent AND u.error_at IS NULL
                                         AND settle_hash.algorithm = u.completed_hash_algorithm
                                         AND lower(settle_hash.value)
                                             = lower(u.completed_hash_value))
$$;

-- API.md "Limits on input" for chunks, which chunk registration (PUT /uploads/{id}/chunks)
-- and the storage PUT both check. The highest chunk number an upload of size bytes needs at
-- chunks of at least min_size bytes (0 counts as 1; one chunk at least).
CREATE FUNCTION settle_chunk_max_number(size bigint, min_size bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT greatest(1, ceil(settle_chunk_max_number.size::numeric
                            / greatest(settle_chunk_max_number.min_size, 1)))::bigint
$$;

-- The bytes left for chunk number of upload (of size bytes) by the sizes registered for its
-- other numbers (a number registered again replaces its chunk): one row. Registration runs
-- under a share lock of the upload, so concurrent ones may overshoot the room together: the
-- storage PUT checks it again.
CREATE FUNCTION settle_chunk_room(upload uuid, size bigint, number integer) RETURNS SETOF bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT (settle_chunk_room.size - coalesce(sum(lc.size), 0))::bigint
    FROM chunks lc
    WHERE lc.upload_id = settle_chunk_room.upload AND lc.number <> settle_chunk_room.number
$$;

-- The name filter of the trash listings (docs/api.md "Trash bin"): pattern is name_contains
-- as the ILIKE pattern '%...%' with \, % and _ escaped by '\' (api/trashbin.c). NULL (no
-- name_contains) matches every name; '%%' (an empty one) none, as in DDS.
CREATE FUNCTION settle_name_contains(name text, pattern text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT settle_name_contains.pattern IS NULL
        OR (settle_name_contains.pattern <> '%%'
            AND settle_name_contains.name ILIKE settle_name_contains.pattern ESCAPE '\')
$$;

-- What the trash listings hold (docs/api.md "Trash bin"), as (kind, id, name, deleted_at),
-- kind 'dds-folder' or 'dds-file', their names filtered by settle_name_contains. At a
-- project: its trash roots (the items a DELETE named, wherever they lay), or every item in
-- its trash.
CREATE FUNCTION settle_trash_roots(project uuid, pattern text)
RETURNS TABLE (kind text, id uuid, name text, deleted_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT 'dds-folder', t.id, t.name, t.deleted_at FROM folders t
    WHERE t.project_id = settle_trash_roots.project
      AND settle_trash_root(t.is_deleted, t.purged_at, t.deleted_with)
      AND settle_name_contains(t.name, settle_trash_roots.pattern)
    UNION ALL
    SELECT 'dds-file', t.id, t.name, t.deleted_at FROM files t
    WHERE t.project_id = settle_trash_roots.project
      AND settle_trash_root(t.is_deleted, t.purged_at, t.deleted_with)
      AND settle_name_contains(t.name, settle_trash_roots.pattern)
$$;

CREATE FUNCTION settle_trash_of_project(project uuid, pattern text)
RETURNS TABLE (kind text, id uuid, name text, deleted_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT 'dds-folder', t.id, t.name, t.deleted_at FROM folders t
    WHERE t.project_id = settle_trash_of_project.project
      AND settle_in_trash(t.is_deleted, t.purged_at)
      AND settle_name_contains(t.name, settle_trash_of_project.pattern)
    UNION ALL
    SELECT 'dds-file', t.id, t.name, t.deleted_at FROM files t
    WHERE t.project_id = settle_trash_of_project.project
      AND settle_in_trash(t.is_deleted, t.purged_at)
      AND settle_name_contains(t.name, settle_trash_of_project.pattern)
$$;

-- At a folder: what was trashed with it (its trash group: the trash root it went with) and
-- lies directly in it, or anywhere below it (one walk down, settle_folder_subtree of 0011).
-- Nothing at a live folder.
CREATE FUNCTION settle_trash_in_folder(folder uuid, pattern text)
RETURNS TABLE (kind text, id uuid, name text, deleted_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    WITH grp AS (SELECT COALESCE(g.deleted_with, g.id) AS id FROM folders g
                 WHERE g.id = settle_trash_in_folder.folder
                   AND settle_in_trash(g.is_deleted, g.purged_at))
    SELECT 'dds-folder', t.id, t.name, t.deleted_at FROM folders t, grp
    WHERE t.parent_id = settle_trash_in_folder.folder
      AND settle_in_trash(t.is_deleted, t.purged_at) AND t.deleted_with = grp.id
      AND settle_name_contains(t.name, settle_trash_in_folder.pattern)
    UNION ALL
    SELECT 'dds-file', t.id, t.name, t.deleted_at FROM files t, grp
    WHERE t.parent_id = settle_trash_in_folder.folder
      AND settle_in_trash(t.is_deleted, t.purged_at) AND t.deleted_with = grp.id
      AND settle_name_contains(t.name, settle_trash_in_folder.pattern)
$$;

CREATE FUNCTION settle_trash_below_folder(folder uuid, pattern text)
RETURNS TABLE (kind text, id uuid, name text, deleted_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    WITH grp AS (SELECT COALESCE(g.deleted_with, g.id) AS id FROM folders g
                 WHERE g.id = settle_trash_below_folder.folder
                   AND settle_in_trash(g.is_deleted, g.purged_at)),
         sub AS (SELECT s.id FROM settle_folder_subtree(ARRAY[settle_trash_below_folder.folder],
                                                         false) s)
    SELECT 'dds-folder', t.id, t.name, t.deleted_at FROM folders t, grp
    WHERE t.id IN (SELECT id FROM sub) AND t.id <> settle_trash_below_folder.folder
      AND settle_in_trash(t.is_deleted, t.purged_at) AND t.deleted_with = grp.id
      AND settle_name_contains(t.name, settle_trash_below_folder.pattern)
    UNION ALL
    SELECT 'dds-file', t.id, t.name, t.deleted_at FROM files t, grp
    WHERE t.parent_id IN (SELECT id FROM sub)
      AND settle_in_trash(t.is_deleted, t.purged_at) AND t.deleted_with = grp.id
      AND settle_name_contains(t.name, settle_trash_below_folder.pattern)
$$;

