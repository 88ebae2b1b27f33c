-- The statements of cli/sql.c: settle sql check.

-- unit: cli_sql_function_is_sql
-- Whether a settle_* function named $1 is written in SQL (LANGUAGE sql), so that the planner
-- can inline it: the check reports only those (settle_parse_ts of migration 0013 is
-- plpgsql, which no planner inlines, on purpose).
-- returns: is_sql
SELECT EXISTS (SELECT FROM pg_proc p JOIN pg_language l ON l.oid = p.prolang
               WHERE p.proname = $1::text AND l.lanname = 'sql') AS is_sql
