-- The statements of api/activities.c: DDS v1 provenance activities (docs/api.md
-- "Provenance"). Who sees an activity and its JSON are migration 0020's settle_sees_activity
-- and settle_activity_obj.

-- unit: activities_create
-- POST /activities: $1 id, $2 name, $3 started_on, $4 ended_on (text, as the client sent
-- them, or NULL), $5 description, $6 caller. started_on defaults to now (DDS). The activity
-- is written only when both dates are absent or dates and in order (settle_activity_dates);
-- activity is then its JSON, else NULL. found and owner are always true (the columns of
-- activities_update).
-- returns: found, owner, started_ok, ended_ok, ordered, activity
WITH chk AS (SELECT * FROM settle_activity_dates($3::text, $4::text, NULL, NULL)),
ins AS (INSERT INTO activities (id, name, description, started_on, ended_on, created_by)
        SELECT $1::uuid, $2::text, $5::text, COALESCE(chk.started_on, now()), chk.ended_on,
               $6::uuid
        FROM chk WHERE chk.started_ok AND chk.ended_ok AND chk.ordered RETURNING *)
SELECT true AS found, true AS owner, chk.started_ok, chk.ended_ok, chk.ordered,
       (SELECT o::text FROM ins CROSS JOIN LATERAL settle_activity_obj(ins) o) AS activity
FROM chk

-- unit: activities_update
-- PUT /activities/{id}: $1 id, $2 name, $3 started_on, $4 ended_on, $5 description, $6
-- caller; a NULL leaves the field as it is. The live activity is locked; only its creator
-- updates it, and only when the dates are valid and in order over those it keeps. found:
-- the activity exists and is not deleted; owner: the caller created it; activity: its JSON
-- as written, NULL when not.
-- returns: found, owner, started_ok, ended_ok, ordered, activity
WITH old AS (SELECT * FROM activities WHERE id = $1::uuid AND NOT is_deleted FOR UPDATE),
chk AS (SELECT d.* FROM (VALUES (1)) one LEFT JOIN old ON true
        CROSS JOIN LATERAL settle_activity_dates($3::text, $4::text, old.started_on,
                                                 old.ended_on) d),
upd AS (UPDATE activities x SET name = COALESCE($2::text, x.name),
               description = COALESCE($5::text, x.description),
               started_on = COALESCE(chk.started_on, x.started_on),
               ended_on = COALESCE(chk.ended_on, x.ended_on), updated_at = now(),
               updated_by = $6::uuid
        FROM old, chk
        WHERE x.id = old.id AND old.created_by = $6::uuid
          AND chk.started_ok AND chk.ended_ok AND chk.ordered
        RETURNING x.*)
SELECT old.id IS NOT NULL AS found, old.created_by = $6::uuid AS owner, chk.started_ok,
       chk.ended_ok, chk.ordered,
       (SELECT o::text FROM upd CROSS JOIN LATERAL settle_activity_obj(upd) o) AS activity
FROM chk LEFT JOIN old ON true

-- unit: activities_list
-- GET /activities: a page of the live activities the caller ($1) sees (DDS's policy
-- scope), oldest first: $2 the per_page asked for, $3 the page. Each row: the activity's
-- JSON, the collection's total, and per, the page size (settle_page_per, each activity's
-- text being its name and description).
-- returns: activity, total, per
WITH k AS (SELECT count(*) AS total,
                  settle_page_per($2::bigint, max(
                      octet_length(a.name) + COALESCE(octet_length(a.description), 0))) AS per
           FROM activities a
           CROSS JOIN LATERAL settle_sees_activity($1::uuid, a.id, a.created_by) s
           WHERE NOT a.is_deleted AND s.sees)
SELECT o::text AS activity, (SELECT total FROM k) AS total, (SELECT per FROM k) AS per
FROM activities a
CROSS JOIN LATERAL settle_sees_activity($1::uuid, a.id, a.created_by) s
CROSS JOIN LATERAL settle_activity_obj(a) o
WHERE NOT a.is_deleted AND s.sees
ORDER BY a.created_at, a.id
LIMIT (SELECT per FROM k) OFFSET ($3::bigint - 1) * (SELECT per FROM k)

-- unit: activities_list_count
-- The total and per of activities_list ($1 caller, $2 per_page asked for), for a page past
-- the last one.
-- returns: total, per
WITH k AS (SELECT count(*) AS total,
                  settle_page_per($2::bigint, max(
                      octet_length(a.name) + COALESCE(octet_length(a.description), 0))) AS per
           FROM activities a
           CROSS JOIN LATERAL settle_sees_activity($1::uuid, a.id, a.created_by) s
           WHERE NOT a.is_deleted AND s.sees)
SELECT total, per FROM k

-- unit: activities_get
-- GET /activities/{id}: $1 id, $2 caller. found: the activity exists (deleted or not);
-- sees: the caller sees it (its creator, or whoever may view a file version it is related
-- to); activity: its JSON.
-- returns: found, sees, activity
SELECT a.id IS NOT NULL AS found, s.sees, o::text AS activity
FROM (VALUES (1)) one LEFT JOIN activities a ON a.id = $1::uuid
CROSS JOIN LATERAL settle_sees_activity($2::uuid, a.id, a.created_by) s
CROSS JOIN LATERAL settle_activity_obj(a) o

-- unit: activities_delete
-- DELETE /activities/{id}: $1 id, $2 caller. Marks the live activity deleted when the
-- caller created it. found: it exists and is not deleted; owner: the caller created it.
-- Its relations stay (DDS).
-- returns: found, owner
WITH old AS (SELECT id, created_by FROM activities WHERE id = $1::uuid AND NOT is_deleted
             FOR UPDATE),
del AS (UPDATE activities x SET is_deleted = true, deleted_at = now(), deleted_by = $2::uuid
        FROM old WHERE x.id = old.id AND old.created_by = $2::uuid RETURNING x.id)
SELECT old.id IS NOT NULL AS found, old.created_by = $2::uuid AS owner
FROM (VALUES (1)) one LEFT JOIN old ON true
