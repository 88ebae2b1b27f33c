"""Uploads and the storage URLs: chunked and non-chunked uploads from create to a
byte-identical download, Range, integrity failures, repeated complete, signatures, 413,
bad input, and a 1 GiB upload in constant memory.

The helpers at the top are shared with test_api_files.py."""

import hashlib
import hmac
import os
import time
import uuid

import pytest
import requests

from pipeline_helpers import JOBS
from settle_harness import wait_until

TIMEOUT = 30  # seconds any background step may take


# ---- helpers -------------------------------------------------------------------------------

def md5(b):
    return hashlib.md5(b).hexdigest()


def assert_error(r, status, code):
    assert r.status_code == status, f"want {status} {code}, got {r.status_code}: {r.text[:500]}"
    body = r.json()
    assert body.get("error") == status, body
    assert body.get("code") == code, body
    return body


class Client:
    """A logged-in user of one settle-api."""

    def __init__(self, api, login):
        self.api = api
        self.base = api.base
        self.h = login["headers"]
        self.user_id = login["user_id"]

    def req(self, method, path, **kw):
        kw.setdefault("timeout", 30)
        return requests.request(method, self.base + path, headers=dict(self.h, **kw.pop(
            "headers", {})), **kw)

    def project(self, name="p"):
        """A new project, once it is consistent."""
        r = self.req("POST", "/projects", json={"name": name, "description": "test"})
        assert r.status_code in (201, 202), r.text
        pid = r.json()["id"]
        wait_until(lambda: self.req("GET", f"/projects/{pid}").json().get("is_consistent"),
                   TIMEOUT, what="project consistent")
        return pid

    def upload(self, pid, size, name="f.bin", **extra):
        r = self.req("POST", f"/projects/{pid}/uploads",
                     json=dict({"name": name, "content_type": "application/octet-stream",
                                "size": size}, **extra))
        assert r.status_code == 201, r.text
        return r

    def chunk_url(self, uid, number, size, value, algorithm="md5"):
        r = self.req("PUT", f"/uploads/{uid}/chunks",
                     json={"number": number, "size": size,
                           "hash": {"value": value, "algorithm": algorithm}})
        assert r.status_code == 200, r.text
        return r.json()

    def put_chunk(self, uid, number, data, size=None, value=None, algorithm="md5"):
        """Registers chunk number and sends data to its storage URL; returns the PUT."""
        value = value or hashlib.new(algorithm, data).hexdigest()
        u = self.chunk_url(uid, number, len(data) if size is None else size, value, algorithm)
        return requests.put(u["host"] + u["url"], data=data, timeout=60)

    def complete(self, uid, value, algorithm="md5"):
        return self.req("PUT", f"/uploads/{uid}/complete",
                        json={"hash": {"value": value, "algorithm": algorithm}})

    def wait_upload(self, uid):
        """The upload once the worker has finished with it."""
        return wait_until(lambda: (lambda j: j if j["status"]["is_consistent"] else None)(
            self.req("GET", f"/uploads/{uid}").json()), TIMEOUT, what="upload consistent")

    def send(self, pid, chunks, whole_hash=None, name="f.bin"):
        """A completed chunked upload of the byte strings in chunks; returns its id."""
        whole = b"".join(chunks)
        uid = self.upload(pid, len(whole), name=name).json()["id"]
        for i, c in enumerate(chunks, 1):
            assert self.put_chunk(uid, i, c).status_code == 201
        assert self.complete(uid, whole_hash or md5(whole)).status_code == 202
        return uid

    def file(self, pid, uid, parent=None, label=None):
        body = {"parent": parent or {"kind": "dds-project", "id": pid}, "upload": {"id": uid}}
        if label is not None:
            body["label"] = label
        r = self.req("POST", "/files", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def download_url(self, path):
        """Polls path (a /url endpoint) until it answers 200; returns the URL object."""
        return wait_until(lambda: (lambda r: r.json() if r.status_code == 200 else None)(
            self.req("GET", path)), TIMEOUT, what=f"{path} 200")


def sign(secret, method, path, expires):
    """The storage URL path+query that settle-api would issue (common/sign.c)."""
    msg = b"\0".join([b"url", method.encode(), str(expires).encode(), path.encode()])
    mac = hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()
    return f"{path}?expires={expires}&signature={mac}"


def outbox_count(db, kind, rid):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM " + JOBS + " WHERE kind = %s AND resource_id = %s",
                    (kind, rid))
        return cur.fetchone()[0]


