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
import re
import threading
import time
import urllib.parse

import pytest
import requests

from settle_harness import wait_until
from storage_providers import SwiftProvider, expires_in, sign_swift, storage_route_requests
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
    # Issue 21: like every 503 (http_unavailable), it says when to retry.
    assert r.headers.get("Retry-After", "").isdigit(), r.headers
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


# ---- Swift stopped in the middle of uploads -------------------------------------------------

def _recording_client(api, login, answers):
    """A test_api_uploads.Client whose every API call is recorded in answers as (method,
    path, status, code) and repeated while it answers 503 (what a client should do)."""
    from test_api_uploads import Client

    class Recording(Client):
        def req(self, method, path, **kw):
            deadline = time.monotonic() + 60
            while True:
                r = super().req(method, path, **kw)
                code = r.json().get("code") if r.status_code >= 400 else None
                answers.append((method, path, r.status_code, code))
                if r.status_code != 503 or time.monotonic() > deadline:
                    return r
                time.sleep(0.5)

    return Recording(api, login)


def _put_until_stored(u, data, timeout=90):
    """PUTs data to the signed URL u until Swift answers 201, as a client retrying through
    an outage does (refused connections and Swift's 503 while a server is down)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = requests.put(u["host"] + u["url"], data=data, timeout=30)
            if r.status_code == 201:
                return
            assert r.status_code in (500, 502, 503, 504), f"{r.status_code} {r.text[:200]}"
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline, "Swift did not take the chunk back in time"
        time.sleep(0.2)


def _send(c, pid, i):
    """Upload i of the outage test, chunked (3 chunks) or not, its bytes stored through
    any outage; returns (upload id, bytes). Not completed."""
    chunks = ([os.urandom(30_000 + i) for _ in range(3)] if i % 2 == 0
              else [os.urandom(40_000 + i)])
    whole = b"".join(chunks)
    if len(chunks) > 1:
        uid = c.upload(pid, len(whole), name=f"u{i}").json()["id"]
        urls = [c.chunk_url(uid, n, len(d), md5(d)) for n, d in enumerate(chunks, 1)]
    else:
        up = c.upload(pid, len(whole), name=f"u{i}", chunked=False,
                      hash={"value": md5(whole), "algorithm": "md5"}).json()
        uid, urls = up["id"], [up["signed_url"]]
    for u, data in zip(urls, chunks):
        _put_until_stored(u, data)
    return uid, whole


def _settled(c, uid):
    """The upload once it is consistent or marked with an error."""
    return wait_until(lambda: (lambda j: j if j["status"]["is_consistent"]
                               or j["status"]["error_on"] else None)(
        c.req("GET", f"/uploads/{uid}").json()), 120, what=f"upload {uid} settled")


def _runs(proc, uid, outcome):
    """The attempt numbers of the runs of upload uid's upload.complete job that ended with
    outcome, from the log of proc (the worker, or settle-api in inline mode)."""
    pattern = rf"job kind=upload\.complete resource={uid} attempt=(\d+) outcome={outcome} "
    return [int(a) for a in re.findall(pattern, proc.log_text())]


def _outage(swift, server, seconds):
    swift.halt(server)
    try:
        time.sleep(seconds)
    finally:
        swift.start()  # swift.sh start starts again what is not running


def test_swift_stopped_mid_test_loses_nothing(settle, swift, db):
    """Swift's proxy and object server are killed and restarted while clients upload (chunked
    and not) through settle-api and a settle-worker on RabbitMQ, and while the worker
    verifies completed uploads. Every API call succeeds or answers 503; jobs that could not
    reach Swift are retried, not given up; every upload whose bytes all reached Swift ends
    consistent with them downloadable; the one whose chunk never reached Swift ends with an
    integrity error, never consistent without one."""
    store = SwiftProvider(swift)
    api = settle.api(**swift.env)
    worker = settle.worker(**swift.env)
    answers = []
    c = _recording_client(api, settle.login(api), answers)
    pid = c.project()
    done = {}

    # 1. Uploads in flight while the object server is down for a while (the proxy answers
    # 503, and refuses manifests whose segments it cannot check).
    def client(k):
        for i in range(k, 12, 4):
            uid, whole = _send(c, pid, i)
            assert c.complete(uid, md5(whole)).status_code == 202
            done[uid] = whole

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    _outage(swift, "object", 3)
    for t in threads:
        t.join(180)
    assert len(done) == 12

    # 2. Completed while the proxy is down: the worker cannot reach Swift for longer than
    # its attempts last. One upload's chunk 2 never reached Swift.
    stored = dict(_send(c, pid, i) for i in range(12, 15))
    lacking = c.upload(pid, 20).json()["id"]
    _put_until_stored(c.chunk_url(lacking, 1, 10, md5(b"0" * 10)), b"0" * 10)
    c.chunk_url(lacking, 2, 10, md5(b"1" * 10))
    swift.halt("proxy")
    try:
        for uid, whole in stored.items():
            assert c.complete(uid, md5(whole)).status_code == 202
        assert c.complete(lacking, md5(b"0" * 10 + b"1" * 10)).status_code == 202
        r = c.req("POST", "/projects", json={"name": "during", "description": "outage"})
        assert r.status_code in (201, 202), r.text
        late_project = r.json()["id"]
        wait_until(lambda: all(len(_runs(worker, u, "unavailable")) >= 3 for u in stored),
                   30, what="the worker retrying the jobs that cannot reach Swift")
        time.sleep(1)  # SETTLE_RETRY_BASE_MS=50: more than five runs fit in less
    finally:
        swift.start()
    done.update(stored)

    # Every upload ends consistent; the ones whose bytes are all in Swift without error.
    for uid, whole in done.items():
        up = _settled(c, uid)
        assert up["status"]["is_consistent"] and up["status"]["error_on"] is None, up
        f = c.file(pid, uid)
        d = c.download_url(f"/files/{f['id']}/url")
        assert requests.get(d["host"] + d["url"], timeout=30).content == whole
    up = _settled(c, lacking)
    assert up["status"]["is_consistent"], up
    assert up["status"]["error_message"] == "chunk 2: never stored", up
    wait_until(lambda: c.req("GET", f"/projects/{late_project}").json()["is_consistent"], 120,
               what="the project created during the outage consistent")
    with db.cursor() as cur:
        cur.execute("SELECT error_message FROM projects WHERE id = %s", (late_project,))
        assert cur.fetchone() == (None,)

    # No upload is consistent without error whose bytes are not all in Swift.
    with db.cursor() as cur:
        cur.execute("SELECT u.id::text, u.storage_container, array_agg(c.number) FROM uploads u"
                    " JOIN chunks c ON c.upload_id = u.id WHERE u.project_id = %s"
                    " AND u.is_consistent AND u.error_at IS NULL GROUP BY u.id", (pid,))
        rows = cur.fetchall()
    assert {r[0] for r in rows} == set(done)
    for uid, container, numbers in rows:
        assert store.has(container, uid), uid
        assert all(store.has(container, store.verified_chunk(uid, n)) for n in numbers), uid

    # Never a 500: every call succeeded or answered 503 service_unavailable.
    odd = [a for a in answers if not (a[2] < 400 or a[2:] == (503, "service_unavailable"))]
    assert odd == [], odd
    log = worker.log_text()
    assert "job_gave_up" not in log, log[-3000:]
    assert "job_retry_scheduled kind=upload.complete" in log
    failed = [line for line in log.splitlines() if "kind=upload.complete" in line
              and ("outcome=retry" in line or "outcome=unavailable" in line)]
    assert failed and all('error="storage: ' in line for line in failed), failed[:5]


@pytest.mark.parametrize("queue", ["rabbitmq", "inline"])
def test_outage_uses_up_no_attempt(settle, swift, postgres, queue):
    """With SETTLE_MAX_ATTEMPTS=2, an upload.complete job runs more than twice while Swift's
    proxy is down (unavailable): those runs use up no attempt. Swift back, the job's first
    real failure (the test holds the upload's row lock past the worker's lock_timeout) is
    attempt 1 of 2, so the upload still ends consistent instead of failed. Through the
    worker on RabbitMQ and through settle-api's inline runner alike."""
    import psycopg2

    env = dict(swift.env, SETTLE_MAX_ATTEMPTS="2", PGOPTIONS="-c lock_timeout=3000")
    if queue == "inline":
        api = runner = settle.api(SETTLE_QUEUE="inline", **env)
    else:
        api = settle.api(**swift.env)
        runner = settle.worker(**env)
    c = _recording_client(api, settle.login(api), [])
    pid = c.project()
    uid, whole = _send(c, pid, 1)
    lock = psycopg2.connect(postgres.url())
    swift.halt("proxy")
    try:
        assert c.complete(uid, md5(whole)).status_code == 202
        wait_until(lambda: len(_runs(runner, uid, "unavailable")) >= 4, 60,
                   what="the job run more times than its attempts while Swift is down")
        with lock.cursor() as cur:
            cur.execute("SELECT 1 FROM uploads WHERE id = %s FOR UPDATE", (uid,))
        swift.start()
        wait_until(lambda: _runs(runner, uid, "retry"), 60,
                   what="a real failure of the job once Swift is back")
    finally:
        lock.rollback()
        lock.close()
        swift.start()
    up = _settled(c, uid)
    assert up["status"]["is_consistent"] and up["status"]["error_on"] is None, up
    assert set(_runs(runner, uid, "unavailable")) == {1}
    assert _runs(runner, uid, "retry")[0] == 1
    assert "job_gave_up" not in runner.log_text()


