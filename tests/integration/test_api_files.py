"""Files and file versions: create from completed uploads, versions, delete, the download
URLs (404 resource_not_consistent until the worker has verified the upload), and bad input."""

import os
import uuid

import pytest
import requests

from settle_harness import wait_until
from storage_providers import BOTH
from test_api_uploads import Client, assert_error, container_of, job_runs, md5, outbox_count


def download(u):
    r = requests.get(u["host"] + u["url"], timeout=30)
    assert r.status_code == 200, r.text
    return r.content


def test_file_lifecycle(client, project, db):
    a, b = os.urandom(2000), os.urandom(3000)
    ua = client.send(project, [a[:1000], a[1000:]], name="data.txt")
    client.wait_upload(ua)  # verified: the file's hashes no longer change under the test
    f = client.file(project, ua, label="first")
    assert f["kind"] == "dds-file" and f["name"] == "data.txt" and f["is_deleted"] is False
    assert f["parent"] == {"kind": "dds-project", "id": project}
    assert f["project"] == {"id": project, "name": "p"}
    assert [x["kind"] for x in f["ancestors"]] == ["dds-project"]
    assert f["audit"]["created_by"]["id"] == client.user_id
    cv = f["current_version"]
    assert cv["version"] == 1 and cv["label"] == "first"
    assert cv["upload"]["id"] == ua and cv["upload"]["size"] == 2000
    assert cv["upload"]["hashes"] == [{"algorithm": "md5", "value": md5(a), "verified": True}]
    assert cv["upload"]["storage_provider"]["name"] == "local"

    r = client.req("GET", f"/files/{f['id']}")
    assert r.status_code == 200 and "X-Total" not in r.headers
    assert r.json() == f

    ub = client.send(project, [b], name="data-v2.txt")
    r = client.req("PUT", f"/files/{f['id']}", json={"upload": {"id": ub}, "label": "second"})
    assert r.status_code == 200, r.text
    f2 = r.json()
    assert f2["current_version"]["version"] == 2 and f2["current_version"]["upload"]["id"] == ub
    assert f2["current_version"]["label"] == "second"
    assert f2["audit"]["last_updated_by"]["id"] == client.user_id

    r = client.req("GET", f"/files/{f['id']}/versions")
    assert r.status_code == 200 and r.headers["X-Total"] == "2"
    versions = r.json()["results"]
    assert [v["version"] for v in versions] == [1, 2]
    v1 = versions[0]
    assert v1["kind"] == "dds-file-version" and v1["file"] == {"id": f["id"]}
    assert v1["upload"]["id"] == ua and v1["is_deleted"] is False

    r = client.req("GET", f"/file_versions/{v1['id']}")
    assert r.status_code == 200 and r.json() == v1 and "X-Total" not in r.headers
    assert download(client.download_url(f"/files/{f['id']}/url")) == b
    assert download(client.download_url(f"/file_versions/{v1['id']}/url")) == a

    r = client.req("DELETE", f"/files/{f['id']}")
    assert r.status_code == 202, r.text
    assert r.json()["is_deleted"] is True
    assert outbox_count(db, "resource.delete", f["id"]) == 1
    assert_error(client.req("GET", f"/files/{f['id']}"), 404, "not_found")
    assert_error(client.req("GET", f"/files/{f['id']}/url"), 404, "not_found")
    assert_error(client.req("DELETE", f"/files/{f['id']}"), 404, "not_found")
    assert outbox_count(db, "resource.delete", f["id"]) == 1


@BOTH
def test_delete_purges_the_bytes(client, project, provider, db):
    """Deleting a file moves it to the trash with its bytes; purging it from the trash
    purges the stored bytes of every version's upload (chunks and what completion made of
    them) and nothing else; deleting the project removes its container."""
    ua = client.send(project, [os.urandom(1000), os.urandom(10)])
    f = client.file(project, ua)
    ub = client.send(project, [os.urandom(500)])
    assert client.req("PUT", f"/files/{f['id']}", json={"upload": {"id": ub}}).status_code == 200
    keep = client.send(project, [b"kept"])
    client.file(project, keep)
    for uid in (ua, ub, keep):
        assert client.wait_upload(uid)["status"]["error_on"] is None
    container = container_of(db, ua)
    stored = provider.objects(container)
    vc = provider.verified_chunk
    assert {vc(ua, 1), vc(ua, 2), vc(ub, 1), vc(keep, 1)} <= set(stored), stored
    assert client.req("DELETE", f"/files/{f['id']}").status_code == 202
    wait_until(lambda: job_runs(db, "resource.delete", f["id"]), 30, what="the delete job")
    assert {vc(ua, 1), vc(ub, 1)} <= set(provider.objects(container)), "kept in the trash"
    assert client.req("PUT", f"/trashbin/dds-file/{f['id']}/purge").status_code == 204
    wait_until(lambda: provider.objects(container, ua) == provider.objects(container, ub) == [],
               30, what="the file's bytes purged")
    assert vc(keep, 1) in provider.objects(container, keep)
    assert client.req("DELETE", f"/projects/{project}").status_code == 202
    wait_until(lambda: provider.objects(container) is None, 30, what="the container removed")


