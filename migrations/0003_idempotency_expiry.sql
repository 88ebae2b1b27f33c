-- Idempotency keys are kept for 24 hours; the worker's housekeeping deletes older ones.
CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys(created_at);
