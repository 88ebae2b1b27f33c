"""Users, auth providers, roles and project permissions (API.md), against a real settle-api
in inline mode: the calls a DDS client makes to find a person and grant a role, the last
project_admin rule, and the role table enforced on every endpoint of API.md (each endpoint
as each of the five roles and as a stranger)."""

import hashlib
import os
import uuid

import requests

from test_api_uploads import Client, md5

PROVIDER = "00000000-0000-4000-8000-000000000002"
ROLES = ["project_admin", "project_viewer", "file_downloader", "file_editor", "file_uploader"]
PERMS = {
    "project_admin": {"view_project", "update_project", "delete_project",
                      "manage_project_permissions", "download_file", "create_file",
                      "update_file", "delete_file"},
    "project_viewer": {"view_project"},
    "file_downloader": {"view_project", "download_file"},
    "file_editor": {"view_project", "download_file", "create_file", "update_file",
                    "delete_file"},
    "file_uploader": {"view_project", "create_file"},
    None: set(),  # a stranger: no role on the project
}
# In the role table: a call that only the creator of what it touches may make (an activity,
# a relation), whatever their role; the Fixture's admin made them.
CREATOR = "creator"


def login(settle, api, name=None):
    c = Client(api, settle.login(api, name or f"user-{uuid.uuid4().hex[:8]}"))
    return c


def ok(r, status=200):
    assert r.status_code == status, f"{r.request.method} {r.url}: {r.status_code} {r.text}"
    return r.json() if r.content else None


def err(r, status, code):
    assert r.status_code == status, f"{r.request.method} {r.url}: {r.status_code} {r.text}"
    assert r.json()["code"] == code, r.text
    return r.json()


def username(c):
    return ok(c.req("GET", "/current_user"))["username"]


def grant(c, pid, user_id, role, form=True):
    if form:
        return c.req("PUT", f"/projects/{pid}/permissions/{user_id}",
                     data={"auth_role[id]": role})
    return c.req("PUT", f"/projects/{pid}/permissions/{user_id}", json={"auth_role": {"id": role}})


