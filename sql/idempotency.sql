-- Idempotency-Key claims and stored answers (api/idempotency.c), in the transaction of the
-- request's handler.

-- unit: idempotency_claim
-- Claims key $2 of user $1 for a request (method $3, path $4, hash of method, path and body
-- $5): one row when claimed, none when the key was claimed before. Blocks while a
-- concurrent request holds the same key, until it commits or not.
-- returns: claimed
INSERT INTO idempotency_keys(user_id, key, method, path, request_hash)
VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING RETURNING 1 AS claimed

-- unit: idempotency_replay
-- The request hash and the stored answer (status, body; null while none is stored) of key
-- $2 of user $1.
-- returns: request_hash, response_status, response_body
SELECT request_hash, response_status, response_body FROM idempotency_keys
WHERE user_id = $1 AND key = $2

-- unit: idempotency_store
-- Stores the answer (status $3, body $4) of the request that claimed key $2 of user $1.
UPDATE idempotency_keys SET response_status = $3, response_body = $4
WHERE user_id = $1 AND key = $2
