"""Abandoned uploads (issue 9 item 6): an upload not completed and without activity (creation,
chunk registration, storage PUT) for SETTLE_UPLOAD_TTL seconds is purged by a worker's
housekeeping (every SETTLE_HOUSEKEEPING_INTERVAL seconds); afterwards chunk registration and
complete answer 409 conflict "upload expired" and a storage PUT stores nothing. Uploads with
activity, completed ones, and one whose complete waits on a lock while the worker looks, are
left alone. `settle stats` counts the bytes incomplete uploads hold."""

import hashlib
import os
import threading
import time
import uuid

import requests

from pipeline_helpers import login, poll, q, q1, stats, storage_chunk_path
from settle_harness import wait_until

TTL = 3  # seconds; the housekeeping runs every second


def blob(n):
    seed = uuid.uuid4().hex.encode()
    out = bytearray()
    while len(out) < n:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:n])


def md5(b):
    return hashlib.md5(b).hexdigest()


def register(client, upload_id, number, data, expect=200):
    """PUT /uploads/{id}/chunks; returns the response."""
    return client.call("PUT", f"/uploads/{upload_id}/chunks", expect,
                       json={"number": number, "size": len(data),
                             "hash": {"value": md5(data), "algorithm": "md5"}})


def assert_expired(r):
    """r is API.md's 409 conflict saying that the upload expired."""
    assert r.status_code == 409, f"{r.status_code} {r.text}"
    body = r.json()
    assert body["error"] == 409 and body["code"] == "conflict", body
    assert "upload expired" in body["reason"] and body["suggestion"], body


def incomplete_bytes(db):
    return q1(db, "SELECT coalesce(sum(c.stored_size), 0) FROM uploads u JOIN chunks c"
                  " ON c.upload_id = u.id WHERE u.completed_at IS NULL AND u.purged_at IS NULL")


def wait_blocked_on_lock(db, proc, query_part, what):
    """Waits until a statement containing query_part waits on a lock (proc alive)."""
    def blocked():
        assert proc.alive(), proc.log_text()[-3000:]
        return q1(db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                      " AND query LIKE %s", (f"%{query_part}%",))
    wait_until(blocked, 30, interval=0.05, what=what)


def api_put(client, path, body):
    """PUT path with the client's token on a connection of its own (for another thread)."""
    return requests.put(client.base + path, headers=client.headers, json=body, timeout=60)


def in_thread(fn):
    """Runs fn() in a thread; returns a function that joins it and returns its result."""
    out = {}
    t = threading.Thread(target=lambda: out.setdefault("r", fn()), daemon=True)
    t.start()

    def join(timeout=30):
        t.join(timeout)
        assert "r" in out, "the call did not finish"
        return out["r"]
    return join


def test_abandoned_upload_is_purged(settle, db, postgres):
    storage = settle.base_env["SETTLE_STORAGE_DIR"]
    api = settle.api()
    w0 = settle.worker()  # the default TTL (a week): purges nothing here
    client = login(settle, api)
    project = client.create_project()
    kept_data, done_data, raced_data = blob(50_000), blob(20_000), blob(30_000)
    a1, a2 = blob(60_000), blob(40_000)
    done = client.upload(project, done_data)
    client.wait_upload(done)
    abandoned = client.create_upload(project, "abandoned.bin", len(a1) + len(a2))
    stale_url = register(client, abandoned, 1, a1).json()  # kept for a PUT after the purge
    assert requests.put(stale_url["host"] + stale_url["url"], data=a1, timeout=30).status_code \
        == 201
    client.put_chunk(abandoned, 2, a2)
    raced = client.upload(project, raced_data, complete=False)
    kept = client.upload(project, kept_data, complete=False)
    st, text = stats(settle)
    assert st["uploads_incomplete_bytes"] == incomplete_bytes(db), text
    assert st["uploads_incomplete_bytes"] >= 180_000, text
    assert w0.stop() == 0

    # A complete of `raced` in flight: it waits behind a share lock (as behind a chunk
    # registration) while the worker looks; the worker must pass it by and purge the rest.
    locker = psycopg2_connect(postgres)
    try:
        with locker.cursor() as cur:
            cur.execute("SELECT 1 FROM uploads WHERE id = %s FOR SHARE", (raced,))
        complete_raced = in_thread(lambda: api_put(
            client, f"/uploads/{raced}/complete",
            {"hash": {"value": md5(raced_data), "algorithm": "md5"}}))
        wait_blocked_on_lock(db, api, "completed_hash_algorithm = $3",
                             "the complete to wait on the lock")
        # A connection belongs to the settle-api thread that accepted it, and that thread now
        # waits in Postgres: the client's kept-alive connection may be one of its own. New
        # connections are accepted by the threads that are free.
        client.session.close()
        time.sleep(TTL)  # every upload here is now past its TTL, but for `kept`:
        client.put_chunk(kept, 1, kept_data)
        worker = settle.worker(SETTLE_UPLOAD_TTL=TTL, SETTLE_HOUSEKEEPING_INTERVAL=1)
        # `kept` keeps its activity going (registration and storage PUT) through several
        # rounds of housekeeping, while `abandoned` is purged.
        start = time.monotonic()
        while True:
            client.put_chunk(kept, 1, kept_data)
            purged = q1(db, "SELECT purged_at IS NOT NULL FROM uploads WHERE id = %s",
                        (abandoned,))
            if purged and time.monotonic() - start > 2 * TTL:
                break
            assert time.monotonic() - start < 60, "the abandoned upload was not purged"
            assert worker.alive(), worker.log_text()[-3000:]
            time.sleep(0.4)
        assert q1(db, "SELECT purged_at FROM uploads WHERE id = %s", (kept,)) is None
        assert q1(db, "SELECT purged_at FROM uploads WHERE id = %s", (raced,)) is None
        assert open(storage_chunk_path(storage, db, kept), "rb").read() == kept_data
        st, text = stats(settle)
        assert st["uploads_incomplete_bytes"] == incomplete_bytes(db), text
        assert st["uploads_incomplete_bytes"] >= len(kept_data) + len(raced_data), text
    finally:
        locker.rollback()
        locker.close()
    r = complete_raced()
    assert r.status_code == 202, r.text  # it won cleanly
    client.complete(kept, md5(kept_data))
    for u in (raced, kept):
        s = client.wait_upload(u)
        assert s["error_on"] is None and s["purged_on"] is None, s

    # The abandoned upload: purged_on set, bytes gone, and every further step refused.
    status = client.upload_status(abandoned)
    assert status["purged_on"] is not None and status["completed_on"] is None, status
    assert status["ready_for_chunks"] is False, status
    for n in (1, 2):
        assert not os.path.exists(storage_chunk_path(storage, db, abandoned, n))
    assert_expired(register(client, abandoned, 3, a2, expect=409))
    assert_expired(client.call("PUT", f"/uploads/{abandoned}/complete", 409,
                               json={"hash": {"value": md5(a1 + a2), "algorithm": "md5"}}))
    r = requests.put(stale_url["host"] + stale_url["url"], data=a1, timeout=30)
    assert 400 <= r.status_code < 500, f"{r.status_code} {r.text}"
    assert not os.path.exists(storage_chunk_path(storage, db, abandoned, 1))
    assert q1(db, "SELECT count(*) FROM chunks WHERE upload_id = %s AND stored_at IS NOT NULL"
                  " AND number = 3", (abandoned,)) == 0

    # The completed upload and the two that completed here keep their bytes.
    for u, data in ((done, done_data), (raced, raced_data), (kept, kept_data)):
        assert open(storage_chunk_path(storage, db, u), "rb").read() == data
        assert q1(db, "SELECT is_consistent AND purged_at IS NULL FROM uploads WHERE id = %s",
                  (u,))
    st, text = stats(settle)
    assert st["uploads_incomplete_bytes"] == incomplete_bytes(db), text
    assert "uploads_expired" in worker.log_text(), worker.log_text()[-3000:]
    print(f"\nsettle stats after the purge:\n{text}")