def test_users_providers_and_roles(settle, inline_api, db):
    alice = login(settle, inline_api, f"alice-{uuid.uuid4().hex[:6]}")
    bob = login(settle, inline_api, f"bob-{uuid.uuid4().hex[:6]}")
    bob_name = username(bob)
    with db.cursor() as cur:
        cur.execute("UPDATE users SET full_name = 'Bob Q Builder', email = %s WHERE id = %s",
                    (f"{bob_name}@example.org", bob.user_id))

    me = ok(alice.req("GET", "/current_user"))
    assert set(me) == {"kind", "id", "username", "first_name", "last_name", "full_name",
                       "email", "auth_provider", "last_login_on", "agent", "audit"}, me
    assert me["kind"] == "dds-user" and me["id"] == alice.user_id
    assert me["first_name"] == me["username"] and me["last_name"] is None
    assert me["auth_provider"] == {"id": PROVIDER, "source": "Settle users"}
    assert me["last_login_on"] is not None and me["audit"]["created_on"] is not None

    # /users: username and email match exactly; two results would be an error to clients.
    found = ok(alice.req("GET", "/users", params={"username": bob_name}))["results"]
    assert [u["id"] for u in found] == [bob.user_id]
    assert found[0]["first_name"] == "Bob" and found[0]["last_name"] == "Q Builder"
    assert ok(alice.req("GET", "/users", params={"username": bob_name[:-1]}))["results"] == []
    r = alice.req("GET", "/users", params={"username": bob_name, "page": 2, "per_page": 5})
    assert ok(r)["results"] == [] and r.headers["X-Total"] == "1", r.headers
    found = ok(alice.req("GET", "/users", params={"email": f"{bob_name}@example.org"}))
    assert [u["id"] for u in found["results"]] == [bob.user_id]
    found = ok(alice.req("GET", "/users", params={"full_name_contains": "q build",
                                                  "last_name_begins_with": "q"}))
    assert [u["id"] for u in found["results"]] == [bob.user_id]
    assert ok(alice.req("GET", f"/users/{bob.user_id}"))["username"] == bob_name
    err(alice.req("GET", f"/users/{uuid.uuid4()}"), 404, "not_found")
    err(alice.req("GET", "/users/not-a-uuid"), 404, "not_found")

    r = alice.req("GET", "/auth_providers")
    providers = ok(r)["results"]
    assert r.headers["X-Total"] == "1" and len(providers) == 1
    p = providers[0]
    assert p["id"] == PROVIDER and p["is_default"] is True and p["is_deprecated"] is False
    assert p["kind"] == "dds-auth-provider" and {"service_id", "name", "login_initiation_url",
                                                 "login_response_type", "audit"} <= set(p)
    r = alice.req("GET", f"/auth_providers/{PROVIDER}/")
    assert ok(r) == p and "X-Total" not in r.headers
    err(alice.req("GET", f"/auth_providers/{uuid.uuid4()}"), 404, "not_found")

    base = f"/auth_providers/{PROVIDER}/affiliates"
    aff = ok(alice.req("GET", base, params={"email": f"{bob_name}@example.org"}))["results"]
    assert aff == [{"uid": bob_name, "first_name": "Bob", "last_name": "Q Builder",
                    "full_name": "Bob Q Builder", "email": f"{bob_name}@example.org"}]
    assert ok(alice.req("GET", base, params={"username": bob_name}))["results"] == aff
    assert ok(alice.req("GET", f"{base}/{bob_name}/")) == aff[0]
    err(alice.req("GET", f"{base}/nobody-{uuid.uuid4().hex}"), 404, "not_found")
    u = ok(alice.req("POST", f"{base}/{bob_name}/dds_user/"))
    assert u["id"] == bob.user_id and u["kind"] == "dds-user"
    err(alice.req("POST", f"{base}/nobody-{uuid.uuid4().hex}/dds_user"), 404, "not_found")
    err(alice.req("GET", f"/auth_providers/{uuid.uuid4()}/affiliates"), 404, "not_found")

    roles = ok(alice.req("GET", "/auth_roles", params={"context": "project"}))["results"]
    assert [x["id"] for x in roles] == ROLES
    for x in roles:
        assert x["kind"] == "dds-auth-role" and x["contexts"] == ["project"]
        assert x["is_deprecated"] is False and x["name"] and x["description"]
        assert {p["id"] for p in x["permissions"]} == PERMS[x["id"]]
    assert ok(alice.req("GET", "/auth_roles", params={"context": "system"}))["results"] == []
    assert ok(alice.req("GET", "/auth_roles/file_downloader"))["name"] == "File Downloader"
    err(alice.req("GET", "/auth_roles/nope"), 404, "not_found")
    err(requests.get(f"{inline_api.base}/auth_roles", timeout=10), 401, "unauthorized")


def test_unrouted_path_says_so(settle, inline_api):
    alice = login(settle, inline_api)
    for method, path in [("GET", "/no_such_thing"), ("POST", f"/projects/{uuid.uuid4()}/x"),
                         ("GET", f"/files/{uuid.uuid4()}/url/extra")]:
        body = err(alice.req(method, path), 404, "not_found")
        assert body["reason"] == f"no such endpoint: {method} /api/v1{path}", body
    # A wrong id on a known path stays a plain not-found of the resource.
    body = err(alice.req("GET", f"/projects/{uuid.uuid4()}"), 404, "not_found")
    assert "no such endpoint" not in body["reason"]


