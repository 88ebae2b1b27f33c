-- The statements of api/agents.c: the software agents a user made over the API, their keys,
-- and the caller's own user key. An agent is answered as settle_agent makes it, and reached
-- by its creator only (settle_live_agent, migration 0019). Replacing or deleting the keys of
-- a user or agent revokes its tokens: its tokens_valid_after moves to now and its
-- key_generation moves on (api/agents.c).

-- unit: agents_lock_agent
-- Agent $1 when the caller $2 reaches it, locked FOR NO KEY UPDATE (token issue holds it FOR
-- SHARE): has_key, whether it has a key. No row when the caller does not reach it.
-- returns: has_key
SELECT EXISTS (SELECT 1 FROM api_keys k WHERE k.software_agent_id = a.id) AS has_key
FROM software_agents a WHERE settle_live_agent(a, $1, $2) FOR NO KEY UPDATE OF a

-- unit: agents_drop_agent
-- Deletes the keys of agent $1 and revokes their tokens.
WITH d AS (DELETE FROM api_keys WHERE software_agent_id = $1)
UPDATE software_agents SET key_generation = key_generation + 1,
    tokens_valid_after = clock_timestamp() WHERE id = $1

-- unit: agents_rekey_agent
-- agents_drop_agent for agent $1, and a new key of it ($2 key id, $3 key hash): its
-- created_on.
-- returns: created_on
WITH d AS (DELETE FROM api_keys WHERE software_agent_id = $1),
o AS (UPDATE software_agents SET key_generation = key_generation + 1,
          tokens_valid_after = clock_timestamp() WHERE id = $1
      RETURNING id, key_generation)
INSERT INTO api_keys(id, key_hash, software_agent_id, generation)
SELECT $2, $3, o.id, o.key_generation FROM o
RETURNING settle_ts(created_at) AS created_on

-- unit: agents_show_agent
-- One row: created_on of the newest key of agent $1 when the caller $2 reaches it (NULL:
-- no key, or the caller does not reach it).
-- returns: created_on
SELECT settle_ts(max(k.created_at)) AS created_on
FROM software_agents a JOIN api_keys k ON k.software_agent_id = a.id
WHERE settle_live_agent(a, $1, $2)

-- unit: agents_lock_user
-- The user $1 when they are the caller $2, locked FOR NO KEY UPDATE (token issue holds it
-- FOR SHARE): has_key, whether they have a key. No row for another user.
-- returns: has_key
SELECT EXISTS (SELECT 1 FROM api_keys k WHERE k.user_id = u.id) AS has_key
FROM users u WHERE u.id = $1 AND u.id = $2::uuid FOR NO KEY UPDATE OF u

-- unit: agents_drop_user
-- Deletes the keys of user $1 and revokes their tokens.
WITH d AS (DELETE FROM api_keys WHERE user_id = $1)
UPDATE users SET key_generation = key_generation + 1,
    tokens_valid_after = clock_timestamp() WHERE id = $1

-- unit: agents_rekey_user
-- agents_drop_user for user $1, and a new key of theirs ($2 key id, $3 key hash): its
-- created_on.
-- returns: created_on
WITH d AS (DELETE FROM api_keys WHERE user_id = $1),
o AS (UPDATE users SET key_generation = key_generation + 1,
          tokens_valid_after = clock_timestamp() WHERE id = $1
      RETURNING id, key_generation)
INSERT INTO api_keys(id, key_hash, user_id, generation)
SELECT $2, $3, o.id, o.key_generation FROM o
RETURNING settle_ts(created_at) AS created_on

-- unit: agents_show_user
-- One row: created_on of the newest key of user $1 when they are the caller $2 (NULL: no
-- key, or another user).
-- returns: created_on
SELECT settle_ts(max(k.created_at)) AS created_on FROM api_keys k
WHERE k.user_id = $1 AND k.user_id = $2::uuid

-- unit: agents_lock_creator
-- Locks the users row of the caller $1 (FOR NO KEY UPDATE), so that the count of their
-- agents agents_create checks holds until the transaction ends.
-- returns: locked
SELECT 1 AS locked FROM users WHERE id = $1 FOR NO KEY UPDATE

-- unit: agents_create
-- POST /software_agents: the agent ($1 caller, $2 agent id, $3 name, $4 description, $5
-- repo_url) and its key ($6 key id, $7 key hash), unless the caller has 100 agents (not
-- deleted) already (api/agents.c AGENTS_MAX_PER_USER; no row then). Run after
-- agents_lock_creator. agent: its JSON text; created_on: its key's.
-- returns: agent, created_on
WITH a AS (INSERT INTO software_agents(id, name, description, repo_url, creator_id)
           SELECT $2, $3, coalesce($4, ''), $5, $1
           WHERE (SELECT count(*) FROM software_agents WHERE creator_id = $1
                  AND deleted_at IS NULL) < 100 RETURNING *),
k AS (INSERT INTO api_keys(id, key_hash, software_agent_id, generation)
      SELECT $6, $7, a.id, a.key_generation FROM a RETURNING created_at)
SELECT (SELECT j FROM settle_agent(ROW(a.*)::software_agents) j) AS agent,
       settle_ts(k.created_at) AS created_on
FROM a, k

-- unit: agents_list
-- GET /software_agents: the agents (not deleted) of the caller $1, oldest first, as one JSON
-- array text.
-- returns: results
SELECT coalesce(json_agg(x.j ORDER BY x.created_at, x.id), '[]')::text AS results
FROM (SELECT (SELECT j FROM settle_agent(ROW(a.*)::software_agents) j)::json AS j,
             a.created_at, a.id
      FROM software_agents a WHERE a.creator_id = $1 AND a.deleted_at IS NULL) x

-- unit: agents_get
-- GET /software_agents/{id}: agent $1 of the caller $2, deleted or not, as JSON text; no row
-- when there is none.
-- returns: agent
SELECT (SELECT j FROM settle_agent(ROW(a.*)::software_agents) j) AS agent FROM software_agents a
WHERE a.id = $1 AND a.creator_id = $2

-- unit: agents_update
-- PUT /software_agents/{id}: sets name $3, description $4 and repo_url $5 (NULL: unchanged)
-- of agent $1 when the caller $2 reaches it; the agent as written, no row when not.
-- returns: agent
UPDATE software_agents a SET name = coalesce($3, a.name),
    description = coalesce($4, a.description), repo_url = coalesce($5, a.repo_url),
    updated_at = now(), updated_by = $2
WHERE settle_live_agent(a, $1, $2)
RETURNING (SELECT j FROM settle_agent(ROW(a.*)::software_agents) j) AS agent

-- unit: agents_delete
-- DELETE /software_agents/{id}: marks agent $1 deleted by the caller $2, deletes its keys and
-- revokes its tokens (of every user). Run after agents_lock_agent.
WITH d AS (DELETE FROM api_keys WHERE software_agent_id = $1)
UPDATE software_agents SET key_generation = key_generation + 1,
    tokens_valid_after = clock_timestamp(), deleted_at = now(), deleted_by = $2 WHERE id = $1