def job_runs(db, kind, rid):
    with db.cursor() as cur:
        cur.execute("SELECT outcome FROM job_runs WHERE kind = %s AND resource_id = %s",
                    (kind, rid))
        return [row[0] for row in cur.fetchall()]


# ---- whole flows ---------------------------------------------------------------------------

def test_chunked_upload_to_identical_download(client, project, db):
    chunks = [os.urandom(100_000), os.urandom(100_000), os.urandom(12_345)]
    whole = b"".join(chunks)
    r = client.upload(project, len(whole), name="three.bin")
    assert r.headers["X-MIN-CHUNK-UPLOAD-SIZE"].isdigit()
    assert r.headers["X-MAX-CHUNK-UPLOAD-SIZE"].isdigit()
    assert "X-Total" not in r.headers
    up = r.json()
    assert up["kind"] == "dds-upload" and up["size"] == len(whole) and up["chunks"] == []
    assert up["status"]["ready_for_chunks"] is True and up["status"]["completed_on"] is None
    assert up["project"] == {"id": project}
    assert up["storage_provider"]["id"] == "00000000-0000-4000-8000-000000000001"
    uid = up["id"]
    for i, c in enumerate(chunks, 1):
        r = client.put_chunk(uid, i, c)
        assert r.status_code == 201 and r.json() == {}, r.text
    with db.cursor() as cur:
        cur.execute("SELECT number, stored_size, stored_md5 FROM chunks WHERE upload_id = %s "
                    "ORDER BY number", (uid,))
        assert cur.fetchall() == [(i, len(c), md5(c)) for i, c in enumerate(chunks, 1)]
    r = client.complete(uid, md5(whole))
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"]["completed_on"] is not None
    assert body["status"]["ready_for_chunks"] is False
    assert [c["number"] for c in body["chunks"]] == [1, 2, 3]
    assert body["chunks"][1] == {"number": 2, "size": 100_000,
                                 "hash": {"value": md5(chunks[1]), "algorithm": "md5"}}
    assert {"algorithm": "md5", "value": md5(whole)} in body["hashes"]
    done = client.wait_upload(uid)
    assert done["status"]["error_on"] is None, done
    f = client.file(project, uid)
    assert f["current_version"]["upload"]["hashes"] == [{"algorithm": "md5", "value": md5(whole)}]
    u = client.download_url(f"/files/{f['id']}/url")
    assert u["http_verb"] == "GET" and u["http_headers"] == []
    r = requests.get(u["host"] + u["url"], timeout=30)
    assert r.status_code == 200
    assert r.content == whole
    assert r.headers["Content-Length"] == str(len(whole))
    assert r.headers["ETag"] == f'"{up["etag"]}"'
    assert r.headers["Accept-Ranges"] == "bytes"


def test_non_chunked_upload(client, project):
    data = os.urandom(54_321)
    r = client.upload(project, len(data), chunked=False,
                      hash={"value": md5(data), "algorithm": "md5"})
    assert int(r.headers["X-MAX-UPLOAD-SIZE"]) >= len(data)
    up = r.json()
    su = up["signed_url"]
    assert su["http_verb"] == "PUT" and su["http_headers"] == []
    assert su["url"].startswith(f"/storage/{up['id']}/1?")
    assert up["chunks"] == [{"number": 1, "size": len(data),
                             "hash": {"value": md5(data), "algorithm": "md5"}}]
    r = requests.put(su["host"] + su["url"], data=data, timeout=30)
    assert r.status_code == 201, r.text
    assert client.complete(up["id"], md5(data)).status_code == 202
    assert client.wait_upload(up["id"])["status"]["error_on"] is None
    f = client.file(project, up["id"])
    u = client.download_url(f"/file_versions/{f['current_version']['id']}/url")
    assert requests.get(u["host"] + u["url"], timeout=30).content == data