def test_project_permissions(settle, inline_api, db):
    alice = login(settle, inline_api)
    bob = login(settle, inline_api)
    carol = login(settle, inline_api)
    pid = alice.project()
    perms = f"/projects/{pid}/permissions"

    only = ok(alice.req("GET", perms))["results"]
    assert len(only) == 1 and only[0]["auth_role"]["id"] == "project_admin"
    assert only[0]["kind"] == "dds-project-permission"
    assert only[0]["project"]["id"] == pid and only[0]["user"]["id"] == alice.user_id
    mine = ok(alice.req("GET", f"{perms}/{alice.user_id}"))
    assert mine == only[0]

    # The client's form body; then JSON.
    got = ok(grant(alice, pid, bob.user_id, "file_downloader"))
    assert got["auth_role"]["id"] == "file_downloader" and got["user"]["id"] == bob.user_id
    assert ok(bob.req("GET", f"{perms}/{bob.user_id}"))["auth_role"]["id"] == "file_downloader"
    assert ok(bob.req("GET", f"/projects/{pid}"))["id"] == pid
    assert pid in [p["id"] for p in ok(bob.req("GET", "/projects"))["results"]]
    err(grant(bob, pid, carol.user_id, "project_viewer"), 403, "forbidden")
    err(carol.req("GET", perms), 403, "forbidden")
    err(alice.req("GET", f"{perms}/{carol.user_id}"), 404, "not_found")

    # Bad input: unknown role, missing role, unknown or malformed user.
    e = err(grant(alice, pid, carol.user_id, "king"), 400, "validation_failed")
    assert e["errors"][0]["field"] == "auth_role[id]"
    for body in ({}, {"auth_role": "project_viewer"}, {"auth_role": {"id": 5}},
                 {"auth_role": {"id": None}}, [], {"auth_role": {"id": "x" * 100000}}):
        err(alice.req("PUT", f"{perms}/{carol.user_id}", json=body), 400, "validation_failed")
    err(alice.req("PUT", f"{perms}/{carol.user_id}", data={"auth_role": "project_viewer"}),
        400, "validation_failed")
    err(grant(alice, pid, str(uuid.uuid4()), "project_viewer"), 404, "not_found")
    err(grant(alice, pid, "not-a-uuid", "project_viewer"), 404, "not_found")
    err(alice.req("DELETE", f"{perms}/{uuid.uuid4()}"), 404, "not_found")
    err(grant(alice, str(uuid.uuid4()), carol.user_id, "project_viewer"), 404, "not_found")

    # The last project_admin can be neither removed nor demoted.
    err(alice.req("DELETE", f"{perms}/{alice.user_id}"), 409, "conflict")
    err(grant(alice, pid, alice.user_id, "file_editor", form=False), 409, "conflict")
    ok(grant(alice, pid, bob.user_id, "project_admin", form=False))
    assert alice.req("DELETE", f"{perms}/{alice.user_id}").status_code == 204
    assert bob.req("DELETE", f"{perms}/{alice.user_id}").status_code == 204  # again: harmless
    err(alice.req("GET", f"/projects/{pid}"), 403, "forbidden")
    err(bob.req("DELETE", f"{perms}/{bob.user_id}"), 409, "conflict")
    with db.cursor() as cur:
        cur.execute("SELECT user_id::text, role FROM project_members WHERE project_id = %s",
                    (pid,))
        assert cur.fetchall() == [(bob.user_id, "project_admin")]


class Fixture:
    """A project of its admin with a folder, a verified file and its version, and makers of
    fresh resources for the calls that use one up."""

    def __init__(self, admin):
        self.a = admin
        self.pid = admin.project()
        self.folder = self.new_folder()
        self.file = self.new_file()
        self.version = self.file["current_version"]["id"]
        admin.wait_upload(self.file["current_version"]["upload"]["id"])

    def new_folder(self):
        return ok(self.a.req("POST", "/folders", json={
            "name": f"d{uuid.uuid4().hex[:6]}", "parent": {"kind": "dds-project",
                                                          "id": self.pid}}), 201)["id"]

    def new_upload(self, complete=True):
        data = os.urandom(100)
        if complete:
            return self.a.send(self.pid, [data])
        return ok(self.a.req("POST", f"/projects/{self.pid}/uploads",
                             json={"name": "u.bin", "size": 100}), 201)["id"]

    def own_upload(self, c):
        """An upload c created (PUT /uploads/{id}/hashes takes the creator's or an admin's),
        or the admin's when c may not create one."""
        r = c.req("POST", f"/projects/{self.pid}/uploads", json={"name": "u.bin", "size": 100})
        return r.json()["id"] if r.status_code == 201 else self.new_upload(False)

    def new_file(self):
        return self.a.file(self.pid, self.new_upload())

    def new_project(self):
        return self.a.project()

    def old_version(self):
        """Version 1 of a new file that has a version 2: one that may be deleted or
        promoted."""
        f = self.new_file()
        ok(self.a.req("PUT", f"/files/{f['id']}", json={"upload": {"id": self.new_upload()}}))
        return f["current_version"]["id"]

    def agent_of(self, c):
        """A new software agent of c (its own, made over the API): (id, key)."""
        a = ok(c.req("POST", "/software_agents", json={"name": "role test"}), 201)
        return a["id"], a["api_key"]["key"]

    def user_key_change(self, c, method):
        """PUT (regenerate) or DELETE /current_user/api_key as c: the call revokes c's
        tokens, so c logs in again afterwards, with an agent of its own and a user key
        (the new one, or after a DELETE one the operator's CLI adds). Returns the answer."""
        name = username(c)
        _, agent_key = self.agent_of(c)
        r = c.req(method, "/current_user/api_key")
        user_key = (r.json()["key"] if method == "PUT" and r.status_code == 200
                    else self.settle.create_user(name)[1])
        t = requests.post(f"{c.base}/software_agents/api_token",
                          json={"agent_key": agent_key, "user_key": user_key}, timeout=10)
        c.h = {"Authorization": ok(t, 201)["api_token"]}
        return r

    def trashed_file(self):
        """A fresh file of the admin's, deleted: in the trash bin."""
        fid = self.new_file()["id"]
        ok(self.a.req("DELETE", f"/files/{fid}"), 202)
        return fid


