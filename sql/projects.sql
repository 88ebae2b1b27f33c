-- The statements of api/projects.c: create, list, read, update and delete projects. A project
-- is answered with the columns of settle_project_view (views_project reads them in order),
-- made by settle_project_row (migration 0021) from a row the statement wrote or ordered.

-- unit: projects_one
-- The project $1 as it is now: one row, none when there is no such project.
-- returns: id, name, description, is_deleted, is_consistent, audit, slug
SELECT p.id, p.name, p.description, p.is_deleted, p.is_consistent, p.audit, p.slug
FROM settle_project_view p WHERE p.id = $1::uuid

-- unit: projects_create
-- POST /projects: the project ($1, name $2, description $3, storage container $4, creator
-- $5), its first member (the creator, project_admin) and its project.initialize job ($6
-- message id, $7 kind), in one statement. Answers the project from what was inserted.
-- returns: id, name, description, is_deleted, is_consistent, audit, slug
WITH pr AS (INSERT INTO projects (id, name, description, storage_container, created_by)
            VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::uuid) RETURNING *),
mem AS (INSERT INTO project_members (project_id, user_id, role)
        SELECT pr.id, $5::uuid, 'project_admin' FROM pr),
outbox_job AS (INSERT INTO outbox (id, kind, resource_id)
               SELECT $6::uuid, $7::text, pr.id FROM pr RETURNING resource_id)
SELECT r.id, r.name, r.description, r.is_deleted, r.is_consistent, r.audit, r.slug
FROM pr CROSS JOIN LATERAL settle_project_row(ROW(pr.*)::projects) r

-- unit: projects_list
-- GET /projects: page $3 of the projects the caller $1 sees (settle_projects_page of
-- migration 0024 over settle_visible_projects), oldest first, in pages of $2 projects at
-- most (settle_page_per, each project's text being its name and description). Each row has
-- the number of those projects (total) and the page's size (per).
-- returns: id, name, description, is_deleted, is_consistent, audit, slug, total, per
SELECT p.id, p.name, p.description, p.is_deleted, p.is_consistent, p.audit, p.slug, p.total,
       p.per
FROM settle_projects_page('visible', $1::uuid, $2::bigint, $3::bigint) p
ORDER BY p.created_at, p.item

-- unit: projects_list_count
-- The total and per of projects_list ($1 the caller, $2 the per page asked for), for a page
-- past the end.
-- returns: total, per
SELECT t.total, t.per FROM settle_projects_total('visible', $1::uuid, $2::bigint) t

-- unit: projects_trash_list
-- GET /trashbin/projects: projects_list of the projects of the caller $1 that have an item in
-- the trash bin (settle_trashed_projects); $2 per page, $3 the page.
-- returns: id, name, description, is_deleted, is_consistent, audit, slug, total, per
SELECT p.id, p.name, p.description, p.is_deleted, p.is_consistent, p.audit, p.slug, p.total,
       p.per
FROM settle_projects_page('trashed', $1::uuid, $2::bigint, $3::bigint) p
ORDER BY p.created_at, p.item

-- unit: projects_trash_list_count
-- The total and per of projects_trash_list ($1 the caller, $2 the per page asked for), for
-- a page past the end.
-- returns: total, per
SELECT t.total, t.per FROM settle_projects_total('trashed', $1::uuid, $2::bigint) t

-- unit: projects_get
-- GET /projects/{id}: whether the caller $2 may view project $1 (found, member, deleted,
-- consistent: access_verdict's columns), then the project, selected only when they may.
-- returns: found, member, deleted, consistent, id, name, description, is_deleted, is_consistent, audit, slug
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       x.id, x.name, x.description, x.is_deleted, x.is_consistent, x.audit, x.slug
FROM (VALUES (1)) one
LEFT JOIN settle_access($1::uuid, $2::uuid, 'view_project') acc ON true
LEFT JOIN settle_project_view x ON x.id = $1::uuid AND acc.member AND NOT acc.is_deleted

-- unit: projects_update
-- PUT /projects/{id}: the name $2 and description $3 of live project $1 (NULL: unchanged),
-- updated by $4.
UPDATE projects SET name = COALESCE($2, name), description = COALESCE($3, description),
                    updated_at = now(), updated_by = $4
WHERE id = $1 AND NOT is_deleted

-- unit: projects_delete
-- DELETE /projects/{id}: when the caller $2 may delete project $1, marks it deleted unless
-- it is already and queues its resource.delete job ($3 message id, $4 kind). Answers
-- access_verdict's columns, then the deleted project from what the UPDATE returned (none
-- when nothing was deleted).
-- returns: found, member, deleted, consistent, id, name, description, is_deleted, is_consistent, audit, slug
WITH acc AS (SELECT a.* FROM settle_access($1::uuid, $2::uuid, 'delete_project') a),
del AS (UPDATE projects d SET is_deleted = true, deleted_at = now(), deleted_by = $2::uuid
        FROM acc WHERE d.id = $1::uuid AND NOT d.is_deleted AND acc.member
        AND NOT acc.is_deleted RETURNING d.*),
outbox_job AS (INSERT INTO outbox (id, kind, resource_id)
               SELECT $3::uuid, $4::text, del.id FROM del RETURNING resource_id)
SELECT acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted, true AS consistent,
       x.id, x.name, x.description, x.is_deleted, x.is_consistent, x.audit, x.slug
FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN del d ON true
LEFT JOIN LATERAL settle_project_row(ROW(d.*)::projects) x ON true