def test_non_chunked_without_hash_and_sha256(client, project):
    data = os.urandom(1000)
    up = client.upload(project, len(data), chunked=False).json()
    assert up["chunks"][0]["hash"]["value"] == ""
    su = up["signed_url"]
    assert requests.put(su["host"] + su["url"], data=data, timeout=30).status_code == 201
    digest = hashlib.sha256(data).hexdigest()
    assert client.complete(up["id"], digest, "sha256").status_code == 202
    done = client.wait_upload(up["id"])
    assert done["status"]["error_on"] is None, done
    assert {"algorithm": "sha256", "value": digest} in done["hashes"]


def test_empty_upload(client, project):
    uid = client.upload(project, 0).json()["id"]
    assert client.put_chunk(uid, 1, b"").status_code == 201
    assert client.complete(uid, md5(b"")).status_code == 202
    assert client.wait_upload(uid)["status"]["error_on"] is None
    f = client.file(project, uid)
    u = client.download_url(f"/files/{f['id']}/url")
    r = requests.get(u["host"] + u["url"], timeout=30)
    assert r.status_code == 200 and r.content == b""


def test_range(client, project):
    chunks = [os.urandom(1000), os.urandom(1000), os.urandom(500)]
    whole = b"".join(chunks)
    uid = client.send(project, chunks)
    client.wait_upload(uid)
    f = client.file(project, uid)
    u = client.download_url(f"/files/{f['id']}/url")
    url = u["host"] + u["url"]
    cases = [("bytes=0-0", 0, 0), ("bytes=990-1010", 990, 1010), ("bytes=1000-", 1000, 2499),
             ("bytes=-10", 2490, 2499), ("bytes=2000-99999", 2000, 2499),
             ("bytes=-5000", 0, 2499)]
    for rng, a, b in cases:
        r = requests.get(url, headers={"Range": rng}, timeout=30)
        assert r.status_code == 206, (rng, r.status_code)
        assert r.headers["Content-Range"] == f"bytes {a}-{b}/{len(whole)}", rng
        assert r.content == whole[a:b + 1], rng
        assert r.headers["Content-Length"] == str(b - a + 1)
    for rng in ["bytes=2500-", "bytes=9000-9001", "bytes=-0"]:
        r = requests.get(url, headers={"Range": rng}, timeout=30)
        assert r.status_code == 416, rng
        assert r.headers["Content-Range"] == f"bytes */{len(whole)}"
    # An unusable header is ignored: the whole file.
    r = requests.get(url, headers={"Range": "lines=1-2"}, timeout=30)
    assert r.status_code == 200 and r.content == whole


# ---- integrity -----------------------------------------------------------------------------

def _wrong_chunk_hash(c, pid):
    a, b = os.urandom(500), os.urandom(500)
    uid = c.upload(pid, 1000).json()["id"]
    assert c.put_chunk(uid, 1, a).status_code == 201
    assert c.put_chunk(uid, 2, b, value=md5(b"other")).status_code == 201
    return uid, md5(a + b)


def _wrong_size(c, pid):
    a, b = os.urandom(500), os.urandom(500)
    uid = c.upload(pid, 1000).json()["id"]
    assert c.put_chunk(uid, 1, a).status_code == 201
    # Declared 500, only 400 bytes sent: accepted by storage, caught by the check.
    assert c.put_chunk(uid, 2, b[:400], size=500, value=md5(b)).status_code == 201
    return uid, md5(a + b)


def _missing_chunk(c, pid):
    a, b = os.urandom(500), os.urandom(500)
    uid = c.upload(pid, 1000).json()["id"]
    assert c.put_chunk(uid, 1, a).status_code == 201
    assert c.put_chunk(uid, 3, b).status_code == 201
    return uid, md5(a + b)


def _never_stored(c, pid):
    a, b = os.urandom(500), os.urandom(500)
    uid = c.upload(pid, 1000).json()["id"]
    assert c.put_chunk(uid, 1, a).status_code == 201
    c.chunk_url(uid, 2, 500, md5(b))
    return uid, md5(a + b)


def _wrong_whole_hash(c, pid):
    a, b = os.urandom(500), os.urandom(500)
    uid = c.upload(pid, 1000).json()["id"]
    assert c.put_chunk(uid, 1, a).status_code == 201
    assert c.put_chunk(uid, 2, b).status_code == 201
    return uid, md5(b + a)


