"""File versions beyond reading them (issue 19 item 4): a version's label changed
(`PUT /file_versions/{id}`), an older version deleted (`DELETE /file_versions/{id}`; the
current one cannot be), an older version promoted to current (`POST
/file_versions/{id}/current`: a new version on the same upload). And the small calls DDS
clients and portals expect (item 5): `GET /storage_providers`, `GET /app/status` and
`GET /auth_providers` without a token, and a user's email, set by the user
(`PUT /current_user`) or by the operator (`settle user create --email`)."""

import os
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from settle_harness import wait_until
from test_api_roles import ok
from test_api_uploads import Client, assert_error, container_of

PROVIDER = "00000000-0000-4000-8000-000000000002"
LOCAL = "00000000-0000-4000-8000-000000000001"
SWIFT = "00000000-0000-4000-8000-000000000004"


def download(u):
    r = requests.get(u["host"] + u["url"], timeout=30)
    assert r.status_code == 200, r.text
    return r.content


def two_versions(client, project, a=None, b=None, label="one"):
    """A file whose version 1 (label `label`) holds a and version 2 holds b, both verified:
    (file id, version 1, version 2, upload of 1, upload of 2)."""
    a = a if a is not None else os.urandom(1500)
    b = b if b is not None else os.urandom(700)
    ua = client.send(project, [a[:1000], a[1000:]])
    client.wait_upload(ua)
    f = client.file(project, ua, label=label)
    ub = client.send(project, [b])
    client.wait_upload(ub)
    f2 = ok(client.req("PUT", f"/files/{f['id']}", json={"upload": {"id": ub}, "label": "two"}))
    return f["id"], f["current_version"]["id"], f2["current_version"]["id"], ua, ub


def test_label_update(client, project):
    fid, v1, v2, ua, _ = two_versions(client, project)
    got = ok(client.req("PUT", f"/file_versions/{v1}", json={"label": "renamed \u00e9t\u00e9"}))
    assert got["id"] == v1 and got["kind"] == "dds-file-version" and got["version"] == 1
    assert got["label"] == "renamed \u00e9t\u00e9" and got["upload"]["id"] == ua
    assert got["file"] == {"id": fid} and got["is_deleted"] is False
    assert ok(client.req("GET", f"/file_versions/{v1}")) == got
    # The current version's label too; the file shows it. A form body works as well.
    ok(client.req("PUT", f"/file_versions/{v2}", data={"label": "latest"}))
    assert ok(client.req("GET", f"/files/{fid}"))["current_version"]["label"] == "latest"
    # No label (or null): the label stays, as in DDS. An empty one is a label.
    assert ok(client.req("PUT", f"/file_versions/{v1}", json={}))["label"] == got["label"]
    assert ok(client.req("PUT", f"/file_versions/{v1}", json={"label": None}))["label"] == \
        got["label"]
    assert ok(client.req("PUT", f"/file_versions/{v1}", json={"label": ""}))["label"] == ""
    assert ok(client.req("PUT", f"/file_versions/{v1}", json={"label": "x" * 1024}))


def test_label_bad_input(client, project):
    fid, v1, _, _, _ = two_versions(client, project)
    for body in ({"label": "x" * 1025}, {"label": "bell\x07"}, {"label": "two\nlines"},
                 {"label": 5}, {"label": ["a"]}):
        e = assert_error(client.req("PUT", f"/file_versions/{v1}", json=body), 400,
                         "validation_failed")
        assert e["errors"][0]["field"] == "label", e
    for raw in (b"{", b"[]", b"\"label\""):
        assert_error(client.req("PUT", f"/file_versions/{v1}", data=raw,
                                headers={"Content-Type": "application/json"}),
                     400, "validation_failed")
    assert ok(client.req("GET", f"/file_versions/{v1}"))["label"] == "one"
    for method, path in (("PUT", f"/file_versions/{uuid.uuid4()}"), ("PUT", "/file_versions/x"),
                         ("DELETE", f"/file_versions/{uuid.uuid4()}"),
                         ("DELETE", "/file_versions/1"),
                         ("POST", f"/file_versions/{uuid.uuid4()}/current"),
                         ("POST", "/file_versions/x/current")):
        assert_error(client.req(method, path, json={"label": "x"}), 404, "not_found")


