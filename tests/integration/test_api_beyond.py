"""API.md "Beyond DDS": Idempotency-Key on POST, Prefer: wait (held answers that do not hold
a thread), Retry-After on 404 resource_not_consistent."""

import os
import threading
import time

import requests

from settle_harness import wait_until
from test_api_uploads import Client, assert_error, md5, sign


def names_in_db(db, name):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM projects WHERE name = %s", (name,))
        return cur.fetchone()[0]


def test_idempotency_key_replays_and_creates_once(settle, db):
    api = settle.api(SETTLE_QUEUE="inline")
    c = Client(api, settle.login(api))
    h = {"Idempotency-Key": "create-p-1"}
    first = c.req("POST", "/projects", json={"name": "idem-a"}, headers=h)
    again = c.req("POST", "/projects", json={"name": "idem-a"}, headers=h)
    assert first.status_code == 202, first.text
    assert again.status_code == 202 and again.json()["id"] == first.json()["id"]
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert names_in_db(db, "idem-a") == 1

    other = c.req("POST", "/projects", json={"name": "idem-b"}, headers=h)
    assert_error(other, 422, "idempotency_key_reused")
    assert names_in_db(db, "idem-b") == 0

    long_key = c.req("POST", "/projects", json={"name": "idem-c"},
                     headers={"Idempotency-Key": "k" * 300})
    assert_error(long_key, 400, "validation_failed")

    # Keys belong to a user: another user's same key is a new request.
    c2 = Client(api, settle.login(api))
    r = c2.req("POST", "/projects", json={"name": "idem-a"}, headers=h)
    assert r.status_code == 202 and r.json()["id"] != first.json()["id"]
    assert names_in_db(db, "idem-a") == 2


def test_idempotency_key_keeps_errors_and_files(settle, db):
    api = settle.api(SETTLE_QUEUE="inline")
    c = Client(api, settle.login(api))
    bad = c.req("POST", "/projects", json={"name": 5}, headers={"Idempotency-Key": "bad-1"})
    assert_error(bad, 400, "validation_failed")
    assert_error(c.req("POST", "/projects", json={"name": 5},
                       headers={"Idempotency-Key": "bad-1"}), 400, "validation_failed")

    pid = c.project()
    data = os.urandom(5000)
    uid = c.send(pid, [data])
    body = {"parent": {"kind": "dds-project", "id": pid}, "upload": {"id": uid}}
    h = {"Idempotency-Key": "file-1"}
    f1 = c.req("POST", "/files", json=body, headers=h)
    f2 = c.req("POST", "/files", json=body, headers=h)
    assert f1.status_code == 201 and f2.status_code == 201, (f1.text, f2.text)
    assert f1.json()["id"] == f2.json()["id"]
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM file_versions WHERE upload_id = %s", (uid,))
        assert cur.fetchone()[0] == 1


def test_concurrent_requests_with_one_key_create_once(settle, db):
    api = settle.api(SETTLE_QUEUE="inline", SETTLE_THREADS="4")
    c = Client(api, settle.login(api))
    out = []

    def post():
        out.append(c.req("POST", "/projects", json={"name": "idem-race"},
                         headers={"Idempotency-Key": "race-1"}))

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in out] == [202] * 8
    assert len({r.json()["id"] for r in out}) == 1
    assert names_in_db(db, "idem-race") == 1


def test_prefer_wait_complete_answers_final_state(settle):
    api = settle.api(SETTLE_QUEUE="inline")
    c = Client(api, settle.login(api))
    pid = c.project()
    data = os.urandom(100_000)
    uid = c.upload(pid, len(data)).json()["id"]
    assert c.put_chunk(uid, 1, data).status_code == 201
    r = c.req("PUT", f"/uploads/{uid}/complete",
              json={"hash": {"value": md5(data), "algorithm": "md5"}},
              headers={"Prefer": "wait=10"})
    assert r.status_code == 200, r.text
    assert r.headers.get("Preference-Applied") == "wait=10"
    assert r.json()["status"]["is_consistent"] is True


def test_prefer_wait_holds_until_consistent_without_holding_threads(settle):
    # RabbitMQ mode and no worker yet: nothing becomes consistent until one starts.
    api = settle.api(SETTLE_THREADS="1")
    c = Client(api, settle.login(api))
    r = c.req("POST", "/projects", json={"name": "w"}, headers={"Prefer": "wait=1"})
    assert r.status_code == 202 and r.headers.get("Preference-Applied") == "wait=1"
    assert r.json()["is_consistent"] is False

    got = {}

    def held():
        got["r"] = c.req("POST", "/projects", json={"name": "w2"},
                         headers={"Prefer": "wait=30"})

    th = threading.Thread(target=held)
    th.start()
    time.sleep(0.5)
    # The only HTTP thread is free while that request waits.
    t0 = time.monotonic()
    assert requests.get(api.url + "/healthz", timeout=5).status_code == 200
    assert time.monotonic() - t0 < 1
    worker = settle.worker()
    try:
        th.join(40)
        assert got["r"].status_code == 201, got["r"].text
        assert got["r"].headers.get("Preference-Applied") == "wait=30"
        assert got["r"].json()["is_consistent"] is True
    finally:
        assert worker.stop() == 0