def _sizes_do_not_add_up(c, pid):
    a = os.urandom(500)
    uid = c.upload(pid, 1000).json()["id"]
    assert c.put_chunk(uid, 1, a).status_code == 201
    return uid, md5(a)


@pytest.mark.parametrize("make", [_wrong_chunk_hash, _wrong_size, _missing_chunk, _never_stored,
                                  _wrong_whole_hash, _sizes_do_not_add_up])
def test_integrity_mismatch(client, project, make):
    uid, whole_hash = make(client, project)
    assert client.complete(uid, whole_hash).status_code == 202
    done = client.wait_upload(uid)
    assert done["status"]["error_on"] is not None, done
    assert done["status"]["error_message"], done
    # Completed, so a file can still be made of it; its URL answers integrity_exception.
    f = client.file(project, uid)
    for path in (f"/files/{f['id']}/url", f"/file_versions/{f['current_version']['id']}/url"):
        body = assert_error(client.req("GET", path), 400, "integrity_exception")
        assert body["reason"] == done["status"]["error_message"]
        assert body["suggestion"] == "You must begin a new upload process"


# ---- complete ------------------------------------------------------------------------------

def test_complete_twice_runs_one_job(client, project, db):
    data = os.urandom(3000)
    uid = client.upload(project, len(data)).json()["id"]
    assert client.put_chunk(uid, 1, data).status_code == 201
    r1 = client.complete(uid, md5(data))
    r2 = client.req("PUT", f"/uploads/{uid}/complete",
                    data={"hash[value]": md5(data).upper(), "hash[algorithm]": "md5"})
    assert (r1.status_code, r2.status_code) == (202, 202), r2.text
    assert r2.json()["status"]["completed_on"] == r1.json()["status"]["completed_on"]
    client.wait_upload(uid)
    assert outbox_count(db, "upload.complete", uid) == 1
    wait_until(lambda: job_runs(db, "upload.complete", uid), TIMEOUT, what="job_runs row")
    time.sleep(0.5)
    assert job_runs(db, "upload.complete", uid) == ["consistent"]
    r3 = client.complete(uid, md5(data))
    assert r3.status_code == 202 and r3.json()["status"]["is_consistent"] is True
    assert_error(client.complete(uid, md5(b"different")), 409, "conflict")
    assert_error(client.complete(uid, hashlib.sha1(data).hexdigest(), "sha1"), 409, "conflict")
    assert outbox_count(db, "upload.complete", uid) == 1


def test_complete_with_prefer_wait(client, project):
    data = os.urandom(2000)
    uid = client.upload(project, len(data)).json()["id"]
    assert client.put_chunk(uid, 1, data).status_code == 201
    r = client.req("PUT", f"/uploads/{uid}/complete", headers={"Prefer": "wait=20"},
                   json={"hash": {"value": md5(data)}})
    assert r.status_code == 200, r.text
    assert r.headers["Preference-Applied"] == "wait=20"
    assert r.json()["status"]["is_consistent"] is True


def test_chunks_after_complete_conflict(client, project):
    data = os.urandom(1000)
    uid = client.upload(project, 2000).json()["id"]
    assert client.put_chunk(uid, 1, data).status_code == 201
    late = client.chunk_url(uid, 2, 1000, md5(data))
    assert client.complete(uid, md5(data + data)).status_code == 202
    r = client.req("PUT", f"/uploads/{uid}/chunks",
                   json={"number": 2, "size": 1000, "hash": {"value": md5(data)}})
    assert_error(r, 409, "conflict")
    # A URL issued before completion does not write after it.
    r = requests.put(late["host"] + late["url"], data=data, timeout=30)
    assert_error(r, 409, "conflict")


def test_repeat_chunk_replaces_it(client, project, db):
    a, b = os.urandom(200), os.urandom(300)
    uid = client.upload(project, 300).json()["id"]
    assert client.put_chunk(uid, 1, a).status_code == 201
    client.chunk_url(uid, 1, 300, md5(b))
    with db.cursor() as cur:
        cur.execute("SELECT size, hash_value, stored_at FROM chunks WHERE upload_id = %s",
                    (uid,))
        assert cur.fetchall() == [(300, md5(b), None)]
    assert client.put_chunk(uid, 1, b).status_code == 201
    assert client.complete(uid, md5(b)).status_code == 202
    assert client.wait_upload(uid)["status"]["error_on"] is None


