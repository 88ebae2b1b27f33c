-- The rules that the statements of sql/projects.sql, folders.sql, children.sql, moves.sql,
-- files.sql and versions.sql share beyond those of migration 0017: which folders and
-- versions are live, which projects a user sees, what lies in a project or folder, a page's
-- size, and the columns of a project, folder, file and file version made from one row of
-- its table.
--
-- As in 0011 and 0017: every function here is LANGUAGE sql, not STRICT, without SET options,
-- so that the planner inlines it into the calling statement. Call a set-returning one in
-- FROM, never with a sub-select as an argument (use a lateral column).

-- The project of folder, one row, when the folder and every folder above it are live; none
-- otherwise (a deleted folder hides what lies below it). The walk is settle_folder_ancestors.
CREATE FUNCTION settle_live_folder(folder uuid) RETURNS TABLE (project_id uuid)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT f.project_id FROM folders f WHERE f.id = settle_live_folder.folder
      AND NOT EXISTS (SELECT FROM settle_folder_ancestors(settle_live_folder.folder) up
                      WHERE up.is_deleted)
$$;

-- The project of version, one row, when the version and its file are live; none otherwise:
-- a deleted version is gone for every change (DDS's hide_logically_deleted).
CREATE FUNCTION settle_live_version(version uuid) RETURNS TABLE (project_id uuid)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT f.project_id FROM file_versions v JOIN files f ON f.id = v.file_id
    WHERE v.id = settle_live_version.version AND NOT v.is_deleted AND NOT f.is_deleted
$$;

-- The live projects on which usr holds a role that lets them see it (GET /projects).
CREATE FUNCTION settle_visible_projects(usr uuid) RETURNS SETOF projects
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT p.* FROM projects p JOIN project_members m ON m.project_id = p.id
    WHERE m.user_id = settle_visible_projects.usr AND NOT p.is_deleted
      AND EXISTS (SELECT FROM settle_can(settle_visible_projects.usr, p.id, 'view_project'))
$$;

-- The settle_visible_projects of usr that have an item in the trash bin, a trash root
-- (docs/api.md "Trash bin"; GET /trashbin/projects).
CREATE FUNCTION settle_trashed_projects(usr uuid) RETURNS SETOF projects
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT p.* FROM settle_visible_projects(settle_trashed_projects.usr) p
    WHERE EXISTS (SELECT FROM folders t WHERE t.project_id = p.id
                  AND settle_trash_root(t.is_deleted, t.purged_at, t.deleted_with))
       OR EXISTS (SELECT FROM files t WHERE t.project_id = p.id
                  AND settle_trash_root(t.is_deleted, t.purged_at, t.deleted_with))
$$;

-- The size of every page of a collection whose items hold free text (docs/api.md "Limits on
-- input"): per_page, the size asked for, lowered so that per_page of its largest items fit
-- 2 MiB (api/http.h HTTP_MAX_PAGE_BYTES), each item counted as its text (max_bytes: the
-- largest item's bytes, NULL for none) and 1 KiB more (HTTP_PAGE_ITEM_BYTES); at least 1.
-- It depends on the collection alone, so that every page of a walk has the same size.
CREATE FUNCTION settle_page_per(per_page bigint, max_bytes bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT least(per_page, greatest(1, 2097152 / (coalesce(max_bytes, 0) + 1024))) $$;

-- What lies in a project or folder, as (kind, id, name), kind being 'dds-folder' or
-- 'dds-file': the live folders and files at the root of project (settle_children_at_project)
-- or in folder (settle_children_at_folder).
CREATE FUNCTION settle_children_at_project(project uuid)
RETURNS TABLE (kind text, id uuid, name text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT 'dds-folder', f.id, f.name FROM folders f
    WHERE f.project_id = settle_children_at_project.project AND f.parent_id IS NULL
      AND NOT f.is_deleted
    UNION ALL
    SELECT 'dds-file', f.id, f.name FROM files f
    WHERE f.project_id = settle_children_at_project.project AND f.parent_id IS NULL
      AND NOT f.is_deleted
$$;

CREATE FUNCTION settle_children_at_folder(folder uuid)
RETURNS TABLE (kind text, id uuid, name text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT 'dds-folder', f.id, f.name FROM folders f
    WHERE f.parent_id = settle_children_at_folder.folder AND NOT f.is_deleted
    UNION ALL
    SELECT 'dds-file', f.id, f.name FROM files f
    WHERE f.parent_id = settle_children_at_folder.folder AND NOT f.is_deleted
$$;

-- Every live folder and file below the root of project (settle_matches_at_project) or below
-- folder (settle_matches_at_folder), at any depth, whose name matches pattern (ILIKE, escaped
-- with \), as settle_children_at_*: the live folders there and below them (the walk is
-- settle_folder_subtree, from the folders there given as a lateral column), and the live
-- files there or in one of them.
CREATE FUNCTION settle_matches_at_project(project uuid, pattern text)
RETURNS TABLE (kind text, id uuid, name text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    WITH tree(id) AS (
        SELECT s.id FROM (SELECT array_agg(f.id) FROM folders f
                          WHERE f.project_id = settle_matches_at_project.project
                            AND f.parent_id IS NULL) r(roots),
                         settle_folder_subtree(r.roots, true) s)
    SELECT 'dds-folder', f.id, f.name FROM folders f
    WHERE f.id IN (SELECT tree.id FROM tree)
      AND f.name ILIKE settle_matches_at_project.pattern ESCAPE '\'
    UNION ALL
    SELECT 'dds-file', f.id, f.name FROM files f
    WHERE NOT f.is_deleted AND f.name ILIKE settle_matches_at_project.pattern ESCAPE '\'
      AND ((f.project_id = settle_matches_at_project.project AND f.parent_id IS NULL)
           OR f.parent_id IN (SELECT tree.id FROM tree))
$$;

CREATE FUNCTION settle_matches_at_folder(folder uuid, pattern text)
RETURNS TABLE (kind text, id uuid, name text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    WITH tree(id) AS (
        SELECT s.id FROM (SELECT array_agg(f.id) FROM folders f
                          WHERE f.parent_id = settle_matches_at_folder.folder) r(roots),
                         settle_folder_subtree(r.roots, true) s)
    SELECT 'dds-folder', f.id, f.name FROM folders f
    WHERE f.id IN (SELECT tree.id FROM tree)
      AND f.name ILIKE settle_matches_at_folder.pattern ESCAPE '\'
    UNION ALL
    SELECT 'dds-file', f.id, f.name FROM files f
    WHERE NOT f.is_deleted AND f.name ILIKE settle_matches_at_folder.pattern ESCAPE '\'
      AND (f.parent_id = settle_matches_at_folder.folder
           OR f.parent_id IN (SELECT tree.id FROM tree))
$$;

-- The columns of item, a folder or file of kind 'dds-folder' or 'dds-file' (an item of
-- settle_children_at_*), as api/views.c reads them: those of settle_file_view, a folder's
-- current_version NULL. One row.
CREATE FUNCTION settle_child_row(kind text, item uuid)
RETURNS TABLE (id uuid, name text, project_id uuid, parent_id uuid, is_deleted boolean,
               audit text, ancestors text, project_name text, current_version text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT x.id, x.name, x.project_id, x.parent_id, x.is_deleted, x.audit, x.ancestors,
           x.project_name, NULL::text
    FROM settle_folder_view x
    WHERE settle_child_row.kind = 'dds-folder' AND x.id = settle_child_row.item
    UNION ALL
    SELECT x.id, x.name, x.project_id, x.parent_id, x.is_deleted, x.audit, x.ancestors,
           x.project_name, x.current_version
    FROM settle_file_view x
    WHERE settle_child_row.kind = 'dds-file' AND x.id = settle_child_row.item
$$;

-- The live files of project with their current upload (highest live version): those at
-- the root, and those in live folders whose every folder above is live
-- (GET /projects/{id}/files).
CREATE FUNCTION settle_live_files(project uuid)
RETURNS TABLE (id uuid, name text, project_id uuid, parent_id uuid, created_at timestamptz,
               upload_id uuid)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    WITH tree(id) AS (
        SELECT s.id FROM (SELECT array_agg(f.id) FROM folders f
                          WHERE f.project_id = settle_live_files.project
                            AND f.parent_id IS NULL) r(roots),
                         settle_folder_subtree(r.roots, true) s)
    SELECT f.id, f.name, f.project_id, f.parent_id, f.created_at, cv.upload_id
    FROM files f CROSS JOIN LATERAL (SELECT v.upload_id FROM file_versions v
                                     WHERE v.file_id = f.id AND NOT v.is_deleted
                                     ORDER BY v.version DESC LIMIT 1) cv
    WHERE f.project_id = settle_live_files.project AND NOT f.is_deleted
      AND (f.parent_id IS NULL OR f.parent_id IN (SELECT tree.id FROM tree))
$$;

-- The columns of a project, folder, file and file version (those of the settle_*_view
-- views, in their order) made from one row p, f or v of its table: for a statement that
-- answers a row it wrote (its final SELECT does not see what its CTEs write), or that
-- orders by a column the view does not have. Pass ROW(t.*)::<table>, t being a table's
-- alias or a CTE with the table's columns (a RETURNING *): its fields then stay plain
-- columns (a table's alias passed as it is would be made into a whole row value for each
-- row). One row each (settle_file_version_row: none without the version's upload).
CREATE FUNCTION settle_project_row(p projects)
RETURNS TABLE (id uuid, name text, description text, is_deleted boolean, is_consistent boolean,
               audit text, slug text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT p.id, p.name, p.description, p.is_deleted, p.is_consistent,
           (SELECT a FROM settle_audit(p.created_at, p.created_by, p.updated_at, p.updated_by,
                                       p.deleted_at, p.deleted_by) a),
           settle_slug(p.name)
$$;

CREATE FUNCTION settle_folder_row(f folders)
RETURNS TABLE (id uuid, name text, project_id uuid, parent_id uuid, is_deleted boolean,
               audit text, ancestors text, project_name text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT f.id, f.name, f.project_id, f.parent_id, f.is_deleted,
           (SELECT a FROM settle_audit(f.created_at, f.created_by, f.updated_at, f.updated_by,
                                       f.deleted_at, f.deleted_by) a),
           (SELECT a FROM settle_ancestors(f.project_id, f.parent_id) a),
           (SELECT vp.name FROM projects vp WHERE vp.id = f.project_id)
$$;

CREATE FUNCTION settle_file_row(f files)
RETURNS TABLE (id uuid, name text, project_id uuid, parent_id uuid, is_deleted boolean,
               audit text, ancestors text, project_name text, current_version text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT f.id, f.name, f.project_id, f.parent_id, f.is_deleted,
           (SELECT a FROM settle_audit(f.created_at, f.created_by, f.updated_at, f.updated_by,
                                       f.deleted_at, f.deleted_by) a),
           (SELECT a FROM settle_ancestors(f.project_id, f.parent_id) a),
           (SELECT vp.name FROM projects vp WHERE vp.id = f.project_id),
           (SELECT c FROM settle_current_version(f.id) c)
$$;

CREATE FUNCTION settle_file_version_row(v file_versions)
RETURNS TABLE (id uuid, version integer, label text, is_deleted boolean, upload text,
               file_id uuid)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT v.id, v.version, v.label, v.is_deleted,
           (SELECT b FROM settle_upload_brief(u) b)::text, v.file_id
    FROM uploads u WHERE u.id = v.upload_id
$$;
