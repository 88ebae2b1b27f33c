-- Uploads (API.md "Uploads", api/uploads.c): create, list and get. Every unit that answers an
-- upload selects its columns in one order, from id to storage_provider (api/uploads.h: the
-- uploads_row_json of api/uploads.c reads them so), as settle_upload_row (migration 0023)
-- makes them from the upload's row and its creator's: id, name, content_type, size, etag,
-- project_id, created_on, ready_for_chunks, completed_on, is_consistent, purged_on, error_on,
-- error_message, chunks (settle_chunks), hashes (settle_hashes), created_by (the creator's
-- dds-user), storage_provider (the provider that holds its bytes). An upload row that is not
-- of type uploads (a sub-select's, a CTE's) is passed as u::uploads, and a table's as
-- ROW(u.*)::uploads (the creator's as ROW(s.*)::users), so that its columns reach the planner
-- one by one.

-- unit: uploads_create
-- POST /projects/{id}/uploads in one statement: checks project $2 and the caller ($8:
-- create_file), inserts upload $1 ($3 name, $4 content type, $5 size, $6 chunked, $7 etag)
-- in the project's storage container, its bytes to be held by storage provider $11, and,
-- when it is not chunked, its only chunk ($9 hash value, $10 algorithm); answers the upload
-- rendered from what was inserted (data-modifying CTEs are not seen by the final SELECT, so
-- the chunk list, in settle_chunks' shape, comes from ch), the verdict, then the new upload's
-- storage container. Nothing is written, and the upload's columns are NULL, unless the caller
-- may create files in the project and it is live and consistent.
-- returns: id, name, content_type, size, etag, project_id, created_on, ready_for_chunks, completed_on, is_consistent, purged_on, error_on, error_message, chunks, hashes, created_by, storage_provider, found, member, deleted, consistent, storage_container
WITH acc AS (SELECT a.id, a.storage_container, a.is_deleted, a.is_consistent, a.member
             FROM settle_access($2::uuid, $8::uuid, 'create_file') a),
ins AS (INSERT INTO uploads (id, project_id, name, content_type, size, chunked, etag,
                             storage_container, created_by, storage_provider)
        SELECT $1::uuid, acc.id, $3::text, $4::text, $5::bigint, $6::boolean, $7::text,
               acc.storage_container, $8::uuid, $11::text
        FROM acc WHERE acc.member AND NOT acc.is_deleted AND acc.is_consistent
        RETURNING *),
ch AS (INSERT INTO chunks (upload_id, number, size, hash_value, hash_algorithm)
       SELECT id, 1, size, $9::text, $10::text FROM ins WHERE NOT chunked
       RETURNING number, size, hash_value, hash_algorithm)
SELECT r.id, r.name, r.content_type, r.size, r.etag, r.project_id, r.created_on,
       r.ready_for_chunks, r.completed_on, r.is_consistent, r.purged_on, r.error_on,
       r.error_message,
       coalesce((SELECT json_agg(json_build_object('number', c.number, 'size', c.size,
                                                   'hash', json_build_object(
                                                       'value', c.hash_value,
                                                       'algorithm', c.hash_algorithm))
                                 ORDER BY c.number) FROM ch c), '[]') AS chunks,
       '[]'::json AS hashes, r.created_by, r.storage_provider,
       acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted,
       acc.is_consistent AS consistent, u.storage_container
FROM (VALUES (1)) one LEFT JOIN acc ON true LEFT JOIN ins u ON true
LEFT JOIN users s ON s.id = u.created_by
CROSS JOIN LATERAL settle_upload_row(u::uploads, ROW(s.*)::users) r

-- unit: uploads_get
-- GET /uploads/{id} in one statement: the verdict of upload $1's project for the caller ($2:
-- view_project), then the upload, NULL unless the caller may see it.
-- returns: id, name, content_type, size, etag, project_id, created_on, ready_for_chunks, completed_on, is_consistent, purged_on, error_on, error_message, chunks, hashes, created_by, storage_provider, found, member, deleted, consistent
WITH acc AS (SELECT a.id, a.is_deleted, a.is_consistent, a.member
             FROM uploads t JOIN LATERAL settle_access(t.project_id, $2::uuid, 'view_project') a
                  ON true
             WHERE t.id = $1::uuid)
SELECT r.id, r.name, r.content_type, r.size, r.etag, r.project_id, r.created_on,
       r.ready_for_chunks, r.completed_on, r.is_consistent, r.purged_on, r.error_on,
       r.error_message, r.chunks, r.hashes, r.created_by, r.storage_provider,
       acc.id IS NOT NULL AS found, acc.member, acc.is_deleted AS deleted,
       acc.is_consistent AS consistent
FROM (VALUES (1)) one LEFT JOIN acc ON true
LEFT JOIN (SELECT x.* FROM uploads x, acc
           WHERE x.id = $1::uuid AND acc.member AND NOT acc.is_deleted) u ON true
LEFT JOIN users s ON s.id = u.created_by
CROSS JOIN LATERAL settle_upload_row(u::uploads, ROW(s.*)::users) r

-- unit: uploads_one
-- The upload $1 as it is now, without an access check (the caller checked it before), then
-- the number of rows (1). No row for an unknown id.
-- returns: id, name, content_type, size, etag, project_id, created_on, ready_for_chunks, completed_on, is_consistent, purged_on, error_on, error_message, chunks, hashes, created_by, storage_provider, total
SELECT r.id, r.name, r.content_type, r.size, r.etag, r.project_id, r.created_on,
       r.ready_for_chunks, r.completed_on, r.is_consistent, r.purged_on, r.error_on,
       r.error_message, r.chunks, r.hashes, r.created_by, r.storage_provider,
       count(*) OVER () AS total
FROM uploads u JOIN users s ON s.id = u.created_by
CROSS JOIN LATERAL settle_upload_row(ROW(u.*)::uploads, ROW(s.*)::users) r
WHERE u.id = $1

-- unit: uploads_list
-- GET /projects/{id}/uploads: a page ($3, from 1) of the uploads of project $1 in the order
-- they were created, in pages of $2 uploads at most (settle_page_per, each upload's text
-- being its name, its content type and 128 bytes for each of its chunks); each row with the
-- number of uploads and the page's size.
-- returns: id, name, content_type, size, etag, project_id, created_on, ready_for_chunks, completed_on, is_consistent, purged_on, error_on, error_message, chunks, hashes, created_by, storage_provider, total, per
WITH k AS (SELECT count(*) AS total,
                  settle_page_per($2::bigint, max(
                      octet_length(u.name) + octet_length(u.content_type)
                      + 128 * (SELECT count(*) FROM chunks c WHERE c.upload_id = u.id))) AS per
           FROM uploads u WHERE u.project_id = $1)
SELECT r.id, r.name, r.content_type, r.size, r.etag, r.project_id, r.created_on,
       r.ready_for_chunks, r.completed_on, r.is_consistent, r.purged_on, r.error_on,
       r.error_message, r.chunks, r.hashes, r.created_by, r.storage_provider,
       (SELECT total FROM k) AS total, (SELECT per FROM k) AS per
FROM uploads u JOIN users s ON s.id = u.created_by
CROSS JOIN LATERAL settle_upload_row(ROW(u.*)::uploads, ROW(s.*)::users) r
WHERE u.project_id = $1
ORDER BY u.created_at, u.id
LIMIT (SELECT per FROM k) OFFSET ($3::bigint - 1) * (SELECT per FROM k)

-- unit: uploads_list_count
-- The number of uploads of project $1 and the size of its pages for a client that asked for
-- $2 per page (as uploads_list), for a page past the end.
-- returns: total, per
WITH k AS (SELECT count(*) AS total,
                  settle_page_per($2::bigint, max(
                      octet_length(u.name) + octet_length(u.content_type)
                      + 128 * (SELECT count(*) FROM chunks c WHERE c.upload_id = u.id))) AS per
           FROM uploads u WHERE u.project_id = $1)
SELECT total, per FROM k
