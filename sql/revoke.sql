-- The revocation cache (api/revoke.c): the users and agents whose tokens are refused.

-- unit: revoke_load
-- Every user and agent (agent: true) disabled now, or disabled recently enough that a token
-- issued before could still be alive ($1: the token lifetime in seconds): its id, whether it
-- is disabled, and valid_after_ms (epoch milliseconds): its tokens issued at or before then
-- are dead.
-- returns: id, agent, disabled, valid_after_ms
SELECT id::text AS id, false AS agent, disabled_at IS NOT NULL AS disabled,
       floor(extract(epoch FROM tokens_valid_after) * 1000)::bigint AS valid_after_ms
FROM users WHERE tokens_valid_after IS NOT NULL
  AND (disabled_at IS NOT NULL OR tokens_valid_after > now() - make_interval(secs => $1))
UNION ALL
SELECT id::text, true, disabled_at IS NOT NULL,
       floor(extract(epoch FROM tokens_valid_after) * 1000)::bigint
FROM software_agents WHERE tokens_valid_after IS NOT NULL
  AND (disabled_at IS NOT NULL OR tokens_valid_after > now() - make_interval(secs => $1))
