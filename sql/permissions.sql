-- The statements of api/permissions.c: who holds which role on a project. A permission is
-- answered as settle_permission makes it (migration 0019); a change never leaves a project
-- without a project_admin (settle_last_admin, migration 0017).

-- unit: permissions_list
-- GET /projects/{id}/permissions: a page of the roles held on project $1, oldest first (then
-- by username), each as JSON text, with their number (total). $2 LIMIT, $3 OFFSET.
-- returns: permission, total
SELECT j.permission, count(*) OVER () AS total
FROM project_members m
CROSS JOIN LATERAL settle_permission(m.project_id, m.user_id, m.role) j
WHERE m.project_id = $1
ORDER BY m.created_at, j.username LIMIT $2 OFFSET $3

-- unit: permissions_count
-- The number of roles held on project $1, for a page of permissions_list past the end.
-- returns: total
SELECT count(*) AS total FROM project_members WHERE project_id = $1

-- unit: permissions_get
-- GET /projects/{id}/permissions/{user_id}: the role of user $2 on project $1 as JSON text;
-- no row when they hold none.
-- returns: permission
SELECT j.permission
FROM project_members m
CROSS JOIN LATERAL settle_permission(m.project_id, m.user_id, m.role) j
WHERE m.project_id = $1 AND m.user_id = $2

-- unit: permissions_lock
-- The access check of a change (access_check's columns): whether the caller $2 may do $3
-- (manage_project_permissions) on project $1, whose row is locked, so that changes of one
-- project's admins run one at a time and each sees the others' result (settle_last_admin).
-- No row for an unknown project.
-- returns: id, storage_container, is_consistent, is_deleted, has_error, member
SELECT p.id, p.storage_container, p.is_consistent, p.is_deleted,
       p.error_at IS NOT NULL AS has_error,
       EXISTS (SELECT FROM settle_can($2::uuid, p.id, $3::text)) AS member
FROM projects p WHERE p.id = $1::uuid
FOR UPDATE OF p

-- unit: permissions_put
-- PUT /projects/{id}/permissions/{user_id}, after permissions_lock: grants user $2 the role
-- $3 on project $1 unless that leaves the project no project_admin. user_found: the user
-- exists; role_found: the role does; last_admin: it would demote the last project_admin;
-- permission: the permission as written (NULL when not).
-- returns: user_found, role_found, last_admin, permission
WITH usr AS (SELECT id FROM users WHERE id = $2::uuid),
rol AS (SELECT id FROM auth_roles WHERE id = $3::text),
lst AS (SELECT EXISTS (SELECT FROM settle_last_admin($1::uuid, $2::uuid, $3::text)) AS v),
m AS (INSERT INTO project_members (project_id, user_id, role)
      SELECT $1::uuid, usr.id, rol.id FROM usr, rol, lst WHERE NOT lst.v
      ON CONFLICT (project_id, user_id) DO UPDATE SET role = EXCLUDED.role RETURNING *)
SELECT EXISTS (SELECT 1 FROM usr) AS user_found, EXISTS (SELECT 1 FROM rol) AS role_found,
       lst.v AS last_admin,
       (SELECT j.permission FROM m
        CROSS JOIN LATERAL settle_permission(m.project_id, m.user_id, m.role) j) AS permission
FROM lst

-- unit: permissions_delete
-- DELETE /projects/{id}/permissions/{user_id}, after permissions_lock: revokes user $2's role
-- on project $1 unless they are its last project_admin. user_found: the user exists;
-- last_admin: they are the last project_admin; deleted: the rows deleted (0 or 1).
-- returns: user_found, last_admin, deleted
WITH usr AS (SELECT id FROM users WHERE id = $2::uuid),
lst AS (SELECT EXISTS (SELECT FROM settle_last_admin($1::uuid, $2::uuid, NULL)) AS v),
del AS (DELETE FROM project_members m USING lst WHERE m.project_id = $1::uuid
        AND m.user_id = $2::uuid AND NOT lst.v RETURNING 1)
SELECT EXISTS (SELECT 1 FROM usr) AS user_found, lst.v AS last_admin,
       (SELECT count(*) FROM del) AS deleted
FROM lst