def _calls(fx, carol_id):
    """(name, permission or None for any caller, call(client) -> response)."""
    p, d, f, v = fx.pid, fx.folder, fx.file["id"], fx.version
    h = hashlib.sha1(b"x").hexdigest()
    root = {"kind": "dds-project", "id": p}
    v2 = fx.new_file()["current_version"]["id"]

    def activity(c):
        return ok(c.req("POST", "/activities", json={"name": "a"}), 201)["id"]

    def relate(c, kind, act, version):
        return c.req("POST", f"/relations/{kind}", json={
            "activity": {"id": act}, "entity": {"kind": "dds-file-version", "id": version}})

    def deleted_version():
        new = fx.new_file()
        ok(fx.a.req("DELETE", f"/files/{new['id']}"), 202)
        return new["current_version"]["id"]

    act = activity(fx.a)
    rel = ok(relate(fx.a, "used", act, v), 201)["id"]
    return [
        ("GET /current_user", None, lambda c: c.req("GET", "/current_user")),
        ("GET /users", None, lambda c: c.req("GET", "/users")),
        ("GET /auth_providers", None, lambda c: c.req("GET", "/auth_providers")),
        ("GET /auth_roles", None, lambda c: c.req("GET", "/auth_roles?context=project")),
        ("GET /current_user/usage", None, lambda c: c.req("GET", "/current_user/usage")),
        ("GET /current_user/api_key", None, lambda c: c.req("GET", "/current_user/api_key")),
        ("PUT /current_user/api_key", None, lambda c: fx.user_key_change(c, "PUT")),
        ("DELETE /current_user/api_key", None, lambda c: fx.user_key_change(c, "DELETE")),
        ("POST /software_agents", None,
         lambda c: c.req("POST", "/software_agents", json={"name": "n"})),
        ("GET /software_agents", None, lambda c: c.req("GET", "/software_agents")),
        ("GET /software_agents/{id}", None,
         lambda c: c.req("GET", f"/software_agents/{fx.agent_of(c)[0]}")),
        ("PUT /software_agents/{id}", None,
         lambda c: c.req("PUT", f"/software_agents/{fx.agent_of(c)[0]}", json={"name": "m"})),
        ("DELETE /software_agents/{id}", None,
         lambda c: c.req("DELETE", f"/software_agents/{fx.agent_of(c)[0]}")),
        ("GET /software_agents/{id}/api_key", None,
         lambda c: c.req("GET", f"/software_agents/{fx.agent_of(c)[0]}/api_key")),
        ("PUT /software_agents/{id}/api_key", None,
         lambda c: c.req("PUT", f"/software_agents/{fx.agent_of(c)[0]}/api_key")),
        ("DELETE /software_agents/{id}/api_key", None,
         lambda c: c.req("DELETE", f"/software_agents/{fx.agent_of(c)[0]}/api_key")),
        ("GET /projects/{id}", "view_project", lambda c: c.req("GET", f"/projects/{p}")),
        ("PUT /projects/{id}", "update_project",
         lambda c: c.req("PUT", f"/projects/{p}", json={"description": "x"})),
        ("DELETE /projects/{id}", "delete_project", lambda c: c.req(
            "DELETE", f"/projects/{fx.new_project_for(c)}")),
        ("GET /projects/{id}/children", "view_project",
         lambda c: c.req("GET", f"/projects/{p}/children")),
        ("GET /projects/{id}/children?name_contains=", "view_project",
         lambda c: c.req("GET", f"/projects/{p}/children?name_contains=")),
        ("GET /projects/{id}/files", "view_project",
         lambda c: c.req("GET", f"/projects/{p}/files")),
        ("GET /projects/{id}/uploads", "view_project",
         lambda c: c.req("GET", f"/projects/{p}/uploads")),
        ("POST /projects/{id}/uploads", "create_file", lambda c: c.req(
            "POST", f"/projects/{p}/uploads", json={"name": "n.bin", "size": 3})),
        ("GET /uploads/{id}", "view_project",
         lambda c: c.req("GET", f"/uploads/{fx.file['current_version']['upload']['id']}")),
        ("PUT /uploads/{id}/chunks", "create_file", lambda c: c.req(
            "PUT", f"/uploads/{fx.new_upload(False)}/chunks",
            json={"number": 1, "size": 100, "hash": {"value": md5(b"y"), "algorithm": "md5"}})),
        ("PUT /uploads/{id}/complete", "create_file", lambda c: c.req(
            "PUT", f"/uploads/{fx.new_upload(False)}/complete",
            json={"hash": {"value": md5(b"y"), "algorithm": "md5"}})),
        ("PUT /uploads/{id}/hashes", "create_file", lambda c: c.req(
            "PUT", f"/uploads/{fx.own_upload(c)}/hashes",
            json={"value": h, "algorithm": "sha1"})),
        ("POST /folders", "create_file",
         lambda c: c.req("POST", "/folders", json={"name": "n", "parent": root})),
        ("GET /folders/{id}", "view_project", lambda c: c.req("GET", f"/folders/{d}")),
        ("GET /folders/{id}/children", "view_project",
         lambda c: c.req("GET", f"/folders/{d}/children")),
        ("PUT /folders/{id}", "update_file",
         lambda c: c.req("PUT", f"/folders/{d}", json={"name": "renamed"})),
        ("PUT /folders/{id}/rename", "update_file",
         lambda c: c.req("PUT", f"/folders/{d}/rename", json={"name": "renamed2"})),
        ("PUT /folders/{id}/move", "update_file",
         lambda c: c.req("PUT", f"/folders/{d}/move", json={"parent": root})),
        ("DELETE /folders/{id}", "delete_file",
         lambda c: c.req("DELETE", f"/folders/{fx.new_folder()}")),
        ("POST /files", "create_file", lambda c: c.req(
            "POST", "/files", json={"parent": root, "upload": {"id": fx.new_upload()}})),
        ("GET /files/{id}", "view_project", lambda c: c.req("GET", f"/files/{f}")),
        ("PUT /files/{id}", "update_file",
         lambda c: c.req("PUT", f"/files/{fx.new_file()['id']}",
                         json={"upload": {"id": fx.new_upload()}})),
        ("PUT /files/{id}/rename", "update_file",
         lambda c: c.req("PUT", f"/files/{f}/rename", json={"name": "r.bin"})),
        ("PUT /files/{id}/move", "update_file",
         lambda c: c.req("PUT", f"/files/{f}/move", json={"parent": root})),
        ("DELETE /files/{id}", "delete_file",
         lambda c: c.req("DELETE", f"/files/{fx.new_file()['id']}")),
        ("GET /files/{id}/versions", "view_project",
         lambda c: c.req("GET", f"/files/{f}/versions")),
        ("GET /files/{id}/url", "download_file", lambda c: c.req("GET", f"/files/{f}/url")),
        ("GET /file_versions/{id}", "view_project",
         lambda c: c.req("GET", f"/file_versions/{v}")),
        ("GET /file_versions/{id}/url", "download_file",
         lambda c: c.req("GET", f"/file_versions/{v}/url")),
        ("PUT /file_versions/{id}", "update_file",
         lambda c: c.req("PUT", f"/file_versions/{v}", json={"label": "l"})),
        ("POST /file_versions/{id}/current", "update_file",
         lambda c: c.req("POST", f"/file_versions/{fx.old_version()}/current")),
        ("DELETE /file_versions/{id}", "delete_file",
         lambda c: c.req("DELETE", f"/file_versions/{fx.old_version()}")),
        ("GET /storage_providers", None, lambda c: c.req("GET", "/storage_providers")),
        ("GET /storage_providers/{id}", None,
         lambda c: c.req("GET", "/storage_providers/00000000-0000-4000-8000-000000000001")),
        ("GET /auth_providers/{id}", None,
         lambda c: c.req("GET", f"/auth_providers/{PROVIDER}")),
        ("GET /app/status", None, lambda c: c.req("GET", "/app/status")),
        ("PUT /current_user", None, lambda c: c.req(
            "PUT", "/current_user", json={"email": f"{c.user_id}@example.org"})),
        ("GET /trashbin/projects", None, lambda c: c.req("GET", "/trashbin/projects")),
        ("GET /trashbin/projects/{id}/children", "view_project",
         lambda c: c.req("GET", f"/trashbin/projects/{p}/children?recurse=true")),
        ("GET /trashbin/folders/{id}/children", "view_project",
         lambda c: c.req("GET", f"/trashbin/folders/{d}/children")),
        ("GET /trashbin/{object_kind}/{object_id}", "view_project",
         lambda c: c.req("GET", f"/trashbin/dds-file/{fx.trashed}")),
        ("PUT /trashbin/{object_kind}/{object_id}/restore", "delete_file",
         lambda c: c.req("PUT", f"/trashbin/dds-file/{fx.trashed_file()}/restore",
                         json={"parent": {"kind": "dds-folder", "id": fx.new_folder()}})),
        ("PUT /trashbin/{object_kind}/{object_id}/purge", "delete_file",
         lambda c: c.req("PUT", f"/trashbin/dds-file/{fx.trashed_file()}/purge")),
        ("GET /projects/{id}/permissions", "view_project",
         lambda c: c.req("GET", f"/projects/{p}/permissions")),
        ("GET /projects/{id}/permissions/{user_id}", "view_project",
         lambda c: c.req("GET", f"/projects/{p}/permissions/{fx.a.user_id}")),
        ("PUT /projects/{id}/permissions/{user_id}", "manage_project_permissions",
         lambda c: grant(c, p, carol_id, "project_viewer")),
        ("DELETE /projects/{id}/permissions/{user_id}", "manage_project_permissions",
         lambda c: c.req("DELETE", f"/projects/{p}/permissions/{carol_id}")),
        ("POST /activities", None, lambda c: c.req("POST", "/activities", json={"name": "n"})),
        ("GET /activities", None, lambda c: c.req("GET", "/activities")),
        ("GET /activities/{id} (used a file version)", "view_project",
         lambda c: c.req("GET", f"/activities/{act}")),
        ("PUT /activities/{id}", CREATOR,
         lambda c: c.req("PUT", f"/activities/{act}", json={"description": "x"})),
        ("PUT /activities/{id} (own)", None,
         lambda c: c.req("PUT", f"/activities/{activity(c)}", json={"name": "m"})),
        ("DELETE /activities/{id}", CREATOR,
         lambda c: c.req("DELETE", f"/activities/{activity(fx.a) if c is fx.a else act}")),
        ("DELETE /activities/{id} (own)", None,
         lambda c: c.req("DELETE", f"/activities/{activity(c)}")),
        ("POST /relations/used", "view_project",
         lambda c: relate(c, "used", activity(c), v)),
        ("POST /relations/was_generated_by", "view_project",
         lambda c: relate(c, "was_generated_by", activity(c), v)),
        ("POST /relations/was_invalidated_by", "delete_file",
         lambda c: relate(c, "was_invalidated_by", activity(c), deleted_version())),
        ("POST /relations/was_derived_from", "view_project", lambda c: c.req(
            "POST", "/relations/was_derived_from", json={
                "used_entity": {"kind": "dds-file-version", "id": v},
                "generated_entity": {"kind": "dds-file-version", "id": v2}})),
        ("GET /relations/{object_kind}/{object_id}", "view_project",
         lambda c: c.req("GET", f"/relations/dds-file-version/{v}")),
        ("GET /relations/{id}", "view_project", lambda c: c.req("GET", f"/relations/{rel}")),
        ("DELETE /relations/{id}", CREATOR, lambda c: c.req(
            "DELETE", f"/relations/{ok(relate(fx.a, 'was_generated_by', activity(fx.a), v2), 201)['id']}")),
        ("POST /search/provenance", "view_project", lambda c: c.req(
            "POST", "/search/provenance",
            json={"start_node": {"kind": "dds-file-version", "id": v}, "max_hops": 2})),
        ("POST /search/provenance/origin", None, lambda c: c.req(
            "POST", "/search/provenance/origin", json={"file_versions": [{"id": v}]})),
    ]


