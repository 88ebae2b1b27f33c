"""The job pipeline (issue 4): uploads driven through the HTTP API like a client, against
real Postgres and RabbitMQ and the real binaries; every test asserts counts on what the
client sees and on what the database and the broker hold."""

import hashlib
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid

import pytest

from pipeline_helpers import (Client, Supervisor, assert_each_job_once, login, poll, q, q1,
                              run_threads, stats, storage_chunk_path, stream_put)
from settle_harness import free_port, wait_until

UPLOAD_QUEUE = "settle.upload.complete"


def blob(n, seed=None):
    """n reproducible pseudo-random bytes."""
    seed = (seed or uuid.uuid4().hex).encode()
    out = bytearray()
    while len(out) < n:
        seed = hashlib.sha256(seed).digest()
        out += seed
    return bytes(out[:n])


def wait_consuming(amqp, worker, queue=UPLOAD_QUEUE, timeout=30):
    def consuming():
        assert worker.alive(), f"worker exited ({worker.returncode}):\n{worker.log_text()[-3000:]}"
        return amqp.consumers(queue) > 0
    wait_until(consuming, timeout, interval=0.2, what=f"a consumer on {queue}")


def wait_all_consistent(client, upload_ids, timeout):
    """Polls every upload (GET /uploads/{id}) until all are consistent; returns statuses."""
    deadline = time.monotonic() + timeout
    statuses = {}
    for uid in upload_ids:
        left = max(1.0, deadline - time.monotonic())
        statuses[uid] = client.wait_upload(uid, timeout=left)
    return statuses


def storage_dir(settle):
    return settle.base_env["SETTLE_STORAGE_DIR"]


# ---- 1. many concurrent clients ----------------------------------------------------------

def test_concurrent_uploads_each_job_once(settle, db, amqp):
    api = settle.api(SETTLE_THREADS=8)
    workers = [settle.worker(), settle.worker()]
    client = login(settle, api)
    project = client.create_project()
    token = client.headers["Authorization"]
    n_uploads, n_threads = 200, 16
    local = threading.local()

    def one(i):
        if not hasattr(local, "c"):
            local.c = Client(api, token)
        data = blob(1024 + i * 37, seed=f"u{i}")
        # Every fourth upload in three chunks, the rest in one.
        chunk = (len(data) + 2) // 3 if i % 4 == 0 else None
        uid = local.c.upload(project, data, name=f"c-{i:03d}.bin", chunk_size=chunk)
        status = local.c.wait_upload(uid, timeout=120)
        assert status["error_on"] is None, status
        return uid

    t0 = time.monotonic()
    ids = run_threads(n_threads, one, list(range(n_uploads)), timeout=240)
    elapsed = time.monotonic() - t0
    assert len(set(ids)) == n_uploads
    n_outbox, n_runs = assert_each_job_once(db, ids)
    assert n_outbox == n_runs == n_uploads
    # consistent_at was set once: never moved after the first run.
    assert q1(db, "SELECT count(*) FROM uploads WHERE id = ANY(%s::uuid[])"
                  " AND consistent_at >= completed_at", ([str(i) for i in ids],)) == n_uploads
    for w in workers:
        assert w.alive(), w.log_text()[-3000:]
    done = sum(w.log_text().count("kind=upload.complete") for w in workers)
    assert done == n_uploads, f"workers logged {done} upload.complete jobs, want {n_uploads}"
    print(f"\n{n_uploads} uploads by {n_threads} clients consistent in {elapsed:.1f}s")


# ---- 7. inline mode ----------------------------------------------------------------------