def test_retry_after_on_not_consistent(settle):
    api = settle.api()  # RabbitMQ mode, no worker: the project stays pending
    c = Client(api, settle.login(api))
    pid = c.req("POST", "/projects", json={"name": "ra"}).json()["id"]
    t0 = time.monotonic()
    r = c.req("POST", f"/projects/{pid}/uploads",
              json={"name": "f", "content_type": "x", "size": 1},
              headers={"Prefer": "wait=1"})
    assert_error(r, 404, "resource_not_consistent")
    assert int(r.headers["Retry-After"]) >= 1
    assert r.headers.get("Preference-Applied") == "wait=1"
    assert 0.9 <= time.monotonic() - t0 < 5


def test_metrics_show_requests_jobs_and_time_to_consistency(settle):
    api = settle.api(SETTLE_QUEUE="inline")
    c = Client(api, settle.login(api))
    pid = c.project()
    uid = c.send(pid, [os.urandom(1000)])
    c.wait_upload(uid)
    text = requests.get(api.url + "/metrics", timeout=10).text
    lines = dict(line.rsplit(" ", 1) for line in text.splitlines()
                 if line and not line.startswith("#"))
    assert int(lines['settle_http_requests_total{route="uploads.complete",status="202"}']) >= 1
    assert int(lines['settle_jobs_total{kind="upload.complete",outcome="consistent"}']) >= 1
    assert int(lines['settle_time_to_consistency_seconds_count']) >= 1
    assert int(lines['settle_time_to_consistency_seconds_bucket{le="+Inf"}']) >= 1
    assert "settle_outbox_backlog" in lines


def test_head_on_signed_download_url(settle, secret):
    """Issue 9 item 11: HEAD answers like GET without the body (it was 405): the same
    status and headers, Range included, and the same signature check."""
    api = settle.api(SETTLE_QUEUE="inline")
    c = Client(api, settle.login(api))
    pid = c.project()
    data = os.urandom(300_000)
    uid = c.send(pid, [data[:200_000], data[200_000:]])
    c.wait_upload(uid)
    f = c.file(pid, uid)
    u = c.download_url(f"/files/{f['id']}/url")
    url = u["host"] + u["url"]
    keep = ("Content-Length", "Content-Type", "ETag", "Accept-Ranges", "Content-Range")
    for h in ({}, {"Range": "bytes=10-99"}, {"Range": "bytes=-5"}):
        got = requests.get(url, headers=h, timeout=30)
        head = requests.head(url, headers=h, timeout=30)
        assert head.status_code == got.status_code, (h, head.status_code, head.text)
        assert head.content == b""
        assert {k: head.headers.get(k) for k in keep} == {k: got.headers.get(k) for k in keep}
    assert requests.head(url, timeout=30).headers["Content-Length"] == str(len(data))
    # The signature is checked as for GET: forged, expired, or made for another method.
    path = f"/storage/{uid}"
    for bad in (url.rsplit("signature=", 1)[0] + "signature=" + "0" * 64,
                u["host"] + sign(secret, "GET", path, int(time.time()) - 1),
                u["host"] + sign(secret, "PUT", path, int(time.time()) + 60)):
        assert_error(requests.get(bad, timeout=30), 403, "forbidden")
        r = requests.head(bad, timeout=30)
        assert r.status_code == 403 and r.content == b"", r.status_code


def test_idempotency_key_does_not_keep_a_transient_answer(settle, db):
    """Issue 18 item 7: a 404 resource_not_consistent (like any 5xx or 503, or any answer
    that says Retry-After) is not stored under the Idempotency-Key: the repeat, once the
    project is consistent, gets the real answer, and that one is kept."""
    api = settle.api()  # RabbitMQ mode, no worker: the project stays pending
    c = Client(api, settle.login(api))
    pid = c.req("POST", "/projects", json={"name": "idem-pending"}).json()["id"]
    body = {"name": "f", "content_type": "x", "size": 1}
    h = {"Idempotency-Key": "upload-when-consistent"}
    r = c.req("POST", f"/projects/{pid}/uploads", json=body, headers=h)
    assert_error(r, 404, "resource_not_consistent")
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM idempotency_keys WHERE key = %s",
                    (h["Idempotency-Key"],))
        assert cur.fetchone()[0] == 0
    worker = settle.worker()
    try:
        wait_until(lambda: c.req("GET", f"/projects/{pid}").json()["is_consistent"], 30,
                   what="the project to be consistent")
        first = c.req("POST", f"/projects/{pid}/uploads", json=body, headers=h)
        assert first.status_code == 201, first.text
        again = c.req("POST", f"/projects/{pid}/uploads", json=body, headers=h)
        assert again.status_code == 201 and again.json()["id"] == first.json()["id"], again.text
        assert again.headers.get("Idempotent-Replayed") == "true"
    finally:
        assert worker.stop() == 0
