-- The statements of api/users.c: the current user, the user directory and its affiliates,
-- the project roles. The JSON of a user, an affiliate and a role are settle_user_full,
-- settle_current_user, settle_affiliate and settle_auth_role (migration 0019).

-- unit: users_current
-- GET /current_user: the caller $1 as JSON text, with agent {id} the software agent $2 of
-- their token (NULL: none). No row for an unknown user.
-- returns: dds_user
SELECT (SELECT j FROM settle_current_user(ROW(u.*)::users, $2::uuid) j) AS dds_user
FROM users u WHERE u.id = $1

-- unit: users_current_update
-- PUT /current_user: sets the email of the caller $1 to $3 (NULL: unchanged) and answers
-- them as users_current does ($2 the agent of their token). Another user's email fails
-- with a unique violation (23505).
-- returns: dds_user
UPDATE users u SET email = coalesce($3, u.email) WHERE u.id = $1
RETURNING (SELECT j FROM settle_current_user(ROW(u.*)::users, $2::uuid) j) AS dds_user

-- unit: users_usage
-- GET /current_user/usage for the caller $1, as JSON text: project_count, the projects (not
-- deleted) they hold a role on; file_count, the files (not deleted) in them; storage_bytes,
-- the size of the uploads the caller created that back versions of those files.
-- returns: usage
WITH p AS (SELECT p.id FROM projects p JOIN project_members m ON m.project_id = p.id
           WHERE m.user_id = $1 AND NOT p.is_deleted),
f AS (SELECT f.id FROM files f JOIN p ON p.id = f.project_id WHERE NOT f.is_deleted)
SELECT json_build_object('project_count', (SELECT count(*) FROM p),
                         'file_count', (SELECT count(*) FROM f),
                         'storage_bytes',
                         (SELECT coalesce(sum(u.size), 0) FROM f
                          JOIN file_versions v ON v.file_id = f.id
                          JOIN uploads u ON u.id = v.upload_id
                          WHERE u.created_by = $1))::text AS usage

-- unit: users_list
-- GET /users: a page of the user directory by username, each user as JSON text, with the
-- number of users the filters select (total). $1 username, $2 email, $3
-- first_name_begins_with, $4 last_name_begins_with, $5 full_name_contains (each ignored
-- when NULL: settle_user_directory), $6 LIMIT, $7 OFFSET.
-- returns: dds_user, total
SELECT (SELECT j FROM settle_user_full(ROW(u.*)::users) j) AS dds_user,
       count(*) OVER () AS total
FROM settle_user_directory($1::text, $2::text, $3::text, $4::text, $5::text) u
ORDER BY u.username LIMIT $6 OFFSET $7

-- unit: users_affiliates
-- GET /auth_providers/{id}/affiliates: users_list's page with each user as an affiliate.
-- returns: affiliate, total
SELECT (SELECT j FROM settle_affiliate(ROW(u.*)::users) j) AS affiliate,
       count(*) OVER () AS total
FROM settle_user_directory($1::text, $2::text, $3::text, $4::text, $5::text) u
ORDER BY u.username LIMIT $6 OFFSET $7

-- unit: users_directory_count
-- The number of users that users_list's filters $1..$5 select, for a page past the end.
-- returns: total
SELECT count(*) AS total
FROM settle_user_directory($1::text, $2::text, $3::text, $4::text, $5::text) u

-- unit: users_get
-- GET /users/{id}: user $1 as JSON text; no row when there is none.
-- returns: dds_user
SELECT (SELECT j FROM settle_user_full(ROW(u.*)::users) j) AS dds_user
FROM users u WHERE u.id = $1

-- unit: users_affiliate
-- GET /auth_providers/{id}/affiliates/{uid}: the user whose username is $1 as an affiliate;
-- no row when there is none.
-- returns: affiliate
SELECT (SELECT j FROM settle_affiliate(ROW(u.*)::users) j) AS affiliate
FROM users u WHERE u.username = $1

-- unit: users_affiliate_user
-- POST /auth_providers/{id}/affiliates/{uid}/dds_user: the user whose username is $1 as JSON
-- text; no row when there is none.
-- returns: dds_user
SELECT (SELECT j FROM settle_user_full(ROW(u.*)::users) j) AS dds_user
FROM users u WHERE u.username = $1

-- unit: users_roles
-- GET /auth_roles: a page of the project roles in their order, each as JSON text, with their
-- number (total); none when $1 (the context asked for is the project's) is false. $2 LIMIT,
-- $3 OFFSET.
-- returns: role, total
SELECT (SELECT j FROM settle_auth_role(ROW(a.*)::auth_roles) j) AS role,
       count(*) OVER () AS total
FROM auth_roles a WHERE $1::boolean
ORDER BY a.position LIMIT $2 OFFSET $3

-- unit: users_roles_count
-- The number of roles users_roles pages through ($1 as there), for a page past the end.
-- returns: total
SELECT count(*) AS total FROM auth_roles WHERE $1::boolean

-- unit: users_role
-- GET /auth_roles/{id}: the role whose id (its name) is $1 as JSON text; no row when there is
-- none.
-- returns: role
SELECT (SELECT j FROM settle_auth_role(ROW(a.*)::auth_roles) j) AS role
FROM auth_roles a WHERE a.id = $1
