"""API.md "Limits on input": names, Idempotency-Key, and the chunks of an upload (at chunk
registration and in the storage PUT). Each case was a 500, or bytes stored beyond the
upload's size, before the limits (issue 9, items 5, 7 and 8)."""

import os
import random
import time

import requests

from test_api_uploads import Client, assert_error, md5, sign

H = "0" * 32  # a well-formed md5


def random_name(n):
    """n random printable characters (of 1 to 3 bytes each in UTF-8)."""
    alphabet = [chr(c) for c in range(0x21, 0x7f)] + ["é", "ß", "漢", "字", "€"]
    return "".join(random.choice(alphabet) for _ in range(n))


def chunk(client, uid, number, size):
    return client.req("PUT", f"/uploads/{uid}/chunks",
                      json={"number": number, "size": size, "hash": {"value": H}})


def field_error(r, field):
    body = assert_error(r, 400, "validation_failed")
    assert body["errors"][0]["field"] == field, body
    return body


# ---- names ---------------------------------------------------------------------------------

BAD_NAMES = [random_name(8000), "x" * 1025, "é" * 513, "", "a\x01b", "tab\there", "nl\n",
             "del\x7f", "c1\u0085"]


def test_bad_names_refused_everywhere(client, project, db):
    """Every call that takes a name answers 400 for each bad one, and stores nothing."""
    folder = client.req("POST", "/folders", json={
        "name": "f", "parent": {"kind": "dds-project", "id": project}}).json()["id"]
    for name in BAD_NAMES:
        field_error(client.req("POST", "/projects", json={"name": name}), "name")
        field_error(client.req("PUT", f"/projects/{project}", json={"name": name}), "name")
        field_error(client.req("POST", "/folders", json={
            "name": name, "parent": {"kind": "dds-project", "id": project}}), "name")
        field_error(client.req("POST", "/folders", json={
            "name": name, "parent": {"kind": "dds-folder", "id": folder}}), "name")
        field_error(client.req("PUT", f"/folders/{folder}", json={"name": name}), "name")
        field_error(client.req("POST", f"/projects/{project}/uploads",
                               json={"name": name, "size": 1}), "name")
    # A form body is held to the same rule.
    r = client.req("POST", f"/projects/{project}/uploads", data={"name": "x" * 1025, "size": 1})
    field_error(r, "name")
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM uploads WHERE project_id = %s", (project,))
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT max(octet_length(name)) FROM folders WHERE project_id = %s",
                    (project,))
        assert cur.fetchone()[0] == 1


def test_longest_names_work_to_the_end(client, project):
    """1024 bytes (here multi-byte characters) is allowed everywhere, and a file made from
    such an upload is created and renamed with its name."""
    name = "é" * 511 + "ab"  # 1024 bytes
    assert len(name.encode()) == 1024
    r = client.req("POST", "/projects", json={"name": name})
    assert r.status_code == 202 and r.json()["name"] == name, r.text
    r = client.req("POST", "/folders", json={
        "name": name, "parent": {"kind": "dds-project", "id": project}})
    assert r.status_code == 201, r.text
    fid = r.json()["id"]
    assert client.req("PUT", f"/folders/{fid}", json={"name": name[::-1]}).status_code == 200
    data = os.urandom(100)
    uid = client.send(project, [data], name=name)
    f = client.file(project, uid, parent={"kind": "dds-folder", "id": fid})
    assert f["name"] == name


# ---- Idempotency-Key -----------------------------------------------------------------------

def test_idempotency_key_must_be_printable_ascii(client, db):
    for key in [b"k\xff\xfe", "é".encode(), b"a\x01b", b"k" * 256]:
        r = client.req("POST", "/projects", json={"name": "idem-bad"},
                       headers={"Idempotency-Key": key})
        body = field_error(r, "Idempotency-Key")
        assert "printable ASCII" in body["errors"][0]["message"], body
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM projects WHERE name = 'idem-bad'")
        assert cur.fetchone()[0] == 0
    key = "k ~!" + "x" * 251  # 255 printable bytes, a space among them
    first = client.req("POST", "/projects", json={"name": "idem-ok"},
                       headers={"Idempotency-Key": key})
    again = client.req("POST", "/projects", json={"name": "idem-ok"},
                       headers={"Idempotency-Key": key})
    assert first.status_code == 202, first.text
    assert again.json()["id"] == first.json()["id"]


# ---- chunks --------------------------------------------------------------------------------

