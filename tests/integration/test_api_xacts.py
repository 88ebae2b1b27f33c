"""Postgres transactions per call of the upload flow a DDS client runs: each settle-api call
costs one transaction in the common case (a storage PUT two: one before the bytes, one
after them).

The counts come from pg_stat_database (xact_commit + xact_rollback) of a database of its
own that only settle-api uses (one HTTP thread, so one connection), with the relay off and
no worker; the test plays the worker's part by SQL outside the counted windows. A backend
publishes its counters when it exits, so a window is one settle-api process: started, some
calls of one kind, stopped. Each kind runs in two windows, one call then N - 1 calls: the
difference divided by N - 2 is the cost of one call, without what a process costs once
(its start, its readiness probe, preparing each statement on its connection)."""

import hashlib
import os

import psycopg2
import pytest
import requests

from settle_harness import wait_until

# It counts the transactions of a database of its own, which has no standby.
pytestmark = pytest.mark.no_standby_run("its own database, without a standby, counted")

N = 10  # calls of each kind, in two windows of 1 and N - 1

# What a window may count beyond its calls: settle-api refreshes its revocation cache (one
# transaction) when a request finds it older than 2 s, which a slow window can see twice.
# Two such transactions add 2 / (N - 2) to a cost; one more transaction per call adds 1.
SLACK = 2 / (N - 2)

# Transactions each call may cost (the storage PUT looks the chunk up before the body and
# records what storage computed after it, and the bytes come in between).
WANT = {
    "POST /projects/{id}/uploads": 1,
    "PUT {signed storage url}": 2,
    "PUT /uploads/{id}/complete": 1,
    "POST /files": 1,
    "GET /files/{id}/url (404 not consistent)": 1,
    "GET /files/{id}/url (200)": 1,
    "PUT /uploads/{id}/chunks": 1,
    "PUT /uploads/{id}/hashes": 1,
    "GET /uploads/{id}": 1,
    "POST /projects": 1,
    "POST /folders": 1,
    "DELETE /folders/{id}": 1,
    "DELETE /files/{id}": 1,
    "DELETE /projects/{id}": 1,
    "PUT /file_versions/{id}": 1,
    "POST /file_versions/{id}/current": 1,
    "DELETE /file_versions/{id}": 1,
    "PUT /current_user": 1,
    "POST /software_agents": 1,
    "PUT /software_agents/{id}": 1,
    "PUT /software_agents/{id}/api_key": 1,
    "DELETE /software_agents/{id}": 1,
    "POST /activities": 1,
    "PUT /activities/{id}": 1,
    "POST /relations/used": 1,
    "POST /relations/was_generated_by": 1,
    "POST /relations/was_derived_from": 1,
    "POST /search/provenance": 1,
    "POST /relations/was_invalidated_by": 1,
    "DELETE /relations/{id}": 1,
    "DELETE /activities/{id}": 1,
    "PUT /trashbin/dds-folder/{id}/restore": 1,
    "PUT /trashbin/dds-file/{id}/purge": 1,
}


def _sql(url, statements):
    """Runs statements (sql, args) on a short-lived autocommit connection to url."""
    conn = psycopg2.connect(url)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            for sql, args in statements:
                cur.execute(sql, args)
    finally:
        conn.close()


class Counter:
    """Reads the transaction count of one database from a connection to another one."""

    def __init__(self, postgres, dbname):
        self.conn = psycopg2.connect(postgres.url("postgres"))
        self.conn.autocommit = True
        self.dbname = dbname

    def _one(self, sql):
        with self.conn.cursor() as cur:
            cur.execute(sql, (self.dbname,))
            return cur.fetchone()[0]

    def read(self):
        # A backend flushes its counters before it leaves pg_stat_activity.
        wait_until(lambda: self._one("SELECT count(*) = 0 FROM pg_stat_activity"
                                     " WHERE datname = %s"), 30,
                   interval=0.05, what="the database's backends to exit")
        return self._one("SELECT xact_commit + xact_rollback FROM pg_stat_database"
                         " WHERE datname = %s")

    def close(self):
        self.conn.close()