def test_delete_older_version_purges_its_bytes(client, project, provider, db):
    a, b = os.urandom(1500), os.urandom(700)
    fid, v1, v2, ua, ub = two_versions(client, project, a, b)
    container = container_of(db, ua)
    assert provider.objects(container, ua), "the first version's bytes are stored"

    # The current version cannot be deleted.
    e = assert_error(client.req("DELETE", f"/file_versions/{v2}"), 400, "validation_failed")
    assert "current" in e["errors"][0]["message"], e
    assert ok(client.req("GET", f"/file_versions/{v2}"))["is_deleted"] is False

    r = client.req("DELETE", f"/file_versions/{v1}")
    assert r.status_code == 204 and r.content == b"", r.text
    got = ok(client.req("GET", f"/file_versions/{v1}"))
    assert got["is_deleted"] is True and got["upload"]["id"] == ua
    listed = ok(client.req("GET", f"/files/{fid}/versions"))["results"]
    assert [(v["version"], v["is_deleted"]) for v in listed] == [(1, True), (2, False)]
    # A deleted version is gone for everything but reading it (as in DDS).
    assert_error(client.req("GET", f"/file_versions/{v1}/url"), 404, "not_found")
    assert_error(client.req("DELETE", f"/file_versions/{v1}"), 404, "not_found")
    assert_error(client.req("PUT", f"/file_versions/{v1}", json={"label": "x"}), 404,
                 "not_found")
    assert_error(client.req("POST", f"/file_versions/{v1}/current"), 404, "not_found")

    # Its upload backs no other version: its bytes are purged; the file keeps its own.
    def purged():
        with db.cursor() as cur:
            cur.execute("SELECT id::text FROM uploads WHERE purged_at IS NOT NULL"
                        " AND id IN (%s, %s)", (ua, ub))
            return cur.fetchall()
    wait_until(purged, 30, what="version 1 purged")
    assert purged() == [(ua,)] and provider.objects(container, ua) == []
    assert provider.objects(container, ub)
    assert download(client.download_url(f"/files/{fid}/url")) == b
    assert ok(client.req("GET", f"/files/{fid}"))["current_version"]["id"] == v2


def test_promote_older_version(client, project, provider, db):
    a, b, c = os.urandom(1500), os.urandom(700), os.urandom(300)
    fid, v1, v2, ua, ub = two_versions(client, project, a, b, label="the first")
    assert download(client.download_url(f"/files/{fid}/url")) == b

    v3 = ok(client.req("POST", f"/file_versions/{v1}/current"), 201)
    assert v3["kind"] == "dds-file-version" and v3["id"] not in (v1, v2)
    assert v3["version"] == 3 and v3["label"] == "the first" and v3["is_deleted"] is False
    assert v3["upload"]["id"] == ua and v3["file"] == {"id": fid}
    assert v3["upload"]["storage_provider"] == provider.info
    f = ok(client.req("GET", f"/files/{fid}"))
    assert f["current_version"]["id"] == v3["id"] and f["current_version"]["upload"]["id"] == ua
    assert download(client.download_url(f"/files/{fid}/url")) == a
    assert download(client.download_url(f"/file_versions/{v3['id']}/url")) == a
    assert [v["upload"]["id"] for v in ok(client.req("GET", f"/files/{fid}/versions"))[
        "results"]] == [ua, ub, ua]

    # The current version is current already: 400, nothing made.
    e = assert_error(client.req("POST", f"/file_versions/{v3['id']}/current"), 400,
                     "validation_failed")
    assert "current" in e["errors"][0]["message"], e
    assert ok(client.req("GET", f"/files/{fid}/versions"))["results"][-1]["id"] == v3["id"]
    # An upload that backs versions of a file backs no other file.
    r = client.req("POST", "/files", json={"parent": {"kind": "dds-project", "id": project},
                                           "upload": {"id": ua}})
    assert_error(r, 400, "validation_failed")

    # Version 1 deleted: version 3 still uses its upload, whose bytes stay.
    container = container_of(db, ua)
    assert client.req("DELETE", f"/file_versions/{v1}").status_code == 204
    uc = client.send(project, [c])
    ok(client.req("PUT", f"/files/{fid}", json={"upload": {"id": uc}}))
    wait_until(lambda: ok(client.req("GET", f"/files/{fid}/versions"))["results"][0][
        "is_deleted"], 10, what="version 1 deleted")
    with db.cursor() as cur:
        # The job of the delete ran (inline) and left the upload alone.
        wait_until(lambda: (cur.execute("SELECT count(*) FROM job_runs WHERE resource_id = %s",
                                        (v1,)), cur.fetchone()[0])[1] == 1, 30,
                   what="the version's job ran")
        cur.execute("SELECT purged_at FROM uploads WHERE id = %s", (ua,))
        assert cur.fetchone()[0] is None
    assert provider.objects(container, ua)
    assert download(client.download_url(f"/file_versions/{v3['id']}/url")) == a
    # Version 3 deleted too: nothing uses the upload any more, its bytes go.
    assert client.req("DELETE", f"/file_versions/{v3['id']}").status_code == 204
    wait_until(lambda: provider.objects(container, ua) == [], 30, what="the upload purged")
    assert download(client.download_url(f"/files/{fid}/url")) == c


