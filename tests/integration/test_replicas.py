"""Replicas and consistency sessions (issue 11, API.md "Consistency sessions"): settle-api
with a streaming standby that applies the WAL 2 s late (the `standby` fixture), so that a
read the standby serves cannot see a write made just before, and one the primary serves
always does."""

import hashlib
import os
import re
import select
import signal
import socket
import threading
import time
import uuid

import pytest
import requests

from settle_harness import free_port, pid_alive, wait_until

STANDBY_DELAY_MS = 2000
TIMEOUT = 30
N = 20


@pytest.fixture
def replica_api(settle, standby):
    """settle-api (jobs inline) reading from the delayed standby."""
    api = settle.api(SETTLE_QUEUE="inline", SETTLE_DATABASE_REPLICA_URLS=standby.url())
    time.sleep(0.5)  # the position poller has seen the standby
    return api


class Client(requests.Session):
    """A requests.Session (it keeps cookies) with a base URL and a token."""

    def __init__(self, api, who):
        super().__init__()
        self.base = api.base
        self.headers.update(who["headers"])

    def request(self, method, path, **kw):
        kw.setdefault("timeout", TIMEOUT)
        return super().request(method, self.base + path, **kw)


def metric(api, name):
    """The value of one sample of settle-api's /metrics (0 when absent)."""
    for line in requests.get(f"{api.url}/metrics", timeout=TIMEOUT).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


def new_project(c):
    r = c.post("/projects", json={"name": "replicated", "description": "d"})
    assert r.status_code == 202, r.text
    pid = r.json()["id"]
    wait_until(lambda: c.get(f"/projects/{pid}").json()["is_consistent"], 20,
               what="project consistent")
    return pid


