-- The statements of cli/ident.c: settle user|agent create|disable|enable. Disable and enable
-- take $1 a name and $2 an id (either may be NULL) and match either; the lock comes first,
-- in the same transaction, so that the update sees every row it matched.

-- unit: cli_ident_user_create
-- settle user create: the user $2 (username and full name) with id $1, made if new; an
-- existing one keeps its id, and takes email $3 unless it is NULL. Returns the user's id.
-- returns: id
INSERT INTO users(id, username, full_name, email) VALUES ($1, $2, $2, $3)
ON CONFLICT (username) DO UPDATE SET email = coalesce(EXCLUDED.email, users.email)
RETURNING id

-- unit: cli_ident_user_key
-- A new API key of user $3: $1 its id, $2 the hash of the key.
INSERT INTO api_keys(id, key_hash, user_id) VALUES ($1, $2, $3)

-- unit: cli_ident_agent_create
-- settle agent create: a new software agent, $1 its id, $2 its name (names need not be
-- unique).
INSERT INTO software_agents(id, name) VALUES ($1, $2)

-- unit: cli_ident_agent_key
-- A new API key of software agent $3: $1 its id, $2 the hash of the key.
INSERT INTO api_keys(id, key_hash, software_agent_id) VALUES ($1, $2, $3)

-- unit: cli_ident_user_lock
-- Locks the users named $1 or whose id is $2 (FOR NO KEY UPDATE: foreign key checks need not
-- wait). by_id: the row matched by its id.
-- returns: id, name, by_id
SELECT id, username AS name, id = $2::uuid AS by_id FROM users
WHERE username = $1 OR id = $2::uuid
FOR NO KEY UPDATE

-- unit: cli_ident_user_disable
-- Disables the users named $1 or whose id is $2, and ends their tokens (tokens_valid_after:
-- clock_timestamp(), after the lock).
-- returns: id, name
UPDATE users SET disabled_at = coalesce(disabled_at, clock_timestamp()),
                 tokens_valid_after = clock_timestamp()
WHERE username = $1 OR id = $2::uuid
RETURNING id, username AS name

-- unit: cli_ident_user_enable
-- Enables the users named $1 or whose id is $2.
-- returns: id, name
UPDATE users SET disabled_at = NULL WHERE username = $1 OR id = $2::uuid
RETURNING id, username AS name

-- unit: cli_ident_agent_lock
-- Locks the software agents named $1 or whose id is $2, as cli_ident_user_lock.
-- returns: id, name, by_id
SELECT id, name, id = $2::uuid AS by_id FROM software_agents
WHERE name = $1 OR id = $2::uuid
FOR NO KEY UPDATE

-- unit: cli_ident_agent_disable
-- Disables the software agents named $1 or whose id is $2, and ends their tokens.
-- returns: id, name
UPDATE software_agents SET disabled_at = coalesce(disabled_at, clock_timestamp()),
                           tokens_valid_after = clock_timestamp()
WHERE name = $1 OR id = $2::uuid
RETURNING id, name

-- unit: cli_ident_agent_enable
-- Enables the software agents named $1 or whose id is $2.
-- returns: id, name
UPDATE software_agents SET disabled_at = NULL WHERE name = $1 OR id = $2::uuid
RETURNING id, name
