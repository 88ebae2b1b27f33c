"""The trash bin (DDS v1 /trashbin, docs/api.md "Trash bin"): a DELETE of a folder or file moves it
to the trash with its bytes; the trash listings, restore (to the old parent or a given one),
purge through the resource.delete job, and the purge of old trash by housekeeping."""

import os
import uuid

import requests

from settle_harness import wait_until
from test_api_uploads import Client, assert_error, container_of, job_runs

TIMEOUT = 30


def folder(c, pid, name, parent=None):
    r = c.req("POST", "/folders", json={"name": name, "parent": parent or {
        "kind": "dds-project", "id": pid}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def put_file(c, pid, data, name, parent=None):
    uid = c.send(pid, [data], name=name)
    c.wait_upload(uid)
    return c.file(pid, uid, parent=parent)


def ids(r):
    assert r.status_code == 200, r.text
    return sorted(x["id"] for x in r.json()["results"])


def deleted(c, db, kind, rid):
    """DELETEs a folder or file and waits for its resource.delete job."""
    r = c.req("DELETE", f"/{kind}/{rid}")
    assert r.status_code == 202, r.text
    assert r.json()["is_deleted"] is True
    wait_until(lambda: job_runs(db, "resource.delete", rid), TIMEOUT, what="the delete job")


def download(c, fid):
    r = c.req("GET", f"/files/{fid}/url")
    assert r.status_code == 200, r.text
    u = r.json()
    return requests.get(u["host"] + u["url"], timeout=30)


def test_delete_lists_views_and_restores(client, project, db):
    c, p = client, project
    d = folder(c, p, "d")
    s = folder(c, p, "s", {"kind": "dds-folder", "id": d})
    a, b = os.urandom(3000), os.urandom(500)
    fa = put_file(c, p, a, "a.bin", {"kind": "dds-folder", "id": d})["id"]
    fb = put_file(c, p, b, "deep-b.bin", {"kind": "dds-folder", "id": s})["id"]
    keep = put_file(c, p, b"kept", "keep.bin")["id"]
    r = c.req("GET", f"/files/{fa}/url")
    assert r.status_code == 200
    stale = r.json()  # a download URL signed before the delete

    deleted(c, db, "folders", d)
    # Gone from every live listing, lookup and download.
    assert ids(c.req("GET", f"/projects/{p}/children")) == [keep]
    assert ids(c.req("GET", f"/projects/{p}/children?name_contains=deep")) == []
    assert ids(c.req("GET", f"/projects/{p}/children?name_contains=")) == [keep]
    assert ids(c.req("GET", f"/projects/{p}/files")) == [keep]
    for path in (f"/folders/{d}", f"/folders/{s}", f"/files/{fa}", f"/files/{fb}/url",
                 f"/folders/{d}/children"):
        assert_error(c.req("GET", path), 404, "not_found")
    assert requests.get(stale["host"] + stale["url"], timeout=30).status_code == 404
    # In the trash, with what lay below it, its bytes kept.
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM uploads u JOIN file_versions v ON v.upload_id = u.id"
                    " WHERE v.file_id IN (%s, %s) AND u.purged_at IS NULL", (fa, fb))
        assert cur.fetchone()[0] == 2
    assert ids(c.req("GET", f"/trashbin/projects/{p}/children")) == [d]
    assert ids(c.req("GET", f"/trashbin/projects/{p}/children?recurse=true")) == sorted(
        [d, s, fa, fb])
    assert ids(c.req("GET", f"/trashbin/projects/{p}/children?recurse=true"
                            "&name_contains=DEEP")) == [fb]
    assert ids(c.req("GET", f"/trashbin/projects/{p}/children?name_contains=")) == []
    assert ids(c.req("GET", f"/trashbin/folders/{d}/children")) == sorted([s, fa])
    assert ids(c.req("GET", f"/trashbin/folders/{d}/children?recurse=true")) == sorted(
        [s, fa, fb])
    assert ids(c.req("GET", f"/trashbin/folders/{s}/children")) == [fb]
    assert p in ids(c.req("GET", "/trashbin/projects"))
    r = c.req("GET", f"/trashbin/projects/{p}/children", params={"per_page": 1, "page": 1})
    assert r.headers["X-Total"] == "1"
    r = c.req("GET", f"/trashbin/dds-folder/{d}")
    assert r.status_code == 200, r.text
    item = r.json()
    assert item["kind"] == "dds-folder" and item["is_deleted"] is True and item["name"] == "d"
    assert item["audit"]["deleted_by"]["id"] == c.user_id
    r = c.req("GET", f"/trashbin/dds-file/{fb}")
    assert r.status_code == 200 and r.json()["is_deleted"] is True
    assert r.json()["current_version"]["upload"]["size"] == len(b)
    assert_error(c.req("GET", f"/trashbin/dds-file/{keep}"), 404, "not_found")  # live

    # Restore to its old parent: the folder and its subtree come back, bytes and all.
    r = c.req("PUT", f"/trashbin/dds-folder/{d}/restore")
    assert r.status_code == 200, r.text
    assert r.json()["is_deleted"] is False and r.json()["parent"] == {"kind": "dds-project",
                                                                      "id": p}
    assert r.json()["audit"]["deleted_on"] is None
    assert ids(c.req("GET", f"/projects/{p}/children")) == sorted([d, keep])
    assert ids(c.req("GET", f"/folders/{s}/children")) == [fb]
    assert download(c, fb).content == b and download(c, fa).content == a
    assert ids(c.req("GET", f"/trashbin/projects/{p}/children?recurse=true")) == []
    assert p not in ids(c.req("GET", "/trashbin/projects"))
    assert_error(c.req("PUT", f"/trashbin/dds-folder/{d}/restore"), 404, "not_found")


def test_restore_keeps_what_was_trashed_on_its_own(client, project, db):
    """A file trashed on its own before its folder stays in the trash when the folder is
    restored: each item takes along only what was trashed with it."""
    c, p = client, project
    d = folder(c, p, "d")
    f1 = put_file(c, p, b"one", "one.bin", {"kind": "dds-folder", "id": d})["id"]
    f2 = put_file(c, p, b"two", "two.bin", {"kind": "dds-folder", "id": d})["id"]
    deleted(c, db, "files", f1)
    deleted(c, db, "folders", d)
    assert ids(c.req("GET", f"/trashbin/projects/{p}/children")) == sorted([d, f1])
    assert ids(c.req("GET", f"/trashbin/folders/{d}/children")) == [f2]
    assert c.req("PUT", f"/trashbin/dds-folder/{d}/restore").status_code == 200
    assert ids(c.req("GET", f"/folders/{d}/children")) == [f2]
    assert ids(c.req("GET", f"/trashbin/projects/{p}/children")) == [f1]
    r = c.req("PUT", f"/trashbin/dds-file/{f1}/restore")
    assert r.status_code == 200 and r.json()["parent"] == {"kind": "dds-folder", "id": d}


def test_restore_targets_and_bad_input(client, project, db):
    c, p = client, project
    other = c.project("other")
    d = folder(c, p, "d")
    e = folder(c, p, "e")
    data = os.urandom(700)
    f = put_file(c, p, data, "x.bin", {"kind": "dds-folder", "id": d})["id"]
    deleted(c, db, "files", f)

    # The old parent gone to the trash: 404; a given live folder: there.
    deleted(c, db, "folders", d)
    assert_error(c.req("PUT", f"/trashbin/dds-file/{f}/restore"), 404, "not_found")
    for parent in ({"kind": "dds-folder", "id": str(uuid.uuid4())},
                   {"kind": "dds-folder", "id": d},
                   {"kind": "dds-project", "id": other},
                   {"kind": "dds-folder", "id": folder(c, other, "o")}):
        assert_error(c.req("PUT", f"/trashbin/dds-file/{f}/restore", json={"parent": parent}),
                     404, "not_found")
    # The name taken in the target: 409 with a code.
    put_file(c, p, b"other", "x.bin", {"kind": "dds-folder", "id": e})
    assert_error(c.req("PUT", f"/trashbin/dds-file/{f}/restore",
                       json={"parent": {"kind": "dds-folder", "id": e}}), 409, "conflict")
    r = c.req("PUT", f"/trashbin/dds-file/{f}/restore",
              json={"parent": {"kind": "dds-project", "id": p}})
    assert r.status_code == 200, r.text
    assert r.json()["parent"] == {"kind": "dds-project", "id": p}
    assert download(c, f).content == data
    # Trashed again from the root, back into a folder.
    deleted(c, db, "files", f)
    r = c.req("PUT", f"/trashbin/dds-file/{f}/restore",
              json={"parent": {"kind": "dds-folder", "id": folder(c, p, "g")}})
    assert r.status_code == 200 and r.json()["ancestors"][1]["name"] == "g"

    # Bad input: 4xx with a code, never a 500.
    deleted(c, db, "files", f)
    assert_error(c.req("PUT", f"/trashbin/dds-file/{f}/restore",
                       json={"parent": {"kind": "dds-file", "id": p}}), 400, "validation_failed")
    assert_error(c.req("PUT", f"/trashbin/dds-file/{f}/restore", json={"parent": "x"}),
                 400, "validation_failed")
    assert_error(c.req("PUT", f"/trashbin/dds-file/{f}/restore", data="{"), 400,
                 "validation_failed")
    assert_error(c.req("GET", f"/trashbin/projects/{p}/children?recurse=maybe"), 400,
                 "validation_failed")
    assert_error(c.req("GET", f"/trashbin/dds-project/{p}"), 404, "not_found")
    assert_error(c.req("GET", f"/trashbin/dds-folder/{f}"), 404, "not_found")
    assert_error(c.req("GET", "/trashbin/dds-file/not-a-uuid"), 404, "not_found")
    assert_error(c.req("PUT", f"/trashbin/dds-upload/{f}/purge"), 404, "not_found")
    assert_error(c.req("GET", f"/trashbin/folders/{uuid.uuid4()}/children"), 404, "not_found")
    assert_error(c.req("GET", f"/trashbin/projects/{uuid.uuid4()}/children"), 404,
                 "not_found")


def test_purge_removes_the_bytes_through_the_purge_job(client, project, provider, db):
    c, p = client, project
    d = folder(c, p, "d")
    fd = put_file(c, p, os.urandom(900), "in-d.bin", {"kind": "dds-folder", "id": d})
    ff = put_file(c, p, os.urandom(800), "f.bin")
    keep = put_file(c, p, b"kept", "keep.bin")
    up = {x["id"]: x["current_version"]["upload"]["id"] for x in (fd, ff, keep)}
    container = container_of(db, up[keep["id"]])
    vc = provider.verified_chunk
    for u in up.values():
        assert vc(u, 1) in provider.objects(container, u)

    deleted(c, db, "files", ff["id"])
    deleted(c, db, "folders", d)
    assert vc(up[ff["id"]], 1) in provider.objects(container, up[ff["id"]])  # kept in trash
    r = c.req("PUT", f"/trashbin/dds-file/{ff['id']}/purge")
    assert r.status_code == 204 and r.content == b"", r.text
    r = c.req("PUT", f"/trashbin/dds-folder/{d}/purge")
    assert r.status_code == 204, r.text
    wait_until(lambda: provider.objects(container, up[ff["id"]]) == []
               and provider.objects(container, up[fd["id"]]) == [], TIMEOUT,
               what="the purged files' bytes removed")
    assert vc(up[keep["id"]], 1) in provider.objects(container, up[keep["id"]])
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM uploads WHERE id IN (%s, %s) AND purged_at IS NOT"
                    " NULL", (up[ff["id"]], up[fd["id"]]))
        assert cur.fetchone()[0] == 2
    # Gone from the trash; purging again is harmless; no restore.
    assert ids(c.req("GET", f"/trashbin/projects/{p}/children?recurse=true")) == []
    assert_error(c.req("GET", f"/trashbin/dds-file/{fd['id']}"), 404, "not_found")
    assert c.req("PUT", f"/trashbin/dds-folder/{d}/purge").status_code == 204
    assert_error(c.req("PUT", f"/trashbin/dds-folder/{d}/restore"), 404, "not_found")
    assert_error(c.req("PUT", f"/trashbin/dds-file/{keep['id']}/purge"), 404, "not_found")


def test_old_trash_is_purged_by_housekeeping(settle, db):
    api = settle.api(SETTLE_QUEUE="inline")
    c = Client(api, settle.login(api))
    p = c.project()
    old = put_file(c, p, os.urandom(600), "old.bin")
    uid = old["current_version"]["upload"]["id"]
    deleted(c, db, "files", old["id"])
    worker = settle.worker(SETTLE_TRASH_TTL=2, SETTLE_HOUSEKEEPING_INTERVAL=1)

    def purged():
        with db.cursor() as cur:
            cur.execute("SELECT purged_at IS NOT NULL FROM uploads WHERE id = %s", (uid,))
            return cur.fetchone()[0]
    wait_until(purged, 60, what="the trashed file purged after SETTLE_TRASH_TTL")
    assert ids(c.req("GET", f"/trashbin/projects/{p}/children")) == []
    assert "trash_expired" in worker.log_text()

