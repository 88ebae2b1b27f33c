"""Uploads and the storage URLs: chunked and non-chunked uploads from create to a
byte-identical download, Range, integrity failures, repeated complete, signatures, 413,
bad input, and a 1 GiB upload in constant memory.

The storage-facing tests (storage_providers.BOTH) run once per storage provider, local and
swift, with the same body; where API.md gives the providers different answers, the test
takes them from the provider's table (storage_providers.py).

The helpers at the top are shared with test_api_files.py."""

import hashlib
import os
import re
import time
import uuid

import pytest
import requests

from pipeline_helpers import JOBS
from settle_harness import wait_until
from storage_providers import BOTH, expires_in, storage_route_requests, url_path
from storage_providers import sign_local as sign  # noqa: F401 (test_api_beyond imports it)

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

@BOTH
def test_chunked_upload_to_identical_download(client, project, provider):
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
    assert up["storage_provider"] == provider.info  # the provider that holds its bytes
    uid = up["id"]
    for i, c in enumerate(chunks, 1):
        u = client.chunk_url(uid, i, len(c), md5(c))
        assert u["http_verb"] == "PUT" and u["host"] == provider.host(client.api)
        r = requests.put(u["host"] + u["url"], data=c, timeout=60)
        assert r.status_code == 201, r.text
    r = client.complete(uid, md5(whole))
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"]["completed_on"] is not None
    assert body["status"]["ready_for_chunks"] is False
    assert [c["number"] for c in body["chunks"]] == [1, 2, 3]
    assert body["chunks"][1] == {"number": 2, "size": 100_000,
                                 "hash": {"value": md5(chunks[1]), "algorithm": "md5"}}
    assert {"algorithm": "md5", "value": md5(whole), "verified": False} in body["hashes"]
    done = client.wait_upload(uid)
    assert done["status"]["error_on"] is None, done
    assert done["storage_provider"] == provider.info
    f = client.file(project, uid)
    assert f["current_version"]["upload"]["hashes"] == [
        {"algorithm": "md5", "value": md5(whole), "verified": True}]
    assert f["current_version"]["upload"]["storage_provider"] == provider.info
    assert client.req("GET", f"/files/{f['id']}").json()["current_version"]["upload"][
        "storage_provider"] == provider.info
    v = client.req("GET", f"/file_versions/{f['current_version']['id']}").json()
    assert v["upload"]["storage_provider"] == provider.info
    children = client.req("GET", f"/projects/{project}/children").json()["results"]
    assert [c["current_version"]["upload"]["storage_provider"] for c in children] == [
        provider.info]
    u = client.download_url(f"/files/{f['id']}/url")
    assert u["http_verb"] == "GET" and u["http_headers"] == []
    r = requests.get(u["host"] + u["url"], timeout=30)
    assert r.status_code == 200
    assert r.content == whole
    assert r.headers["Content-Length"] == str(len(whole))
    assert r.headers["ETag"] == provider.etag(up, chunks)
    assert r.headers["Accept-Ranges"] == "bytes"
    assert (storage_route_requests(client.api) > 0) == provider.api_carries_bytes


@BOTH
def test_chunk_url_after_verification_cannot_change_the_file(client, project, provider):
    """Issue 18 item 10: a chunk's PUT URL stays valid for SETTLE_URL_TTL. With Swift, a PUT
    through it after the worker had verified the upload replaced the chunk object that the
    manifest names, and downloads served the unverified bytes. Whatever the PUT answers,
    the file keeps serving the verified bytes."""
    chunks = [os.urandom(100_000), os.urandom(30_000)]
    whole = b"".join(chunks)
    uid = client.upload(project, len(whole)).json()["id"]
    urls = []
    for i, c in enumerate(chunks, 1):
        u = client.chunk_url(uid, i, len(c), md5(c))
        assert requests.put(u["host"] + u["url"], data=c, timeout=60).status_code == 201
        urls.append(u)
    assert client.complete(uid, md5(whole)).status_code == 202
    done = client.wait_upload(uid)
    assert done["status"]["error_on"] is None, done
    f = client.file(project, uid)
    for u, c in zip(urls, chunks):
        requests.put(u["host"] + u["url"], data=os.urandom(len(c)), timeout=60)
    d = client.download_url(f"/files/{f['id']}/url")
    r = requests.get(d["host"] + d["url"], timeout=30)
    assert r.status_code == 200, r.text[:200]
    assert r.content == whole
    assert r.headers["ETag"] == provider.etag(done, chunks)


