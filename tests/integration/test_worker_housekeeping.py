"""A worker's housekeeping (reconcile, purge of expired uploads, trash TTL, Idempotency-Key
expiry) runs on a thread and a Postgres connection of its own (issue 21 item 3): a slow store
that holds a purge for a long time (up to 600 s for Swift) never holds up the jobs, their
acks or the AMQP heartbeats of the thread that owns the RabbitMQ connection.

The slow store is SETTLE_FAULT_DELETE_MS (tests only): each delete of an upload's stored bytes
waits that long before it runs. A worker asked to stop leaves a round still waiting on the
store after a few seconds (its transaction rolls back; the next round does the work)."""

import time

from pipeline_helpers import login, poll, q1

TTL = 1          # seconds an incomplete upload may stay inactive in this test
DELAY_MS = 25000  # how long the store takes to delete the expired upload's bytes


def unacked(rabbitmq, queue):
    """Messages of queue delivered and not acknowledged yet."""
    out = rabbitmq.ctl("list_queues", "name", "messages_unacknowledged")
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] == queue:
            return int(parts[1])
    raise AssertionError(f"queue {queue} not found:\n{out}")


def test_slow_housekeeping_holds_no_job(settle, db, rabbitmq):
    api = settle.api()
    w0 = settle.worker()
    client = login(settle, api)
    project = client.create_project()
    abandoned = client.upload(project, b"abandoned bytes", complete=False)
    assert w0.stop() == 0
    time.sleep(TTL + 1)  # past its TTL

    worker = settle.worker(SETTLE_UPLOAD_TTL=TTL, SETTLE_HOUSEKEEPING_INTERVAL=1,
                           SETTLE_FAULT_DELETE_MS=DELAY_MS)
    poll(lambda: "injected_delay call=upload_delete" in worker.log_text(), 30,
         what="housekeeping to start purging the expired upload")
    stuck_at = time.monotonic()

    # While the purge waits on the store, jobs run and are acknowledged at once.
    other = client.create_project(wait=10)
    data = b"fresh bytes " * 100
    upload = client.upload(project, data)
    client.wait_upload(upload, timeout=10)
    poll(lambda: unacked(rabbitmq, "settle.project.initialize") == 0
         and unacked(rabbitmq, "settle.upload.complete") == 0, 5,
         what="the jobs to be acknowledged")
    assert time.monotonic() - stuck_at < DELAY_MS / 1000 - 5, \
        "the jobs waited for the housekeeping"
    assert q1(db, "SELECT purged_at FROM uploads WHERE id = %s", (abandoned,)) is None
    assert q1(db, "SELECT is_consistent FROM projects WHERE id = %s", (other,))

    # A worker stopped while its housekeeping still waits on the store stops at once all the
    # same (the round's transaction rolls back); the next worker purges the upload.
    t0 = time.monotonic()
    assert worker.stop(timeout=15) == 0
    assert time.monotonic() - t0 < 10, "the stop waited for the housekeeping"
    assert "housekeeping_left" in worker.log_text(), worker.log_text()[-3000:]
    assert q1(db, "SELECT purged_at FROM uploads WHERE id = %s", (abandoned,)) is None
    again = settle.worker(SETTLE_UPLOAD_TTL=TTL, SETTLE_HOUSEKEEPING_INTERVAL=1)
    poll(lambda: q1(db, "SELECT purged_at IS NOT NULL FROM uploads WHERE id = %s",
                    (abandoned,)), 30, what="the purge by the next worker")
    assert again.stop() == 0
