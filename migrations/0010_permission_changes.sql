-- A standby decides access only once it has replayed every change that may have taken access
-- away (docs/operating.md "Standbys and replicas"): a revoked or changed role (project_members
-- deleted or updated) or a changed role definition (auth_roles). Each such change bumps the
-- one counter below in its own transaction; settle-api's position poller reads the counter
-- with the primary's WAL position, and from then on reads only from a standby that has
-- replayed that position. A grant (a new member) does not bump it: a standby that has not
-- replayed a grant refuses what the primary allows, for as long as it lags.
CREATE TABLE permission_changes (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    n   bigint NOT NULL
);
INSERT INTO permission_changes (one, n) VALUES (true, 0);

CREATE FUNCTION permission_changes_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE permission_changes SET n = n + 1;
    RETURN NULL;
END
$$;

CREATE TRIGGER project_members_revoked AFTER DELETE ON project_members
    FOR EACH ROW EXECUTE FUNCTION permission_changes_bump();
CREATE TRIGGER project_members_changed AFTER UPDATE ON project_members
    FOR EACH ROW WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION permission_changes_bump();
CREATE TRIGGER auth_roles_changed AFTER UPDATE OR DELETE ON auth_roles
    FOR EACH STATEMENT EXECUTE FUNCTION permission_changes_bump();
