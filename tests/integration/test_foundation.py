"""Foundation: configuration, migrations, operational endpoints, HTTP error bodies,
keep-alive, clean shutdown and a worker that outlives a RabbitMQ restart."""

import glob
import http.client
import json
import os
import signal
import subprocess
import time
import uuid

import pytest
import requests

from settle_harness import free_port, job_message, wait_until
from storage_providers import LocalProvider

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARIES = ["settle-api", "settle-worker", "settle"]
VARIABLES = ["SETTLE_DATABASE_URL", "SETTLE_AMQP_URL", "SETTLE_QUEUE", "SETTLE_LISTEN",
             "SETTLE_PUBLIC_URL", "SETTLE_STORAGE_DIR", "SETTLE_SECRET", "SETTLE_THREADS",
             "SETTLE_WORKER_PREFETCH", "SETTLE_WORKERS_EXCEPT", "SETTLE_MAX_ATTEMPTS",
             "SETTLE_RETRY_BASE_MS", "SETTLE_RECONCILE_AFTER", "SETTLE_FAULT_RATE",
             "SETTLE_RELAY", "SETTLE_LOG_LEVEL"]
MIGRATIONS = sorted(os.path.basename(p) for p in glob.glob(os.path.join(REPO, "migrations",
                                                                         "*.sql")))