@pytest.mark.no_standby_run("its calls at once share one SESSION cookie, which each answer "
                             "overwrites in arrival order: an answer of an early promotion "
                             "arriving last leaves a position before the later ones, so the "
                             "list may be read from a standby that has not replayed them")
@pytest.mark.parametrize("keyed", [False, True], ids=["plain", "idempotency_key"])
def test_promotions_at_once(client, project, keyed):
    """Promotions of one file at the same moment each get a number of their own, in the
    order they took the file: none is lost, doubled or refused. With an Idempotency-Key the
    handler runs in the key's transaction, where a lost number could not be run again (the
    failed statement aborts it): a 500 until promotions took the file's row first."""
    fid, v1, v2, ua, ub = two_versions(client, project)
    n = 8

    def promote(_):
        headers = {"Idempotency-Key": str(uuid.uuid4())} if keyed else {}
        return client.req("POST", f"/file_versions/{v1}/current", headers=headers)

    with ThreadPoolExecutor(n) as pool:
        got = list(pool.map(promote, range(n)))
    assert all(r.status_code == 201 for r in got), [(r.status_code, r.text) for r in got]
    made = sorted(r.json()["version"] for r in got)
    assert made == list(range(3, 3 + n)), made
    versions = ok(client.req("GET", f"/files/{fid}/versions"))["results"]
    assert [v["version"] for v in versions] == list(range(1, 3 + n))
    assert [v["upload"]["id"] for v in versions] == [ua, ub] + [ua] * n


def test_versions_need_update_and_delete_file(settle, inline_api, client, project):
    """PUT and POST …/current need update_file, DELETE needs delete_file (as DDS's
    FileVersionPolicy); a stranger gets 403."""
    _, v1, _, _, _ = two_versions(client, project)
    people = {}
    for role in ("project_viewer", "file_uploader", "file_downloader", "file_editor", None):
        people[role] = Client(inline_api, settle.login(inline_api))
        if role is not None:
            ok(client.req("PUT", f"/projects/{project}/permissions/{people[role].user_id}",
                          json={"auth_role": {"id": role}}))
    for role in ("project_viewer", "file_uploader", "file_downloader", None):
        c = people[role]
        for method, path in (("PUT", f"/file_versions/{v1}"),
                             ("POST", f"/file_versions/{v1}/current"),
                             ("DELETE", f"/file_versions/{v1}")):
            assert_error(c.req(method, path, json={"label": "no"}), 403, "forbidden")
    assert ok(client.req("GET", f"/file_versions/{v1}"))["label"] == "one"
    editor = people["file_editor"]
    assert ok(editor.req("PUT", f"/file_versions/{v1}", json={"label": "ed"}))["label"] == "ed"
    ok(editor.req("POST", f"/file_versions/{v1}/current"), 201)
    assert editor.req("DELETE", f"/file_versions/{v1}").status_code == 204


def test_storage_providers(settle, client, provider):
    r = client.req("GET", "/storage_providers")
    got = ok(r)["results"]
    assert r.headers["X-Total"] == "2", r.headers
    assert [p["id"] for p in got] == [LOCAL, SWIFT]
    for p in got:
        assert set(p) == {"id", "name", "description", "is_deprecated", "is_default",
                          "chunk_hash_algorithm", "chunk_max_number", "chunk_max_size_bytes"}, p
        assert p["chunk_hash_algorithm"] == "md5"
        assert p["chunk_max_size_bytes"] == 5 * 1024 ** 3
    local, swift = got
    assert {k: local[k] for k in ("id", "name", "description")} == provider.info
    assert local["is_default"] is True and local["is_deprecated"] is False
    assert local["chunk_max_number"] is None
    assert swift["name"] == "swift" and swift["is_default"] is False
    assert swift["is_deprecated"] is True and swift["chunk_max_number"] == 1000
    r = client.req("GET", f"/storage_providers/{LOCAL}")
    assert ok(r) == local and "X-Total" not in r.headers
    assert ok(client.req("GET", f"/storage_providers/{SWIFT}/")) == swift
    for path in (f"/storage_providers/{uuid.uuid4()}", "/storage_providers/local"):
        assert_error(client.req("GET", path), 404, "not_found")
    assert_error(requests.get(f"{client.base}/storage_providers", timeout=10), 401,
                 "unauthorized")
    # A settle-api configured with another chunk bound says so.
    other = settle.api(SETTLE_QUEUE="inline", SETTLE_MAX_CHUNK_SIZE="1048576")
    p = ok(requests.get(f"{other.base}/storage_providers/{LOCAL}", headers=client.h,
                        timeout=10))
    assert p["chunk_max_size_bytes"] == 1048576