def test_upload_flow_transactions(settle, postgres, fresh_database):
    url = fresh_database("settle_xacts")
    env = {"SETTLE_DATABASE_URL": url, "SETTLE_RELAY": "off", "SETTLE_THREADS": "1"}
    settle.cli("migrate", **env)
    # Autovacuum would add transactions of its own to the counts, on the system catalogs too
    # (a table's autovacuum_enabled does not cover those): it is off for the whole server
    # while this test counts, and back on after it.
    admin = postgres.url("postgres")
    _sql(admin, [("ALTER SYSTEM SET autovacuum = off", None), ("SELECT pg_reload_conf()", None)])
    try:
        _count_calls(settle, postgres, url, env)
    finally:
        _sql(admin, [("ALTER SYSTEM RESET autovacuum", None), ("SELECT pg_reload_conf()", None)])


def _count_calls(settle, postgres, url, env):
    dbname = url.rsplit("/", 1)[1]
    _, user_key = settle.create_user(**env)
    _, agent_key = settle.create_agent(**env)
    counter = Counter(postgres, dbname)
    state = {}

    def window(calls):
        before = counter.read()
        api = settle.api(**env)
        try:
            calls(api)
        finally:
            assert api.stop() == 0
        return counter.read() - before

    def setup(api):
        r = requests.post(f"{api.base}/software_agents/api_token",
                          json={"agent_key": agent_key, "user_key": user_key}, timeout=10)
        assert r.status_code == 201, r.text
        state["h"] = {"Authorization": r.json()["api_token"]}
        r = requests.post(f"{api.base}/projects", json={"name": "xacts", "description": "d"},
                          headers=state["h"], timeout=10)
        assert r.status_code == 202, r.text
        state["project"] = r.json()["id"]

    def call(api, method, path, want, **kw):
        r = requests.request(method, api.base + path, headers=state["h"], timeout=30, **kw)
        assert r.status_code == want, f"{method} {path}: {r.status_code} {r.text[:300]}"
        return r.json()

    data = [f"file {i} ".encode() * 100 for i in range(N)]
    md5s = [hashlib.md5(d).hexdigest() for d in data]
    plain, chunked, urls, files, projects, folders, agents = {}, {}, {}, {}, {}, {}, {}
    versions, acts, rels = {}, {}, {}

    # Each of these makes the calls of one kind for the items (indexes into data) given.
    def create(api, items):
        for i in items:
            u = call(api, "POST", f"/projects/{state['project']}/uploads", 201,
                     json={"name": f"f{i}.bin", "content_type": "application/octet-stream",
                           "size": len(data[i]), "chunked": False,
                           "hash": {"value": md5s[i], "algorithm": "md5"}})
            plain[i], urls[i] = u["id"], u["signed_url"]["url"]
            u = call(api, "POST", f"/projects/{state['project']}/uploads", 201,
                     json={"name": f"c{i}.bin", "size": len(data[i])})
            chunked[i] = u["id"]

    def storage_put(api, items):
        for i in items:
            r = requests.put(api.url + urls[i], data=data[i], timeout=30)
            assert r.status_code == 201, r.text

    def complete(api, items):
        for i in items:
            b = call(api, "PUT", f"/uploads/{plain[i]}/complete", 202,
                     json={"hash": {"value": md5s[i], "algorithm": "md5"}})
            assert b["status"]["completed_on"] is not None, b

    def create_file(api, items):
        for i in items:
            f = call(api, "POST", "/files", 201,
                     json={"parent": {"kind": "dds-project", "id": state["project"]},
                           "upload": {"id": plain[i]}})
            assert f["current_version"]["upload"]["id"] == plain[i], f
            files[i], versions[i] = f["id"], f["current_version"]["id"]

    def url_pending(api, items):
        for i in items:
            r = requests.get(f"{api.base}/files/{files[i]}/url", headers=state["h"], timeout=30)
            assert r.status_code == 404 and r.json()["code"] == "resource_not_consistent", r.text

    def url_ready(api, items):
        if not state.get("verified"):
            # The worker's part (before the window is counted): the uploads verified.
            _sql(url, [("UPDATE uploads SET is_consistent = true, consistent_at = now()"
                        " WHERE id = ANY(%s::uuid[])", (list(plain.values()),))])
            state["verified"] = True
            return
        for i in items:
            call(api, "GET", f"/files/{files[i]}/url", 200)

    def chunks(api, items):
        for i in items:
            call(api, "PUT", f"/uploads/{chunked[i]}/chunks", 200,
                 json={"number": 1, "size": len(data[i]),
                       "hash": {"value": md5s[i], "algorithm": "md5"}})

    def hashes(api, items):
        for i in items:
            sha1 = hashlib.sha1(data[i]).hexdigest()
            u = call(api, "PUT", f"/uploads/{plain[i]}/hashes", 200,
                     json={"value": sha1, "algorithm": "sha1"})
            assert {"algorithm": "sha1", "value": sha1, "verified": False} in u["hashes"], u

    def get_upload(api, items):
        for i in items:
            assert call(api, "GET", f"/uploads/{plain[i]}", 200)["id"] == plain[i]

    def create_project(api, items):
        for i in items:
            projects[i] = call(api, "POST", "/projects", 202, json={"name": f"p{i}"})["id"]

    def create_folder(api, items):
        for i in items:
            folders[i] = call(api, "POST", "/folders", 201,
                              json={"name": f"d{i}", "parent": {"kind": "dds-project",
                                                                "id": state["project"]}})["id"]

    def label(api, items):
        for i in items:
            assert call(api, "PUT", f"/file_versions/{versions[i]}", 200,
                        json={"label": f"l{i}"})["label"] == f"l{i}"

    def second_versions():
        # Each file gets a version 2 (on the same upload, as a promotion makes), so that
        # version 1 is an older one (before the window is counted).
        _sql(url, [("INSERT INTO file_versions (id, file_id, version, upload_id, created_by,"
                    " promoted) SELECT gen_random_uuid(), file_id, 2, upload_id, created_by,"
                    " true FROM file_versions WHERE id = ANY(%s::uuid[])",
                    (list(versions.values()),))])

    def promote(api, items):
        for i in items:
            v = call(api, "POST", f"/file_versions/{versions[i]}/current", 201)
            assert v["version"] == 3, v

    def set_email(api, items):
        for i in items:
            assert call(api, "PUT", "/current_user", 200,
                        json={"email": f"u{i}@example.org"})["email"] == f"u{i}@example.org"

    def create_agent(api, items):
        for i in items:
            agents[i] = call(api, "POST", "/software_agents", 201, json={"name": f"a{i}"})["id"]

    def update_agent(api, items):
        for i in items:
            call(api, "PUT", f"/software_agents/{agents[i]}", 200, json={"description": "d"})

    def rekey_agent(api, items):
        for i in items:
            assert len(call(api, "PUT", f"/software_agents/{agents[i]}/api_key", 200)["key"]) == 64

    def create_activity(api, items):
        for i in items:
            acts[i] = call(api, "POST", "/activities", 201, json={"name": f"a{i}"})["id"]

    def update_activity(api, items):
        for i in items:
            call(api, "PUT", f"/activities/{acts[i]}", 200,
                 json={"ended_on": "2030-01-01T00:00:00Z"})

    def relate(kind, version):
        def run(api, items):
            for i in items:
                r = call(api, "POST", f"/relations/{kind}", 201, json={
                    "activity": {"id": acts[i]},
                    "entity": {"kind": "dds-file-version", "id": version(i)}})
                rels.setdefault(i, r["id"])
        return run

    def derive(api, items):
        for i in items:
            call(api, "POST", "/relations/was_derived_from", 201, json={
                "used_entity": {"kind": "dds-file-version", "id": versions[i]},
                "generated_entity": {"kind": "dds-file-version", "id": versions[(i + 1) % N]}})

    def search(api, items):
        for i in items:
            g = call(api, "POST", "/search/provenance", 201, json={
                "start_node": {"kind": "dds-file-version", "id": versions[i]}, "max_hops": 2})
            assert g["graph"]["relationships"], g

    def drop(kind, ids):
        def run(api, items):
            for i in items:
                r = requests.delete(f"{api.base}/{kind}/{ids[i]}", headers=state["h"],
                                    timeout=30)
                assert r.status_code == 204, r.text
        return run

    def delete(kind, ids):
        def run(api, items):
            for i in items:
                assert call(api, "DELETE", f"/{kind}/{ids[i]}", 202)["is_deleted"] is True
        return run

    def trashbin(kind, ids, what, want):
        def run(api, items):
            for i in items:
                r = requests.put(f"{api.base}/trashbin/{kind}/{ids[i]}/{what}",
                                 headers=state["h"], timeout=30)
                assert r.status_code == want, r.text
        return run

    got = {}
    try:
        window(setup)
        # The worker's part: the project initialised (its storage container made).
        os.makedirs(os.path.join(settle.env()["SETTLE_STORAGE_DIR"], state["project"]))
        _sql(url, [("UPDATE projects SET is_consistent = true WHERE id = %s",
                    (state["project"],))])
        for name, calls, per_item in [
                ("POST /projects/{id}/uploads", create, 2),
                ("PUT {signed storage url}", storage_put, 1),
                ("PUT /uploads/{id}/complete", complete, 1),
                ("POST /files", create_file, 1),
                ("POST /activities", create_activity, 1),
                ("PUT /activities/{id}", update_activity, 1),
                ("POST /relations/used", relate("used", lambda i: versions[i]), 1),
                ("POST /relations/was_generated_by",
                 relate("was_generated_by", lambda i: versions[(i + 1) % N]), 1),
                ("POST /relations/was_derived_from", derive, 1),
                ("POST /search/provenance", search, 1),
                ("GET /files/{id}/url (404 not consistent)", url_pending, 1),
                ("GET /files/{id}/url (200)", url_ready, 1),
                ("PUT /uploads/{id}/chunks", chunks, 1),
                ("PUT /uploads/{id}/hashes", hashes, 1),
                ("GET /uploads/{id}", get_upload, 1),
                ("POST /projects", create_project, 1),
                ("POST /folders", create_folder, 1),
                ("DELETE /folders/{id}", delete("folders", folders), 1),
                ("PUT /file_versions/{id}", label, 1),
                ("POST /file_versions/{id}/current", promote, 1),
                ("DELETE /file_versions/{id}", drop("file_versions", versions), 1),
                ("PUT /current_user", set_email, 1),
                ("PUT /trashbin/dds-folder/{id}/restore",
                 trashbin("dds-folder", folders, "restore", 200), 1),
                ("DELETE /files/{id}", delete("files", files), 1),
                ("PUT /trashbin/dds-file/{id}/purge", trashbin("dds-file", files, "purge", 204),
                 1),
                ("POST /relations/was_invalidated_by",
                 relate("was_invalidated_by", lambda i: versions[i]), 1),
                ("DELETE /relations/{id}", drop("relations", rels), 1),
                ("DELETE /activities/{id}", drop("activities", acts), 1),
                ("DELETE /projects/{id}", delete("projects", projects), 1),
                ("POST /software_agents", create_agent, 1),
                ("PUT /software_agents/{id}", update_agent, 1),
                ("PUT /software_agents/{id}/api_key", rekey_agent, 1),
                ("DELETE /software_agents/{id}", drop("software_agents", agents), 1)]:
            if calls is url_ready:
                url_ready(None, [])
            if calls is promote:
                second_versions()
            one = window(lambda api: calls(api, range(1)))
            rest = window(lambda api: calls(api, range(1, N)))
            got[name] = (rest - one) / ((N - 2) * per_item)
    finally:
        counter.close()
    table = "\n".join(f"  {name}: {cost:g} (want {WANT[name]})" for name, cost in got.items())
    print(f"\ntransactions per call:\n{table}")
    assert all(got[name] <= WANT[name] + SLACK for name in WANT), f"transactions per call:\n{table}"
