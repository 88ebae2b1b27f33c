-- The mends of the review of issue 21 ("one home for each rule"): rules that sql/*.sql still
-- wrote out more than once after migrations 0017-0022. As there: every function is LANGUAGE
-- sql, not STRICT, without SET options, never SECURITY DEFINER, so that the planner inlines
-- it into the calling statement (call a set-returning one in FROM, and pass it no sub-select
-- as an argument: use a lateral column).

-- The columns of upload u, created by user s, as every statement that answers an upload
-- selects them (api/uploads.c uploads_row_json reads them in this order): id, name,
-- content_type, size, etag, project_id, created_on, ready_for_chunks, completed_on,
-- is_consistent, purged_on, error_on, error_message, chunks (settle_chunks), hashes
-- (settle_hashes), created_by (settle_user_obj of s) and storage_provider. One row, also for
-- NULL rows (what a statement answers when it has no upload). A statement that answers what
-- it has just written (which its own snapshot does not show) takes the other columns from
-- here and makes chunks or hashes itself: a column it does not select costs nothing. Pass a
-- table's row as ROW(u.*)::uploads, a sub-select's or a CTE's as u::uploads, and the
-- creator's as ROW(s.*)::users (s joined or left joined on u.created_by), so that their
-- fields reach the planner one by one.
CREATE FUNCTION settle_upload_row(u uploads, s users)
RETURNS TABLE (id uuid, name text, content_type text, size bigint, etag text, project_id uuid,
               created_on text, ready_for_chunks boolean, completed_on text,
               is_consistent boolean, purged_on text, error_on text, error_message text,
               chunks json, hashes json, created_by text, storage_provider text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT u.id, u.name, u.content_type, u.size, u.etag, u.project_id, settle_ts(u.created_at),
           u.completed_at IS NULL AND u.purged_at IS NULL, settle_ts(u.completed_at),
           u.is_consistent, settle_ts(u.purged_at), settle_ts(u.error_at), u.error_message,
           coalesce((SELECT c FROM settle_chunks(u.id) c), '[]'),
           (SELECT h FROM settle_hashes(u) h),
           settle_user_obj(s)::text, u.storage_provider
$$;

-- A page of a trash listing (docs/api.md "Trash bin"; sql/trashbin.sql): the items of one of
-- the settle_trash_* sets of migration 0022, the one which names ('roots':
-- settle_trash_roots, 'project': settle_trash_of_project, 'folder': settle_trash_in_folder,
-- 'below': settle_trash_below_folder), at target (a project or folder), whose names match
-- pattern, most recently deleted first, lim of them from offset off: each item's kind, its
-- columns as settle_child_row (0021) gives them, the number of items of the set (total),
-- then the page's order, deleted_at and item (the item's id as the page has it, so that
-- callers' ORDER BY deleted_at DESC, item finds the rows in that order already and sorts
-- nothing). Call it with which a constant: the planner then keeps only that set's scans (the
-- other sets are constant-false and planned away).
CREATE FUNCTION settle_trash_page(which text, target uuid, pattern text, lim bigint,
                                  off bigint)
RETURNS TABLE (kind text, id uuid, name text, project_id uuid, parent_id uuid,
               is_deleted boolean, audit text, ancestors text, project_name text,
               current_version text, total bigint, deleted_at timestamptz, item uuid)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg.kind, x.id, x.name, x.project_id, x.parent_id, x.is_deleted, x.audit,
           x.ancestors, x.project_name, x.current_version, pg.total, pg.deleted_at, pg.id
    FROM (SELECT i.kind, i.id, i.deleted_at, count(*) OVER () AS total
          FROM (SELECT s.kind, s.id, s.deleted_at
                FROM settle_trash_roots(settle_trash_page.target, settle_trash_page.pattern) s
                WHERE settle_trash_page.which = 'roots'
                UNION ALL
                SELECT s.kind, s.id, s.deleted_at
                FROM settle_trash_of_project(settle_trash_page.target,
                                             settle_trash_page.pattern) s
                WHERE settle_trash_page.which = 'project'
                UNION ALL
                SELECT s.kind, s.id, s.deleted_at
                FROM settle_trash_in_folder(settle_trash_page.target,
                                            settle_trash_page.pattern) s
                WHERE settle_trash_page.which = 'folder'
                UNION ALL
                SELECT s.kind, s.id, s.deleted_at
                FROM settle_trash_below_folder(settle_trash_page.target,
                                               settle_trash_page.pattern) s
                WHERE settle_trash_page.which = 'below') i
          ORDER BY i.deleted_at DESC, i.id
          LIMIT settle_trash_page.lim OFFSET settle_trash_page.off) pg
    CROSS JOIN LATERAL settle_child_row(pg.kind, pg.id) x
$$;

-- settle_visible_projects (0021) as it was, but with settle_can joined instead of asked with
-- EXISTS: an EXISTS whose function takes a column of the row it tests stays a sub-plan run
-- for each project, which probed project_members a second time for the member row the
-- join had found already. Joined, settle_can's own member row is the join (as
-- settle_sees_version of 0020 does it); it gives one row at most (project_members' key is
-- project_id, user_id; auth_roles' is id), so no project comes twice. settle_trashed_projects
-- and the units of sql/projects.sql that call it are unchanged.
CREATE OR REPLACE FUNCTION settle_visible_projects(usr uuid) RETURNS SETOF projects
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT p.* FROM projects p
    CROSS JOIN LATERAL settle_can(settle_visible_projects.usr, p.id, 'view_project') c
    WHERE NOT p.is_deleted
$$;

-- A page of children (sql/children.sql), as settle_trash_page for the listings of what lies
-- in a project or folder: the items of settle_children_at_project ('project'),
-- settle_matches_at_project ('project_deep'), settle_children_at_folder ('folder') or
-- settle_matches_at_folder ('folder_deep') of target (pattern: the name pattern of the
-- _deep ones, NULL for the others), folders first then files, each by name and id, lim of
-- them from offset off: each item's kind, its columns as settle_child_row gives them, the
-- number of items (total), then the page's order, item_name and item (the item's name and
-- id as the page has them: callers ORDER BY kind DESC, item_name, item). Call it with which
-- a constant.
CREATE FUNCTION settle_children_page(which text, target uuid, pattern text, lim bigint,
                                     off bigint)
RETURNS TABLE (kind text, id uuid, name text, project_id uuid, parent_id uuid,
               is_deleted boolean, audit text, ancestors text, project_name text,
               current_version text, total bigint, item_name text, item uuid)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT pg.kind, x.id, x.name, x.project_id, x.parent_id, x.is_deleted, x.audit,
           x.ancestors, x.project_name, x.current_version, pg.total, pg.name, pg.id
    FROM (SELECT c.kind, c.id, c.name, count(*) OVER () AS total
          FROM (SELECT s.kind, s.id, s.name
                FROM settle_children_at_project(settle_children_page.target) s
                WHERE settle_children_page.which = 'project'
                UNION ALL
                SELECT s.kind, s.id, s.name
                FROM settle_matches_at_project(settle_children_page.target,
                                               settle_children_page.pattern) s
                WHERE settle_children_page.which = 'project_deep'
                UNION ALL
                SELECT s.kind, s.id, s.name
                FROM settle_children_at_folder(settle_children_page.target) s
                WHERE settle_children_page.which = 'folder'
                UNION ALL
                SELECT s.kind, s.id, s.name
                FROM settle_matches_at_folder(settle_children_page.target,
                                              settle_children_page.pattern) s
                WHERE settle_children_page.which = 'folder_deep') c
          ORDER BY c.kind DESC, c.name, c.id
          LIMIT settle_children_page.lim OFFSET settle_children_page.off) pg
    CROSS JOIN LATERAL settle_child_row(pg.kind, pg.id) x
$$;
