"""The one-box Swift of scripts/swift.sh (what `SETTLE_STORAGE=swift make run` and the Swift
tests use): tempauth, objects, temp URLs signed with the account's key, SLO manifests, and a
restart on the same ports and data."""

import hashlib
import hmac
import json
import os
import time
import urllib.parse

import pytest
import requests

from settle_harness import wait_until
from test_api_uploads import (_missing_chunk, _never_stored, _sizes_do_not_add_up,
                              _wrong_chunk_hash, _wrong_size, _wrong_whole_hash, assert_error,
                              md5)


def temp_url(swift, method, path, expires_in=300, key=None):
    """A Swift temp URL (HMAC-SHA256 over method, expiry and path) for path /v1/…."""
    expires = int(time.time()) + expires_in
    key = key or swift.env["SETTLE_SWIFT_TEMP_URL_KEY"]
    sig = hmac.new(key.encode(), f"{method}\n{expires}\n{path}".encode(),
                   hashlib.sha256).hexdigest()
    return f"{swift.env['SETTLE_SWIFT_URL']}{path}?temp_url_sig={sig}&temp_url_expires={expires}"


def test_tempauth_put_get(swift):
    token, url = swift.auth()
    assert url.startswith(swift.env["SETTLE_SWIFT_URL"] + "/v1/")
    h = {"X-Auth-Token": token}
    assert requests.put(f"{url}/smoke", headers=h, timeout=10).status_code in (201, 202)
    body = b"settle on swift\n" * 1000
    r = requests.put(f"{url}/smoke/hello", data=body, headers=h, timeout=10)
    assert r.status_code == 201
    assert r.headers["Etag"] == hashlib.md5(body).hexdigest()
    r = requests.get(f"{url}/smoke/hello", headers=h, timeout=10)
    assert r.status_code == 200 and r.content == body
    assert requests.get(f"{url}/smoke/hello", timeout=10).status_code == 401
    assert requests.get(f"{url}/smoke/hello", headers={"X-Auth-Token": "AUTH_tkforged"},
                        timeout=10).status_code == 401


def test_temp_urls_and_slo(swift):
    token, url = swift.auth()
    h = {"X-Auth-Token": token}
    requests.put(f"{url}/tmpurl", headers=h, timeout=10).raise_for_status()
    account = urllib.parse.urlsplit(url).path
    parts = [b"a" * 1000, b"b" * 10]
    for i, data in enumerate(parts, 1):
        r = requests.put(temp_url(swift, "PUT", f"{account}/tmpurl/up/{i}"), data=data,
                         timeout=10)
        assert r.status_code == 201, r.text
        assert r.headers["Etag"] == hashlib.md5(data).hexdigest()
    # A forged signature or one for another path is Swift's 401; nothing is stored.
    forged = temp_url(swift, "PUT", f"{account}/tmpurl/up/3", key="not-the-key")
    assert requests.put(forged, data=b"x", timeout=10).status_code == 401
    other = temp_url(swift, "PUT", f"{account}/tmpurl/up/3").replace("/up/3", "/up/4")
    assert requests.put(other, data=b"x", timeout=10).status_code == 401
    assert requests.head(f"{url}/tmpurl/up/4", headers=h, timeout=10).status_code == 404
    manifest = [{"path": f"/tmpurl/up/{i}"} for i in (1, 2)]
    r = requests.put(f"{url}/tmpurl/file?multipart-manifest=put", headers=h, timeout=10,
                     data=json.dumps(manifest))
    assert r.status_code == 201, r.text
    get = temp_url(swift, "GET", f"{account}/tmpurl/file")
    r = requests.get(get, timeout=10)
    assert r.status_code == 200 and r.content == b"".join(parts)
    r = requests.get(get, headers={"Range": "bytes=998-1001"}, timeout=10)
    assert r.status_code == 206 and r.content == b"aabb"


def test_restart_keeps_ports_and_data(swift):
    token, url = swift.auth()
    h = {"X-Auth-Token": token}
    requests.put(f"{url}/kept", headers=h, timeout=10).raise_for_status()
    requests.put(f"{url}/kept/obj", data=b"kept", headers=h, timeout=10).raise_for_status()
    before = dict(swift.env)
    swift.stop()
    try:
        requests.get(f"{url}/kept/obj", headers=h, timeout=10)
        raise AssertionError("the proxy still answers after swift.sh stop")
    except requests.ConnectionError:
        pass
    swift.start()
    assert swift.env == before
    token, url = swift.auth()
    r = requests.get(f"{url}/kept/obj", headers={"X-Auth-Token": token}, timeout=10)
    assert r.status_code == 200 and r.content == b"kept"


# ---- Settle on Swift: the real binaries with SETTLE_STORAGE=swift ---------------------------

@pytest.fixture
def swift_client(settle, swift):
    from test_api_uploads import Client
    api = settle.api(SETTLE_QUEUE="inline", **swift.env)
    return Client(api, settle.login(api))


