-- The one walk of the folder tree: every statement that goes up (ancestors, "is every folder
-- above this one live", "is the moved folder above the target") or down (listings by name,
-- a project's files, the delete job) goes through these two functions.
--
-- Both stop exactly where a path would meet a folder it already holds, never at a depth:
-- rows that already form a cycle (a move before this migration could make one, below 1000
-- levels) end the walk, and a chain of any depth is walked whole (settle-api refuses new
-- folders and moves past its maximum depth, docs/api.md "Folder depth", but older rows may be
-- deeper). Each level is one index probe (folders_pkey going up, folders_parent_id_idx
-- going down).
--
-- They are LANGUAGE sql, STABLE, not STRICT and without SET options, so the planner inlines
-- them into the calling statement (a subquery with the recursive CTE, driven by the
-- indexes) rather than running them as a separate function call; keep them so, and pass
-- them no sub-select as an argument (that prevents inlining: use a lateral column).

-- The folder and every folder above it: depth 0 is the folder itself, depth n its n-th
-- parent, up to the project root. No rows for NULL or an unknown id. Order by depth.
CREATE OR REPLACE FUNCTION settle_folder_ancestors(folder uuid)
RETURNS TABLE (id uuid, parent_id uuid, name text, depth integer, is_deleted boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    WITH RECURSIVE up(id, parent_id, name, depth, is_deleted, path) AS (
        SELECT f.id, f.parent_id, f.name, 0, f.is_deleted, ARRAY[f.id]
        FROM folders f WHERE f.id = settle_folder_ancestors.folder
        UNION ALL
        SELECT f.id, f.parent_id, f.name, up.depth + 1, f.is_deleted, up.path || f.id
        FROM up JOIN folders f ON f.id = up.parent_id
        WHERE f.id <> ALL (up.path))
    SELECT up.id, up.parent_id, up.name, up.depth, up.is_deleted FROM up
$$;

-- The folders roots (NULL: none) and every folder below them: depth 0 for a root, n for a
-- folder n levels below it. With live, only the live folders whose every folder up to the
-- root is live too (a deleted folder hides what lies below it); without, every folder.
CREATE OR REPLACE FUNCTION settle_folder_subtree(roots uuid[], live boolean)
RETURNS TABLE (id uuid, parent_id uuid, name text, depth integer, is_deleted boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    WITH RECURSIVE down(id, parent_id, name, depth, is_deleted, path) AS (
        SELECT f.id, f.parent_id, f.name, 0, f.is_deleted, ARRAY[f.id]
        FROM folders f WHERE f.id = ANY (settle_folder_subtree.roots)
        AND NOT (settle_folder_subtree.live AND f.is_deleted)
        UNION ALL
        SELECT f.id, f.parent_id, f.name, down.depth + 1, f.is_deleted, down.path || f.id
        FROM down JOIN folders f ON f.parent_id = down.id
        WHERE f.id <> ALL (down.path) AND NOT (settle_folder_subtree.live AND f.is_deleted))
    SELECT down.id, down.parent_id, down.name, down.depth, down.is_deleted FROM down
$$;