@BOTH
def test_non_chunked_upload(client, project, provider):
    data = os.urandom(54_321)
    r = client.upload(project, len(data), chunked=False,
                      hash={"value": md5(data), "algorithm": "md5"})
    assert int(r.headers["X-MAX-UPLOAD-SIZE"]) >= len(data)
    up = r.json()
    su = up["signed_url"]
    assert su["http_verb"] == "PUT" and su["http_headers"] == []
    assert su["host"] == provider.host(client.api)
    assert url_path(su["url"]).endswith(f"/{up['id']}/1")
    assert up["chunks"] == [{"number": 1, "size": len(data),
                             "hash": {"value": md5(data), "algorithm": "md5"}}]
    r = requests.put(su["host"] + su["url"], data=data, timeout=30)
    assert r.status_code == 201, r.text
    assert client.complete(up["id"], md5(data)).status_code == 202
    assert client.wait_upload(up["id"])["status"]["error_on"] is None
    f = client.file(project, up["id"])
    u = client.download_url(f"/file_versions/{f['current_version']['id']}/url")
    assert requests.get(u["host"] + u["url"], timeout=30).content == data


@BOTH
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
    assert {"algorithm": "sha256", "value": digest, "verified": True} in done["hashes"]


@BOTH
def test_empty_upload(client, project):
    uid = client.upload(project, 0).json()["id"]
    assert client.put_chunk(uid, 1, b"").status_code == 201
    assert client.complete(uid, md5(b"")).status_code == 202
    assert client.wait_upload(uid)["status"]["error_on"] is None
    f = client.file(project, uid)
    u = client.download_url(f"/files/{f['id']}/url")
    r = requests.get(u["host"] + u["url"], timeout=30)
    assert r.status_code == 200 and r.content == b""


@BOTH
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


# ---- integrity ----------------------------------------------------------------------------
# Every kind of mismatch upload_complete.c knows. Each maker stores an upload that has it
# and returns (upload id, whole-file hash value, algorithm) for complete; lose(uid, number)
# deletes a stored chunk behind Settle's back.

def _two_chunks(c, pid, a, b, second=None, **kw):
    uid = c.upload(pid, len(a) + len(b)).json()["id"]
    assert c.put_chunk(uid, 1, a).status_code == 201
    assert c.put_chunk(uid, 2, b if second is None else second, **kw).status_code == 201
    return uid


def _wrong_chunk_hash(c, pid, lose):
    a, b = os.urandom(500), os.urandom(500)
    return _two_chunks(c, pid, a, b, value=md5(b"other")), md5(a + b), "md5"


def _wrong_chunk_sha256(c, pid, lose):
    """A hash the store may not compute (Swift: the worker reads the chunk back)."""
    a, b = os.urandom(500), os.urandom(500)
    other = hashlib.sha256(b"other").hexdigest()
    return _two_chunks(c, pid, a, b, value=other, algorithm="sha256"), md5(a + b), "md5"


def _wrong_size(c, pid, lose):
    # Declared 500, only 400 bytes sent: accepted by storage, caught by the check.
    a, b = os.urandom(500), os.urandom(500)
    return _two_chunks(c, pid, a, b, second=b[:400], size=500, value=md5(b)), md5(a + b), "md5"


def _missing_chunk(c, pid, lose):
    a, b = os.urandom(500), os.urandom(500)
    uid = c.upload(pid, 1000).json()["id"]
    assert c.put_chunk(uid, 1, a).status_code == 201
    assert c.put_chunk(uid, 3, b).status_code == 201
    return uid, md5(a + b), "md5"


def _never_stored(c, pid, lose):
    a, b = os.urandom(500), os.urandom(500)
    uid = c.upload(pid, 1000).json()["id"]
    assert c.put_chunk(uid, 1, a).status_code == 201
    c.chunk_url(uid, 2, 500, md5(b))
    return uid, md5(a + b), "md5"


def _bytes_gone(c, pid, lose):
    """The store lost a chunk after it was stored."""
    a, b = os.urandom(500), os.urandom(500)
    uid = _two_chunks(c, pid, a, b)
    lose(uid, 2)
    return uid, md5(a + b), "md5"


def _wrong_whole_hash(c, pid, lose):
    a, b = os.urandom(500), os.urandom(500)
    return _two_chunks(c, pid, a, b), md5(b + a), "md5"


def _wrong_whole_hash_one_chunk(c, pid, lose):
    """One chunk: its stored md5 is the whole file's, no bytes are read."""
    a = os.urandom(1000)
    uid = c.upload(pid, 1000).json()["id"]
    assert c.put_chunk(uid, 1, a).status_code == 201
    return uid, md5(a[::-1]), "md5"


