-- The rules that the statements of sql/users.sql, agents.sql and permissions.sql share beyond
-- those of migration 0017: the user directory's filters, the DDS JSON of a user (full, as the
-- current user, as an affiliate), of a role, of a software agent and of a project permission,
-- and which software agents a caller reaches.
--
-- As in 0011 and 0017: every function here is LANGUAGE sql, not STRICT, without SET options,
-- so that the planner inlines it into the calling statement. Call a set-returning one in
-- FROM (its own or a sub-select's), never with a sub-select as an argument (use a lateral
-- column). Pass a row of a table t as ROW(x.*)::t, not as x: the planner takes the columns of
-- a ROW(...) apart, where a whole-row x in a sub-select reaches it as one value taken apart
-- at each use (in a scan's filter, once per row scanned).

-- The users that the filters of GET /users and of an auth provider's affiliates select, each
-- filter ignored when NULL: username and email match exactly; first_name_begins and
-- last_name_begins the start of the first word of full_name and of the rest, and
-- full_name_contains any part of full_name (all three ignoring case).
CREATE FUNCTION settle_user_directory(username text, email text, first_name_begins text,
                                      last_name_begins text, full_name_contains text)
RETURNS SETOF users
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT u.* FROM users u
    WHERE (settle_user_directory.username IS NULL OR u.username = settle_user_directory.username)
      AND (settle_user_directory.email IS NULL OR u.email = settle_user_directory.email)
      AND (settle_user_directory.first_name_begins IS NULL
           OR starts_with(lower(split_part(u.full_name, ' ', 1)),
                          lower(settle_user_directory.first_name_begins)))
      AND (settle_user_directory.last_name_begins IS NULL
           OR (strpos(u.full_name, ' ') > 0
               AND starts_with(lower(substr(u.full_name, strpos(u.full_name, ' ') + 1)),
                               lower(settle_user_directory.last_name_begins))))
      AND (settle_user_directory.full_name_contains IS NULL
           OR strpos(lower(u.full_name), lower(settle_user_directory.full_name_contains)) > 0)
$$;

-- The full dds-user of users row u as JSON text: settle_user_obj's fields, last_login_on (the
-- newest token's creation) and audit (created_on only). One row.
CREATE FUNCTION settle_user_full(u users) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT (settle_user_obj(u)::jsonb || jsonb_build_object(
        'last_login_on', settle_ts((SELECT max(t.created_at) FROM api_tokens t
                                    WHERE t.user_id = u.id)),
        'audit', (SELECT a FROM settle_audit(u.created_at, NULL, NULL, NULL, NULL, NULL) a)::jsonb
    ))::text
$$;

-- users row u as GET /current_user shows the caller: settle_user_full with agent {id} the
-- software agent of the caller's token (NULL: none). One row.
CREATE FUNCTION settle_current_user(u users, agent uuid) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT (f::jsonb || jsonb_build_object(
                           'agent', jsonb_build_object('id', settle_current_user.agent)))::text
    FROM settle_user_full(u) f
$$;

-- users row u as an affiliate of the one auth provider, {uid, first_name, last_name,
-- full_name, email} as JSON text, the fields as settle_user_obj makes them. One row.
CREATE FUNCTION settle_affiliate(u users) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object('uid', vo.v->'username', 'first_name', vo.v->'first_name',
                             'last_name', vo.v->'last_name', 'full_name', vo.v->'full_name',
                             'email', vo.v->'email')::text
    FROM (SELECT settle_user_obj(u) AS v) vo
$$;

-- The dds-auth-role of auth_roles row a as JSON text: its permissions in their order, the
-- project context. One row.
CREATE FUNCTION settle_auth_role(a auth_roles) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object('kind', 'dds-auth-role', 'id', a.id, 'name', a.name,
        'description', a.description,
        'permissions', (SELECT json_agg(json_build_object('id', pm.x) ORDER BY pm.o)
                        FROM unnest(a.permissions) WITH ORDINALITY AS pm(x, o)),
        'contexts', json_build_array('project'), 'is_deprecated', false)::text
$$;

-- The DDS software agent of software_agents row a as JSON text (docs/api.md "Users, software
-- agents and tokens"): id, audit, name, description, repo_url, is_deleted. One row.
CREATE FUNCTION settle_agent(a software_agents) RETURNS SETOF text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object('id', a.id,
        'audit', (SELECT au FROM settle_audit(a.created_at, a.creator_id, a.updated_at,
                                              a.updated_by, a.deleted_at, a.deleted_by) au)::json,
        'name', a.name, 'description', a.description, 'repo_url', a.repo_url,
        'is_deleted', a.deleted_at IS NOT NULL)::text
$$;

-- Whether software_agents row a is the agent id of caller and not deleted: only the creator
-- of an agent reaches it (agents the operator's CLI made have none).
CREATE FUNCTION settle_live_agent(a software_agents, id uuid, caller uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT a.id = settle_live_agent.id AND a.creator_id = settle_live_agent.caller
           AND a.deleted_at IS NULL
$$;

-- The dds-project-permission of the project_members row (project, usr, role) as JSON text
-- (permission), with the user's username (the order of GET /projects/{id}/permissions). One
-- row, none when the project, user or role is unknown.
CREATE FUNCTION settle_permission(project uuid, usr uuid, role text)
RETURNS TABLE (permission text, username text)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT json_build_object('kind', 'dds-project-permission',
        'project', json_build_object('id', p.id, 'name', p.name),
        'user', json_build_object('id', u.id, 'username', u.username, 'full_name', u.full_name),
        'auth_role', json_build_object('id', a.id, 'name', a.name,
                                       'description', a.description))::text,
           u.username
    FROM projects p, users u, auth_roles a
    WHERE p.id = settle_permission.project AND u.id = settle_permission.usr
      AND a.id = settle_permission.role
$$;
