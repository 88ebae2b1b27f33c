"""An upload names the storage provider that holds its bytes (uploads.storage_provider,
migration 0009). A deployment that changes SETTLE_STORAGE keeps its older uploads in the
other provider: chunk registration, storage PUTs and complete answer 409 conflict, download
URLs 503 service_unavailable, both naming the two providers, and the worker's integrity
check neither marks such an upload consistent nor loses it (retried, then given up with the
error on the upload and the job in settle.dead, from where it runs again once the provider
is back).

Most tests make the switch by writing the other provider's name into the upload's row,
which is what a settle-api started with the other SETTLE_STORAGE sees (no Swift needed);
the last one switches for real, from a Swift settle-api to a local one on the same
database. The JSON of each provider under its own settle-api is tested by
test_api_uploads.py (storage_providers.BOTH).
"""

import os

import requests

from pipeline_helpers import login, poll
from settle_harness import wait_until
from test_api_uploads import assert_error, md5
from test_pipeline import dead_letters_for, job_runs_of

OTHER = "swift"  # the provider these tests' settle-api (local) is not


def set_provider(db, uid, name):
    with db.cursor() as cur:
        cur.execute("UPDATE uploads SET storage_provider = %s WHERE id = %s", (name, uid))
        assert cur.rowcount == 1


def upload_row(db, uid):
    with db.cursor() as cur:
        cur.execute("SELECT completed_at IS NOT NULL, is_consistent, error_message,"
                    " storage_provider FROM uploads WHERE id = %s", (uid,))
        return cur.fetchone()


def assert_names_both(body):
    assert "swift" in body["reason"] and "local" in body["reason"], body


def test_chunks_and_complete_refused_for_another_provider(client, project, db):
    data = os.urandom(3000)
    uid = client.upload(project, len(data)).json()["id"]
    assert upload_row(db, uid)[3] == "local"
    first = client.chunk_url(uid, 1, 1000, md5(data[:1000]))
    set_provider(db, uid, OTHER)

    r = client.req("PUT", f"/uploads/{uid}/chunks",
                   json={"number": 2, "size": 2000, "hash": {"value": md5(data[1000:])}})
    assert_names_both(assert_error(r, 409, "conflict"))
    r = requests.put(first["host"] + first["url"], data=data[:1000], timeout=30)
    assert_names_both(assert_error(r, 409, "conflict"))
    r = client.complete(uid, md5(data))
    assert_names_both(assert_error(r, 409, "conflict"))
    assert upload_row(db, uid)[:2] == (False, False)  # not completed, no job
    up = client.req("GET", f"/uploads/{uid}").json()
    assert up["storage_provider"]["name"] == OTHER and up["status"]["completed_on"] is None

    # The same calls go through once the upload is the configured provider's again.
    set_provider(db, uid, "local")
    assert requests.put(first["host"] + first["url"], data=data[:1000],
                        timeout=30).status_code == 201
    assert client.put_chunk(uid, 2, data[1000:]).status_code == 201
    assert client.complete(uid, md5(data)).status_code == 202
    assert client.wait_upload(uid)["status"]["error_on"] is None


def test_download_urls_refused_for_another_provider(client, project, db):
    data = os.urandom(5000)
    uid = client.send(project, [data])
    client.wait_upload(uid)
    f = client.file(project, uid)
    vid = f["current_version"]["id"]
    url = client.download_url(f"/files/{f['id']}/url")
    set_provider(db, uid, OTHER)

    for path in (f"/files/{f['id']}/url", f"/file_versions/{vid}/url",
                 f"/projects/{project}/files"):
        r = client.req("GET", path)
        assert_names_both(assert_error(r, 503, "service_unavailable"))
        assert r.headers.get("Retry-After", "").isdigit(), r.headers
    r = requests.get(url["host"] + url["url"], timeout=30)  # issued before: not served
    assert_names_both(assert_error(r, 503, "service_unavailable"))
    # Reads of the metadata still answer, naming the provider that holds the bytes.
    r = client.req("GET", f"/files/{f['id']}")
    assert r.status_code == 200
    assert r.json()["current_version"]["upload"]["storage_provider"]["name"] == OTHER

    set_provider(db, uid, "local")
    u = client.download_url(f"/files/{f['id']}/url")
    assert requests.get(u["host"] + u["url"], timeout=30).content == data


def test_worker_neither_verifies_nor_loses_another_providers_upload(settle, db):
    """The job of an upload completed before the switch: retried, then given up with the
    error recorded (not consistent); requeued once the provider is back, it verifies."""
    api = settle.api()
    settle.worker(SETTLE_WORKERS_EXCEPT="upload.complete")  # projects, not uploads
    client = login(settle, api)
    project = client.create_project()
    data = os.urandom(4000)
    uid = client.upload(project, data, complete=False)
    client.complete(uid, md5(data))
    set_provider(db, uid, OTHER)  # before any worker runs the job
    worker = settle.worker(SETTLE_MAX_ATTEMPTS=2)

    def failed():
        s = client.upload_status(uid)
        return s if s["error_on"] else None
    status = poll(failed, 60, what="error_on on the other provider's upload")
    assert status["is_consistent"] is False, status
    assert "gave up after 2 attempts" in status["error_message"], status
    assert_names_both({"reason": status["error_message"]})
    assert [r[1:] for r in job_runs_of(db, uid)] == [("gave_up", 2)]
    assert "storage provider swift" in worker.log_text()
    wait_until(lambda: len(dead_letters_for(settle, uid)[0]) == 1, 20,
               what="the dead letter in settle.dead")

    set_provider(db, uid, "local")
    # settle.dead is the session's: other tests' letters (one unreadable: exit 1) go too.
    r = settle.cli("dead-letters", "requeue", check=False)
    assert f"upload.complete {uid}" in r.stdout, r.stdout + r.stderr
    status = client.wait_upload(uid, timeout=60)
    assert status["error_on"] is None and status["error_message"] is None, status
    assert [r[1] for r in job_runs_of(db, uid)] == ["consistent"]


def test_real_switch_from_swift_to_local(settle, swift):
    """The same through real settle-apis: an upload begun under Swift is refused by a
    settle-api of the same database configured with the local provider."""
    from test_api_uploads import Client
    swift_api = settle.api(SETTLE_QUEUE="inline", **swift.env)
    client = Client(swift_api, settle.login(swift_api))
    project = client.project()
    data = os.urandom(2000)
    up = client.upload(project, len(data)).json()
    assert up["storage_provider"]["name"] == "swift"
    assert client.put_chunk(up["id"], 1, data).status_code == 201

    local_api = settle.api(SETTLE_QUEUE="inline")
    local = Client(local_api, {"headers": client.h, "user_id": client.user_id})
    assert local.req("GET", f"/uploads/{up['id']}").json()["storage_provider"]["name"] == "swift"
    r = local.req("PUT", f"/uploads/{up['id']}/chunks",
                  json={"number": 1, "size": 2000, "hash": {"value": md5(data)}})
    assert_names_both(assert_error(r, 409, "conflict"))
    assert_names_both(assert_error(local.complete(up["id"], md5(data)), 409, "conflict"))
    # Completed where its bytes are, it downloads there and nowhere else.
    assert client.complete(up["id"], md5(data)).status_code == 202
    client.wait_upload(up["id"])
    f = client.file(project, up["id"])
    r = local.req("GET", f"/files/{f['id']}/url")
    assert_names_both(assert_error(r, 503, "service_unavailable"))
    u = client.download_url(f"/files/{f['id']}/url")
    assert requests.get(u["host"] + u["url"], timeout=30).content == data
