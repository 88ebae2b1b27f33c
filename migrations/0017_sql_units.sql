-- One home in SQL for each rule the statements of sql/ share: who may do what (settle_can,
-- settle_is_admin, settle_access), the last project_admin (settle_last_admin), the trash
-- (settle_in_trash, settle_trash_root), the WAL position a read saw (settle_position), the
-- DDS JSON of users, audits, ancestors, hashes, uploads and versions, and the column lists
-- of a project, folder, file and file version (the settle_*_view views). settle-api read
-- them from C string macros before; the statements in sql/*.sql now call them by name.
--
-- As in 0011: every function here is LANGUAGE sql, not STRICT, without SET options and
-- never SECURITY DEFINER, so that the planner inlines it into the calling statement (a
-- scalar one when its body is a single expression without sub-selects; a set-returning one
-- in FROM, or in a sub-select's FROM, always), and its indexes drive the plan as before.
-- Pass a set-returning one no sub-select as an argument (that prevents inlining: use a
-- lateral column). tests/integration/test_sql_units.py checks that they stay inlined.

-- The WAL position of everything a statement could see, as pg_lsn: the primary's insert
-- position, or a standby's replay position. Evaluated after a statement's commit (or in
-- it), it is at or past that statement's own commit and everything it read.
CREATE FUNCTION settle_position() RETURNS pg_lsn
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
    SELECT CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn()
                ELSE pg_current_wal_insert_lsn() END
$$;

-- Access: one row (true) when usr holds a role on project that grants perm (API.md's role
-- table: auth_roles, migration 0008), none otherwise. Use as
-- EXISTS (SELECT FROM settle_can(usr, project, perm)). The one place that decides who may do
-- what.
CREATE FUNCTION settle_can(usr uuid, project uuid, perm text) RETURNS SETOF boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT true FROM project_members am JOIN auth_roles ar ON ar.id = am.role
    WHERE am.project_id = settle_can.project AND am.user_id = settle_can.usr
      AND settle_can.perm = ANY (ar.permissions)
$$;

-- One row (true) when usr is project_admin of project, none otherwise: with the creator of
-- a resource, the only one who may touch what another member made (PUT /uploads/{id}/hashes).
CREATE FUNCTION settle_is_admin(usr uuid, project uuid) RETURNS SETOF boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT true FROM project_members ao
    WHERE ao.project_id = settle_is_admin.project AND ao.user_id = settle_is_admin.usr
      AND ao.role = 'project_admin'
$$;

-- The project row every access check reads, with member: whether usr may do perm there.
-- One row for an existing project, none otherwise.
CREATE FUNCTION settle_access(project uuid, usr uuid, perm text)
RETURNS TABLE (id uuid, storage_container text, is_consistent boolean, is_deleted boolean,
               has_error boolean, member boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT p.id, p.storage_container, p.is_consistent, p.is_deleted, p.error_at IS NOT NULL,
           EXISTS (SELECT FROM settle_can(settle_access.usr, p.id, settle_access.perm))
    FROM projects p WHERE p.id = settle_access.project
$$;

-- One row (true) when setting usr's role on project to role would leave the project no
-- project_admin: usr is its one project_admin and role is another (NULL: usr is removed).
-- Callers lock the project row first, so that changes of one project's admins run one at a
-- time.
CREATE FUNCTION settle_last_admin(project uuid, usr uuid, role text) RETURNS SETOF boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT true FROM project_members m
    WHERE m.project_id = settle_last_admin.project AND m.user_id = settle_last_admin.usr
      AND m.role = 'project_admin'
      AND settle_last_admin.role IS DISTINCT FROM 'project_admin'
      AND (SELECT count(*) FROM project_members a
           WHERE a.project_id = settle_last_admin.project AND a.role = 'project_admin') <= 1
$$;

-- The trash: a row of folders or files is in it when deleted and not yet purged; a trash
-- root is one a DELETE named (not one trashed with a folder above it).
CREATE FUNCTION settle_in_trash(is_deleted boolean, purged_at timestamptz) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT is_deleted AND purged_at IS NULL $$;

CREATE FUNCTION settle_trash_root(is_deleted boolean, purged_at timestamptz, deleted_with uuid)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT is_deleted AND purged_at IS NULL AND deleted_with IS NULL $$;

-- A timestamptz as the API's "YYYY-MM-DDTHH:MM:SS.mmmZ" text.
CREATE FUNCTION settle_ts(t timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') $$;

-- A project's slug, as DDS makes it: the name in lower case, each run of other characters
-- than letters and digits one '_', none at either end; '_' when nothing is left.
CREATE FUNCTION settle_slug(name text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT COALESCE(NULLIF(trim(BOTH '_' FROM regexp_replace(lower(name), '[^a-z0-9]+', '_',
                                                             'g')), ''), '_')
$$;

-- The dds-user of a users row: kind, id, username, first_name and last_name (the first
-- word of full_name and the rest, or null), full_name, email, auth_provider {id, source}
-- (Settle's own directory: api/views.h VIEWS_AUTH_PROVIDER_*), agent (null: rows do not
-- record the agent).
CREATE FUNCTION settle_user_obj(u users) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object('kind', 'dds-user', 'id', u.id, 'username', u.username,
        'first_name', NULLIF(split_part(u.full_name, ' ', 1), ''),
        'last_name', NULLIF(substr(u.full_name, NULLIF(strpos(u.full_name, ' '), 0) + 1), ''),
        'full_name', u.full_name, 'email', u.email,
        'auth_provider', json_build_object('id', '00000000-0000-4000-8000-000000000002',
                                           'source', 'Settle users'),
        'agent', NULL)
$$;

-- The settle_user_obj of users.id usr: one row, none for NULL or an unknown id.
CREATE FUNCTION settle_user(usr uuid) RETURNS SETOF json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT settle_user_obj(vu) FROM users vu WHERE vu.id = settle_user.usr $$;

-- The audit object as JSON text, from six values (any may be NULL): one row.
CREATE FUNCTION settle_audit(cat timestamptz, cby uuid, uat timestamptz, uby uuid,
                             dat timestamptz, dby uuid) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object(
        'created_on', settle_ts(cat), 'created_by', (SELECT j FROM settle_user(cby) j),
        'last_updated_on', settle_ts(uat), 'last_updated_by', (SELECT j FROM settle_user(uby) j),
        'deleted_on', settle_ts(dat), 'deleted_by', (SELECT j FROM settle_user(dby) j))::text
$$;

-- The ancestors [{kind, id, name}] as JSON text: the project, then the folders from the
-- top down to folder (NULL: only the project), walked by settle_folder_ancestors (0011).
-- One row.
CREATE FUNCTION settle_ancestors(project uuid, folder uuid) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT (SELECT json_agg(vx.o ORDER BY vx.depth DESC NULLS FIRST) FROM (
        SELECT json_build_object('kind', 'dds-project', 'id', vp.id, 'name', vp.name) AS o,
               NULL::integer AS depth
        FROM projects vp WHERE vp.id = settle_ancestors.project
        UNION ALL
        SELECT json_build_object('kind', 'dds-folder', 'id', va.id, 'name', va.name), va.depth
        FROM settle_folder_ancestors(settle_ancestors.folder) va) vx)::text
$$;

-- The hashes [{algorithm, value, verified}] of upload u as JSON: one row. A hash is verified
-- when it is the whole-file hash given at complete and the worker's integrity check found
-- the stored bytes to match (consistent, no error); any other is only reported (docs/api.md
-- "Reported and verified hashes").
CREATE FUNCTION settle_hashes(u uploads) RETURNS SETOF json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT COALESCE((SELECT json_agg(json_build_object('algorithm', vh.algorithm,
                         'value', vh.value,
                         'verified', u.is_consistent AND u.error_at IS NULL
                                     AND vh.algorithm = u.completed_hash_algorithm
                                     AND lower(vh.value) = lower(u.completed_hash_value))
                         ORDER BY vh.algorithm)
                     FROM fingerprints vh WHERE vh.upload_id = u.id), '[]'::json)
$$;

-- {id, size, hashes, storage_provider} of upload u, storage_provider being the provider's
-- name (views_upload_provider in C makes it the provider's object): one row.
CREATE FUNCTION settle_upload_brief(u uploads) RETURNS SETOF json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object('id', u.id, 'size', u.size,
                             'hashes', (SELECT h FROM settle_hashes(u) h),
                             'storage_provider', u.storage_provider)
$$;

-- The current version {id, version, label, upload {…}} of file as JSON text (its highest
-- live version): one row, none when the file has no live version.
CREATE FUNCTION settle_current_version(file uuid) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object('id', vv.id, 'version', vv.version, 'label', vv.label,
                             'upload', (SELECT b FROM settle_upload_brief(vu) b))::text
    FROM file_versions vv JOIN uploads vu ON vu.id = vv.upload_id
    WHERE vv.file_id = settle_current_version.file AND NOT vv.is_deleted
    ORDER BY vv.version DESC LIMIT 1
$$;

-- One row (true) when file has a live version above version: then a version numbered
-- version is not the current one (settle_current_version).
CREATE FUNCTION settle_newer_version(file uuid, version integer) RETURNS SETOF boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT true FROM file_versions vc
    WHERE vc.file_id = settle_newer_version.file AND vc.version > settle_newer_version.version
      AND NOT vc.is_deleted
$$;

-- The rows the DDS objects are made of (api/views.c reads these columns by name): each
-- table's row with its audit and the parts the API nests. A statement selects the columns it
-- answers with; those it leaves out cost nothing (the view is expanded into the statement).
CREATE VIEW settle_project_view AS
    SELECT p.id, p.name, p.description, p.is_deleted, p.is_consistent,
           (SELECT a FROM settle_audit(p.created_at, p.created_by, p.updated_at, p.updated_by,
                                       p.deleted_at, p.deleted_by) a) AS audit,
           settle_slug(p.name) AS slug
    FROM projects p;

CREATE VIEW settle_folder_view AS
    SELECT f.id, f.name, f.project_id, f.parent_id, f.is_deleted,
           (SELECT a FROM settle_audit(f.created_at, f.created_by, f.updated_at, f.updated_by,
                                       f.deleted_at, f.deleted_by) a) AS audit,
           (SELECT a FROM settle_ancestors(f.project_id, f.parent_id) a) AS ancestors,
           (SELECT vp.name FROM projects vp WHERE vp.id = f.project_id) AS project_name
    FROM folders f;

CREATE VIEW settle_file_view AS
    SELECT f.id, f.name, f.project_id, f.parent_id, f.is_deleted,
           (SELECT a FROM settle_audit(f.created_at, f.created_by, f.updated_at, f.updated_by,
                                       f.deleted_at, f.deleted_by) a) AS audit,
           (SELECT a FROM settle_ancestors(f.project_id, f.parent_id) a) AS ancestors,
           (SELECT vp.name FROM projects vp WHERE vp.id = f.project_id) AS project_name,
           (SELECT c FROM settle_current_version(f.id) c) AS current_version
    FROM files f;

CREATE VIEW settle_file_version_view AS
    SELECT v.id, v.version, v.label, v.is_deleted,
           (SELECT b FROM settle_upload_brief(u) b)::text AS upload, v.file_id
    FROM file_versions v JOIN uploads u ON u.id = v.upload_id;

-- Every job row wakes the relay: one home for the NOTIFY that statements inserting into
-- outbox carried each (delivered at COMMIT; one per transaction, as Postgres folds equal
-- notifications).
CREATE FUNCTION settle_outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('settle_outbox', '');
    RETURN NULL;
END $$;

CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION settle_outbox_notify();
