-- Provenance (docs/api.md "Provenance"): activities and the relations between activities and file
-- versions, as DDS v1 has them. Both are answered at once (no job): a row is consistent
-- when its INSERT commits.
CREATE TABLE IF NOT EXISTS activities (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text,
    started_on  timestamptz,
    ended_on    timestamptz,
    is_deleted  boolean NOT NULL DEFAULT false,
    created_by  uuid NOT NULL REFERENCES users(id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz,
    updated_by  uuid REFERENCES users(id),
    deleted_at  timestamptz,
    deleted_by  uuid REFERENCES users(id)
);
CREATE INDEX IF NOT EXISTS activities_created_by_idx ON activities(created_by);

-- One row per relation. version_id is the file version the relation is about (for
-- was_derived_from the generated one); activity_id the activity (NULL for was_derived_from);
-- used_version_id the used file version of was_derived_from (NULL otherwise). Which end is
-- DDS's "from" and which its "to" is api/provenance.h's rule (PROVENANCE_SQL_FROM_ID).
CREATE TABLE IF NOT EXISTS prov_relations (
    id              uuid PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('used', 'was_generated_by',
                                                  'was_derived_from', 'was_invalidated_by')),
    activity_id     uuid REFERENCES activities(id),
    version_id      uuid NOT NULL REFERENCES file_versions(id) ON DELETE CASCADE,
    used_version_id uuid REFERENCES file_versions(id) ON DELETE CASCADE,
    is_deleted      boolean NOT NULL DEFAULT false,
    created_by      uuid NOT NULL REFERENCES users(id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    deleted_by      uuid REFERENCES users(id),
    CHECK ((kind = 'was_derived_from') = (activity_id IS NULL)),
    CHECK ((kind = 'was_derived_from') = (used_version_id IS NOT NULL))
);
-- At most one live relation of a kind between the same two ends.
CREATE UNIQUE INDEX IF NOT EXISTS prov_relations_live_idx
    ON prov_relations(kind, version_id, (COALESCE(activity_id, used_version_id)))
    WHERE NOT is_deleted;
CREATE INDEX IF NOT EXISTS prov_relations_activity_idx ON prov_relations(activity_id);
CREATE INDEX IF NOT EXISTS prov_relations_used_version_idx ON prov_relations(used_version_id);

-- An activity's started_on or ended_on as a client sent it: an ISO 8601 date or date and
-- time, with an optional zone (none: UTC), or NULL when t is anything else (a word such as
-- 'now', a month 13), so that a statement can refuse it with a 400 instead of failing.
CREATE OR REPLACE FUNCTION settle_parse_ts(t text) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF t IS NULL OR t !~ ('^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?'
                          '(Z|[+-]\d{2}(:?\d{2})?)?)?$') THEN
        RETURN NULL;
    END IF;
    IF t ~ '(Z|[+-]\d{2}(:?\d{2})?)$' AND t ~ 'T|\s' THEN
        RETURN t::timestamptz;
    END IF;
    RETURN (t::timestamp) AT TIME ZONE 'UTC';
EXCEPTION WHEN others THEN
    RETURN NULL;
END $$;
