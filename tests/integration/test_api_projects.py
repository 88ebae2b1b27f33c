"""Integration tests of the api_token, current_user, projects, folders, children and
project files calls (API.md), against a real settle-api in inline mode."""

import hashlib
import time
import uuid

import pytest
import requests
from pipeline_helpers import JOBS

TIMEOUT = 10
PROVIDER_ID = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
def api(settle):
    """settle-api running the jobs itself, so projects become consistent without a worker."""
    return settle.api(SETTLE_QUEUE="inline")


@pytest.fixture
def alice(settle, api):
    return settle.login(api)


@pytest.fixture
def bob(settle, api):
    return settle.login(api)


class Client:
    """requests with a base URL and a token."""

    def __init__(self, api, who=None):
        self.base = api.base
        self.url = api.url
        self.headers = dict(who["headers"]) if who else {}

    def call(self, method, path, **kw):
        headers = dict(self.headers)
        headers.update(kw.pop("headers", {}))
        return requests.request(method, self.base + path, headers=headers, timeout=TIMEOUT,
                                **kw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, **kw):
        return self.call("POST", path, **kw)

    def put(self, path, **kw):
        return self.call("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


def expect(r, status, code=None):
    assert r.status_code == status, f"{r.request.method} {r.url}: {r.status_code} {r.text}"
    if code is not None:
        assert r.json()["code"] == code, r.text
    return r.json() if r.content else None


def wait_for(fn, timeout=20, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, f"{what} not reached in {timeout}s"
        time.sleep(0.1)


def new_project(c, name="proj", consistent=True):
    p = expect(c.post("/projects", json={"name": name, "description": "d"}), 202)
    if consistent:
        wait_for(lambda: c.get(f"/projects/{p['id']}").json()["is_consistent"],
                 what="project consistent")
    return p


def new_folder(c, name, kind, pid):
    return expect(c.post("/folders", json={"name": name, "parent": {"kind": kind, "id": pid}}),
                  201)


def upload_file(c, project_id, parent, name, data):
    """The whole upload flow of API.md; returns the file JSON."""
    md5 = hashlib.md5(data).hexdigest()
    up = expect(c.post(f"/projects/{project_id}/uploads",
                       json={"name": name, "content_type": "text/plain", "size": len(data)}),
                201)
    url = expect(c.put(f"/uploads/{up['id']}/chunks",
                       json={"number": 1, "size": len(data),
                             "hash": {"value": md5, "algorithm": "md5"}}), 200)
    r = requests.put(url["host"] + url["url"], data=data, timeout=TIMEOUT)
    assert r.status_code in (200, 201), r.text
    expect(c.put(f"/uploads/{up['id']}/complete",
                 json={"hash": {"value": md5, "algorithm": "md5"}}), 202)
    return expect(c.post("/files", json={"parent": parent, "upload": {"id": up["id"]}}), 201)


# --- tokens and authentication ---------------------------------------------------------


def test_api_token(settle, api, db):
    user_id, user_key = settle.create_user()
    agent_id, agent_key = settle.create_agent()
    c = Client(api)
    before = int(time.time())
    body = expect(c.post("/software_agents/api_token",
                         json={"agent_key": agent_key, "user_key": user_key}), 201)
    assert set(body) >= {"api_token", "expires_on", "time_to_live"}
    assert isinstance(body["expires_on"], int) and isinstance(body["time_to_live"], int)
    assert before + body["time_to_live"] <= body["expires_on"] <= int(time.time()) + \
        body["time_to_live"] + 1
    with db.cursor() as cur:
        cur.execute("SELECT user_id::text, software_agent_id::text FROM api_tokens"
                    " WHERE user_id = %s", (user_id,))
        assert cur.fetchall() == [(user_id, agent_id)]
    me = expect(c.get("/current_user", headers={"Authorization": body["api_token"]}), 200)
    assert me["id"] == user_id and "username" in me and "full_name" in me and "email" in me
    assert "X-Total" not in c.get("/current_user",
                                  headers={"Authorization": body["api_token"]}).headers
    # Bearer is accepted too; two tokens may be live at once.
    body2 = expect(c.post("/software_agents/api_token",
                          json={"agent_key": agent_key, "user_key": user_key}), 201)
    for tok in (body["api_token"], "Bearer " + body2["api_token"]):
        expect(c.get("/projects", headers={"Authorization": tok}), 200)
    # Form bodies work as well.
    expect(c.post("/software_agents/api_token",
                  data={"agent_key": agent_key, "user_key": user_key}), 201)


@pytest.mark.parametrize("which", ["agent", "user", "swapped"])
def test_api_token_unknown_keys(settle, api, which):
    _, user_key = settle.create_user()
    _, agent_key = settle.create_agent()
    body = {"agent": {"agent_key": "0" * 64, "user_key": user_key},
            "user": {"agent_key": agent_key, "user_key": "nope"},
            "swapped": {"agent_key": user_key, "user_key": agent_key}}[which]
    expect(Client(api).post("/software_agents/api_token", json=body), 404, "not_found")


@pytest.mark.parametrize("body", [
    {}, {"agent_key": "x"}, {"user_key": "x"}, {"agent_key": "", "user_key": ""},
    {"agent_key": 5, "user_key": "x"}, {"agent_key": "x", "user_key": ["x"]},
])
def test_api_token_bad_body(api, body):
    expect(Client(api).post("/software_agents/api_token", json=body), 400, "validation_failed")


def test_api_token_malformed_json(api):
    r = Client(api).post("/software_agents/api_token", data=b'{"agent_key": ',
                         headers={"Content-Type": "application/json"})
    expect(r, 400, "validation_failed")


def test_unauthorized(api, alice):
    c = Client(api)
    user, _, _ = alice["token"].partition(".")
    forged = f"{user}.{int(time.time()) + 3600}.{'0' * 64}"
    expired = alice["token"].split(".")
    for headers in ({}, {"Authorization": ""}, {"Authorization": "garbage"},
                    {"Authorization": forged}, {"Authorization": alice["token"] + "x"},
                    {"Authorization": f"{expired[0]}.1.{expired[2]}"}):
        for method, path in (("GET", "/projects"), ("POST", "/projects"),
                             ("GET", "/current_user"), ("GET", f"/projects/{uuid.uuid4()}")):
            r = c.call(method, path, headers=headers, json={"name": "x"})
            expect(r, 401, "unauthorized")


# --- projects ---------------------------------------------------------------------------


def test_project_create_then_consistent(api, alice, db):
    c = Client(api, alice)
    p = expect(c.post("/projects", json={"name": "first", "description": "about"}), 202)
    assert p["kind"] == "dds-project" and p["name"] == "first" and p["description"] == "about"
    assert p["is_consistent"] is False and p["is_deleted"] is False
    audit = p["audit"]
    assert audit["created_by"]["id"] == alice["user_id"] and audit["created_by"]["agent"] is None
    assert audit["created_on"].endswith("Z") and audit["last_updated_on"] is None
    assert audit["deleted_by"] is None
    with db.cursor() as cur:
        cur.execute("SELECT storage_container FROM projects WHERE id = %s", (p["id"],))
        assert cur.fetchone()[0] == p["id"]
        cur.execute("SELECT user_id::text FROM project_members WHERE project_id = %s",
                    (p["id"],))
        assert cur.fetchall() == [(alice["user_id"],)]
        cur.execute("SELECT kind FROM " + JOBS + " WHERE resource_id = %s", (p["id"],))
        assert cur.fetchall() == [("project.initialize",)]
    got = wait_for(lambda: (lambda j: j if j["is_consistent"] else None)(
        expect(c.get(f"/projects/{p['id']}"), 200)), what="project consistent")
    assert got["id"] == p["id"] and got["name"] == "first"
    # description defaults to "".
    q = expect(c.post("/projects", json={"name": "second"}), 202)
    assert q["description"] == ""


def test_project_prefer_wait(api, alice):
    c = Client(api, alice)
    r = c.post("/projects", json={"name": "waited"}, headers={"Prefer": "wait=10"})
    assert r.status_code in (201, 202), r.text
    assert r.headers.get("Preference-Applied") == "wait=10"
    if r.status_code == 201:
        assert r.json()["is_consistent"] is True


def test_project_list_paging(api, settle):
    who = settle.login(api)
    c = Client(api, who)
    ids = [new_project(c, f"p{i}", consistent=False)["id"] for i in range(5)]
    seen = []
    for page, expected_len, nxt in ((1, 2, "2"), (2, 2, "3"), (3, 1, "")):
        r = c.get("/projects", params={"page": page, "per_page": 2})
        body = expect(r, 200)
        assert len(body["results"]) == expected_len
        h = r.headers
        assert h["X-Total"] == "5" and h["X-Total-Pages"] == "3"
        assert h["X-Page"] == str(page) and h["X-Per-Page"] == "2"
        assert h.get("X-Next-Page", "") == nxt
        assert h.get("X-Prev-Page", "") == ("" if page == 1 else str(page - 1))
        assert 'rel="first"' in h["Link"] and 'rel="last"' in h["Link"]
        assert ('rel="next"' in h["Link"]) == (page < 3)
        seen += [p["id"] for p in body["results"]]
    assert seen == ids
    body = expect(c.get("/projects", params={"page": 9, "per_page": 2}), 200)
    assert body["results"] == []
    for bad in ({"page": 0}, {"per_page": "x"}, {"page": -1}):
        expect(c.get("/projects", params=bad), 400, "validation_failed")


def test_project_single_get_shapes(api, alice):
    c = Client(api, alice)
    p = new_project(c, "shapes")
    r = c.get(f"/projects/{p['id']}")
    expect(r, 200)
    assert not any(k.lower().startswith("x-total") for k in r.headers)
    # exclude_response_fields, on a single object and on a list.
    got = expect(c.get(f"/projects/{p['id']}",
                       params={"exclude_response_fields": "audit description"}), 200)
    assert "audit" not in got and "description" not in got and got["id"] == p["id"]
    lst = expect(c.get("/projects", params={"exclude_response_fields": "audit"}), 200)
    assert lst["results"] and all("audit" not in x for x in lst["results"])
    # A trailing slash and the ?{} of DDS clients are tolerated.
    r = requests.get(f"{api.base}/projects/{p['id']}/?%7B%7D", headers=alice["headers"],
                     timeout=TIMEOUT)
    assert expect(r, 200)["id"] == p["id"]
    expect(c.get("/projects/"), 200)


def test_project_update(api, alice):
    c = Client(api, alice)
    p = new_project(c, "before")
    got = expect(c.put(f"/projects/{p['id']}", json={"name": "after"}), 200)
    assert got["name"] == "after" and got["description"] == "d"
    assert got["audit"]["last_updated_by"]["id"] == alice["user_id"]
    assert got["audit"]["last_updated_on"] is not None
    got = expect(c.put(f"/projects/{p['id']}", json={"description": "new", "junk": 1}), 200)
    assert got["name"] == "after" and got["description"] == "new"
    expect(c.put(f"/projects/{p['id']}", json={"name": ""}), 400, "validation_failed")
    expect(c.put(f"/projects/{p['id']}", json={"name": 3}), 400, "validation_failed")
    assert expect(c.get(f"/projects/{p['id']}"), 200)["name"] == "after"


def test_project_delete(api, alice, db):
    c = Client(api, alice)
    p = new_project(c, "doomed")
    f = new_folder(c, "inside", "dds-project", p["id"])
    got = expect(c.delete(f"/projects/{p['id']}"), 202)
    assert got["is_deleted"] is True
    assert got["audit"]["deleted_by"]["id"] == alice["user_id"]
    with db.cursor() as cur:
        cur.execute("SELECT kind FROM " + JOBS + " WHERE resource_id = %s ORDER BY created_at",
                    (p["id"],))
        assert [k for (k,) in cur.fetchall()] == ["project.initialize", "resource.delete"]
    expect(c.get(f"/projects/{p['id']}"), 404, "not_found")
    expect(c.put(f"/projects/{p['id']}", json={"name": "x"}), 404, "not_found")
    expect(c.delete(f"/projects/{p['id']}"), 404, "not_found")
    expect(c.get(f"/projects/{p['id']}/children"), 404, "not_found")
    expect(c.get(f"/folders/{f['id']}"), 404, "not_found")
    expect(c.post("/folders", json={"name": "late",
                                    "parent": {"kind": "dds-project", "id": p["id"]}}),
           404, "not_found")
    assert p["id"] not in [x["id"] for x in expect(c.get("/projects"), 200)["results"]]


def test_other_user_is_forbidden(api, alice, bob):
    a, b = Client(api, alice), Client(api, bob)
    p = new_project(a, "private")
    f = new_folder(a, "f", "dds-project", p["id"])
    pid = p["id"]
    for method, path, body in (
            ("GET", f"/projects/{pid}", None), ("PUT", f"/projects/{pid}", {"name": "x"}),
            ("DELETE", f"/projects/{pid}", None), ("GET", f"/projects/{pid}/children", None),
            ("GET", f"/projects/{pid}/files", None), ("GET", f"/folders/{f['id']}", None),
            ("PUT", f"/folders/{f['id']}", {"name": "x"}), ("DELETE", f"/folders/{f['id']}", None),
            ("GET", f"/folders/{f['id']}/children", None),
            ("POST", "/folders", {"name": "x", "parent": {"kind": "dds-project", "id": pid}}),
            ("POST", "/folders", {"name": "x", "parent": {"kind": "dds-folder", "id": f["id"]}})):
        expect(b.call(method, path, json=body), 403, "forbidden")
    assert pid not in [x["id"] for x in expect(b.get("/projects"), 200)["results"]]
    # Bob cannot move his folder into Alice's project either.
    q = new_project(b, "bobs")
    g = new_folder(b, "g", "dds-project", q["id"])
    expect(b.put(f"/folders/{g['id']}", json={"parent": {"kind": "dds-project", "id": pid}}),
           403, "forbidden")
    # Nothing changed for Alice.
    assert expect(a.get(f"/projects/{pid}"), 200)["name"] == "private"


# --- folders and children ---------------------------------------------------------------


def test_folders_nested(api, alice, db):
    c = Client(api, alice)
    p = new_project(c, "tree")
    a = new_folder(c, "Alpha", "dds-project", p["id"])
    b = new_folder(c, "beta_1", "dds-folder", a["id"])
    d = new_folder(c, "Gamma%", "dds-folder", b["id"])
    assert a["kind"] == "dds-folder" and a["project"] == {"id": p["id"], "name": "tree"}
    assert a["parent"] == {"kind": "dds-project", "id": p["id"]}
    assert d["parent"] == {"kind": "dds-folder", "id": b["id"]}
    assert d["project"] == {"id": p["id"], "name": "tree"} and d["is_deleted"] is False
    assert d["ancestors"] == [
        {"kind": "dds-project", "id": p["id"], "name": "tree"},
        {"kind": "dds-folder", "id": a["id"], "name": "Alpha"},
        {"kind": "dds-folder", "id": b["id"], "name": "beta_1"}]
    assert expect(c.get(f"/folders/{d['id']}"), 200) == d
    with db.cursor() as cur:
        cur.execute("SELECT project_id::text, parent_id::text FROM folders WHERE id = %s",
                    (d["id"],))
        assert cur.fetchone() == (p["id"], b["id"])
    # Rename; the descendants' ancestors follow.
    expect(c.put(f"/folders/{a['id']}", json={"name": "ALPHA"}), 200)
    assert expect(c.get(f"/folders/{d['id']}"), 200)["ancestors"][1]["name"] == "ALPHA"


def test_children(api, alice):
    c = Client(api, alice)
    p = new_project(c, "kids")
    a = new_folder(c, "Alpha", "dds-project", p["id"])
    b = new_folder(c, "beta_1", "dds-folder", a["id"])
    d = new_folder(c, "Gamma%", "dds-folder", b["id"])
    e = new_folder(c, "betaX1", "dds-project", p["id"])

    def names(path, **params):
        r = c.get(path, params=params)
        body = expect(r, 200)
        assert r.headers["X-Total"] == str(len(body["results"]))
        for item in body["results"]:
            assert item["parent"]["kind"] in ("dds-project", "dds-folder")
            assert item["ancestors"][0] == {"kind": "dds-project", "id": p["id"], "name": "kids"}
        return sorted(x["name"] for x in body["results"])

    assert names(f"/projects/{p['id']}/children") == ["Alpha", "betaX1"]
    assert names(f"/folders/{a['id']}/children") == ["beta_1"]
    assert names(f"/folders/{d['id']}/children") == []
    # name_contains (even empty): every descendant, case-insensitive; % and _ are literal.
    assert names(f"/projects/{p['id']}/children", name_contains="") == \
        sorted(["Alpha", "Gamma%", "beta_1", "betaX1"])
    assert names(f"/projects/{p['id']}/children", name_contains="BETA") == \
        sorted(["beta_1", "betaX1"])
    assert names(f"/projects/{p['id']}/children", name_contains="a_") == ["beta_1"]
    assert names(f"/projects/{p['id']}/children", name_contains="%") == ["Gamma%"]
    assert names(f"/folders/{a['id']}/children", name_contains="") == ["Gamma%", "beta_1"]
    assert names(f"/folders/{a['id']}/children", name_contains="x") == []
    # Items carry parent and ancestors.
    deep = expect(c.get(f"/projects/{p['id']}/children", params={"name_contains": "gamma"}),
                  200)["results"]
    assert [x["id"] for x in deep] == [d["id"]]
    assert deep[0]["parent"] == {"kind": "dds-folder", "id": b["id"]}
    assert [x["id"] for x in deep[0]["ancestors"]] == [p["id"], a["id"], b["id"]]
    # Paging over children.
    r = c.get(f"/projects/{p['id']}/children", params={"name_contains": "", "per_page": 3})
    assert len(expect(r, 200)["results"]) == 3 and r.headers["X-Total"] == "4"
    assert r.headers["X-Next-Page"] == "2"
    # A deleted folder and its subtree leave the listings.
    expect(c.delete(f"/folders/{e['id']}"), 202)
    assert names(f"/projects/{p['id']}/children") == ["Alpha"]
    expect(c.delete(f"/folders/{b['id']}"), 202)
    assert names(f"/projects/{p['id']}/children", name_contains="") == ["Alpha"]
    expect(c.get(f"/folders/{d['id']}"), 404, "not_found")
    expect(c.get(f"/folders/{b['id']}/children"), 404, "not_found")


def test_folder_move(api, alice):
    c = Client(api, alice)
    p = new_project(c, "moves")
    a = new_folder(c, "a", "dds-project", p["id"])
    b = new_folder(c, "b", "dds-folder", a["id"])
    d = new_folder(c, "d", "dds-folder", b["id"])
    # Cycles are refused.
    for target in (a, b, d):
        expect(c.put(f"/folders/{a['id']}",
                     json={"parent": {"kind": "dds-folder", "id": target["id"]}}),
               400, "validation_failed")
    # Move d to the root, then b under d.
    got = expect(c.put(f"/folders/{d['id']}",
                       json={"parent": {"kind": "dds-project", "id": p["id"]}}), 200)
    assert got["parent"] == {"kind": "dds-project", "id": p["id"]}
    assert [x["id"] for x in got["ancestors"]] == [p["id"]]
    got = expect(c.put(f"/folders/{b['id']}",
                       json={"name": "b2", "parent": {"kind": "dds-folder", "id": d["id"]}}),
                 200)
    assert got["name"] == "b2" and [x["id"] for x in got["ancestors"]] == [p["id"], d["id"]]
    # Another project of the same user is refused.
    q = new_project(c, "elsewhere")
    expect(c.put(f"/folders/{b['id']}", json={"parent": {"kind": "dds-project", "id": q["id"]}}),
           400, "validation_failed")


def test_folder_delete(api, alice, db):
    c = Client(api, alice)
    p = new_project(c, "fdel")
    a = new_folder(c, "a", "dds-project", p["id"])
    got = expect(c.delete(f"/folders/{a['id']}"), 202)
    assert got["is_deleted"] is True and got["audit"]["deleted_by"]["id"] == alice["user_id"]
    with db.cursor() as cur:
        cur.execute("SELECT kind FROM " + JOBS + " WHERE resource_id = %s", (a["id"],))
        assert cur.fetchall() == [("resource.delete",)]
        cur.execute("SELECT is_deleted, deleted_by::text FROM folders WHERE id = %s", (a["id"],))
        assert cur.fetchone() == (True, alice["user_id"])
    for r in (c.get(f"/folders/{a['id']}"), c.delete(f"/folders/{a['id']}"),
              c.put(f"/folders/{a['id']}", json={"name": "z"}),
              c.post("/folders", json={"name": "x",
                                       "parent": {"kind": "dds-folder", "id": a["id"]}})):
        expect(r, 404, "not_found")


# --- project files ----------------------------------------------------------------------


def test_project_files(api, alice):
    c = Client(api, alice)
    p = new_project(c, "files")
    expect(c.get(f"/projects/{p['id']}/files"), 200)["results"] == []
    a = new_folder(c, "a", "dds-project", p["id"])
    top = upload_file(c, p["id"], {"kind": "dds-project", "id": p["id"]}, "top.txt", b"top")
    low = upload_file(c, p["id"], {"kind": "dds-folder", "id": a["id"]}, "low.txt", b"lower")

    def ready():
        r = c.get(f"/projects/{p['id']}/files", params={"per_page": 1})
        if r.status_code == 404:
            assert r.json()["code"] == "resource_not_consistent" and "Retry-After" in r.headers
            return None
        return r

    r = wait_for(ready, what="project files consistent")
    body = expect(r, 200)
    assert r.headers["X-Total"] == "2" and len(body["results"]) == 1
    items = body["results"] + expect(c.get(f"/projects/{p['id']}/files",
                                           params={"per_page": 1, "page": 2}), 200)["results"]
    by_name = {x["name"]: x for x in items}
    assert set(by_name) == {"top.txt", "low.txt"}
    t, lo = by_name["top.txt"], by_name["low.txt"]
    assert t["id"] == top["id"] and lo["id"] == low["id"]
    assert t["size"] == 3 and lo["size"] == 5
    assert {"algorithm": "md5", "value": hashlib.md5(b"lower").hexdigest(),
            "verified": True} in lo["hashes"]
    assert [x["id"] for x in lo["ancestors"]] == [p["id"], a["id"]]
    assert [x["id"] for x in t["ancestors"]] == [p["id"]]
    url = lo["file_url"]
    assert url["http_verb"] == "GET" and url["http_headers"] == [] and url["host"] == api.url
    got = requests.get(url["host"] + url["url"], timeout=TIMEOUT)
    assert got.status_code == 200 and got.content == b"lower"
    # Children list files with their current version.
    kids = expect(c.get(f"/folders/{a['id']}/children"), 200)["results"]
    assert len(kids) == 1 and kids[0]["kind"] == "dds-file"
    cv = kids[0]["current_version"]
    assert cv["version"] == 1 and cv["upload"]["size"] == 5
    assert cv["upload"]["storage_provider"]["id"] == PROVIDER_ID
    found = expect(c.get(f"/projects/{p['id']}/children", params={"name_contains": "LOW"}),
                   200)["results"]
    assert [x["id"] for x in found] == [low["id"]]
    # A deleted folder's files leave the listing.
    expect(c.delete(f"/folders/{a['id']}"), 202)
    items = expect(c.get(f"/projects/{p['id']}/files"), 200)["results"]
    assert [x["id"] for x in items] == [top["id"]]


def test_project_files_not_consistent(api, alice, db):
    c = Client(api, alice)
    p = new_project(c, "pending")
    upload_file(c, p["id"], {"kind": "dds-project", "id": p["id"]}, "x.txt", b"x")
    wait_for(lambda: c.get(f"/projects/{p['id']}/files").status_code == 200,
             what="files consistent")
    with db.cursor() as cur:
        cur.execute("UPDATE uploads SET is_consistent = false WHERE project_id = %s", (p["id"],))
    r = c.get(f"/projects/{p['id']}/files")
    expect(r, 404, "resource_not_consistent")
    assert int(r.headers["Retry-After"]) >= 0


# --- bad input --------------------------------------------------------------------------

BAD_UUID = "not-a-uuid"
NO_SUCH = "6f1c6a2e-0000-4000-8000-000000000000"


def test_bad_ids_in_path(api, alice):
    c = Client(api, alice)
    for path in (f"/projects/{BAD_UUID}", f"/projects/{BAD_UUID}/children",
                 f"/projects/{BAD_UUID}/files", f"/folders/{BAD_UUID}",
                 f"/folders/{BAD_UUID}/children", f"/projects/{NO_SUCH}",
                 f"/projects/{NO_SUCH}/children", f"/projects/{NO_SUCH}/files",
                 f"/folders/{NO_SUCH}", f"/folders/{NO_SUCH}/children",
                 "/projects/1'%20OR%201=1"):
        expect(c.get(path), 404, "not_found")
    for method in ("PUT", "DELETE"):
        for path in (f"/projects/{BAD_UUID}", f"/folders/{BAD_UUID}", f"/projects/{NO_SUCH}",
                     f"/folders/{NO_SUCH}"):
            expect(c.call(method, path, json={"name": "x"}), 404, "not_found")


def test_bad_bodies(api, alice):
    c = Client(api, alice)
    p = new_project(c, "bad")
    f = new_folder(c, "f", "dds-project", p["id"])
    proj_parent = {"kind": "dds-project", "id": p["id"]}
    cases = [
        # (method, path, raw body or JSON, status, code)
        ("POST", "/projects", b'{"name": ', 400, "validation_failed"),
        ("POST", "/projects", b'[1, 2]', 400, "validation_failed"),
        ("POST", "/projects", b'"name"', 400, "validation_failed"),
        ("POST", "/projects", {}, 400, "validation_failed"),
        ("POST", "/projects", {"name": ""}, 400, "validation_failed"),
        ("POST", "/projects", {"name": None}, 400, "validation_failed"),
        ("POST", "/projects", {"name": 5}, 400, "validation_failed"),
        ("POST", "/projects", {"name": ["a"]}, 400, "validation_failed"),
        ("POST", "/projects", {"name": "x", "description": 5}, 400, "validation_failed"),
        ("PUT", f"/projects/{p['id']}", b"{{", 400, "validation_failed"),
        ("PUT", f"/projects/{p['id']}", {"description": {"a": 1}}, 400, "validation_failed"),
        ("POST", "/folders", b"nope", 400, "validation_failed"),
        ("POST", "/folders", {"parent": proj_parent}, 400, "validation_failed"),
        ("POST", "/folders", {"name": "", "parent": proj_parent}, 400, "validation_failed"),
        ("POST", "/folders", {"name": 1, "parent": proj_parent}, 400, "validation_failed"),
        ("POST", "/folders", {"name": "x"}, 400, "validation_failed"),
        ("POST", "/folders", {"name": "x", "parent": "p"}, 400, "validation_failed"),
        ("POST", "/folders", {"name": "x", "parent": {"id": p["id"]}}, 400,
         "validation_failed"),
        ("POST", "/folders", {"name": "x", "parent": {"kind": "dds-project"}}, 400,
         "validation_failed"),
        ("POST", "/folders", {"name": "x", "parent": {"kind": "dds-file", "id": p["id"]}}, 400,
         "validation_failed"),
        ("POST", "/folders", {"name": "x", "parent": {"kind": 7, "id": p["id"]}}, 400,
         "validation_failed"),
        ("POST", "/folders", {"name": "x", "parent": {"kind": "dds-project", "id": 7}}, 400,
         "validation_failed"),
        ("POST", "/folders", {"name": "x", "parent": {"kind": "dds-project", "id": BAD_UUID}},
         404, "not_found"),
        ("POST", "/folders", {"name": "x", "parent": {"kind": "dds-folder", "id": BAD_UUID}},
         404, "not_found"),
        ("POST", "/folders", {"name": "x", "parent": {"kind": "dds-project", "id": NO_SUCH}},
         404, "not_found"),
        ("POST", "/folders", {"name": "x", "parent": {"kind": "dds-folder", "id": NO_SUCH}},
         404, "not_found"),
        # A folder id given as a project (and the other way round) names nothing.
        ("POST", "/folders", {"name": "x", "parent": {"kind": "dds-project", "id": f["id"]}},
         404, "not_found"),
        ("POST", "/folders", {"name": "x", "parent": {"kind": "dds-folder", "id": p["id"]}},
         404, "not_found"),
        ("PUT", f"/folders/{f['id']}", b"{", 400, "validation_failed"),
        ("PUT", f"/folders/{f['id']}", {"name": ""}, 400, "validation_failed"),
        ("PUT", f"/folders/{f['id']}", {"parent": {"kind": "dds-folder", "id": BAD_UUID}}, 404,
         "not_found"),
        ("PUT", f"/folders/{f['id']}", {"parent": {"kind": "x", "id": p["id"]}}, 400,
         "validation_failed"),
    ]
    for method, path, body, status, code in cases:
        if isinstance(body, bytes):
            r = c.call(method, path, data=body, headers={"Content-Type": "application/json"})
        else:
            r = c.call(method, path, json=body)
        assert r.status_code == status, f"{method} {path} {body!r}: {r.status_code} {r.text}"
        assert r.json()["code"] == code, f"{method} {path} {body!r}: {r.text}"
        if code == "validation_failed":
            assert r.json()["errors"], r.text
    # Query text that is not UTF-8 is bad input, not a database error.
    for path in (f"/projects/{p['id']}/children", f"/folders/{f['id']}/children"):
        r = requests.get(f"{api.base}{path}?name_contains=%FF", headers=alice["headers"],
                         timeout=TIMEOUT)
        expect(r, 400, "validation_failed")
    # Nothing was created by the bad calls, and unknown fields are ignored.
    kids = expect(c.get(f"/projects/{p['id']}/children"), 200)["results"]
    assert [x["id"] for x in kids] == [f["id"]]
    g = expect(c.post("/folders", json={"name": "g", "parent": proj_parent, "extra": [1]}), 201)
    assert g["name"] == "g"


def test_form_bodies(api, alice):
    c = Client(api, alice)
    p = expect(c.post("/projects", data={"name": "formed", "description": "by form"}), 202)
    assert p["name"] == "formed" and p["description"] == "by form"
    f = expect(c.post("/folders", data={"name": "ff", "parent[kind]": "dds-project",
                                        "parent[id]": p["id"]}), 201)
    assert f["parent"] == {"kind": "dds-project", "id": p["id"]}


def test_body_too_large(api, alice):
    c = Client(api, alice)
    big = b'{"name": "' + b"x" * (1024 * 1024 + 10) + b'"}'
    for method, path in (("POST", "/projects"), ("POST", "/folders"),
                         ("POST", "/software_agents/api_token")):
        r = c.call(method, path, data=big, headers={"Content-Type": "application/json"})
        expect(r, 413, "payload_too_large")
    assert "x" * 100 not in str(expect(c.get("/projects"), 200))