def test_file_in_folder(client, project):
    """A file two folders down: its ancestors walk up to the project, and POST /files
    answers the file as GET /files/{id} does (the answer is made from what the statement
    inserted and read, not by reading the file back)."""
    r = client.req("POST", "/folders", json={"name": "dir",
                                             "parent": {"kind": "dds-project", "id": project}})
    assert r.status_code == 201, r.text
    folder = r.json()["id"]
    r = client.req("POST", "/folders", json={"name": "sub",
                                             "parent": {"kind": "dds-folder", "id": folder}})
    assert r.status_code == 201, r.text
    sub = r.json()["id"]
    uid = client.send(project, [b"hello"], name="hello.txt")
    client.wait_upload(uid)  # verified: the hashes no longer change under the test
    f = client.file(project, uid, parent={"kind": "dds-folder", "id": folder})
    assert f["parent"] == {"kind": "dds-folder", "id": folder}
    assert [(x["kind"], x["id"]) for x in f["ancestors"]] == [("dds-project", project),
                                                               ("dds-folder", folder)]
    assert f["ancestors"][1]["name"] == "dir"
    r = client.req("GET", f"/files/{f['id']}")
    assert r.status_code == 200 and r.json() == f
    r = client.req("GET", f"/folders/{folder}/children")
    assert r.status_code == 200
    assert f["id"] in [c["id"] for c in r.json()["results"]]

    u2 = client.send(project, [b"deeper"], name="deeper.txt")
    client.wait_upload(u2)
    g = client.file(project, u2, parent={"kind": "dds-folder", "id": sub}, label="deep")
    assert [(x["kind"], x["id"], x["name"]) for x in g["ancestors"]] == [
        ("dds-project", project, "p"), ("dds-folder", folder, "dir"), ("dds-folder", sub, "sub")]
    assert g["audit"]["created_by"]["id"] == client.user_id
    assert g["audit"]["last_updated_on"] is None and g["audit"]["deleted_by"] is None
    r = client.req("GET", f"/files/{g['id']}")
    assert r.status_code == 200 and r.json() == g


def test_create_with_form_body(client, project):
    uid = client.send(project, [b"form"])
    r = client.req("POST", "/files", data={"parent[kind]": "dds-project",
                                           "parent[id]": project, "upload[id]": uid})
    assert r.status_code == 201, r.text
    assert r.json()["current_version"]["upload"]["id"] == uid


def test_prefer_wait_gives_url_at_once(client, project):
    uid = client.send(project, [os.urandom(4000)])
    f = client.file(project, uid)
    r = client.req("GET", f"/files/{f['id']}/url", headers={"Prefer": "wait=20"})
    assert r.status_code == 200, r.text
    assert r.headers.get("Preference-Applied") == "wait=20"


def test_url_not_consistent_until_worker_ran(settle):
    api = settle.api()  # queue: RabbitMQ; jobs need a settle-worker
    c = Client(api, settle.login(api))
    worker = settle.worker()
    pid = c.project()
    worker.stop()
    data = os.urandom(5000)
    uid = c.send(pid, [data])
    r = c.req("GET", f"/uploads/{uid}")
    assert r.json()["status"]["is_consistent"] is False
    f = c.file(pid, uid)  # completed is enough: hashes are there at once
    assert f["current_version"]["upload"]["hashes"] == [
        {"algorithm": "md5", "value": md5(data), "verified": False}]  # not yet verified
    for path in (f"/files/{f['id']}/url", f"/file_versions/{f['current_version']['id']}/url"):
        r = c.req("GET", path)
        assert_error(r, 404, "resource_not_consistent")
        assert r.headers["Retry-After"].isdigit()
    r = c.req("GET", f"/files/{f['id']}/url", headers={"Prefer": "wait=1"})
    assert_error(r, 404, "resource_not_consistent")
    assert r.headers.get("Preference-Applied") == "wait=1"
    settle.worker()
    u = c.download_url(f"/files/{f['id']}/url")
    assert download(u) == data


# ---- bad input -----------------------------------------------------------------------------

@pytest.fixture
def uploads(client, project):
    """A few uploads in different states: done (completed, unused), open (not completed)."""
    return {"done": client.send(project, [b"abc"]),
            "open": client.upload(project, 3).json()["id"]}