def test_inline_mode_without_rabbitmq(settle, db):
    closed = free_port()
    api = settle.api(SETTLE_QUEUE="inline",
                     SETTLE_AMQP_URL=f"amqp://guest:guest@127.0.0.1:{closed}")
    client = login(settle, api)
    project = client.create_project(wait=30)
    data = blob(300_000)
    uid = client.upload(project, data, name="inline.bin", chunk_size=100_000)
    file_id = client.create_file(project, uid, "inline.bin")
    status = client.wait_upload(uid, timeout=30)
    assert status["error_on"] is None, status
    signed = client.file_url(file_id, timeout=30)
    assert client.download(signed) == data
    assert_each_job_once(db, [uid])
    assert q1(db, "SELECT count(*) FROM job_runs WHERE resource_id = %s"
                  " AND kind = 'project.initialize'", (project,)) == 1
    assert api.alive()
    assert "mq_connect" not in api.log_text() or str(closed) not in api.log_text(), \
        api.log_text()[-3000:]


# ---- 2. kill -9 in the middle of a job ---------------------------------------------------

def job_runs_of(db, upload_id):
    return q(db, "SELECT message_id::text, outcome, attempt FROM job_runs"
                 " WHERE resource_id = %s", (str(upload_id),))


def wait_delivered(db, amqp, upload_id, timeout=30):
    """Waits until the upload's outbox row is sent and no message is ready in the upload
    queue: the (only) consumer holds it unacked."""
    def delivered():
        sent = q1(db, "SELECT count(*) FROM outbox WHERE resource_id = %s"
                      " AND sent_at IS NOT NULL", (str(upload_id),))
        return sent == 1 and amqp.queue(UPLOAD_QUEUE)[0] == 0
    wait_until(delivered, timeout, interval=0.05, what="the job to be delivered")


def test_worker_killed_while_hashing(settle, db, amqp):
    """The chunk file is swapped for a FIFO, so the worker blocks in open() while it reads
    the stored bytes; it is killed there, the bytes are put back, and a second worker gets
    the redelivered job and runs it once."""
    api = settle.api()
    first = settle.worker(SETTLE_WORKER_PREFETCH=1)
    wait_consuming(amqp, first)
    client = login(settle, api)
    project = client.create_project()
    data = blob(2_000_000)
    uid = client.upload(project, data, complete=False)
    path = storage_chunk_path(storage_dir(settle), db, uid)
    os.rename(path, path + ".aside")
    os.mkfifo(path)
    try:
        client.complete(uid, hashlib.md5(data).hexdigest())
        wait_delivered(db, amqp, uid)
        time.sleep(0.5)
        assert first.alive(), first.log_text()[-3000:]
        assert job_runs_of(db, uid) == [], "the job finished although its bytes are a FIFO"
        assert "kind=upload.complete" not in first.log_text()
        first.stop(signal.SIGKILL)
    finally:
        os.unlink(path)
        os.rename(path + ".aside", path)
    assert first.returncode == -signal.SIGKILL
    assert client.upload_status(uid)["is_consistent"] is False
    second = settle.worker()
    status = client.wait_upload(uid, timeout=60)
    assert status["error_on"] is None, status
    runs = job_runs_of(db, uid)
    assert len(runs) == 1 and runs[0][1] == "consistent", runs
    assert_each_job_once(db, [uid])
    assert second.log_text().count("kind=upload.complete") == 1, second.log_text()[-3000:]
    assert amqp.queue(UPLOAD_QUEUE)[0] == 0