def test_hashes_endpoint(client, project):
    data = os.urandom(100)
    uid = client.send(project, [data])
    r = client.req("PUT", f"/uploads/{uid}/hashes",
                   json={"value": hashlib.sha256(data).hexdigest(), "algorithm": "sha256"})
    assert r.status_code == 200, r.text
    hashes = r.json()["hashes"]
    assert {"algorithm": "sha256", "value": hashlib.sha256(data).hexdigest()} in hashes
    assert {"algorithm": "md5", "value": md5(data)} in hashes


def test_recorded_hash_cannot_be_replaced(client, project):
    """Issue 9 item 4: after the worker verified an upload, PUT /hashes with a zero md5 was
    200 and the file showed it. Another value for a recorded algorithm is 409 now; the same
    value (in any case) is 200; a new algorithm is recorded once."""
    data = os.urandom(100)
    uid = client.send(project, [data])
    assert client.wait_upload(uid)["status"]["error_on"] is None
    r = client.req("PUT", f"/uploads/{uid}/hashes", json={"value": "0" * 32, "algorithm": "md5"})
    assert_error(r, 409, "conflict")
    r = client.req("PUT", f"/uploads/{uid}/hashes",
                   json={"value": md5(data).upper(), "algorithm": "md5"})
    assert r.status_code == 200, r.text
    assert r.json()["hashes"] == [{"algorithm": "md5", "value": md5(data)}]
    sha1 = hashlib.sha1(data).hexdigest()
    r = client.req("PUT", f"/uploads/{uid}/hashes", json={"value": sha1, "algorithm": "sha1"})
    assert r.status_code == 200, r.text
    r = client.req("PUT", f"/uploads/{uid}/hashes", json={"value": "1" * 40, "algorithm": "sha1"})
    assert_error(r, 409, "conflict")
    f = client.file(project, uid)
    want = [{"algorithm": "md5", "value": md5(data)}, {"algorithm": "sha1", "value": sha1}]
    assert client.req("GET", f"/files/{f['id']}").json()["current_version"]["upload"][
        "hashes"] == want
    assert client.req("GET", f"/uploads/{uid}").json()["hashes"] == want


def test_complete_cannot_replace_a_recorded_hash(client, project, db):
    """A hash given through PUT /hashes before complete is recorded: complete with another
    value of that algorithm is 409 and leaves the upload as it was; with the same, 202."""
    data = os.urandom(100)
    uid = client.upload(project, len(data)).json()["id"]
    assert client.put_chunk(uid, 1, data).status_code == 201
    r = client.req("PUT", f"/uploads/{uid}/hashes", json={"value": md5(data)})
    assert r.status_code == 200, r.text
    assert_error(client.complete(uid, "0" * 32), 409, "conflict")
    assert outbox_count(db, "upload.complete", uid) == 0
    up = client.req("GET", f"/uploads/{uid}").json()
    assert up["status"]["completed_on"] is None
    assert up["hashes"] == [{"algorithm": "md5", "value": md5(data)}]
    assert client.complete(uid, md5(data)).status_code == 202
    assert client.wait_upload(uid)["status"]["error_on"] is None


def test_list_uploads_paged(client, project):
    ids = [client.upload(project, 10, name=f"u{i}").json()["id"] for i in range(3)]
    r = client.req("GET", f"/projects/{project}/uploads", params={"per_page": 2})
    assert r.status_code == 200
    assert r.headers["X-Total"] == "3" and r.headers["X-Total-Pages"] == "2"
    assert r.headers["X-Next-Page"] == "2"
    assert [u["id"] for u in r.json()["results"]] == ids[:2]
    r = client.req("GET", f"/projects/{project}/uploads", params={"per_page": 2, "page": 2})
    assert [u["id"] for u in r.json()["results"]] == ids[2:]
    r = client.req("GET", f"/uploads/{ids[0]}")
    assert r.status_code == 200 and "X-Total" not in r.headers


