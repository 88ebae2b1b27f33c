-- The job rows settle-api and the workers write in their callers' transactions (common/outbox.c).
-- Every insert into outbox wakes the relay through the trigger outbox_notify (migration 0017).

-- unit: outbox_insert
-- A job row: id (the message id, new), kind, resource_id; attempt 1, available now.
INSERT INTO outbox (id, kind, resource_id) VALUES ($1, $2, $3)