def test_role_table_on_every_endpoint(settle, inline_api):
    admin = login(settle, inline_api)
    carol = login(settle, inline_api)
    fx = Fixture(admin)
    fx.settle = settle
    fx.trashed = fx.trashed_file()
    callers = {}
    for role in ROLES + [None]:
        callers[role] = login(settle, inline_api)
        if role is not None and role != "project_admin":
            ok(grant(admin, fx.pid, callers[role].user_id, role))
    callers["project_admin"] = admin

    def new_project_for(c):
        # A project to delete on which c holds the role under test.
        pid = admin.project()
        role = next(r for r, x in callers.items() if x is c)
        if role is not None and role != "project_admin":
            ok(grant(admin, pid, c.user_id, role))
        return pid
    fx.new_project_for = new_project_for

    failures = []
    for name, perm, call in _calls(fx, carol.user_id):
        for role, c in callers.items():
            r = call(c)
            allowed = perm is None or perm in PERMS[role] or (perm == CREATOR and c is admin)
            good = 200 <= r.status_code < 300 if allowed else (
                r.status_code == 403 and r.json()["code"] == "forbidden")
            if not good:
                failures.append(f"{name} as {role or 'stranger'}: {r.status_code} "
                                f"(want {'2xx' if allowed else 403}) {r.text[:200]}")
    assert not failures, "\n".join(failures)

    # file_url in /projects/{id}/files is there only for those who may download.
    for role, c in callers.items():
        if role is None:
            continue
        files = ok(c.req("GET", f"/projects/{fx.pid}/files"))["results"]
        assert files and all((x["file_url"] is not None) == ("download_file" in PERMS[role])
                             for x in files), (role, files)
    # GET /projects lists a project for every role, and not for a stranger.
    for role, c in callers.items():
        listed = [x["id"] for x in ok(c.req("GET", "/projects"))["results"]]
        assert (fx.pid in listed) == (role is not None), role


