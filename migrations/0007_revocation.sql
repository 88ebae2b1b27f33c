-- Disabling a user or a software agent (settle user|agent disable NAME) revokes its tokens.
-- disabled_at: set while disabled (no token is issued, every live token answers 401).
-- tokens_valid_after: the moment of the last disable, by the database's clock; a token
-- issued (api_tokens.created_at, carried in the token) at or before it stays dead after
-- the user or agent is enabled again. settle-api caches the rows that have it (the partial
-- indexes serve that query) and refreshes the cache every 2 s.
ALTER TABLE users ADD COLUMN disabled_at timestamptz,
                  ADD COLUMN tokens_valid_after timestamptz;
ALTER TABLE software_agents ADD COLUMN disabled_at timestamptz,
                            ADD COLUMN tokens_valid_after timestamptz;
CREATE INDEX users_tokens_valid_after_idx ON users (tokens_valid_after)
    WHERE tokens_valid_after IS NOT NULL;
CREATE INDEX software_agents_tokens_valid_after_idx ON software_agents (tokens_valid_after)
    WHERE tokens_valid_after IS NOT NULL;
CREATE INDEX software_agents_name_idx ON software_agents (name);