def _wrong_whole_sha256(c, pid, lose):
    a, b = os.urandom(500), os.urandom(500)
    return _two_chunks(c, pid, a, b), hashlib.sha256(b + a).hexdigest(), "sha256"


def _sizes_do_not_add_up(c, pid, lose):
    a = os.urandom(500)
    uid = c.upload(pid, 1000).json()["id"]
    assert c.put_chunk(uid, 1, a).status_code == 201
    return uid, md5(a), "md5"


# (maker, what the error message says)
INTEGRITY_KINDS = [
    (_wrong_chunk_hash, "chunk 2: reported md5"),
    (_wrong_chunk_sha256, "chunk 2: reported sha256"),
    (_wrong_size, "chunk 2: reported size 500 does not match stored size 400"),
    (_missing_chunk, "chunk 2 is missing"),
    (_never_stored, "chunk 2: never stored"),
    (_bytes_gone, "chunk 2: "),  # local: stored file missing; swift: never stored
    (_wrong_whole_hash, "whole-file md5"),
    (_wrong_whole_hash_one_chunk, "whole-file md5"),
    (_wrong_whole_sha256, "whole-file sha256"),
    (_sizes_do_not_add_up, "chunk sizes add up to 500 bytes, upload size is 1000"),
]


def container_of(db, uid):
    """The storage container of an upload (its project's)."""
    with db.cursor() as cur:
        cur.execute("SELECT storage_container FROM uploads WHERE id = %s", (uid,))
        return cur.fetchone()[0]


@BOTH
@pytest.mark.parametrize("make,says", INTEGRITY_KINDS, ids=lambda k: getattr(k, "__name__", ""))
def test_integrity_mismatch(client, project, provider, db, make, says):
    def lose(uid, number):
        provider.remove(container_of(db, uid), f"{uid}/{number}")

    uid, value, algorithm = make(client, project, lose)
    assert client.complete(uid, value, algorithm).status_code == 202
    done = client.wait_upload(uid)
    assert done["status"]["error_on"] is not None, done
    assert says in done["status"]["error_message"], done
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
    assert {"algorithm": "sha256", "value": hashlib.sha256(data).hexdigest(),
            "verified": False} in hashes
    assert ("md5", md5(data)) in [(h["algorithm"], h["value"]) for h in hashes]


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
    assert r.json()["hashes"] == [{"algorithm": "md5", "value": md5(data), "verified": True}]
    sha1 = hashlib.sha1(data).hexdigest()
    r = client.req("PUT", f"/uploads/{uid}/hashes", json={"value": sha1, "algorithm": "sha1"})
    assert r.status_code == 200, r.text
    r = client.req("PUT", f"/uploads/{uid}/hashes", json={"value": "1" * 40, "algorithm": "sha1"})
    assert_error(r, 409, "conflict")
    f = client.file(project, uid)
    want = [{"algorithm": "md5", "value": md5(data), "verified": True},
            {"algorithm": "sha1", "value": sha1, "verified": False}]
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
    assert up["hashes"] == [{"algorithm": "md5", "value": md5(data), "verified": False}]
    assert client.complete(uid, md5(data)).status_code == 202
    assert client.wait_upload(uid)["status"]["error_on"] is None