def swift_listing(swift, container, prefix=""):
    token, url = swift.auth()
    r = requests.get(f"{url}/{container}", params={"prefix": prefix},
                     headers={"X-Auth-Token": token}, timeout=10)
    return r.status_code, r.text.split()


def project_container(db, pid):
    with db.cursor() as cur:
        cur.execute("SELECT storage_container FROM projects WHERE id = %s", (pid,))
        return cur.fetchone()[0]


def storage_route_requests(api):
    """settle-api's count of requests on its own storage routes (/metrics)."""
    text = requests.get(api.base.rsplit("/api/v1", 1)[0] + "/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("settle_http_requests_total") and 'route="storage.' in line)


def test_chunked_upload_through_swift(swift_client, swift, db):
    c = swift_client
    pid = c.project()
    container = project_container(db, pid)
    status, names = swift_listing(swift, container)
    assert status in (200, 204) and names == []   # project.initialize made it
    chunks = [os.urandom(100_000), os.urandom(100_000), os.urandom(12_345)]
    whole = b"".join(chunks)
    uid = c.upload(pid, len(whole)).json()["id"]
    for i, data in enumerate(chunks, 1):
        u = c.chunk_url(uid, i, len(data), md5(data))
        assert u["host"] == swift.env["SETTLE_SWIFT_URL"] and "temp_url_sig=" in u["url"]
        r = requests.put(u["host"] + u["url"], data=data, timeout=60)
        assert r.status_code == 201, r.text
    assert swift_listing(swift, container, uid + "/")[1] == [f"{uid}/{n}" for n in (1, 2, 3)]
    assert c.complete(uid, md5(whole)).status_code == 202
    done = c.wait_upload(uid)
    assert done["status"]["error_on"] is None, done
    f = c.file(pid, uid)
    url = c.download_url(f"/files/{f['id']}/url")
    assert url["host"] == swift.env["SETTLE_SWIFT_URL"]
    r = requests.get(url["host"] + url["url"], timeout=60)
    assert r.status_code == 200 and r.content == whole
    r = requests.get(url["host"] + url["url"], headers={"Range": "bytes=99998-100001"},
                     timeout=60)
    assert r.status_code == 206 and r.content == whole[99998:100002]
    # A forged temp URL is Swift's 401.
    forged = url["url"].replace("temp_url_sig=", "temp_url_sig=0")
    assert requests.get(url["host"] + forged, timeout=10).status_code == 401
    # Not one byte went through settle-api.
    assert storage_route_requests(c.api) == 0
    # Deleting the file purges the segments and the manifest.
    assert c.req("DELETE", f"/files/{f['id']}").status_code in (200, 202, 204)
    wait_until(lambda: swift_listing(swift, container, uid)[1] == [], 60, what="purge")


@pytest.mark.parametrize("make", [_wrong_chunk_hash, _wrong_size, _missing_chunk, _never_stored,
                                  _wrong_whole_hash, _sizes_do_not_add_up])
def test_integrity_mismatch_through_swift(swift_client, swift, db, make):
    c = swift_client
    pid = c.project()
    uid, whole_hash = make(c, pid)
    # The chunks went to Swift (every case stores chunk 1 at least).
    assert f"{uid}/1" in swift_listing(swift, project_container(db, pid), uid + "/")[1]
    assert c.complete(uid, whole_hash).status_code == 202
    done = c.wait_upload(uid)
    assert done["status"]["error_on"] is not None, done
    assert done["status"]["error_message"], done


def test_at_most_1000_chunks_with_swift(swift_client):
    """API.md: with Swift an upload has at most 1000 chunks (a manifest's segments); the
    minimum chunk size told to clients is ceil(size / 1000)."""
    c = swift_client
    pid = c.project()
    size = 10_000_001
    r = c.upload(pid, size)
    assert r.headers["X-MIN-CHUNK-UPLOAD-SIZE"] == str(-(-size // 1000))
    uid = r.json()["id"]
    assert c.req("PUT", f"/uploads/{uid}/chunks",
                 json={"number": 1000, "size": 1, "hash": {"value": md5(b"x"),
                                                          "algorithm": "md5"}}).status_code == 200
    r = c.req("PUT", f"/uploads/{uid}/chunks",
              json={"number": 1001, "size": 1, "hash": {"value": md5(b"x"), "algorithm": "md5"}})
    body = assert_error(r, 400, "validation_failed")
    assert body["errors"] == [{"field": "number",
                               "message": "must be at most 1000 for the upload's size"}]


def test_worker_reads_back_from_swift(settle, swift):
    """settle-worker (RabbitMQ) verifies through Swift: sha256 chunk hashes, which Swift does
    not compute, are checked by reading the chunks back; a wrong one is caught."""
    from test_api_uploads import Client
    api = settle.api(**swift.env)
    settle.worker(**swift.env)
    c = Client(api, settle.login(api))
    pid = c.project()
    for good in (True, False):
        chunks = [os.urandom(70_000), os.urandom(5_000)]
        whole = b"".join(chunks)
        uid = c.upload(pid, len(whole)).json()["id"]
        for i, data in enumerate(chunks, 1):
            value = hashlib.sha256(data if good or i == 1 else b"other").hexdigest()
            u = c.chunk_url(uid, i, len(data), value, "sha256")
            assert u["host"] == swift.env["SETTLE_SWIFT_URL"]
            assert requests.put(u["host"] + u["url"], data=data, timeout=30).status_code == 201
        assert c.complete(uid, md5(whole)).status_code == 202
        done = c.wait_upload(uid)
        if good:
            assert done["status"]["error_on"] is None, done
        else:
            assert "chunk 2: reported sha256" in done["status"]["error_message"], done


@pytest.mark.parametrize("size", [54_321, 0])
def test_non_chunked_and_empty_through_swift(swift_client, swift, size):
    """A non-chunked upload's signed_url is a Swift temp URL; an empty file (no segment for
    a manifest) downloads as empty bytes."""
    c = swift_client
    pid = c.project()
    data = os.urandom(size)
    up = c.upload(pid, size, chunked=False, hash={"value": md5(data), "algorithm": "md5"}).json()
    su = up["signed_url"]
    assert su["host"] == swift.env["SETTLE_SWIFT_URL"]
    assert requests.put(su["host"] + su["url"], data=data, timeout=30).status_code == 201
    assert c.complete(up["id"], md5(data)).status_code == 202
    assert c.wait_upload(up["id"])["status"]["error_on"] is None
    f = c.file(pid, up["id"])
    u = c.download_url(f"/file_versions/{f['current_version']['id']}/url")
    r = requests.get(u["host"] + u["url"], timeout=30)
    assert r.status_code == 200 and r.content == data


def test_project_delete_removes_container(swift_client, swift, db):
    c = swift_client
    pid = c.project()
    container = project_container(db, pid)
    uid = c.send(pid, [os.urandom(1000), os.urandom(10)])
    assert c.wait_upload(uid)["status"]["error_on"] is None
    assert swift_listing(swift, container)[1] == [uid, f"{uid}/1", f"{uid}/2"]
    assert c.req("DELETE", f"/projects/{pid}").status_code in (200, 202, 204)
    wait_until(lambda: swift_listing(swift, container)[0] == 404, 60, what="container gone")


def test_unreachable_swift_is_503(settle, swift, swift_client):
    """A settle-api that cannot authenticate with Swift cannot make a temp URL (it needs the
    account's path): the chunk URL call answers 503, and nothing is lost (the chunk is
    registered, the upload still open)."""
    from settle_harness import free_port
    from test_api_uploads import Client
    c = swift_client
    pid = c.project()
    uid = c.upload(pid, 10).json()["id"]
    dead = f"http://127.0.0.1:{free_port()}"
    cut = settle.api(SETTLE_QUEUE="inline",
                     **dict(swift.env, SETTLE_SWIFT_AUTH_URL=dead + "/auth/v1.0"))
    c2 = Client(cut, {"headers": c.h, "user_id": c.user_id})
    r = c2.req("PUT", f"/uploads/{uid}/chunks",
               json={"number": 1, "size": 10, "hash": {"value": md5(b"x"), "algorithm": "md5"}})
    assert_error(r, 503, "service_unavailable")
    u = c.chunk_url(uid, 1, 10, md5(b"0123456789"))  # the first API still signs
    assert requests.put(u["host"] + u["url"], data=b"0123456789", timeout=30).status_code == 201


def test_reauthenticates_once_on_401(swift_client, swift):
    """Tokens live in memcached: flushing it makes Swift answer Settle's next call 401, and
    Settle authenticates again and goes on in the same attempt."""
    import socket
    c = swift_client
    c.project()
    with open(os.path.join(swift.dir, "state")) as f:
        port = int(dict(line.strip().split("=", 1) for line in f)["MEMCACHED_PORT"])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"flush_all\r\n")
        assert s.recv(100).startswith(b"OK")
    pid = c.project()  # project.initialize: PUT container -> 401 -> auth -> PUT again
    runs = [line for line in c.api.log_text().splitlines()
            if "kind=project.initialize" in line and f"resource={pid}" in line]
    assert len(runs) == 1 and "attempt=1 outcome=done" in runs[0], runs


def test_ddsclient_through_swift(settle, swift, tmp_path):
    """The real ddsclient uploads a tree with a multi-chunk file through Swift (worker on
    RabbitMQ) and downloads identical bytes; settle-api carries none of them."""
    from test_ddsclient import DDSCLIENT, Dds, same_tree, sample_tree
    if not os.access(DDSCLIENT, os.X_OK):
        pytest.skip(f"ddsclient not found at {DDSCLIENT} (set SETTLE_DDSCLIENT)")
    api = settle.api(**swift.env)
    settle.worker(**swift.env)
    who = settle.login(api)
    dds = Dds(tmp_path, "ddsclient", api, who["agent_key"], who["user_key"])
    data = sample_tree(tmp_path)
    dds("upload", "-p", "swiftproj", str(data))
    dds("download", "-p", "swiftproj", str(tmp_path / "out"))
    assert same_tree(data, tmp_path / "out" / "data")
    assert storage_route_requests(api) == 0