def test_chunks_bounded_by_the_upload_size(client, project, db):
    """The review's case: an upload of 10 bytes took chunks 1, 2, 3 and 2147483647 of
    100,000 bytes each. Now a chunk's size is at most the room the other chunks leave, and
    its number at most what 10 bytes need at the minimum chunk size (1 byte here)."""
    uid = client.upload(project, 10).json()["id"]
    for n in (1, 2, 3, 2147483647):
        field_error(chunk(client, uid, n, 100_000), "size" if n <= 10 else "number")
    field_error(chunk(client, uid, 11, 0), "number")
    assert chunk(client, uid, 10, 1).status_code == 200
    assert chunk(client, uid, 1, 6).status_code == 200
    body = field_error(chunk(client, uid, 2, 4), "size")  # 6 + 1 + 4 > 10
    assert "at most 3" in body["errors"][0]["message"], body
    assert chunk(client, uid, 2, 3).status_code == 200
    # Registering a number again replaces its chunk: its old size does not count.
    assert chunk(client, uid, 1, 5).status_code == 200
    field_error(chunk(client, uid, 1, 7), "size")
    with db.cursor() as cur:
        cur.execute("SELECT number, size FROM chunks WHERE upload_id = %s ORDER BY number",
                    (uid,))
        assert cur.fetchall() == [(1, 5), (2, 3), (10, 1)]


def test_chunk_numbers_bounded_at_the_minimum_chunk_size(settle):
    api = settle.api(SETTLE_QUEUE="inline", SETTLE_MIN_CHUNK_SIZE="4")
    c = Client(api, settle.login(api))
    pid = c.project()
    uid = c.upload(pid, 10).json()["id"]  # ceil(10 / 4) = 3 chunks at most
    body = field_error(chunk(c, uid, 4, 1), "number")
    assert "at most 3" in body["errors"][0]["message"], body
    assert chunk(c, uid, 3, 2).status_code == 200
    empty = c.upload(pid, 0).json()["id"]  # an empty upload still has its one chunk
    assert chunk(c, empty, 1, 0).status_code == 200
    field_error(chunk(c, empty, 2, 0), "number")
    field_error(chunk(c, empty, 1, 1), "size")


def test_storage_put_refuses_chunks_beyond_the_upload(client, project, db, secret):
    """Chunk rows past the limits (registered before them, or by registrations racing each
    other) get no bytes stored: 413, and the chunk stays unstored."""
    uid = client.upload(project, 10).json()["id"]
    u = client.chunk_url(uid, 1, 8, md5(b"x" * 8))
    with db.cursor() as cur:
        cur.execute("INSERT INTO chunks (upload_id, number, size, hash_value, hash_algorithm)"
                    " VALUES (%s, 2, 8, %s, 'md5'), (%s, 2147483647, 1, %s, 'md5')",
                    (uid, md5(b"y" * 8), uid, md5(b"z")))
    for n, data in ((2, b"y" * 8), (2147483647, b"z")):
        # The API no longer signs URLs for such chunks: sign them as it would.
        url = sign(secret, "PUT", f"/storage/{uid}/{n}", int(time.time()) + 60)
        r = requests.put(u["host"] + url, data=data, timeout=30)
        assert_error(r, 413, "payload_too_large")
    with db.cursor() as cur:
        cur.execute("SELECT number FROM chunks WHERE upload_id = %s AND stored_at IS NOT NULL",
                    (uid,))
        assert cur.fetchall() == []


def test_refused_put_keeps_the_stored_chunk(client, project):
    """A PUT refused for its size (announced or streamed) leaves the chunk stored before
    intact: the upload completes and downloads as first sent."""
    data = os.urandom(10)
    uid = client.upload(project, 10).json()["id"]
    u = client.chunk_url(uid, 1, 10, md5(data))
    assert requests.put(u["host"] + u["url"], data=data, timeout=30).status_code == 201
    try:
        r = requests.put(u["host"] + u["url"], data=b"x" * 11, timeout=30)
        assert_error(r, 413, "payload_too_large")
    except requests.ConnectionError:
        pass  # the server may close before the client finished sending
    r = requests.put(u["host"] + u["url"], data=iter([b"y" * 6, b"y" * 6]), timeout=30)
    assert_error(r, 413, "payload_too_large")
    assert client.complete(uid, md5(data)).status_code == 202
    assert client.wait_upload(uid)["status"]["error_on"] is None
    f = client.file(project, uid)
    dl = client.download_url(f"/files/{f['id']}/url")
    assert requests.get(dl["host"] + dl["url"], timeout=30).content == data