def test_hashes_only_by_creator_or_admin_and_marked_verified(settle, inline_api, client,
                                                             project):
    """Issue 18 item 9: a teammate with create_file recorded a wrong md5 on another user's
    upload before its complete, and the owner's complete then failed. Only the upload's
    creator or a project admin may record hashes (another file_uploader: 403); a hash a
    project admin reported before complete gives way to the owner's complete; each hash says
    whether Settle verified it (the one given at complete, once the worker found the bytes
    to match) or it is only reported."""
    owner, mate = (Client(inline_api, settle.login(inline_api)) for _ in range(2))
    for u in (owner, mate):
        r = client.req("PUT", f"/projects/{project}/permissions/{u.user_id}",
                       json={"auth_role": {"id": "file_uploader"}})
        assert r.status_code == 200, r.text
    data = os.urandom(100)
    uid = owner.upload(project, len(data)).json()["id"]
    assert owner.put_chunk(uid, 1, data).status_code == 201
    r = mate.req("PUT", f"/uploads/{uid}/hashes", json={"value": "0" * 32, "algorithm": "md5"})
    assert_error(r, 403, "forbidden")
    # The project admin (client) may record one: it is reported, not verified.
    r = client.req("PUT", f"/uploads/{uid}/hashes", json={"value": "1" * 32, "algorithm": "md5"})
    assert r.status_code == 200, r.text
    assert r.json()["hashes"] == [{"algorithm": "md5", "value": "1" * 32, "verified": False}]
    # It does not block the owner's complete: the hash given at complete replaces it and is
    # verified once the worker checked the bytes.
    r = owner.complete(uid, md5(data))
    assert r.status_code == 202, r.text
    assert r.json()["hashes"] == [{"algorithm": "md5", "value": md5(data), "verified": False}]
    done = owner.wait_upload(uid)
    assert done["status"]["error_on"] is None, done
    assert done["hashes"] == [{"algorithm": "md5", "value": md5(data), "verified": True}]
    # A further hash the owner reports is recorded as reported; the teammate still may not.
    sha1 = hashlib.sha1(data).hexdigest()
    r = mate.req("PUT", f"/uploads/{uid}/hashes", json={"value": sha1, "algorithm": "sha1"})
    assert_error(r, 403, "forbidden")
    r = owner.req("PUT", f"/uploads/{uid}/hashes", json={"value": sha1, "algorithm": "sha1"})
    assert r.status_code == 200, r.text
    want = [{"algorithm": "md5", "value": md5(data), "verified": True},
            {"algorithm": "sha1", "value": sha1, "verified": False}]
    assert r.json()["hashes"] == want
    assert owner.req("GET", f"/uploads/{uid}").json()["hashes"] == want
    f = owner.file(project, uid)
    assert f["current_version"]["upload"]["hashes"] == want
    files = client.req("GET", f"/projects/{project}/files").json()["results"]
    assert [x["hashes"] for x in files if x["id"] == f["id"]] == [want]


def test_completed_hash_lives_in_the_upload_row(client, project, db):
    """Migration 0027: complete records its hash in the upload's row only, not in
    fingerprints; the hashes are that one and the fingerprints of the other algorithms. A
    fingerprint of the completed algorithm (an upload completed before 0027 has its own copy
    there; here one with another value, which no call could leave) is not shown, and
    PUT /hashes of that algorithm answers the completed hash as the recorded one."""
    data = os.urandom(100)
    uid = client.send(project, [data])
    assert client.wait_upload(uid)["status"]["error_on"] is None
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM fingerprints WHERE upload_id = %s", (uid,))
        assert cur.fetchone()[0] == 0
        cur.execute("INSERT INTO fingerprints (id, upload_id, algorithm, value)"
                    " VALUES (%s, %s, 'md5', %s)", (str(uuid.uuid4()), uid, "3" * 32))
    want = [{"algorithm": "md5", "value": md5(data), "verified": True}]
    assert client.req("GET", f"/uploads/{uid}").json()["hashes"] == want
    assert_error(client.req("PUT", f"/uploads/{uid}/hashes",
                            json={"value": "3" * 32, "algorithm": "md5"}), 409, "conflict")
    r = client.req("PUT", f"/uploads/{uid}/hashes", json={"value": md5(data), "algorithm": "md5"})
    assert r.status_code == 200 and r.json()["hashes"] == want, r.text


def test_failed_verification_leaves_hashes_reported(client, project):
    """A whole-file hash the worker found not to match the stored bytes stays reported."""
    data = os.urandom(100)
    uid = client.send(project, [data], whole_hash="2" * 32)
    done = client.wait_upload(uid)
    assert done["status"]["error_on"] is not None, done
    assert done["hashes"] == [{"algorithm": "md5", "value": "2" * 32, "verified": False}]


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

def assert_answer(r, status, code):
    """r answered status, and settle's error `code` unless code is None (Swift's own)."""
    if code is None:
        assert r.status_code == status, f"want {status}, got {r.status_code}: {r.text[:300]}"
    else:
        assert_error(r, status, code)


def bad_urls(provider, url):
    """Storage URLs derived from a good signed `url` that the store must refuse: forged
    (another key, a zero signature, made for another path or method, an expiry changed
    under a good signature), expired, and unsigned."""
    path, query = url.split("?", 1)
    method = "PUT" if path.rsplit("/", 1)[1].isdigit() else "GET"
    other = "GET" if method == "PUT" else "PUT"
    sig = re.search(r"sig(?:nature)?=([0-9a-f]+)", query).group(1)
    return [
        provider.sign(method, path, expires_in(60), key="not-the-key-of-this-store"),
        url.replace(sig, "0" * len(sig)),
        provider.sign(method, path + "0", expires_in(60)).replace(path + "0", path),
        provider.sign(other, path, expires_in(60)),
        re.sub(r"expires=(\d+)", lambda m: f"expires={int(m.group(1)) + 1}", url),
        provider.sign(method, path, expires_in(-5)),
        path,
    ]