def psycopg2_connect(postgres):
    import psycopg2
    return psycopg2.connect(postgres.url())


def purge_meanwhile(db, postgres, proc, upload_id, query_part, call):
    """Runs call() in a thread while the test holds the upload's row lock as the worker's
    purge does; once the call waits on it, marks the upload purged and commits (what the
    purge's transaction does besides deleting bytes). Returns call()'s response."""
    locker = psycopg2_connect(postgres)
    try:
        with locker.cursor() as cur:
            cur.execute("SELECT 1 FROM uploads WHERE id = %s FOR NO KEY UPDATE", (upload_id,))
            join = in_thread(call)
            wait_blocked_on_lock(db, proc, query_part, f"'{query_part}' to wait on the lock")
            cur.execute("UPDATE uploads SET purged_at = now() WHERE id = %s", (upload_id,))
        locker.commit()
    finally:
        locker.close()
    return join()


def test_calls_racing_a_purge_lose_cleanly(settle, db, postgres):
    """A chunk registration, a storage PUT and a complete that wait on a purge's row lock
    see the upload purged when it commits: 409 and nothing stored or completed."""
    storage = settle.base_env["SETTLE_STORAGE_DIR"]
    api = settle.api()
    settle.worker()
    client = login(settle, api)
    project = client.create_project()
    data = blob(10_000)

    u = client.create_upload(project, "race-register.bin", len(data))
    r = purge_meanwhile(db, postgres, api, u, "INSERT INTO chunks",
                        lambda: api_put(client, f"/uploads/{u}/chunks",
                                        {"number": 1, "size": len(data),
                                         "hash": {"value": md5(data), "algorithm": "md5"}}))
    assert_expired(r)
    assert q(db, "SELECT number FROM chunks WHERE upload_id = %s", (u,)) == []

    u = client.create_upload(project, "race-put.bin", len(data))
    url = register(client, u, 1, data).json()
    r = purge_meanwhile(db, postgres, api, u, "FOR UPDATE OF c",
                        lambda: requests.put(url["host"] + url["url"], data=data, timeout=30))
    assert r.status_code == 409, f"{r.status_code} {r.text}"
    assert not os.path.exists(storage_chunk_path(storage, db, u))
    assert q1(db, "SELECT stored_at FROM chunks WHERE upload_id = %s", (u,)) is None

    u = client.upload(project, data, complete=False)
    r = purge_meanwhile(db, postgres, api, u, "completed_hash_algorithm = $3",
                        lambda: api_put(client, f"/uploads/{u}/complete",
                                        {"hash": {"value": md5(data), "algorithm": "md5"}}))
    assert_expired(r)
    assert q1(db, "SELECT completed_at FROM uploads WHERE id = %s", (u,)) is None
    assert q1(db, "SELECT count(*) FROM outbox WHERE resource_id = %s", (u,)) == 0
    assert q1(db, "SELECT count(*) FROM message_log WHERE payload->>'resource_id' = %s",
              (u,)) == 0
    poll(lambda: client.upload_status(u)["purged_on"], 5, what="purged_on in the answer")
