-- Self-service credentials (docs/api.md "Users, software agents and tokens"): a user makes
-- software agents of their own and keys over the API.
-- creator_id: the user who made the agent over the API (NULL: the operator's CLI made it;
-- only the CLI reaches it). deleted_at/by: DELETE /software_agents/{id} (the row stays, as
-- DDS's is_deleted). key_generation: bumped whenever an owner's keys are replaced or
-- deleted; a key (api_keys.generation) logs in only while it carries its owner's current
-- generation, so a token request that waited on the owner's row while its key was replaced
-- re-checks the row and finds the key stale.
ALTER TABLE software_agents ADD COLUMN creator_id uuid REFERENCES users(id) ON DELETE CASCADE,
                            ADD COLUMN repo_url text,
                            ADD COLUMN updated_at timestamptz,
                            ADD COLUMN updated_by uuid REFERENCES users(id),
                            ADD COLUMN deleted_at timestamptz,
                            ADD COLUMN deleted_by uuid REFERENCES users(id),
                            ADD COLUMN key_generation integer NOT NULL DEFAULT 0;
ALTER TABLE users ADD COLUMN key_generation integer NOT NULL DEFAULT 0;
ALTER TABLE api_keys ADD COLUMN generation integer NOT NULL DEFAULT 0;
ALTER TABLE api_keys ALTER COLUMN generation DROP DEFAULT;
-- A key inserted without a generation (settle user|agent create) takes its owner's current
-- one; settle-api gives it explicitly where it bumps the generation in the same statement.
CREATE FUNCTION settle_api_key_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.generation IS NULL THEN
        NEW.generation := coalesce(
            (SELECT key_generation FROM users WHERE id = NEW.user_id),
            (SELECT key_generation FROM software_agents WHERE id = NEW.software_agent_id));
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER api_keys_generation BEFORE INSERT ON api_keys
    FOR EACH ROW EXECUTE FUNCTION settle_api_key_generation();
CREATE INDEX software_agents_creator_id_idx ON software_agents (creator_id, created_at);
CREATE INDEX software_agents_updated_by_idx ON software_agents (updated_by);
CREATE INDEX software_agents_deleted_by_idx ON software_agents (deleted_by);
