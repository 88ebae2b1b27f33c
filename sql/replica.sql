-- The poller of the standbys (api/replica.c): positions and the permission_changes counter
-- (migration 0010), polled on connections of its own.

-- unit: replica_primary
-- The primary's position (lsn, its WAL write position) and its permission_changes counter.
-- returns: lsn, changes
SELECT pg_current_wal_lsn() AS lsn, n AS changes FROM permission_changes

-- unit: replica_standby
-- A standby's replay position and its own copy of the counter.
-- returns: lsn, changes
SELECT pg_last_wal_replay_lsn() AS lsn, n AS changes FROM permission_changes
