-- The role checks of api/access.c: whether the caller's role on a project grants a
-- permission (settle_access, migration 0017).

-- unit: access_project
-- The access row of project $1 for user $2 and permission $3 (an ACCESS_* name): one row for
-- an existing project, none otherwise. Every unit that access_check runs returns these
-- columns in this order.
-- returns: id, storage_container, is_consistent, is_deleted, has_error, member
SELECT acc.id, acc.storage_container, acc.is_consistent, acc.is_deleted, acc.has_error,
       acc.member
FROM settle_access($1::uuid, $2::uuid, $3::text) acc
