-- The hash given at complete lives in its upload's row alone (issue 22). complete wrote it
-- twice: in uploads (completed_hash_algorithm, completed_hash_value: what the worker
-- verifies) and as a fingerprints row, which cost every upload a row, three index entries,
-- two foreign-key checks and a speculative insertion (ON CONFLICT), about 100 µs of the
-- backend's CPU a complete (bench/notes.md "The hash given at complete"). Now the hashes of
-- an upload are the completed hash from its row and the fingerprints of the other
-- algorithms; a fingerprint of the completed hash's algorithm (the creator's that bound the
-- complete, one a project admin reported that gave way, or the row an upload completed before
-- this migration has) is no longer shown. The answers are the same as before: the completed
-- hash replaced or equalled any fingerprint of its algorithm already, and no hash of a
-- completed upload is ever replaced (docs/api.md "Reported and verified hashes").
-- PUT /uploads/{id}/hashes answers the completed hash as the recorded one of its algorithm
-- (sql/uploads_complete.sql).
--
-- As 0017-0026: LANGUAGE sql, STABLE, not STRICT, so that the planner inlines each.

-- The whole-file hashes of upload u as settle_hashes_with(u, alg, val) gives them when the
-- calling statement has just recorded (alg, val), or with NULLs when it recorded none: the
-- completed hash from u, the value val for algorithm alg when it is another algorithm, and
-- the fingerprints of the other algorithms; each {algorithm, value, verified} (settle_hash),
-- by algorithm, as JSON. One row.
CREATE OR REPLACE FUNCTION settle_hashes_with(u uploads, alg text, val text)
RETURNS TABLE (hashes json)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(json_agg(settle_hash(u, h.algorithm, h.value) ORDER BY h.algorithm),
                    '[]'::json)
    FROM (SELECT f.algorithm, f.value FROM fingerprints f
          WHERE f.upload_id = u.id
            AND f.algorithm IS DISTINCT FROM settle_hashes_with.alg
            AND f.algorithm IS DISTINCT FROM u.completed_hash_algorithm
          UNION ALL
          SELECT u.completed_hash_algorithm, u.completed_hash_value
          WHERE u.completed_hash_algorithm IS NOT NULL
          UNION ALL
          SELECT settle_hashes_with.alg, settle_hashes_with.val
          WHERE settle_hashes_with.val IS NOT NULL
            AND settle_hashes_with.alg IS DISTINCT FROM u.completed_hash_algorithm) h
$$;

-- The hashes of upload u as JSON (settle_hashes_with, nothing just recorded): one row.
CREATE OR REPLACE FUNCTION settle_hashes(u uploads) RETURNS SETOF json
LANGUAGE sql STABLE PARALLEL SAFE
AS $$ SELECT h FROM settle_hashes_with(u, NULL, NULL) h $$;