def test_public_calls_need_no_token(client):
    """GET /app/status and the auth providers answer without a token, as in DDS; what
    names people (affiliates, users) still needs one."""
    base = client.base
    r = requests.get(f"{base}/app/status", timeout=10)
    assert r.status_code == 200 and r.json() == {"status": "ok", "environment": "development"}
    r = requests.get(f"{base}/auth_providers", timeout=10)
    got = ok(r)["results"]
    assert r.headers["X-Total"] == "1" and [p["id"] for p in got] == [PROVIDER]
    assert ok(requests.get(f"{base}/auth_providers/{PROVIDER}", timeout=10)) == got[0]
    assert got == ok(client.req("GET", "/auth_providers"))["results"]
    assert_error(requests.get(f"{base}/auth_providers/{uuid.uuid4()}", timeout=10), 404,
                 "not_found")
    for path in (f"/auth_providers/{PROVIDER}/affiliates", "/users", "/current_user",
                 "/storage_providers"):
        assert_error(requests.get(base + path, timeout=10), 401, "unauthorized")


def test_app_status_answers_503_without_a_database(settle, fresh_database):
    """A settle-api whose database is not migrated (no roles seeded) is not ok: 503 with
    DDS's status body and Settle's error fields."""
    api = settle.api(SETTLE_QUEUE="inline", SETTLE_DATABASE_URL=fresh_database())
    r = requests.get(f"{api.base}/app/status", timeout=10)
    assert r.status_code == 503, r.text
    body = r.json()
    assert body["status"] == "error" and body["code"] == "service_unavailable", body
    assert body["environment"] == "development" and r.headers["Retry-After"].isdigit()


def test_email_set_by_the_user(settle, inline_api, client):
    bob = Client(inline_api, settle.login(inline_api))
    mail = f"alice-{uuid.uuid4().hex[:8]}@example.org"
    me = ok(client.req("PUT", "/current_user", json={"email": mail}))
    assert me["email"] == mail and me["id"] == client.user_id and me["kind"] == "dds-user"
    assert ok(client.req("GET", "/current_user"))["email"] == mail
    # Others find the user by it: the users list and the provider's affiliates.
    found = ok(bob.req("GET", "/users", params={"email": mail}))["results"]
    assert [u["id"] for u in found] == [client.user_id]
    aff = ok(bob.req("GET", f"/auth_providers/{PROVIDER}/affiliates",
                     params={"email": mail}))["results"]
    assert [a["email"] for a in aff] == [mail]
    # A form body; the same address again; no email: unchanged.
    assert ok(client.req("PUT", "/current_user", data={"email": mail}))["email"] == mail
    assert ok(client.req("PUT", "/current_user", json={}))["email"] == mail
    # Another user's address: 409, so that a lookup by email finds one user.
    r = bob.req("PUT", "/current_user", json={"email": mail})
    assert_error(r, 409, "conflict")
    assert ok(bob.req("GET", "/current_user"))["email"] is None
    for bad in ("no-at-sign", "@example.org", "alice@", "two words@example.org",
                "bell\x07@example.org", "a@b\u202ec", "x" * 250 + "@example.org", 5, ["a@b"]):
        e = assert_error(client.req("PUT", "/current_user", json={"email": bad}), 400,
                         "validation_failed")
        assert e["errors"][0]["field"] == "email", e
    assert ok(client.req("GET", "/current_user"))["email"] == mail
    assert_error(requests.put(f"{client.base}/current_user", json={"email": "x@y"},
                              timeout=10), 401, "unauthorized")


def test_email_set_by_the_operator(settle, inline_api, client, db):
    name = f"carol-{uuid.uuid4().hex[:8]}"
    mail = f"{name}@example.org"
    r = settle.cli("user", "create", name, "--email", mail)
    assert "SETTLE_USER_KEY=" in r.stdout
    found = ok(client.req("GET", "/users", params={"email": mail}))["results"]
    assert [u["username"] for u in found] == [name]
    # Again for the same user: a new key, and the address it is given.
    r = settle.cli("user", "create", "--email", f"new-{mail}", name)
    assert "SETTLE_USER_KEY=" in r.stdout
    with db.cursor() as cur:
        cur.execute("SELECT email, (SELECT count(*) FROM api_keys k WHERE k.user_id = u.id)"
                    " FROM users u WHERE username = %s", (name,))
        assert cur.fetchone() == (f"new-{mail}", 2)
    # Another user's address, or no address at all, is refused and makes nothing.
    other = f"dave-{uuid.uuid4().hex[:8]}"
    r = settle.cli("user", "create", other, "--email", f"new-{mail}", check=False)
    assert r.returncode == 1 and "email" in r.stderr and "_KEY=" not in r.stdout, r
    r = settle.cli("user", "create", other, "--email", "nobody", check=False)
    assert r.returncode == 2 and "--email" in r.stderr and "_KEY=" not in r.stdout, r
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM users WHERE username = %s", (other,))
        assert cur.fetchone()[0] == 0