def test_objects_carry_what_dds_sends(settle, inline_api, db):
    c = login(settle, inline_api)
    with db.cursor() as cur:
        cur.execute("UPDATE users SET full_name = 'Ada Lovelace', email = 'ada@example.org'"
                    " WHERE id = %s", (c.user_id,))
    pid = c.project("My Project: Data  2!")
    p = ok(c.req("GET", f"/projects/{pid}"))
    assert p["slug"] == "my_project_data_2", p
    by = p["audit"]["created_by"]
    assert by["id"] == c.user_id and by["kind"] == "dds-user"
    assert (by["first_name"], by["last_name"], by["full_name"], by["email"]) == (
        "Ada", "Lovelace", "Ada Lovelace", "ada@example.org")
    assert by["auth_provider"]["id"] == PROVIDER and "agent" in by
    d = ok(c.req("POST", "/folders", json={"name": "d", "parent": {"kind": "dds-project",
                                                                  "id": pid}}), 201)
    f = c.file(pid, c.send(pid, [b"x"]), parent={"kind": "dds-folder", "id": d["id"]})
    for item in (d, f, ok(c.req("GET", f"/folders/{d['id']}")),
                 ok(c.req("GET", f"/files/{f['id']}")),
                 *ok(c.req("GET", f"/projects/{pid}/children?name_contains="))["results"]):
        assert item["project"] == {"id": pid, "name": "My Project: Data  2!"}, item
        assert item["audit"]["created_by"]["full_name"] == "Ada Lovelace", item
    up = ok(c.req("GET", f"/uploads/{f['current_version']['upload']['id']}"))
    assert up["audit"]["created_by"]["first_name"] == "Ada", up
    assert up["audit"]["created_by"]["email"] == "ada@example.org", up
