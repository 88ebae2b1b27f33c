"""The one-box Swift of scripts/swift.sh (what `SETTLE_STORAGE=swift make run` and the Swift
tests use): tempauth, objects, temp URLs signed with the account's key, SLO manifests, and a
restart on the same ports and data; then what only Swift has: 503 when settle-api cannot
reach it, re-authentication, ddsclient through it, and Swift stopped in the middle of
uploads. The storage-facing tests that both providers share (uploads, integrity, Range,
purge, signatures, chunk limits) are parametrised over the provider in test_api_uploads.py
and test_api_files.py."""

import hashlib
import json
import os
import urllib.parse

import pytest
import requests

from storage_providers import expires_in, sign_swift, storage_route_requests
from test_api_uploads import assert_error, md5


def temp_url(swift, method, path, expires_in_s=300, key=None):
    """A Swift temp URL for path /v1/…."""
    key = key or swift.env["SETTLE_SWIFT_TEMP_URL_KEY"]
    return swift.env["SETTLE_SWIFT_URL"] + sign_swift(key, method, path, expires_in(expires_in_s))


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

