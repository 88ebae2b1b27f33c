-- Tokens (api/auth.c): POST /software_agents/api_token.

-- unit: auth_issue
-- Finds the user and agent of the agent key hash $1 and the user key hash $2, locking both
-- rows (FOR SHARE) so that a disable (settle user|agent disable, which locks them FOR NO KEY
-- UPDATE) or a change of their keys (api/agents.c) runs wholly before or after, and records
-- the token $3, expiring at $4 (epoch seconds), for them unless either is disabled. A key
-- counts only while it carries its owner's key_generation (migration 0014): a request that
-- waited for a change of keys re-checks the owner's new row and finds the old key stale.
-- One row: the user's and the agent's ids, whether each is disabled, and issued (epoch
-- milliseconds, the database's clock; null when no token was issued). No row: a key is
-- unknown.
-- returns: user_id, agent_id, user_disabled, agent_disabled, issued
WITH k AS (
    SELECT u.id AS user_id, a.id AS agent_id, u.disabled_at AS user_off,
           a.disabled_at AS agent_off
    FROM api_keys ak JOIN software_agents a ON a.id = ak.software_agent_id,
         api_keys uk JOIN users u ON u.id = uk.user_id
    WHERE ak.key_hash = $1 AND uk.key_hash = $2
      AND ak.generation = a.key_generation AND uk.generation = u.key_generation
    FOR SHARE OF a, u),
ins AS (
    INSERT INTO api_tokens(id, user_id, software_agent_id, expires_at, created_at)
    SELECT $3, user_id, agent_id, to_timestamp($4::bigint), clock_timestamp() FROM k
    WHERE user_off IS NULL AND agent_off IS NULL
    RETURNING floor(extract(epoch FROM created_at) * 1000)::bigint AS issued)
SELECT k.user_id, k.agent_id, k.user_off IS NOT NULL AS user_disabled,
       k.agent_off IS NOT NULL AS agent_disabled, (SELECT issued FROM ins) AS issued
FROM k