def new_folder(c, pid, name="f"):
    r = c.post("/folders", json={"name": name, "parent": {"kind": "dds-project", "id": pid}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_cookie_reads_its_writes_through_a_delayed_standby(settle, replica_api):
    c = Client(replica_api, settle.login(replica_api))
    pid = new_project(c)
    for i in range(N):
        fid = new_folder(c, pid, f"cookie-{i}")
        r = c.get(f"/folders/{fid}")
        assert r.status_code == 200, f"read {i} after its write: {r.status_code} {r.text}"
        assert "Cookie" in r.headers.get("Vary", ""), r.headers
        assert "SESSION" in c.cookies
    assert metric(replica_api, "settle_session_fallbacks_total") >= N
    assert metric(replica_api, 'settle_reads_total{served="primary"}') >= N
    set_cookie = r.headers["Set-Cookie"]
    assert "Path=/" in set_cookie and "HttpOnly" in set_cookie and "SameSite=Lax" in set_cookie


def test_without_cookie_reads_go_to_the_primary(settle, replica_api):
    who = settle.login(replica_api)
    c = Client(replica_api, who)
    pid = new_project(c)
    for i in range(N):
        fid = new_folder(c, pid, f"plain-{i}")
        r = requests.get(f"{replica_api.base}/folders/{fid}", headers=who["headers"],
                         timeout=TIMEOUT)
        assert r.status_code == 200, f"read {i} without a cookie: {r.status_code} {r.text}"


def test_max_stale_reads_come_from_the_standby(settle, replica_api):
    who = settle.login(replica_api)
    c = Client(replica_api, who)
    pid = new_project(c)
    stale = dict(who["headers"], **{"Cache-Control": "max-stale"})
    ids, missed = [], 0
    for i in range(N):
        ids.append(new_folder(c, pid, f"stale-{i}"))
        r = requests.get(f"{replica_api.base}/folders/{ids[-1]}", headers=stale,
                         timeout=TIMEOUT)
        assert r.status_code in (200, 404), r.text
        missed += r.status_code == 404
    assert missed >= 15, f"only {missed}/{N} max-stale reads missed the write just made"
    assert metric(replica_api, 'settle_reads_total{served="standby"}') >= missed
    assert metric(replica_api, 'settle_standby_up{standby="1"}') == 1
    time.sleep(STANDBY_DELAY_MS / 1000 + 1)
    for fid in ids:
        r = requests.get(f"{replica_api.base}/folders/{fid}", headers=stale, timeout=TIMEOUT)
        assert r.status_code == 200, r.text


def test_cookie_works_in_another_api_process_and_a_forged_one_is_replaced(
        settle, standby, replica_api):
    other = settle.api(SETTLE_QUEUE="inline", SETTLE_DATABASE_REPLICA_URLS=standby.url())
    who = settle.login(replica_api)
    c = Client(replica_api, who)
    pid = new_project(c)
    time.sleep(0.5)
    forged_misses = 0
    for i in range(N):
        fid = new_folder(c, pid, f"copied-{i}")
        cookie = c.cookies["SESSION"]
        # A fresh client of the other process, with the copied cookie and accepting stale
        # answers: the cookie still makes it read the write.
        h = dict(who["headers"], **{"Cache-Control": "max-stale", "Cookie": f"SESSION={cookie}"})
        r = requests.get(f"{other.base}/folders/{fid}", headers=h, timeout=TIMEOUT)
        assert r.status_code == 200, f"copied cookie, read {i}: {r.status_code} {r.text}"
        forged = cookie[:-1] + ("0" if cookie[-1] != "0" else "1")
        h["Cookie"] = f"SESSION={forged}"
        r = requests.get(f"{other.base}/folders/{fid}", headers=h, timeout=TIMEOUT)
        assert r.status_code in (200, 404), r.text
        forged_misses += r.status_code == 404
        assert r.cookies.get("SESSION") not in (None, forged), r.headers
    assert forged_misses >= 15, f"a forged cookie was honoured ({forged_misses}/{N} misses)"


def test_write_concern(settle, replica_api):
    who = settle.login(replica_api)
    c = Client(replica_api, who)
    pid = new_project(c)
    body = {"name": "w2", "parent": {"kind": "dds-project", "id": pid}}
    started = time.monotonic()
    r = c.post("/folders?w=2", json=body)
    took = time.monotonic() - started
    assert r.status_code == 201, r.text
    assert took >= STANDBY_DELAY_MS / 1000 - 0.1, f"w=2 answered after {took:.2f}s"
    assert metric(replica_api, "settle_write_concern_waits_total") == 1
    stale = dict(who["headers"], **{"Cache-Control": "max-stale"})
    r = requests.get(f"{replica_api.base}/folders/{r.json()['id']}", headers=stale,
                     timeout=TIMEOUT)
    assert r.status_code == 200, f"max-stale read after w=2: {r.text}"
    started = time.monotonic()
    r = c.post("/folders?w=1", json=dict(body, name="w1"))
    took = time.monotonic() - started
    assert r.status_code == 201, r.text
    assert took < STANDBY_DELAY_MS / 1000 * 0.75, f"w=1 waited {took:.2f}s for the standby"
    for w in ("3", "0", "abc", "-1", ""):
        r = c.post(f"/folders?w={w}", json=dict(body, name=f"bad-{w}"))
        assert r.status_code == 400 and r.json()["code"] == "validation_failed", (w, r.text)
    names = [x["name"] for x in c.get(f"/projects/{pid}/children").json()["results"]]
    assert sorted(names) == ["w1", "w2"], names


def test_write_concern_timeout_keeps_the_write(settle, standby):
    api = settle.api(SETTLE_QUEUE="inline", SETTLE_DATABASE_REPLICA_URLS=standby.url(),
                     SETTLE_WRITE_CONCERN_TIMEOUT_MS="300")
    c = Client(api, settle.login(api))
    pid = new_project(c)
    r = c.post("/folders?w=2", json={"name": "late", "parent": {"kind": "dds-project",
                                                               "id": pid}})
    assert r.status_code == 504 and r.json()["code"] == "write_concern_timeout", r.text
    assert metric(api, "settle_write_concern_timeouts_total") == 1
    names = [x["name"] for x in c.get(f"/projects/{pid}/children").json()["results"]]
    assert names == ["late"], names


def test_write_concern_with_prefer_wait(settle, standby):
    """?w=2 with Prefer: wait: the answer waits for the project to become consistent and then
    for the standby to replay the write, neither wait holding an HTTP thread (SETTLE_THREADS=1
    here, and /healthz answers while three such writes wait)."""
    api = settle.api(SETTLE_QUEUE="inline", SETTLE_DATABASE_REPLICA_URLS=standby.url(),
                     SETTLE_THREADS="1")
    time.sleep(0.5)
    who = settle.login(api)
    stale = dict(who["headers"], **{"Cache-Control": "max-stale"})
    answers = {}

    def create(i):
        started = time.monotonic()
        r = requests.post(f"{api.base}/projects?w=2", json={"name": f"waited-{i}"},
                          headers=dict(who["headers"], Prefer="wait=10"), timeout=TIMEOUT)
        answers[i] = (r, time.monotonic() - started, time.monotonic())

    writers = [threading.Thread(target=create, args=(i,)) for i in range(3)]
    for t in writers:
        t.start()
    time.sleep(0.5)
    assert requests.get(f"{api.url}/healthz", timeout=TIMEOUT).status_code == 200
    healthy_at = time.monotonic()
    for t in writers:
        t.join()
    for i, (r, took, done_at) in answers.items():
        assert r.status_code == 201, r.text
        assert r.json()["is_consistent"] and r.headers.get("Preference-Applied"), r.text
        assert took >= STANDBY_DELAY_MS / 1000 - 0.1, f"w=2 answered after {took:.2f}s"
        assert done_at > healthy_at, "a waiting write held the only HTTP thread"
        got = requests.get(f"{api.base}/projects/{r.json()['id']}", headers=stale,
                           timeout=TIMEOUT)
        assert got.status_code == 200, f"max-stale read after w=2 and Prefer: wait: {got.text}"
    assert metric(api, "settle_write_concern_waits_total") == 3


def test_write_concern_with_prefer_wait_times_out(settle, standby):
    api = settle.api(SETTLE_QUEUE="inline", SETTLE_DATABASE_REPLICA_URLS=standby.url(),
                     SETTLE_WRITE_CONCERN_TIMEOUT_MS="300")
    time.sleep(0.5)
    c = Client(api, settle.login(api))
    r = c.post("/projects?w=2", json={"name": "late-waited"}, headers={"Prefer": "wait=10"})
    assert r.status_code == 504 and r.json()["code"] == "write_concern_timeout", r.text
    assert metric(api, "settle_write_concern_timeouts_total") == 1
    names = [p["name"] for p in c.get("/projects").json()["results"]]
    assert "late-waited" in names, names


def upload_file(c, pid, data):
    """The upload flow of API.md through client c; returns the file id."""
    md5 = hashlib.md5(data).hexdigest()
    r = c.post(f"/projects/{pid}/uploads", json={"name": "d.bin", "size": len(data)})
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    r = c.put(f"/uploads/{uid}/chunks",
              json={"number": 1, "size": len(data), "hash": {"value": md5, "algorithm": "md5"}})
    assert r.status_code == 200, r.text
    put = requests.put(r.json()["host"] + r.json()["url"], data=data, timeout=TIMEOUT)
    assert put.status_code == 201, put.text
    r = c.put(f"/uploads/{uid}/complete", json={"hash": {"value": md5, "algorithm": "md5"}})
    assert r.status_code == 202, r.text
    r = c.post("/files", json={"parent": {"kind": "dds-project", "id": pid},
                               "upload": {"id": uid}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_download_url_carries_its_position(settle, standby, replica_api):
    """A download URL issued right after the upload became consistent, fetched at once by a
    client with no cookie, is served correctly (the standby lags, so the primary serves it);
    once the standby has replayed the URL's position, the standby serves it. The position
    is signed: altered or left out, the URL is refused like a bad signature. Without
    standbys the URL carries no position."""
    who = settle.login(replica_api)
    c = Client(replica_api, who)
    pid = new_project(c)
    data = os.urandom(300 * 1024)
    fid = upload_file(c, pid, data)
    r = c.get(f"/files/{fid}/url", headers={"Prefer": "wait=20"})
    assert r.status_code == 200, r.text
    url = r.json()["host"] + r.json()["url"]
    assert re.search(r"[?&]lsn=[0-9a-f]{16}&", url), url
    got = requests.get(url, timeout=TIMEOUT)
    assert got.status_code == 200 and got.content == data, (got.status_code, got.text[:200])
    listed = c.get(f"/projects/{pid}/files").json()["results"][0]["file_url"]
    assert re.search(r"[?&]lsn=[0-9a-f]{16}&", listed["url"]), listed

    time.sleep(STANDBY_DELAY_MS / 1000 + 1)
    before = metric(replica_api, 'settle_reads_total{served="standby"}')
    got = requests.get(url, timeout=TIMEOUT)
    assert got.status_code == 200 and got.content == data, (got.status_code, got.text[:200])
    head = requests.head(listed["host"] + listed["url"], timeout=TIMEOUT)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(data)
    assert metric(replica_api, 'settle_reads_total{served="standby"}') >= before + 2

    bad_sig = re.sub(r"signature=([0-9a-f])", lambda m: "signature=" + "01"[m.group(1) == "0"],
                     url)
    pos = re.search(r"lsn=([0-9a-f]{16})", url).group(1)
    altered = url.replace(f"lsn={pos}", f"lsn={int(pos, 16) - 1:016x}")
    dropped = url.replace(f"lsn={pos}&", "")
    refused = requests.get(bad_sig, timeout=TIMEOUT)
    assert refused.status_code == 403, refused.text
    for u in (altered, dropped):
        r = requests.get(u, timeout=TIMEOUT)
        assert (r.status_code, r.json()["code"]) == (403, refused.json()["code"]), (u, r.text)

    plain = settle.api(SETTLE_QUEUE="inline")
    r = requests.get(f"{plain.base}/files/{fid}/url", headers=who["headers"], timeout=TIMEOUT)
    assert r.status_code == 200 and "lsn=" not in r.json()["url"], r.text


def test_write_concern_without_standbys(settle):
    api = settle.api(SETTLE_QUEUE="inline")
    who = settle.login(api)
    c = Client(api, who)
    pid = new_project(c)
    body = {"name": "plain", "parent": {"kind": "dds-project", "id": pid}}
    r = c.post("/folders?w=2", json=body)
    assert r.status_code == 400 and r.json()["code"] == "validation_failed", r.text
    r = c.post("/folders?w=1", json=body)
    assert r.status_code == 201, r.text
    # No standbys: no cookie, nothing varies with it.
    assert "Set-Cookie" not in r.headers and "Cookie" not in r.headers.get("Vary", "")


class TurnProxy:
    """A TCP proxy in front of a Postgres that counts, per connection, the client's turns:
    the times the client sends something after the server's last answer reached it. What
    the client sends before an answer is delivered belongs to the same turn: answers are
    held HOLD seconds, and whatever the client sent meanwhile is forwarded first, so that
    two writes a client makes without waiting (a pipeline) never count as two turns."""

    HOLD = 0.05

    def __init__(self, target_port):
        self.target = target_port
        self.port = free_port()
        self.turns = {}  # connection number -> turns
        self.sent = {}  # connection number -> what the client sent
        self.starts = {}  # connection number -> where each turn starts in sent
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def url(self, dbname="settle"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}?sslmode=disable"

    def close(self):
        self.closed = True
        self.listener.close()

    def _accept(self):
        n = 0
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            n += 1
            server = socket.create_connection(("127.0.0.1", self.target))
            with self.lock:
                self.turns[n], self.sent[n], self.starts[n] = 0, bytearray(), []
            threading.Thread(target=self._pump, args=(n, client, server), daemon=True).start()

    def _from_client(self, n, client, server, answered):
        data = client.recv(65536)
        if not data:
            return None
        with self.lock:
            if answered:
                self.turns[n] += 1
                self.starts[n].append(len(self.sent[n]))
            self.sent[n] += data
        server.sendall(data)
        return False

    def _pump(self, n, client, server):
        answered = True
        try:
            while not self.closed:
                ready, _, _ = select.select([client, server], [], [], 0.5)
                if client in ready:
                    answered = self._from_client(n, client, server, answered)
                    if answered is None:
                        return
                if server in ready:
                    data = server.recv(65536)
                    if not data:
                        return
                    time.sleep(self.HOLD)
                    while select.select([client], [], [], 0)[0]:
                        if self._from_client(n, client, server, answered) is None:
                            return
                        answered = False
                    client.sendall(data)
                    answered = True
        except OSError:
            pass
        finally:
            client.close()
            server.close()

    def snapshot(self):
        with self.lock:
            return dict(self.turns)

    def last_turns(self, n, count):
        """What the client sent in each of its last `count` turns on connection n."""
        with self.lock:
            starts = self.starts[n][-count:] + [len(self.sent[n])]
            return [bytes(self.sent[n][a:b]) for a, b in zip(starts, starts[1:])]

    def connection_that_sent(self, marker):
        with self.lock:
            found = [n for n, sent in self.sent.items() if marker.encode() in sent]
        assert len(found) == 1, f"{len(found)} connections sent {marker}"
        return found[0]


@pytest.fixture
def turn_proxy(postgres):
    proxy = TurnProxy(postgres.port)
    yield proxy
    proxy.close()


def _folder_turns(api, who, pid, proxy):
    """The turns on settle-api's connection to the primary of one POST /folders, once the
    statement is prepared (a first folder prepared it)."""
    c = Client(api, who)
    new_folder(c, pid, f"warm-{uuid.uuid4().hex}")
    name = f"counted-{uuid.uuid4().hex}"
    before = proxy.snapshot()
    new_folder(c, pid, name)
    conn = proxy.connection_that_sent(name)
    turns = proxy.turns[conn] - before[conn]
    return turns, proxy.last_turns(conn, turns)


def test_a_single_statement_write_costs_no_round_trip_for_its_position(
        settle, standby, turn_proxy):
    """The position of a write made of one statement comes in the round trip of the write
    itself (a pipeline): with a standby, POST /folders costs as many round trips to the
    primary as without one."""
    env = dict(SETTLE_QUEUE="inline", SETTLE_THREADS="1", SETTLE_DATABASE_URL=turn_proxy.url())
    plain = settle.api(**env)
    replicated = settle.api(SETTLE_DATABASE_REPLICA_URLS=standby.url(), **env)
    who = settle.login(replicated)
    pid = new_project(Client(replicated, who))
    without, plain_sent = _folder_turns(plain, who, pid, turn_proxy)
    with_standby, sent = _folder_turns(replicated, who, pid, turn_proxy)
    assert without >= 1, plain_sent
    assert with_standby == without, f"without standbys {plain_sent}, with one {sent}"


def test_a_cookie_read_waits_for_the_standby_to_replay_the_write(settle, standby):
    """The position a write's cookie carries is after its COMMIT: a cookie read that may wait
    for the delayed standby is served by it, and finds the folder."""
    api = settle.api(SETTLE_QUEUE="inline", SETTLE_DATABASE_REPLICA_URLS=standby.url(),
                     SETTLE_SESSION_WAIT_MS=str(STANDBY_DELAY_MS * 5))
    c = Client(api, settle.login(api))
    pid = new_project(c)
    served = metric(api, 'settle_reads_total{served="standby"}')
    for i in range(3):
        fid = new_folder(c, pid, f"replayed-{i}")
        r = c.get(f"/folders/{fid}")
        assert r.status_code == 200, f"read {i} after its write: {r.status_code} {r.text}"
    assert metric(api, 'settle_reads_total{served="standby"}') == served + 3
    assert metric(api, "settle_session_fallbacks_total") == 0


def _lsn(text):
    hi, lo = text.split("/")
    return (int(hi, 16) << 32) | int(lo, 16)


def test_a_primary_read_gives_a_cookie_at_or_past_what_it_saw(settle, replica_api, db):
    """Monotonic reads: the cookie of a read served by the primary is at or past everything
    the read saw, here a rename made beside settle-api (as a worker's commit is), else the
    client's next read, through a standby that has replayed only up to the cookie, could see
    the old name again. The position comes in the read's own round trip, not from the
    poller (which looks every 10 ms and would mostly be behind)."""
    who = settle.login(replica_api)
    pid = new_project(Client(replica_api, who))
    fid = new_folder(Client(replica_api, who), pid, "renamed")
    for i in range(N):
        with db.cursor() as cur:
            cur.execute("UPDATE folders SET name = %s WHERE id = %s", (f"renamed-{i}", fid))
            cur.execute("SELECT pg_current_wal_insert_lsn()")
            wrote = _lsn(cur.fetchone()[0])
        r = requests.get(f"{replica_api.base}/folders/{fid}", headers=who["headers"],
                         timeout=TIMEOUT)
        assert r.status_code == 200 and r.json()["name"] == f"renamed-{i}", r.text
        cookie = int(r.cookies["SESSION"].split(".")[0], 16)
        assert cookie >= wrote, f"read {i}: cookie at {cookie:x}, the rename it saw at {wrote:x}"


def test_a_read_the_standby_loses_runs_again_on_the_primary(settle, standby, replica_api):
    who = settle.login(replica_api)
    c = Client(replica_api, who)
    pid = new_project(c)
    stale = dict(who["headers"], **{"Cache-Control": "max-stale"})
    fid = new_folder(c, pid, "old")
    time.sleep(STANDBY_DELAY_MS / 1000 + 1)

    def read():
        return requests.get(f"{replica_api.base}/folders/{fid}", headers=stale,
                            timeout=TIMEOUT).status_code

    assert [read() for _ in range(8)] == [200] * 8  # every HTTP thread has a connection
    standby.psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                 "WHERE datname = 'settle' AND pid <> pg_backend_pid()")
    time.sleep(1)  # the poller has reconnected; the HTTP threads' connections are dead
    assert [read() for _ in range(8)] == [200] * 8
    assert "standby_failed" in replica_api.log_text()


def test_a_dead_standby_costs_no_request_an_error(settle, standby, replica_api):
    who = settle.login(replica_api)
    c = Client(replica_api, who)
    pid = new_project(c)
    stale = dict(who["headers"], **{"Cache-Control": "max-stale"})
    fid = new_folder(c, pid, "before")
    assert c.get(f"/folders/{fid}").status_code == 200
    os.kill(standby.pid, signal.SIGKILL)
    wait_until(lambda: not pid_alive(standby.pid), 10, what="standby postmaster gone")
    try:
        wait_until(lambda: requests.get(f"{replica_api.url}/readyz", timeout=TIMEOUT)
                   .json().get("status") == "degraded", 10, what="/readyz degraded")
        ready = requests.get(f"{replica_api.url}/readyz", timeout=TIMEOUT)
        assert ready.status_code == 200, ready.text
        assert ready.json()["standbys"][0]["up"] is False, ready.text
        for i in range(N):
            fid = new_folder(c, pid, f"dead-{i}")
            assert c.get(f"/folders/{fid}").status_code == 200
            r = requests.get(f"{replica_api.base}/folders/{fid}", headers=stale,
                             timeout=TIMEOUT)
            assert r.status_code == 200, f"max-stale read {i}, standby dead: {r.text}"
    finally:
        wait_until(_restart(standby), 30, interval=0.5, what="standby restarted")

    def served_by_standby():
        fid = new_folder(c, pid, "back")
        r = requests.get(f"{replica_api.base}/folders/{fid}", headers=stale, timeout=TIMEOUT)
        return r.status_code == 404

    wait_until(served_by_standby, 10, interval=0.2, what="reads back on the standby")
    ready = requests.get(f"{replica_api.url}/readyz", timeout=TIMEOUT).json()
    assert ready["status"] == "ready" and ready["standbys"][0]["up"] is True, ready


def _restart(standby):
    """A predicate that tries to start the standby again (its killed children may still
    hold its shared memory for a moment)."""
    def attempt():
        try:
            standby.start()
            return True
        except RuntimeError:
            return False
    return attempt


def _grant(c, pid, user_id, role):
    r = c.put(f"/projects/{pid}/permissions/{user_id}", json={"auth_role": {"id": role}})
    assert r.status_code == 200, r.text


class _Paused:
    """Pauses the standby's replay for the with block (resumed after it, even on failure)."""

    def __init__(self, standby):
        self.standby = standby

    def __enter__(self):
        self.standby.psql("SELECT pg_wal_replay_pause()")
        return self

    def __exit__(self, *exc):
        self.standby.psql("SELECT pg_wal_replay_resume()")


def test_a_stale_read_never_serves_a_revoked_permission(settle, standby, replica_api):
    """Issue 18 item 2: Cache-Control: max-stale may serve stale data, never a stale
    permission. With the standby paused after it replayed a grant, the grant is revoked
    (DELETE permission): the downloader's max-stale reads answer 403 (no download URL),
    through the settle-api that revoked and through another one, and the project leaves
    their list; a disabled user's token is refused as on the primary."""
    other = settle.api(SETTLE_QUEUE="inline", SETTLE_DATABASE_REPLICA_URLS=standby.url())
    admin_who = settle.login(replica_api)
    admin = Client(replica_api, admin_who)
    pid = new_project(admin)
    fid = upload_file(admin, pid, os.urandom(1000))
    downloader = settle.login(replica_api)
    disabled = settle.login(replica_api)
    for who in (downloader, disabled):
        _grant(admin, pid, who["user_id"], "file_downloader")

    def stale_get(api, who, path):
        h = dict(who["headers"], **{"Cache-Control": "max-stale"})
        return requests.get(f"{api.base}{path}", headers=h, timeout=TIMEOUT)

    def standby_grants(who):
        # served by the standby once it has replayed the grants
        return all(stale_get(a, who, f"/files/{fid}/url").status_code == 200
                   for a in (replica_api, other))

    time.sleep(STANDBY_DELAY_MS / 1000)
    wait_until(lambda: standby_grants(downloader) and standby_grants(disabled), 20,
               interval=0.2, what="the standby to replay the grants")
    served = metric(replica_api, 'settle_reads_total{served="standby"}')
    assert served > 0
    with _Paused(standby):
        r = admin.delete(f"/projects/{pid}/permissions/{downloader['user_id']}")
        assert r.status_code == 204, r.text
        for path in (f"/files/{fid}/url", f"/files/{fid}", f"/projects/{pid}",
                     f"/projects/{pid}/children"):
            r = stale_get(replica_api, downloader, path)
            assert r.status_code == 403 and r.json()["code"] == "forbidden", (path, r.text)
            assert "url" not in r.json(), r.text
        listed = stale_get(replica_api, downloader, "/projects").json()["results"]
        assert pid not in [p["id"] for p in listed], listed
        # Another settle-api learns of the revocation from the primary within a poll.
        time.sleep(0.2)
        r = stale_get(other, downloader, f"/files/{fid}/url")
        assert r.status_code == 403 and "url" not in r.json(), r.text
        # The disabled user's token is refused (within the revocation cache's refresh).
        name = settle.cli("user", "disable", disabled["user_id"]).stdout
        assert "disabled user" in name, name
        for a in (replica_api, other):
            wait_until(lambda: stale_get(a, disabled, f"/files/{fid}/url").status_code == 401,
                       5, interval=0.1, what="the disabled user's token to be refused")
        # The other reads still work, from the primary now.
        r = stale_get(replica_api, admin_who, f"/files/{fid}/url")
        assert r.status_code == 200 and "url" in r.json(), r.text
    # Once the standby has replayed the revocation, it serves max-stale reads again.
    time.sleep(STANDBY_DELAY_MS / 1000)
    before = metric(replica_api, 'settle_reads_total{served="standby"}')
    wait_until(lambda: stale_get(replica_api, downloader, f"/projects/{pid}").status_code
               == 403 and metric(replica_api, 'settle_reads_total{served="standby"}') > before,
               20, interval=0.2, what="the standby to serve reads again")


def test_session_cookie_flags(settle, replica_api):
    """Issue 18 item 13: the SESSION cookie is always HttpOnly and SameSite=Lax, and Secure
    when the request came over TLS (here: through a proxy that says X-Forwarded-Proto:
    https)."""
    who = settle.login(replica_api)

    def cookie(**headers):
        r = requests.get(f"{replica_api.base}/current_user",
                         headers=dict(who["headers"], **headers), timeout=TIMEOUT)
        assert r.status_code == 200, r.text
        return [a.strip() for a in r.headers["Set-Cookie"].split(";")]

    for attrs in (cookie(), cookie(**{"X-Forwarded-Proto": "http"})):
        assert attrs[0].startswith("SESSION=") and "Path=/" in attrs, attrs
        assert "HttpOnly" in attrs and "SameSite=Lax" in attrs and "Secure" not in attrs, attrs
    for proto in ("https", "HTTPS", "https, http"):
        attrs = cookie(**{"X-Forwarded-Proto": proto})
        assert "Secure" in attrs and "HttpOnly" in attrs and "SameSite=Lax" in attrs, attrs


def test_write_concern_takes_only_plain_digits(settle):
    """Issue 18 item 13: ?w= is plain decimal digits (leading zeros are fine); a sign,
    spaces, hex, a fraction or nothing is 400 validation_failed."""
    api = settle.api(SETTLE_QUEUE="inline")
    c = Client(api, settle.login(api))
    pid = new_project(c)
    body = {"name": "digits", "parent": {"kind": "dds-project", "id": pid}}
    for w in ("%2B1", "%201", "1%20", "%091", "0x1", "1.0", "-0", "", "1e0",
              "99999999999999999999"):
        r = c.post(f"/folders?w={w}", json=dict(body, name=f"bad-{w}"))
        assert r.status_code == 400 and r.json()["code"] == "validation_failed", (w, r.text)
        assert r.json()["errors"][0]["field"] == "w", r.text
    for w in ("1", "01", "0001"):
        r = c.post(f"/folders?w={w}", json=dict(body, name=f"ok-{w}"))
        assert r.status_code == 201, (w, r.text)
    names = sorted(x["name"] for x in c.get(f"/projects/{pid}/children").json()["results"])
    assert names == ["ok-0001", "ok-01", "ok-1"], names


def test_standby_catch_up_holds_no_thread(settle, standby):
    """Issue 21: a read that waits for its standby to replay its session's position is
    suspended, not a sleeping HTTP thread: with one HTTP thread, /healthz answers while the
    read waits, and the read is then served by the standby (no fall-back to the primary)."""
    api = settle.api(SETTLE_QUEUE="inline", SETTLE_DATABASE_REPLICA_URLS=standby.url(),
                     SETTLE_THREADS="1", SETTLE_SESSION_WAIT_MS="10000")
    time.sleep(0.5)  # the position poller has seen the standby
    c = Client(api, settle.login(api))
    pid = new_project(c)
    fid = new_folder(c, pid, "caught-up")
    before = metric(api, 'settle_reads_total{served="standby"}')
    got = {}
    reader = threading.Thread(target=lambda: got.update(r=c.get(f"/folders/{fid}")))
    reader.start()
    time.sleep(0.3)  # the read waits for the standby (2 s behind)
    t0 = time.monotonic()
    assert requests.get(f"{api.url}/healthz", timeout=TIMEOUT).status_code == 200
    took = time.monotonic() - t0
    reader.join(TIMEOUT)
    assert took < 1.0, f"/healthz waited {took:.2f}s behind a read waiting for its standby"
    assert got["r"].status_code == 200, got["r"].text
    assert metric(api, 'settle_reads_total{served="standby"}') >= before + 1
    assert metric(api, "settle_session_fallbacks_total") == 0