def test_purge_deletes_objects_listings_miss(settle, swift, db):
    """Swift's container listing misses chunks PUT while the container server was down (the
    one-box Swift runs no updater, so they stay unlisted), and fails while it is down. The
    purge of a deleted file deletes its chunks by the numbers the database registered, and
    the manifest: every object is gone (HEAD 404 on each), even with the container server
    down during the purge."""
    store = SwiftProvider(swift)
    api = settle.api(**swift.env)
    worker = settle.worker(**swift.env)
    c = _recording_client(api, settle.login(api), [])
    pid = c.project()
    chunks = [os.urandom(30_000 + n) for n in range(3)]
    whole = b"".join(chunks)
    uid = c.upload(pid, len(whole), name="unlisted").json()["id"]
    urls = [c.chunk_url(uid, n, len(d), md5(d)) for n, d in enumerate(chunks, 1)]
    _put_until_stored(urls[0], chunks[0])  # the proxy now caches the container's info
    with db.cursor() as cur:
        cur.execute("SELECT storage_container FROM uploads WHERE id = %s", (uid,))
        (container,) = cur.fetchone()
    swift.halt("container")
    try:
        for u, data in zip(urls[1:], chunks[1:]):
            _put_until_stored(u, data)
    finally:
        swift.start()
    names = [uid] + [f"{uid}/{n}" for n in (1, 2, 3)]
    unlisted = set(names[1:]) - set(store.objects(container, f"{uid}/") or [])
    assert unlisted, "Swift lists every chunk: this test would show nothing"
    assert c.complete(uid, md5(whole)).status_code == 202
    up = _settled(c, uid)
    assert up["status"]["is_consistent"] and up["status"]["error_on"] is None, up
    f = c.file(pid, uid)
    sealed = [store.verified_chunk(uid, n) for n in (1, 2, 3)]
    assert all(store.has(container, n) for n in [uid] + sealed)
    names += sealed

    swift.halt("container")
    try:
        assert c.req("DELETE", f"/files/{f['id']}").status_code == 202
        assert c.req("PUT", f"/trashbin/dds-file/{f['id']}/purge").status_code == 204

        def purged():
            with db.cursor() as cur:
                cur.execute("SELECT purged_at IS NOT NULL FROM uploads WHERE id = %s", (uid,))
                return cur.fetchone()[0]
        wait_until(purged, 60, what="the upload purged")
    finally:
        swift.start()
    left = {n: store._call("HEAD", f"/{container}/{n}").status_code for n in names}
    assert left == {n: 404 for n in names}, (left, unlisted)
    assert "swift_sweep_failed" in worker.log_text()