def test_upload_needs_consistent_project(client, db):
    pid = client.project()
    with db.cursor() as cur:
        cur.execute("UPDATE projects SET is_consistent = false WHERE id = %s", (pid,))
    r = client.req("POST", f"/projects/{pid}/uploads", json={"name": "a", "size": 1})
    assert_error(r, 404, "resource_not_consistent")
    assert r.headers["Retry-After"].isdigit()
    r = client.req("POST", f"/projects/{pid}/uploads", json={"name": "a", "size": 1},
                   headers={"Prefer": "wait=1"})
    assert_error(r, 404, "resource_not_consistent")
    assert r.headers["Preference-Applied"] == "wait=1"


# ---- storage URLs --------------------------------------------------------------------------

def test_bad_signatures_forbidden(client, project, secret):
    data = os.urandom(100)
    uid = client.upload(project, 100).json()["id"]
    u = client.chunk_url(uid, 1, 100, md5(data))
    path, query = u["url"].split("?")
    good_sig = query.split("signature=")[1]
    exp = query.split("expires=")[1].split("&")[0]
    bad = [
        f"{path}?expires={exp}&signature={'0' * 64}",
        f"{path}?expires={int(exp) + 1}&signature={good_sig}",
        f"{path}?expires={exp}",
        path,
        f"/storage/{uid}/2?{query}",
        sign(secret, "PUT", path, int(time.time()) - 5),  # expired
        sign(secret, "GET", path, int(time.time()) + 60),  # another method
        sign("not-the-secret-of-this-api", "PUT", path, int(time.time()) + 60),
    ]
    for url in bad:
        r = requests.put(u["host"] + url, data=data, timeout=30)
        assert_error(r, 403, "forbidden")
    # With the right secret and a future expiry, the URL works.
    r = requests.put(u["host"] + sign(secret, "PUT", path, int(time.time()) + 60), data=data,
                     timeout=30)
    assert r.status_code == 201
    # Downloads are signed too.
    for url in [f"/storage/{uid}", f"/storage/{uid}?expires={exp}&signature={good_sig}",
                sign(secret, "GET", f"/storage/{uid}", int(time.time()) - 1)]:
        assert_error(requests.get(u["host"] + url, timeout=30), 403, "forbidden")
    r = requests.get(u["host"] + sign(secret, "GET", f"/storage/{uid}", int(time.time()) + 60),
                     timeout=30)
    assert r.status_code == 200 and r.content == data


def test_chunk_without_row_or_upload_not_found(client, project, secret, inline_api):
    uid = client.upload(project, 100).json()["id"]
    for path in (f"/storage/{uid}/1", f"/storage/{uuid.uuid4()}/1"):
        r = requests.put(inline_api.url + sign(secret, "PUT", path, int(time.time()) + 60),
                         data=b"x", timeout=30)
        assert_error(r, 404, "not_found")
    path = f"/storage/{uuid.uuid4()}"
    r = requests.get(inline_api.url + sign(secret, "GET", path, int(time.time()) + 60),
                     timeout=30)
    assert_error(r, 404, "not_found")


def test_more_bytes_than_declared(client, project, db):
    uid = client.upload(project, 10).json()["id"]
    u = client.chunk_url(uid, 1, 10, md5(b"0123456789"))
    # Announced by Content-Length: refused before the body.
    try:
        r = requests.put(u["host"] + u["url"], data=b"x" * 20, timeout=30)
        assert_error(r, 413, "payload_too_large")
    except requests.ConnectionError:
        pass  # the server may close before the client finished sending
    # Not announced (chunked transfer): found while streaming.

    def gen():
        for _ in range(8):
            yield b"y" * 4

    r = requests.put(u["host"] + u["url"], data=gen(), timeout=30)
    assert_error(r, 413, "payload_too_large")
    with db.cursor() as cur:
        cur.execute("SELECT stored_at FROM chunks WHERE upload_id = %s", (uid,))
        assert cur.fetchall() == [(None,)]
    # The chunk can still be sent properly afterwards.
    r = requests.put(u["host"] + u["url"], data=b"0123456789", timeout=30)
    assert r.status_code == 201


def test_fewer_bytes_than_declared_accepted(client, project, db):
    uid = client.upload(project, 10).json()["id"]
    u = client.chunk_url(uid, 1, 10, md5(b"0123456789"))
    r = requests.put(u["host"] + u["url"], data=b"01234", timeout=30)
    assert r.status_code == 201
    with db.cursor() as cur:
        cur.execute("SELECT stored_size, stored_md5 FROM chunks WHERE upload_id = %s", (uid,))
        assert cur.fetchall() == [(5, md5(b"01234"))]


