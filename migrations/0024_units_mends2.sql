-- The second round of the review's mends of issue 21 ("one home for each rule"), as 0023:
-- every function LANGUAGE sql, STABLE, not STRICT, so that the planner inlines it (called in
-- FROM, with no sub-select as an argument).

-- The projects a listing of user usr pages over: those usr sees (GET /projects, which
-- 'visible': settle_visible_projects of 0021/0023) or those of them with something in the
-- trash bin (GET /trashbin/projects, which 'trashed': settle_trashed_projects of 0021).
-- Called with which a constant, the planner keeps only that set's scans.
CREATE FUNCTION settle_projects_of(which text, usr uuid) RETURNS SETOF projects
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT p.* FROM settle_visible_projects(settle_projects_of.usr) p
    WHERE settle_projects_of.which = 'visible'
    UNION ALL
    SELECT p.* FROM settle_trashed_projects(settle_projects_of.usr) p
    WHERE settle_projects_of.which = 'trashed'
$$;

-- The number of projects of settle_projects_of(which, usr) (total) and the size of a page of
-- them (per): asked at most (settle_page_per, each project's text being its name and
-- description). One row.
CREATE FUNCTION settle_projects_total(which text, usr uuid, asked bigint)
RETURNS TABLE (total bigint, per bigint)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT count(*), settle_page_per(settle_projects_total.asked,
                                     max(octet_length(p.name) + octet_length(p.description)))
    FROM settle_projects_of(settle_projects_total.which, settle_projects_total.usr) p
$$;

-- Page pg (from 1) of settle_projects_of(which, usr), oldest first, pages as
-- settle_projects_total says: each project's columns as settle_project_row (0021) gives them,
-- the number of projects (total) and the page's size (per), then the page's order
-- (created_at, item: callers ORDER BY created_at, item, which the page is in already).
CREATE FUNCTION settle_projects_page(which text, usr uuid, asked bigint, pg bigint)
RETURNS TABLE (id uuid, name text, description text, is_deleted boolean,
               is_consistent boolean, audit text, slug text, total bigint, per bigint,
               created_at timestamptz, item uuid)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    WITH k AS (SELECT t.total, t.per
               FROM settle_projects_total(settle_projects_page.which, settle_projects_page.usr,
                                          settle_projects_page.asked) t)
    SELECT r.id, r.name, r.description, r.is_deleted, r.is_consistent, r.audit, r.slug,
           (SELECT total FROM k), (SELECT per FROM k), p.created_at, p.id
    FROM settle_projects_of(settle_projects_page.which, settle_projects_page.usr) p
    CROSS JOIN LATERAL settle_project_row(ROW(p.*)::projects) r
    ORDER BY p.created_at, p.id
    LIMIT (SELECT per FROM k) OFFSET (settle_projects_page.pg - 1) * (SELECT per FROM k)
$$;

-- The hashes of upload u as a statement answers them that has just written the fingerprint
-- of algorithm alg with value val (NULL: it wrote none), which its own snapshot of
-- fingerprints does not show: those recorded before for the other algorithms, with the one
-- written, by algorithm (settle_hash of 0022). PUT /uploads/{id}/complete and
-- PUT /uploads/{id}/hashes (sql/uploads_complete.sql). One row.
CREATE FUNCTION settle_hashes_with(u uploads, alg text, val text) RETURNS TABLE (hashes json)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(json_agg(settle_hash(u, h.algorithm, h.value) ORDER BY h.algorithm),
                    '[]'::json)
    FROM (SELECT f.algorithm, f.value FROM fingerprints f
          WHERE f.upload_id = u.id AND f.algorithm <> settle_hashes_with.alg
          UNION ALL
          SELECT settle_hashes_with.alg, settle_hashes_with.val
          WHERE settle_hashes_with.val IS NOT NULL) h
$$;