@BOTH
def test_forged_and_expired_urls_refused(client, project, provider, db):
    """API.md: a bad or expired signature is refused, by settle (403) or by Swift's own
    temp-URL check (401); nothing is stored, nothing is read."""
    data = os.urandom(100)
    uid = client.upload(project, 100).json()["id"]
    u = client.chunk_url(uid, 1, 100, md5(data))
    for url in bad_urls(provider, u["url"]):
        assert_answer(requests.put(u["host"] + url, data=data, timeout=30), *provider.bad_url)
    assert provider.objects(container_of(db, uid), f"{uid}/") == []
    # Signed with the store's key and a future expiry, the URL works.
    good = provider.sign("PUT", url_path(u["url"]), expires_in(60))
    assert requests.put(u["host"] + good, data=data, timeout=30).status_code == 201
    assert client.complete(uid, md5(data)).status_code == 202
    assert client.wait_upload(uid)["status"]["error_on"] is None
    f = client.file(project, uid)
    d = client.download_url(f"/files/{f['id']}/url")
    for url in bad_urls(provider, d["url"]):
        assert_answer(requests.get(d["host"] + url, timeout=30), *provider.bad_url)
    r = requests.get(d["host"] + provider.sign("GET", url_path(d["url"]), expires_in(60)),
                     timeout=30)
    assert r.status_code == 200 and r.content == data


@BOTH
@pytest.mark.parametrize("size", [1000, 10_000_001])
def test_chunk_numbers_bounded(client, project, provider, size):
    """A chunk number over what the upload's size needs at the minimum chunk size is 400;
    with Swift at most 1000 chunks (a manifest's segments), so the minimum chunk size is
    ceil(size / 1000) and a 1001st chunk is refused whatever the size."""
    r = client.upload(project, size)
    most = provider.max_chunks or size
    min_size = int(r.headers["X-MIN-CHUNK-UPLOAD-SIZE"])
    assert min_size == max(1, -(-size // most))  # SETTLE_MIN_CHUNK_SIZE is 1
    limit = -(-size // min_size)
    assert limit == min(size, most)
    uid = r.json()["id"]
    h = {"value": md5(b"x"), "algorithm": "md5"}
    r = client.req("PUT", f"/uploads/{uid}/chunks", json={"number": limit, "size": 1, "hash": h})
    assert r.status_code == 200, r.text
    r = client.req("PUT", f"/uploads/{uid}/chunks",
                   json={"number": limit + 1, "size": 1, "hash": h})
    body = assert_error(r, 400, "validation_failed")
    assert body["errors"] == [{"field": "number",
                               "message": f"must be at most {limit} for the upload's size"}]


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


@BOTH
def test_more_bytes_than_declared(client, project, provider):
    """More bytes than a chunk declared: refused at the PUT where the provider can (local:
    413), else stored and caught by the integrity check (Swift); either way the upload does
    not end consistent with them, and a proper PUT of the chunk afterwards still works."""
    status, code = provider.oversize_put or (201, None)

    def gen():
        for _ in range(8):
            yield b"y" * 4

    for proper in (True, False):
        uid = client.upload(project, 10).json()["id"]
        u = client.chunk_url(uid, 1, 10, md5(b"0123456789"))
        # Announced by Content-Length (the server may close before the client finished
        # sending), then not announced (chunked transfer: found while streaming).
        try:
            assert_answer(requests.put(u["host"] + u["url"], data=b"x" * 20, timeout=30),
                          status, code)
        except requests.ConnectionError:
            assert status != 201
        assert_answer(requests.put(u["host"] + u["url"], data=gen(), timeout=30), status, code)
        if proper:
            r = requests.put(u["host"] + u["url"], data=b"0123456789", timeout=30)
            assert r.status_code == 201
        assert client.complete(uid, md5(b"0123456789")).status_code == 202
        error = client.wait_upload(uid)["status"]["error_message"]
        if proper:
            assert error is None
            f = client.file(project, uid)
            d = client.download_url(f"/files/{f['id']}/url")
            assert requests.get(d["host"] + d["url"], timeout=30).content == b"0123456789"
        else:
            assert error.startswith("chunk 1: "), error


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