# ---- bad input -----------------------------------------------------------------------------

H = "0" * 32  # a well-formed md5

CREATE_BAD = [
    ({}, "name"),
    ({"name": "", "size": 1}, "name"),
    ({"name": 5, "size": 1}, "name"),
    ({"name": "a"}, "size"),
    ({"name": "a", "size": -1}, "size"),
    ({"name": "a", "size": "ten"}, "size"),
    ({"name": "a", "size": 1.5}, "size"),
    ({"name": "a", "size": 2 ** 62}, "size"),
    ({"name": "a", "size": 1, "chunked": "yes"}, "chunked"),
    ({"name": "a", "size": 1, "content_type": 7}, "content_type"),
    ({"name": "a", "size": 1, "hash": "abc"}, "hash"),
    ({"name": "a", "size": 1, "hash": {"value": H, "algorithm": "crc32"}}, "hash[algorithm]"),
    ({"name": "a", "size": 1, "hash": {"value": "abc"}}, "hash[value]"),
    ({"name": "a", "size": 1, "hash": {"value": "z" * 32}}, "hash[value]"),
    ({"name": "a", "size": 1, "hash": {"algorithm": "md5"}}, "hash[value]"),
]

CHUNK_BAD = [
    ({"size": 1, "hash": {"value": H}}, "number"),
    ({"number": 0, "size": 1, "hash": {"value": H}}, "number"),
    ({"number": -3, "size": 1, "hash": {"value": H}}, "number"),
    ({"number": "one", "size": 1, "hash": {"value": H}}, "number"),
    ({"number": 2 ** 40, "size": 1, "hash": {"value": H}}, "number"),
    ({"number": 1, "hash": {"value": H}}, "size"),
    ({"number": 1, "size": -1, "hash": {"value": H}}, "size"),
    ({"number": 1, "size": 2 ** 62, "hash": {"value": H}}, "size"),
    ({"number": 1, "size": 1}, "hash"),
    ({"number": 1, "size": 1, "hash": [H]}, "hash"),
    ({"number": 1, "size": 1, "hash": {"value": H, "algorithm": "sha512"}}, "hash[algorithm]"),
    ({"number": 1, "size": 1, "hash": {"value": H, "algorithm": "sha1"}}, "hash[value]"),
]

COMPLETE_BAD = [
    ({}, "hash"),
    ({"hash": None}, "hash"),
    ({"hash": {"algorithm": "md5"}}, "hash[value]"),
    ({"hash": {"value": H, "algorithm": "whirlpool"}}, "hash[algorithm]"),
    ({"hash": {"value": H + "0"}}, "hash[value]"),
]

HASHES_BAD = [
    ({}, "value"),
    ({"value": H, "algorithm": "crc"}, "algorithm"),
    ({"value": "nothex", "algorithm": "md5"}, "value"),
]


@pytest.mark.parametrize("body,field", CREATE_BAD)
def test_create_bad_input(client, project, body, field):
    body = assert_error(client.req("POST", f"/projects/{project}/uploads", json=body), 400,
                        "validation_failed")
    assert body["errors"][0]["field"] == field, body


@pytest.mark.parametrize("body,field", CHUNK_BAD)
def test_chunk_bad_input(client, project, body, field):
    uid = client.upload(project, 10).json()["id"]
    body = assert_error(client.req("PUT", f"/uploads/{uid}/chunks", json=body), 400,
                        "validation_failed")
    assert body["errors"][0]["field"] == field, body


@pytest.mark.parametrize("body,field", COMPLETE_BAD)
def test_complete_bad_input(client, project, body, field):
    uid = client.upload(project, 10).json()["id"]
    body = assert_error(client.req("PUT", f"/uploads/{uid}/complete", json=body), 400,
                        "validation_failed")
    assert body["errors"][0]["field"] == field, body


@pytest.mark.parametrize("body,field", HASHES_BAD)
def test_hashes_bad_input(client, project, body, field):
    uid = client.upload(project, 10).json()["id"]
    body = assert_error(client.req("PUT", f"/uploads/{uid}/hashes", json=body), 400,
                        "validation_failed")
    assert body["errors"][0]["field"] == field, body