def test_worker_killed_inside_transaction(settle, db, amqp, postgres):
    """The upload is completed while no worker runs; then the test takes the upload's row
    lock and starts a worker, whose job transaction (job_runs row already inserted) blocks
    on its UPDATE. The worker is killed there: its transaction never commits, and the
    redelivered job runs exactly once on a second worker."""
    import psycopg2
    api = settle.api()
    client = login(settle, api)
    w0 = settle.worker()
    project = client.create_project()
    assert w0.stop(signal.SIGTERM) == 0
    data = blob(500_000)
    uid = client.upload(project, data)
    wait_until(lambda: q1(db, "SELECT count(*) FROM outbox WHERE resource_id = %s"
                              " AND sent_at IS NOT NULL", (uid,)) == 1, 30, what="the relay")
    locker = psycopg2.connect(postgres.url())
    try:
        cur = locker.cursor()
        cur.execute("SELECT 1 FROM uploads WHERE id = %s FOR UPDATE", (uid,))
        first = settle.worker(SETTLE_WORKER_PREFETCH=1)

        def blocked():
            assert first.alive(), first.log_text()[-3000:]
            return q1(db, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                          " AND query LIKE 'UPDATE uploads SET is_consistent%%'")
        wait_until(blocked, 30, interval=0.05, what="the worker's UPDATE to wait on the lock")
        first.stop(signal.SIGKILL)
        second = settle.worker()
        wait_consuming(amqp, second)
        time.sleep(0.5)
        assert job_runs_of(db, uid) == []
        locker.rollback()
    finally:
        locker.close()
    status = client.wait_upload(uid, timeout=60)
    assert status["error_on"] is None, status
    runs = job_runs_of(db, uid)
    assert len(runs) == 1 and runs[0][1] == "consistent", runs
    assert_each_job_once(db, [uid])
    assert "kind=upload.complete" not in first.log_text()
    assert second.log_text().count(f"job kind=upload.complete resource={uid}") == 1, \
        second.log_text()[-3000:]


# ---- 4. a poison job ---------------------------------------------------------------------

def dead_letters_for(settle, resource_id):
    out = settle.cli("dead-letters", "list").stdout
    return [line for line in out.splitlines() if str(resource_id) in line], out


def test_poison_job_dead_lettered_then_requeued(settle, db, amqp):
    api = settle.api()
    worker = settle.worker(SETTLE_MAX_ATTEMPTS=3, SETTLE_RETRY_BASE_MS=50)
    wait_consuming(amqp, worker)
    client = login(settle, api)
    project = client.create_project()
    data = blob(100_000)
    uid = client.upload(project, data, complete=False)
    path = storage_chunk_path(storage_dir(settle), db, uid)
    os.rename(path, path + ".aside")
    os.mkdir(path)  # read() of a directory fails (EISDIR): a storage I/O error
    try:
        client.complete(uid, hashlib.md5(data).hexdigest())

        def failed():
            s = client.upload_status(uid)
            return s if s["error_on"] else None
        status = poll(failed, 60, what="error_on on the poisoned upload")
        assert status["is_consistent"] is False, status
        assert "gave up after 3 attempts" in (status["error_message"] or ""), status
        log = worker.log_text()
        assert log.count(f"job kind=upload.complete resource={uid}") == 3, log[-3000:]
        assert log.count(f"job_retry_scheduled kind=upload.complete resource={uid}") == 2
        runs = job_runs_of(db, uid)
        assert [r[1:] for r in runs] == [("gave_up", 3)], runs
        wait_until(lambda: len(dead_letters_for(settle, uid)[0]) == 1, 20,
                   what="the dead letter in settle.dead")
        lines, out = dead_letters_for(settle, uid)
        assert runs[0][0] in lines[0], out
        stat, text = stats(settle)
        assert stat["uploads_failed"] >= 1 and stat["settle.dead"] >= 1, text
    finally:
        os.rmdir(path)
        os.rename(path + ".aside", path)
    dead_before = amqp.queue("settle.dead")[0]
    r = settle.cli("dead-letters", "requeue")
    assert f"requeued {runs[0][0]} upload.complete {uid}" in r.stdout, r.stdout
    status = client.wait_upload(uid, timeout=60)
    assert status["error_on"] is None and status["error_message"] is None, status
    assert amqp.queue("settle.dead")[0] == 0, (dead_before, r.stdout)
    runs = job_runs_of(db, uid)
    assert len(runs) == 1 and runs[0][1] == "consistent", runs
    assert worker.log_text().count(f"job kind=upload.complete resource={uid}") == 4