def _create_cases(project, uploads, used, foreign):
    p = {"kind": "dds-project", "id": project}
    return [
        ({"upload": {"id": uploads["done"]}}, 400, "validation_failed"),
        ({"parent": p}, 400, "validation_failed"),
        ({"parent": p, "upload": uploads["done"]}, 400, "validation_failed"),
        ({"parent": p, "upload": {}}, 400, "validation_failed"),
        ({"parent": p, "upload": {"id": "nope"}}, 400, "validation_failed"),
        ({"parent": p, "upload": {"id": 12}}, 400, "validation_failed"),
        ({"parent": p, "upload": {"id": uploads["open"]}}, 400, "validation_failed"),
        ({"parent": p, "upload": {"id": used}}, 400, "validation_failed"),
        ({"parent": p, "upload": {"id": foreign}}, 400, "validation_failed"),
        ({"parent": p, "upload": {"id": str(uuid.uuid4())}}, 400, "validation_failed"),
        ({"parent": p, "upload": {"id": uploads["done"]}, "label": 5}, 400,
         "validation_failed"),
        ({"parent": {"kind": "dds-file", "id": project}, "upload": {"id": uploads["done"]}},
         400, "validation_failed"),
        ({"parent": {"kind": "dds-project"}, "upload": {"id": uploads["done"]}}, 400,
         "validation_failed"),
        ({"parent": {"kind": "dds-project", "id": "x"}, "upload": {"id": uploads["done"]}},
         404, "not_found"),  # a malformed id is a 404 (one parent reader for all calls)
        ({"parent": "dds-project", "upload": {"id": uploads["done"]}}, 400,
         "validation_failed"),
        ({"parent": {"kind": "dds-project", "id": str(uuid.uuid4())},
          "upload": {"id": uploads["done"]}}, 404, "not_found"),
        ({"parent": {"kind": "dds-folder", "id": str(uuid.uuid4())},
          "upload": {"id": uploads["done"]}}, 404, "not_found"),
        ({"parent": {"kind": "dds-folder", "id": project}, "upload": {"id": uploads["done"]}},
         404, "not_found"),
    ]


def test_create_bad_input(client, project, uploads):
    used = client.send(project, [b"used"])
    used_file = client.file(project, used)["id"]
    other_project = client.project()
    foreign = client.send(other_project, [b"elsewhere"])
    for body, status, code in _create_cases(project, uploads, used, foreign):
        r = client.req("POST", "/files", json=body)
        assert r.status_code == status, (body, r.text)
        assert r.json()["code"] == code, (body, r.text)
    for raw in [b"{", b"[]", b"null"]:
        r = client.req("POST", "/files", data=raw, headers={"Content-Type": "application/json"})
        assert_error(r, 400, "validation_failed")
    # Nothing was created by any of these.
    r = client.req("GET", f"/projects/{project}/children")
    assert [c["id"] for c in r.json()["results"] if c["kind"] == "dds-file"] == [used_file]


def test_update_bad_input(client, project, uploads):
    f = client.file(project, uploads["done"])
    fresh = client.send(project, [b"v2"])
    for body in [{}, {"upload": {"id": uploads["done"]}}, {"upload": {"id": uploads["open"]}},
                 {"upload": {"id": "x"}}, {"upload": {"id": fresh}, "label": []}]:
        r = client.req("PUT", f"/files/{f['id']}", json=body)
        assert_error(r, 400, "validation_failed")
    r = client.req("PUT", f"/files/{uuid.uuid4()}", json={"upload": {"id": fresh}})
    assert_error(r, 404, "not_found")
    r = client.req("GET", f"/files/{f['id']}/versions")
    assert r.headers["X-Total"] == "1"


def test_unknown_and_malformed_ids(client):
    for method, path in [("GET", f"/files/{uuid.uuid4()}"), ("GET", "/files/abc"),
                         ("GET", f"/files/{uuid.uuid4()}/url"),
                         ("GET", f"/files/{uuid.uuid4()}/versions"),
                         ("DELETE", f"/files/{uuid.uuid4()}"),
                         ("GET", f"/file_versions/{uuid.uuid4()}"),
                         ("GET", f"/file_versions/{uuid.uuid4()}/url"),
                         ("GET", "/file_versions/1/url")]:
        assert_error(client.req(method, path), 404, "not_found")


def test_other_users_forbidden(settle, inline_api, client, project):
    uid = client.send(project, [b"secret"])
    f = client.file(project, uid)
    vid = f["current_version"]["id"]
    other = Client(inline_api, settle.login(inline_api))
    mine = other.project()
    theirs = other.send(mine, [b"theirs"])
    for method, path, body in [
            ("GET", f"/files/{f['id']}", None), ("GET", f"/files/{f['id']}/url", None),
            ("GET", f"/files/{f['id']}/versions", None), ("DELETE", f"/files/{f['id']}", None),
            ("PUT", f"/files/{f['id']}", {"upload": {"id": theirs}}),
            ("GET", f"/file_versions/{vid}", None), ("GET", f"/file_versions/{vid}/url", None),
            ("POST", "/files", {"parent": {"kind": "dds-project", "id": project},
                                "upload": {"id": theirs}})]:
        assert_error(other.req(method, path, json=body), 403, "forbidden")
    assert client.req("GET", f"/files/{f['id']}").json()["is_deleted"] is False