@pytest.mark.parametrize("raw", [b"{", b"[1,2]", b"\"x\"", b"\xff\xfe", b"{\"name\": \"a\",}"])
def test_malformed_bodies(client, project, raw):
    uid = client.upload(project, 10).json()["id"]
    hj = {"Content-Type": "application/json"}
    for method, path in [("POST", f"/projects/{project}/uploads"),
                         ("PUT", f"/uploads/{uid}/chunks"), ("PUT", f"/uploads/{uid}/complete"),
                         ("PUT", f"/uploads/{uid}/hashes")]:
        r = client.req(method, path, data=raw, headers=hj)
        assert_error(r, 400, "validation_failed")


def test_unknown_and_malformed_ids(client, project):
    for method, path in [("GET", f"/uploads/{uuid.uuid4()}"),
                         ("PUT", f"/uploads/{uuid.uuid4()}/complete"),
                         ("GET", "/uploads/not-a-uuid"),
                         ("PUT", "/uploads/123/chunks"),
                         ("POST", f"/projects/{uuid.uuid4()}/uploads"),
                         ("GET", "/projects/nope/uploads")]:
        r = client.req(method, path, json={"hash": {"value": H}, "number": 1, "size": 1,
                                           "name": "a"})
        assert_error(r, 404, "not_found")


def test_other_users_forbidden(settle, inline_api, client, project):
    other = Client(inline_api, settle.login(inline_api))
    uid = client.upload(project, 10).json()["id"]
    good = {"number": 1, "size": 1, "hash": {"value": H}, "name": "a"}
    for method, path in [("GET", f"/uploads/{uid}"), ("PUT", f"/uploads/{uid}/chunks"),
                         ("PUT", f"/uploads/{uid}/complete"), ("PUT", f"/uploads/{uid}/hashes"),
                         ("POST", f"/projects/{project}/uploads"),
                         ("GET", f"/projects/{project}/uploads")]:
        r = other.req(method, path, json=dict(good, value=H))
        assert_error(r, 403, "forbidden")
    r = requests.get(f"{inline_api.base}/uploads/{uid}", timeout=10)
    assert_error(r, 401, "unauthorized")


# ---- size ----------------------------------------------------------------------------------

GIB = 1 << 30
BLOCK = 1 << 20


class Body:
    """1 GiB of generated bytes, produced block by block (never held in memory), with a
    length so that requests sends Content-Length."""

    def __init__(self, total, seed):
        self.total = total
        self.seed = seed

    def __len__(self):
        return self.total

    def __iter__(self):
        base = hashlib.sha256(self.seed).digest() * (BLOCK // 32)
        for i in range(self.total // BLOCK):
            yield i.to_bytes(8, "little") + base[8:]

    def md5(self):
        h = hashlib.md5()
        for b in self:
            h.update(b)
        return h.hexdigest()


def vm_hwm_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.slow
def test_one_gib_upload_constant_memory(client, project, inline_api):
    body = Body(GIB, os.urandom(16))
    digest = body.md5()
    uid = client.upload(project, GIB).json()["id"]
    u = client.chunk_url(uid, 1, GIB, digest)
    r = requests.put(u["host"] + u["url"], data=body, timeout=600)
    assert r.status_code == 201, r.text
    assert client.complete(uid, digest).status_code == 202
    done = wait_until(lambda: (lambda j: j if j["status"]["is_consistent"] else None)(
        client.req("GET", f"/uploads/{uid}").json()), 300, interval=0.5,
        what="1 GiB upload verified")
    assert done["status"]["error_on"] is None, done
    f = client.file(project, uid)
    url = client.download_url(f"/files/{f['id']}/url")
    h, n = hashlib.md5(), 0
    with requests.get(url["host"] + url["url"], stream=True, timeout=600) as r:
        assert r.status_code == 200 and r.headers["Content-Length"] == str(GIB)
        for piece in r.iter_content(BLOCK):
            h.update(piece)
            n += len(piece)
    assert n == GIB and h.hexdigest() == digest
    hwm = vm_hwm_kib(inline_api.pid)
    assert hwm < 64 * 1024, f"settle-api peak RSS {hwm} KiB"
