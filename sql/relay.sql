-- The outbox relay (common/relay.c, common/relay_batch.c): the backlog, and one batch's
-- claim, retirement and retries, in one transaction.

-- unit: relay_count
-- The unsent outbox rows.
-- returns: backlog
SELECT count(*) AS backlog FROM outbox

-- unit: relay_batch_claim
-- Claims up to $1 due rows not claimed yet by this transaction nor handed to this relay
-- ($2, a uuid array) and written at least $3 milliseconds ago (a sweep leaves the youngest
-- to the relay they are handed to), the longest due first, skipping rows another relay
-- holds: statement_timestamp(), not now(), so that a claim later in the transaction sees
-- rows committed since it began. created_ms: when the row was written, in epoch ms.
-- returns: id, kind, resource_id, attempt, created_ms
SELECT id, kind, resource_id, attempt,
       (extract(epoch from created_at) * 1000)::bigint AS created_ms
FROM outbox WHERE available_at <= statement_timestamp() AND id <> ALL($2::uuid[])
  AND created_at <= statement_timestamp() - $3::bigint * interval '1 millisecond'
ORDER BY available_at LIMIT $1 FOR UPDATE SKIP LOCKED

-- unit: relay_batch_sent
-- Retires the delivered rows: $1 is a JSON array of {"at", "m"}, each a message (m) and
-- when the relay published it (at, epoch ms; the broker confirmed it before this statement).
-- Each row leaves the outbox and its message enters the audit log with logged_at = at, in
-- one statement (in a claim batch's transaction, or alone for hand-overs, which are retired
-- up to 20 ms after their publish). A row gone already (a sweep of another relay published
-- it too) logs nothing.
WITH m AS (SELECT e->'m' AS msg, (e->>'at')::bigint AS at
           FROM jsonb_array_elements($1::jsonb) AS e),
sent AS (DELETE FROM outbox o USING m WHERE o.id = (m.msg->>'id')::uuid RETURNING o.id)
INSERT INTO message_log (message_id, routing_key, payload, logged_at)
SELECT m.msg->>'id', m.msg->>'kind', m.msg, to_timestamp(m.at / 1000.0)
FROM m JOIN sent ON sent.id = (m.msg->>'id')::uuid

-- unit: relay_batch_retry
-- Puts off the rows $1 (a uuid array) the sink could not deliver: each is due again after
-- its delay in $2 (milliseconds, a bigint array) with its next attempt number in $3 (an int
-- array), the three arrays in the same order.
UPDATE outbox o SET attempt = d.attempt,
    available_at = now() + d.ms * interval '1 millisecond'
FROM unnest($1::uuid[], $2::bigint[], $3::int[]) AS d(id, ms, attempt) WHERE o.id = d.id
