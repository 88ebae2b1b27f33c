-- The outbox holds only jobs not yet published. The relay deletes a row once RabbitMQ
-- confirmed it and, in the same statement, records the message in message_log (the audit
-- log no longer takes a second copy through the broker). A queue table that is only
-- inserted into and deleted from stays as small as its backlog; vacuum it often so that
-- its dead index entries never slow the relay's SKIP LOCKED claim.
INSERT INTO message_log (message_id, routing_key, payload, logged_at)
SELECT o.id::text, o.kind,
       jsonb_build_object('id', o.id, 'kind', o.kind, 'resource_id', o.resource_id,
                          'attempt', o.attempt,
                          'enqueued_at', to_char(o.created_at AT TIME ZONE 'UTC',
                                                 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')),
       o.sent_at
FROM outbox o
WHERE o.sent_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM message_log m WHERE m.message_id = o.id::text);
DELETE FROM outbox WHERE sent_at IS NOT NULL;
DROP INDEX outbox_pending_idx;
ALTER TABLE outbox DROP COLUMN sent_at;
CREATE INDEX outbox_available_at_idx ON outbox (available_at);
ALTER TABLE outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
                        autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0,
                        autovacuum_analyze_threshold = 1000);

-- uploads is updated twice per upload (completed, then consistent) and chunks once (stored):
-- room on each page lets those updates stay on the page, and vacuum at 10% dead (not 20%)
-- keeps the indexes freer of dead entries under sustained load. How often autovacuum looks
-- at all is the server's autovacuum_naptime (2 s in scripts/stack.sh and the compose file).
ALTER TABLE uploads SET (fillfactor = 85, autovacuum_vacuum_scale_factor = 0.1,
                         autovacuum_vacuum_cost_delay = 0);
ALTER TABLE chunks SET (fillfactor = 85, autovacuum_vacuum_scale_factor = 0.1,
                        autovacuum_vacuum_cost_delay = 0);
