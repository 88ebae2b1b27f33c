-- The operational endpoints (api/ops.c): /readyz, /api/v1/app/status and /metrics.

-- unit: ops_ready
-- Whether the database answers (/readyz).
-- returns: ready
SELECT 1 AS ready

-- unit: ops_app_status
-- Whether the database is migrated: the roles are seeded (GET /api/v1/app/status).
-- returns: migrated
SELECT EXISTS (SELECT 1 FROM auth_roles) AS migrated

-- unit: ops_metrics_jobs
-- Jobs run, by kind and outcome, from job_runs (every worker's, not only this process's).
-- returns: kind, outcome, runs
SELECT kind, outcome, count(*) AS runs FROM job_runs GROUP BY 1, 2 ORDER BY 1, 2

-- unit: ops_metrics_ttc
-- Time from complete to consistent of every verified upload, as a histogram: how many took
-- at most each bound (within_10ms .. within_5s, in the order of ops.c's ops_ttc_bounds), how
-- many in all, and the sum of their times in seconds.
-- returns: within_10ms, within_25ms, within_50ms, within_100ms, within_250ms, within_500ms, within_1s, within_5s, total, sum_seconds
SELECT count(*) FILTER (WHERE d <= 0.01) AS within_10ms,
       count(*) FILTER (WHERE d <= 0.025) AS within_25ms,
       count(*) FILTER (WHERE d <= 0.05) AS within_50ms,
       count(*) FILTER (WHERE d <= 0.1) AS within_100ms,
       count(*) FILTER (WHERE d <= 0.25) AS within_250ms,
       count(*) FILTER (WHERE d <= 0.5) AS within_500ms,
       count(*) FILTER (WHERE d <= 1) AS within_1s,
       count(*) FILTER (WHERE d <= 5) AS within_5s,
       count(*) AS total, coalesce(sum(d), 0) AS sum_seconds
FROM (SELECT extract(epoch FROM consistent_at - completed_at) AS d
      FROM uploads WHERE consistent_at IS NOT NULL) t