def run_binary(settle, name, *args, timeout=20, **env):
    """Runs a binary that is expected to exit by itself; returns (rc, stdout+stderr)."""
    r = subprocess.run([settle.binary(name), *args], env=settle.env(**env),
                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return r.returncode, r.stdout


def assert_error_body(r, status, code):
    assert r.status_code == status, f"want {status}, got {r.status_code}: {r.text[:500]}"
    assert r.headers.get("Content-Type", "").startswith("application/json"), r.headers
    body = r.json()
    assert body.get("error") == status, body
    assert body.get("code") == code, body
    assert isinstance(body.get("reason"), str) and body["reason"], body
    assert "suggestion" in body, body
    return body


# ---- configuration -----------------------------------------------------------------------

@pytest.mark.parametrize("name", BINARIES)
def test_help_lists_every_variable(settle, name):
    rc, out = run_binary(settle, name, "--help")
    assert rc == 0, out
    missing = [v for v in VARIABLES if v not in out]
    assert not missing, f"{name} --help does not list {missing}:\n{out}"


BAD_VALUES = [
    ("SETTLE_THREADS", "abc"),
    ("SETTLE_THREADS", "0"),
    ("SETTLE_QUEUE", "kafka"),
    ("SETTLE_LISTEN", "not-an-address"),
    ("SETTLE_LISTEN", "127.0.0.1:99999"),
]


@pytest.mark.parametrize("name", BINARIES)
@pytest.mark.parametrize("var,value", BAD_VALUES)
def test_bad_value_stops_with_message(settle, name, var, value):
    args = ["migrate"] if name == "settle" else []
    rc, out = run_binary(settle, name, *args, **{var: value})
    assert rc == 2, f"{name} with {var}={value!r}: exit {rc}, want 2:\n{out}"
    assert var in out, f"{name}: message does not name {var}:\n{out}"


@pytest.mark.parametrize("value", [None, "", "too-short"])
def test_api_requires_secret(settle, value):
    rc, out = run_binary(settle, "settle-api", SETTLE_SECRET=value,
                         SETTLE_LISTEN=f"127.0.0.1:{free_port()}")
    assert rc == 2, f"exit {rc}, want 2:\n{out}"
    assert "SETTLE_SECRET" in out, out


# ---- migrations --------------------------------------------------------------------------

def migrations_in(url):
    import psycopg2
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT name, count(*) FROM schema_migrations GROUP BY name ORDER BY name")
            return cur.fetchall()
    finally:
        conn.close()


def test_migrate_twice(settle, fresh_database):
    url = fresh_database()
    first = settle.cli("migrate", SETTLE_DATABASE_URL=url)
    assert migrations_in(url) == [(m, 1) for m in MIGRATIONS]
    second = settle.cli("migrate", SETTLE_DATABASE_URL=url)
    assert migrations_in(url) == [(m, 1) for m in MIGRATIONS]
    assert "applied: 0" in second.stdout or first.stdout != second.stdout, (
        f"second migrate should apply nothing:\n{second.stdout}{second.stderr}")


# Every foreign key's columns lead an index (DESIGN: "every foreign key indexed"), so that
# a DELETE of the referenced row and the joins along the key never scan the table. A partial
# index counts when its predicate is only `col IS NOT NULL`, which `col = $1` implies.
UNINDEXED_FKS = """
SELECT c.conrelid::regclass::text, c.conname
FROM pg_constraint c
WHERE c.contype = 'f' AND c.connamespace = 'public'::regnamespace
  AND NOT EXISTS (
    SELECT 1 FROM pg_index i
    WHERE i.indrelid = c.conrelid
      AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
      AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey
      AND (i.indpred IS NULL OR pg_get_expr(i.indpred, i.indrelid) ~ '^\\(\\w+ IS NOT NULL\\)$'))
ORDER BY 1, 2
"""


def test_every_foreign_key_is_indexed(settle, fresh_database):
    import psycopg2
    url = fresh_database()
    settle.cli("migrate", SETTLE_DATABASE_URL=url)
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_constraint WHERE contype = 'f'")
            assert cur.fetchone()[0] > 10
            cur.execute(UNINDEXED_FKS)
            unindexed = cur.fetchall()
            assert unindexed == [], "\n".join(map(str, unindexed))
            # The partial ones of 0025 count, and only they are partial among these.
            cur.execute("SELECT pg_get_expr(indpred, indrelid) FROM pg_index"
                        " WHERE indexrelid = 'files_updated_by_idx'::regclass")
            assert cur.fetchone()[0] == "(updated_by IS NOT NULL)"
    finally:
        conn.close()


def test_migrate_concurrently(settle, fresh_database):
    url = fresh_database()
    env = settle.env(SETTLE_DATABASE_URL=url)
    procs = [subprocess.Popen([settle.binary("settle"), "migrate"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(4)]
    results = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=120)
            results.append((p.returncode, out))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    for rc, out in results:
        assert rc == 0, f"concurrent migrate exited {rc}:\n{out}"
        assert "runtime error:" not in out and "Sanitizer" not in out, out
    assert migrations_in(url) == [(m, 1) for m in MIGRATIONS]


def _migrate_before(url, first):
    """Applies the migrations named before `first` as settle migrate would."""
    import psycopg2
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute("CREATE TABLE schema_migrations (name text PRIMARY KEY,"
                        " applied_at timestamptz NOT NULL DEFAULT now())")
            for name in (m for m in MIGRATIONS if m < first):
                with open(os.path.join(REPO, "migrations", name)) as f:
                    cur.execute(f.read())
                cur.execute("INSERT INTO schema_migrations (name) VALUES (%s)", (name,))
    finally:
        conn.close()


def _sql(url, sql, args=()):
    import psycopg2
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()


def test_upload_from_before_0009_reads_as_local(settle, fresh_database):
    """An upload written before migration 0009 (the storage provider of each upload) is the
    local provider's: every deployment stored its uploads there then."""
    url = fresh_database()
    _migrate_before(url, "0009")
    user_id, user_key = settle.create_user(SETTLE_DATABASE_URL=url)
    _, agent_key = settle.create_agent(SETTLE_DATABASE_URL=url)
    pid, uid = str(uuid.uuid4()), str(uuid.uuid4())
    _sql(url, "INSERT INTO projects (id, name, storage_container, is_consistent, created_by)"
              " VALUES (%s, 'old', %s, true, %s)", (pid, pid, user_id))
    _sql(url, "INSERT INTO project_members (project_id, user_id, role)"
              " VALUES (%s, %s, 'project_admin')", (pid, user_id))
    _sql(url, "INSERT INTO uploads (id, project_id, name, size, etag, storage_container,"
              " created_by) VALUES (%s, %s, 'old.bin', 0, %s, %s, %s)",
         (uid, pid, str(uuid.uuid4()), pid, user_id))

    settle.cli("migrate", SETTLE_DATABASE_URL=url)
    assert migrations_in(url) == [(m, 1) for m in MIGRATIONS]
    assert _sql(url, "SELECT storage_provider FROM uploads WHERE id = %s", (uid,)) == [("local",)]
    api = settle.api(SETTLE_DATABASE_URL=url, SETTLE_QUEUE="inline")
    r = requests.post(f"{api.base}/software_agents/api_token",
                      json={"agent_key": agent_key, "user_key": user_key}, timeout=10)
    assert r.status_code == 201, r.text
    r = requests.get(f"{api.base}/uploads/{uid}", headers={"Authorization": r.json()["api_token"]},
                     timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["storage_provider"] == LocalProvider.info


# ---- operational endpoints and errors ----------------------------------------------------

def test_healthz_and_readyz(api):
    assert requests.get(api.url + "/healthz", timeout=5).status_code == 200
    assert requests.get(api.url + "/readyz", timeout=5).status_code == 200


def test_readyz_503_when_database_unreachable(settle):
    closed = free_port()
    api = settle.api(wait=False, SETTLE_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed}/settle")

    api.wait_ready(30, path="/healthz")  # live, with the database down
    r = requests.get(api.url + "/readyz", timeout=10)
    assert r.status_code == 503, f"{r.status_code} {r.text}"


@pytest.mark.parametrize("path", ["/nope", "/api/v1/nope", "/api/v1/projects/x/y/z/w"])
def test_unknown_route_is_json_404(api, path):
    assert_error_body(requests.get(api.url + path, timeout=5), 404, "not_found")


def test_bad_json_is_400(api):
    r = requests.post(api.base + "/software_agents/api_token", data=b'{"agent_key": ',
                      headers={"Content-Type": "application/json"}, timeout=5)
    assert_error_body(r, 400, "validation_failed")


def test_bad_json_to_projects_is_400(settle, api):
    who = settle.login(api)
    r = requests.post(api.base + "/projects", data=b"[1, 2",
                      headers=dict(who["headers"], **{"Content-Type": "application/json"}),
                      timeout=5)
    assert_error_body(r, 400, "validation_failed")


def test_oversized_body_is_413(api):
    body = json.dumps({"agent_key": "x" * (1024 * 1024 + 16), "user_key": "y"}).encode()
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=15)
    try:
        conn.putrequest("POST", "/api/v1/software_agents/api_token")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        try:
            conn.send(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and close before reading it all
        resp = conn.getresponse()
        status, text = resp.status, resp.read().decode(errors="replace")
        ctype = resp.getheader("Content-Type", "")
    finally:
        conn.close()
    assert status == 413, f"{status} {text[:300]}"
    assert ctype.startswith("application/json"), ctype
    body = json.loads(text)
    assert body["error"] == 413 and body["code"] == "payload_too_large", body


def test_keep_alive(api):
    with requests.Session() as s:
        r1 = s.get(api.url + "/healthz", timeout=5)
        r2 = s.get(api.url + "/api/v1/nope", timeout=5)
        assert r1.status_code == 200 and r2.status_code == 404
        for r in (r1, r2):
            assert r.headers.get("Connection", "").lower() != "close", r.headers
    # The same socket serves both requests.
    conn = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        sock = conn.sock
        assert sock is not None, "server closed the connection after one request"
        local = sock.getsockname()
        conn.request("GET", "/readyz")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        assert conn.sock is sock and sock.getsockname() == local
    finally:
        conn.close()


# ---- processes ---------------------------------------------------------------------------

def wait_consuming(amqp, queue="settle.project.initialize", timeout=30, proc=None):
    def consuming():
        if proc is not None:
            assert proc.alive(), f"{proc.name} exited ({proc.returncode}):\n{proc.log_text()[-3000:]}"
        return amqp.consumers(queue) > 0
    wait_until(consuming, timeout, interval=0.2, what=f"a consumer on {queue}")


def test_sigterm_stops_api_and_worker(settle, amqp):
    api = settle.api()
    worker = settle.worker()
    wait_consuming(amqp, proc=worker)
    t0 = time.monotonic()
    assert api.stop(signal.SIGTERM, timeout=10) == 0, api.log_text()[-3000:]
    assert worker.stop(signal.SIGTERM, timeout=10) == 0, worker.log_text()[-3000:]
    assert time.monotonic() - t0 < 15


def insert_project(db):
    user_id, project_id = uuid.uuid4(), uuid.uuid4()
    container = f"project-{project_id.hex[:12]}"
    with db.cursor() as cur:
        cur.execute("INSERT INTO users (id, username) VALUES (%s, %s)",
                    (str(user_id), f"it-{user_id.hex[:10]}"))
        cur.execute("INSERT INTO projects (id, name, storage_container, created_by) "
                    "VALUES (%s, %s, %s, %s)",
                    (str(project_id), "restart test", container, str(user_id)))
        cur.execute("INSERT INTO project_members (project_id, user_id) VALUES (%s, %s)",
                    (str(project_id), str(user_id)))
    return project_id


def project_consistent(db, project_id):
    with db.cursor() as cur:
        cur.execute("SELECT is_consistent FROM projects WHERE id = %s", (str(project_id),))
        row = cur.fetchone()
        return bool(row and row[0])


def test_worker_survives_rabbitmq_restart(settle, amqp, db, rabbitmq):
    worker = settle.worker()
    wait_consuming(amqp, proc=worker)
    amqp.close()
    rabbitmq.restart()
    assert worker.alive(), f"worker died with RabbitMQ:\n{worker.log_text()[-3000:]}"
    project_id = insert_project(db)
    amqp.publish("project.initialize", job_message("project.initialize", project_id))
    wait_until(lambda: project_consistent(db, project_id), 60, interval=0.2,
               what="the project to become consistent after a RabbitMQ restart")
    assert worker.alive(), worker.log_text()[-3000:]
