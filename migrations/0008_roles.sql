-- Project roles (DDS's own auth roles) and the permissions each grants (API.md "Users, auth
-- providers, roles and project permissions"). A project member holds one role; every access
-- check asks whether the caller's role on the project grants the permission the call needs.
-- Membership before roles meant full rights: existing members become project_admin.

CREATE TABLE auth_roles (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    description text NOT NULL,
    permissions text[] NOT NULL,
    position    integer NOT NULL UNIQUE
);

INSERT INTO auth_roles (id, name, description, permissions, position) VALUES
    ('project_admin', 'Project Admin',
     'Can update project details, delete project, manage project level permissions and perform all file operations',
     '{view_project,update_project,delete_project,manage_project_permissions,download_file,create_file,update_file,delete_file}',
     1),
    ('project_viewer', 'Project Viewer', 'Can only view project and file meta-data',
     '{view_project}', 2),
    ('file_downloader', 'File Downloader', 'Can download files',
     '{view_project,download_file}', 3),
    ('file_editor', 'File Editor', 'Can view download create update and delete files',
     '{view_project,download_file,create_file,update_file,delete_file}', 4),
    ('file_uploader', 'File Uploader', 'Can update files',
     '{view_project,create_file}', 5);

UPDATE project_members SET role = 'project_admin'
WHERE role NOT IN (SELECT id FROM auth_roles);
ALTER TABLE project_members
    ADD CONSTRAINT project_members_role_fkey FOREIGN KEY (role) REFERENCES auth_roles(id);
-- The foreign key's index, which also finds a project's admins (the last one may not go).
CREATE INDEX project_members_role_idx ON project_members(role, project_id);

-- GET /users?email= and the affiliates lookup by email match exactly.
CREATE INDEX users_email_idx ON users(email);
