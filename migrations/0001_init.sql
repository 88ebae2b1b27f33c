-- Settle's first schema: the whole data model of DESIGN.md.

CREATE TABLE users (
    id          uuid PRIMARY KEY,
    username    text NOT NULL UNIQUE,
    full_name   text NOT NULL DEFAULT '',
    email       text,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE software_agents (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Keys are stored as the hex SHA-256 of the key; either a user key or an agent key.
CREATE TABLE api_keys (
    id                uuid PRIMARY KEY,
    key_hash          text NOT NULL UNIQUE,
    user_id           uuid REFERENCES users(id) ON DELETE CASCADE,
    software_agent_id uuid REFERENCES software_agents(id) ON DELETE CASCADE,
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((user_id IS NULL) <> (software_agent_id IS NULL))
);
CREATE INDEX api_keys_user_id_idx ON api_keys(user_id);
CREATE INDEX api_keys_software_agent_id_idx ON api_keys(software_agent_id);

-- Tokens are signed and stateless; this table records issued ones for audit only.
CREATE TABLE api_tokens (
    id                uuid PRIMARY KEY,
    user_id           uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    software_agent_id uuid NOT NULL REFERENCES software_agents(id) ON DELETE CASCADE,
    expires_at        timestamptz NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX api_tokens_user_id_idx ON api_tokens(user_id);
CREATE INDEX api_tokens_software_agent_id_idx ON api_tokens(software_agent_id);

CREATE TABLE projects (
    id                uuid PRIMARY KEY,
    name              text NOT NULL,
    description       text NOT NULL DEFAULT '',
    storage_container text NOT NULL,
    is_deleted        boolean NOT NULL DEFAULT false,
    is_consistent     boolean NOT NULL DEFAULT false,
    error_at          timestamptz,
    error_message     text,
    created_by        uuid NOT NULL REFERENCES users(id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz,
    updated_by        uuid REFERENCES users(id),
    deleted_at        timestamptz
);
CREATE INDEX projects_created_by_idx ON projects(created_by);
CREATE INDEX projects_updated_by_idx ON projects(updated_by);
CREATE INDEX projects_pending_idx ON projects(created_at) WHERE NOT is_consistent;

CREATE TABLE project_members (
    project_id uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    user_id    uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role       text NOT NULL DEFAULT 'project_admin',
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (project_id, user_id)
);
CREATE INDEX project_members_user_id_idx ON project_members(user_id, project_id);

CREATE TABLE folders (
    id            uuid PRIMARY KEY,
    project_id    uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    parent_id     uuid REFERENCES folders(id) ON DELETE CASCADE,  -- NULL: at the project root
    name          text NOT NULL,
    is_deleted    boolean NOT NULL DEFAULT false,
    is_consistent boolean NOT NULL DEFAULT true,
    created_by    uuid NOT NULL REFERENCES users(id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz,
    updated_by    uuid REFERENCES users(id),
    deleted_at    timestamptz
);
CREATE INDEX folders_project_id_idx ON folders(project_id, parent_id, name);
CREATE INDEX folders_parent_id_idx ON folders(parent_id);
CREATE INDEX folders_created_by_idx ON folders(created_by);
CREATE INDEX folders_updated_by_idx ON folders(updated_by);

CREATE TABLE uploads (
    id                uuid PRIMARY KEY,
    project_id        uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    name              text NOT NULL,
    content_type      text NOT NULL DEFAULT 'application/octet-stream',
    size              bigint NOT NULL CHECK (size >= 0),
    chunked           boolean NOT NULL DEFAULT true,
    etag              text NOT NULL,
    storage_container text NOT NULL,
    completed_at      timestamptz,
    completed_hash_value     text,
    completed_hash_algorithm text,
    is_consistent     boolean NOT NULL DEFAULT false,
    consistent_at     timestamptz,
    error_at          timestamptz,
    error_message     text,
    purged_at         timestamptz,
    created_by        uuid NOT NULL REFERENCES users(id),
    created_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX uploads_project_id_idx ON uploads(project_id, created_at, id);
CREATE INDEX uploads_created_by_idx ON uploads(created_by);
CREATE INDEX uploads_pending_idx ON uploads(completed_at) WHERE completed_at IS NOT NULL AND NOT is_consistent;

CREATE TABLE chunks (
    upload_id      uuid NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    number         integer NOT NULL CHECK (number >= 1),
    size           bigint NOT NULL CHECK (size >= 0),
    hash_value     text NOT NULL,
    hash_algorithm text NOT NULL,
    stored_size    bigint,
    stored_md5     text,
    stored_sha1    text,
    stored_sha256  text,
    stored_at      timestamptz,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (upload_id, number)
);

-- Whole-file hashes of an upload (given at complete or later through PUT /uploads/{id}/hashes).
CREATE TABLE fingerprints (
    id          uuid PRIMARY KEY,
    upload_id   uuid NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
    algorithm   text NOT NULL,
    value       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (upload_id, algorithm)
);

CREATE TABLE files (
    id            uuid PRIMARY KEY,
    project_id    uuid NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    parent_id     uuid REFERENCES folders(id) ON DELETE CASCADE,  -- NULL: at the project root
    name          text NOT NULL,
    is_deleted    boolean NOT NULL DEFAULT false,
    created_by    uuid NOT NULL REFERENCES users(id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz,
    updated_by    uuid REFERENCES users(id),
    deleted_at    timestamptz
);
CREATE INDEX files_project_id_idx ON files(project_id, parent_id, name);
CREATE INDEX files_parent_id_idx ON files(parent_id);
CREATE INDEX files_created_by_idx ON files(created_by);
CREATE INDEX files_updated_by_idx ON files(updated_by);

CREATE TABLE file_versions (
    id          uuid PRIMARY KEY,
    file_id     uuid NOT NULL REFERENCES files(id) ON DELETE CASCADE,
    version     integer NOT NULL,
    label       text,
    upload_id   uuid NOT NULL UNIQUE REFERENCES uploads(id),
    is_deleted  boolean NOT NULL DEFAULT false,
    created_by  uuid NOT NULL REFERENCES users(id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (file_id, version)
);
CREATE INDEX file_versions_created_by_idx ON file_versions(created_by);

-- Jobs waiting to be published (or, in inline mode, run). A row is one job message.
CREATE TABLE outbox (
    id           uuid PRIMARY KEY,
    kind         text NOT NULL,
    resource_id  uuid NOT NULL,
    attempt      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    available_at timestamptz NOT NULL DEFAULT now(),
    sent_at      timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox(available_at) WHERE sent_at IS NULL;
CREATE INDEX outbox_resource_id_idx ON outbox(resource_id);

-- One row per job message whose effect was committed: duplicates are skipped.
CREATE TABLE job_runs (
    message_id  uuid PRIMARY KEY,
    kind        text NOT NULL,
    resource_id uuid NOT NULL,
    attempt     integer NOT NULL,
    outcome     text NOT NULL,
    finished_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_runs_resource_id_idx ON job_runs(resource_id);

CREATE TABLE idempotency_keys (
    user_id        uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key            text NOT NULL,
    method         text NOT NULL,
    path           text NOT NULL,
    request_hash   text NOT NULL,
    response_status integer,
    response_body  text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, key)
);

CREATE TABLE message_log (
    id          bigserial PRIMARY KEY,
    message_id  text,
    routing_key text NOT NULL,
    payload     jsonb NOT NULL,
    logged_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX message_log_payload_idx ON message_log USING gin (payload);
CREATE INDEX message_log_message_id_idx ON message_log(message_id);
