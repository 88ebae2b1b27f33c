"""Helpers of test_pipeline.py: an HTTP client that drives uploads the way a DDS client does
(optionally retrying on 5xx and connection errors, re-reading state before repeating a
POST), a worker supervisor, and database / broker probes scoped to the ids a test made."""

import hashlib
import os
import threading
import time
import uuid

import requests

from settle_harness import parse_kv_lines

# Errors a retrying client treats as "the call may or may not have happened".
TRANSIENT = (requests.ConnectionError, requests.Timeout)


class CallFailed(AssertionError):
    pass


class Client:
    """One user's HTTP client against one settle-api. retry: repeat calls on 5xx and on
    connection errors (up to `attempts` times and, with `deadline`, for at most that many
    seconds; re-reading state before repeating a POST when the caller says how)."""

    def __init__(self, api, token, retry=False, attempts=30, timeout=30, idempotency=False,
                 deadline=None):
        self.api = api
        self.base = api.base
        self.headers = {"Authorization": token}
        self.retry = retry
        self.attempts = attempts
        self.deadline = deadline
        self.timeout = timeout
        self.idempotency = idempotency  # send an Idempotency-Key with every POST
        self.session = requests.Session()
        self.faults = 0  # 5xx answers and connection errors seen
        self.calls = 0

    def close(self):
        self.session.close()

    # -- raw calls ------------------------------------------------------------------------

    def _once(self, method, url, **kw):
        kw.setdefault("timeout", self.timeout)
        if url.startswith("/"):
            url = self.base + url
        if "/api/v1/" in url:
            kw["headers"] = dict(self.headers, **kw.get("headers", {}))
        self.calls += 1
        return self.session.request(method, url, **kw)

    def call(self, method, url, expect, reread=None, **kw):
        """Sends the request; returns the response whose status is in expect. With retry on,
        a 5xx or connection error is followed by reread() (when given; a non-None result
        ends the call with that value) and a repeat. Anything else fails the test."""
        expect = (expect,) if isinstance(expect, int) else tuple(expect)
        if method == "POST" and self.idempotency:
            kw["headers"] = dict(kw.get("headers", {}), **{"Idempotency-Key": uuid.uuid4().hex})
        last = None
        start = time.monotonic()
        for attempt in range(self.attempts if self.retry else 1):
            if attempt > 0:
                if self.deadline is not None and time.monotonic() - start > self.deadline:
                    break
                time.sleep(min(0.05 * attempt, 0.5))
                if reread is not None:
                    found = reread()
                    if found is not None:
                        return found
            try:
                r = self._once(method, url, **kw)
            except TRANSIENT as e:
                self.faults += 1
                last = f"{type(e).__name__}: {e}"
                if not self.retry:
                    raise
                continue
            if r.status_code in expect:
                return r
            last = f"{r.status_code} {r.text[:400]}"
            if r.status_code >= 500 and self.retry:
                self.faults += 1
                continue
            break
        raise CallFailed(f"{method} {url}: want {expect}, got {last}")

    def get_json(self, path, expect=200):
        return self.call("GET", path, expect).json()

    # -- projects ---------------------------------------------------------------------------

    def find_project(self, name):
        r = self.call("GET", "/projects", 200, params={"per_page": 1000})
        for p in r.json()["results"]:
            if p["name"] == name:
                return p
        return None

    def create_project(self, name=None, wait=60):
        """POST /projects, then polls until it is consistent. Returns its id."""
        name = name or f"pipeline-{uuid.uuid4().hex[:10]}"
        # 202 per API.md. settle-api also answers 201 without Prefer: wait when the job won
        # the race against the answer (reported); either way the project exists.
        r = self.call("POST", "/projects", (201, 202),
                      json={"name": name, "description": "pipeline"},
                      reread=lambda: self.find_project(name))
        p = r.json() if isinstance(r, requests.Response) else r
        pid = p["id"]
        if wait:
            poll(lambda: self.get_json(f"/projects/{pid}")["is_consistent"], wait,
                 what=f"project {pid} to become consistent")
        return pid

    # -- uploads ----------------------------------------------------------------------------

    def find_upload(self, project_id, name):
        page = 1
        while True:
            r = self.call("GET", f"/projects/{project_id}/uploads", 200,
                          params={"per_page": 1000, "page": page})
            for u in r.json()["results"]:
                if u["name"] == name:
                    return u
            if not r.headers.get("X-Next-Page"):
                return None
            page += 1

    def create_upload(self, project_id, name, size):
        r = self.call("POST", f"/projects/{project_id}/uploads", 201,
                      json={"name": name, "content_type": "application/octet-stream",
                            "size": size},
                      reread=lambda: self.find_upload(project_id, name))
        return (r.json() if isinstance(r, requests.Response) else r)["id"]

    def put_chunk(self, upload_id, number, data):
        """Registers chunk `number` and PUTs its bytes (bytes, or an iterable of bytes with
        its size and md5 given as data=(iterable, size, md5))."""
        if isinstance(data, tuple):
            body, size, md5 = data
        else:
            body, size, md5 = data, len(data), hashlib.md5(data).hexdigest()
        u = self.call("PUT", f"/uploads/{upload_id}/chunks", 200,
                      json={"number": number, "size": size,
                            "hash": {"value": md5, "algorithm": "md5"}}).json()
        assert u["http_verb"] == "PUT", u
        if isinstance(data, tuple):
            status, text = stream_put(u["host"] + u["url"], body, size)
            assert status in (200, 201), f"storage PUT: {status} {text[:300]}"
        else:
            self.call("PUT", u["host"] + u["url"], (200, 201), data=body)

    def complete(self, upload_id, md5):
        r = self.call("PUT", f"/uploads/{upload_id}/complete", 202,
                      json={"hash": {"value": md5, "algorithm": "md5"}})
        return r.json()

    def upload(self, project_id, data, name=None, chunk_size=None, complete=True):
        """The whole client flow but the wait: create, chunks, storage PUTs, complete.
        Returns the upload id."""
        name = name or f"f-{uuid.uuid4().hex[:12]}.bin"
        upload_id = self.create_upload(project_id, name, len(data))
        chunk_size = chunk_size or max(1, len(data))
        for i, off in enumerate(range(0, max(1, len(data)), chunk_size)):
            self.put_chunk(upload_id, i + 1, data[off:off + chunk_size])
        if complete:
            body = self.complete(upload_id, hashlib.md5(data).hexdigest())
            assert body["status"]["completed_on"], body
        return upload_id

    def upload_status(self, upload_id):
        return self.get_json(f"/uploads/{upload_id}")["status"]

    def wait_upload(self, upload_id, timeout=60, interval=0.2):
        """Polls GET /uploads/{id} until is_consistent; returns its status."""
        return poll(lambda: _consistent(self.upload_status(upload_id)), timeout, interval,
                    what=f"upload {upload_id} to become consistent")

    # -- files ------------------------------------------------------------------------------

    def find_file(self, project_id, name):
        r = self.call("GET", f"/projects/{project_id}/children", 200,
                      params={"name_contains": name, "per_page": 1000})
        for f in r.json()["results"]:
            if f.get("kind") == "dds-file" and f["name"] == name:
                return f
        return None

    def create_file(self, project_id, upload_id, name):
        r = self.call("POST", "/files", 201,
                      json={"parent": {"kind": "dds-project", "id": project_id},
                            "upload": {"id": upload_id}},
                      reread=lambda: self.find_file(project_id, name))
        return (r.json() if isinstance(r, requests.Response) else r)["id"]

    def file_url(self, file_id, timeout=60):
        """Polls GET /files/{id}/url until 200 (404 resource_not_consistent meanwhile)."""
        def ready():
            r = self.call("GET", f"/files/{file_id}/url", (200, 404))
            if r.status_code == 404:
                assert r.json().get("code") == "resource_not_consistent", r.text
                return None
            return r.json()
        return poll(ready, timeout, 0.2, what=f"file {file_id} url")

    def download(self, signed):
        r = self.call("GET", signed["host"] + signed["url"], 200, timeout=120)
        return r.content


def stream_put(url, blocks, size, timeout=300):
    """PUTs the byte blocks of an iterator with Content-Length: size (no chunked encoding);
    returns (status, body text)."""
    import http.client
    import urllib.parse
    p = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(p.hostname, p.port, timeout=timeout)
    try:
        conn.putrequest("PUT", p.path + ("?" + p.query if p.query else ""))
        conn.putheader("Content-Length", str(size))
        conn.putheader("Content-Type", "application/octet-stream")
        conn.endheaders()
        for b in blocks:
            conn.send(b)
        resp = conn.getresponse()
        return resp.status, resp.read().decode(errors="replace")
    finally:
        conn.close()


def _consistent(status):
    return status if status["is_consistent"] else None


def poll(predicate, timeout, interval=0.2, what="condition"):
    """Calls predicate until it returns a value that is not None/False; bounded."""
    deadline = time.monotonic() + timeout
    while True:
        v = predicate()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def login(settle, api, **kw):
    who = settle.login(api)
    return Client(api, who["token"], **kw)


def run_threads(n, fn, items, timeout):
    """Runs fn(item) for every item on n threads; returns the results in order. The first
    exception (or a timeout) fails the caller."""
    results = [None] * len(items)
    errors = []
    lock = threading.Lock()
    it = iter(enumerate(items))

    def loop():
        while True:
            with lock:
                if errors:
                    return
                try:
                    i, item = next(it)
                except StopIteration:
                    return
            try:
                results[i] = fn(item)
            except BaseException as e:  # noqa: B036 - reported to the caller
                with lock:
                    errors.append((item, e))
                return

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(n)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
    if errors:
        item, e = errors[0]
        raise AssertionError(f"{len(errors)} client(s) failed; first on {item!r}: "
                             f"{type(e).__name__}: {e}") from e
    alive = [t for t in threads if t.is_alive()]
    assert not alive, f"{len(alive)} client threads still running after {timeout}s"
    return results


class Supervisor:
    """Keeps `count` settle-worker processes running (restarting any that exits, as
    supervisord would). Records the exit codes it saw."""

    def __init__(self, settle, count=1, **env):
        self.settle = settle
        self.env = env
        self.workers = [settle.worker(**env) for _ in range(count)]
        self.exits = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.wait(0.2):
            for i, w in enumerate(self.workers):
                if not w.alive():
                    self.exits.append(w.returncode)
                    w.wait(1)
                    self.workers[i] = self.settle.worker(**self.env)

    def stop(self):
        self._stop.set()
        self._thread.join(5)
        for w in self.workers:
            w.stop()


class _Load:
    """Client threads that each run one step (_step) over and over until stop(); the first
    error of any thread is raised by check() and stop(). Subclasses set self._make_client
    (a Client factory) and define _step(c, n, i)."""

    def __init__(self, api, token, project, threads):
        self.api = api
        self.token = token
        self.project = project
        self.errors = []
        self.clients = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(i,), daemon=True)
                         for i in range(threads)]

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def _loop(self, n):
        c = self._make_client(n)
        with self._lock:
            self.clients.append(c)
        i = 0
        try:
            while not self._stop.is_set():
                i += 1
                self._step(c, n, i)
        except BaseException as e:  # noqa: B036 - reported by stop()
            with self._lock:
                self.errors.append(e)
        finally:
            c.close()

    def check(self):
        if self.errors:
            e = self.errors[0]
            raise AssertionError(f"{len(self.errors)} {self.what}(s) failed; first: "
                                 f"{type(e).__name__}: {e}") from e

    def stop(self, timeout):
        """Lets every client finish the flow it is in, then raises the first error."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.1, deadline - time.monotonic()))
        alive = [t for t in self._threads if t.is_alive()]
        assert not alive, f"{len(alive)} {self.what}s still running after {timeout}s"
        self.check()

    @property
    def faults(self):
        return sum(c.faults for c in self.clients)


class UploadLoad(_Load):
    """`threads` retrying clients (an Idempotency-Key on every POST) that run the upload flow
    over and over in one project until stop(): create, one chunk, storage PUT, complete.
    Records every step a client got a 2xx for, so a test can check after a fault that all
    of it is still there: acked[upload_id] = {"name", "data", "chunk": bool, "complete":
    seconds of time.time() when its complete was answered, or None}."""

    what = "load client"

    def __init__(self, api, token, project, threads=4, sizes=(2_000, 60_000), attempts=80):
        super().__init__(api, token, project, threads)
        self.sizes = sizes
        self.attempts = attempts  # ~0.5 s apart: rides out an outage of about 40 s
        self.acked = {}

    def _make_client(self, n):
        return Client(self.api, self.token, retry=True, idempotency=True,
                      attempts=self.attempts)

    def _step(self, c, n, i):
        name = f"load-{n}-{i}-{uuid.uuid4().hex[:6]}.bin"
        size = self.sizes[0] + (i * 7919 + n * 104729) % (self.sizes[1] - self.sizes[0])
        data = hashlib.sha256(name.encode()).digest() * (size // 32 + 1)
        data = data[:size]
        uid = c.create_upload(self.project, name, len(data))
        rec = {"name": name, "data": data, "chunk": False, "complete": None}
        with self._lock:
            self.acked[uid] = rec
        c.put_chunk(uid, 1, data)
        rec["chunk"] = True
        c.complete(uid, hashlib.md5(data).hexdigest())
        rec["complete"] = time.time()

    def completed(self):
        """Upload ids whose complete was answered 202."""
        with self._lock:
            return [u for u, r in self.acked.items() if r["complete"] is not None]

    def wait_completed(self, n, timeout):
        poll(lambda: self.errors or len(self.completed()) >= n, timeout,
             what=f"{n} uploads completed by the load")
        self.check()

    def stop(self, timeout=60):
        super().stop(timeout)


class IntentLoad(_Load):
    """`clients` threads that run the whole client flow over and over in one project until
    stop(), each file an *intent*: POST /projects/{id}/uploads, for each of 1 to 3 chunks its
    registration and storage PUT, complete, POST /files. Each call is repeated on 5xx and
    connection errors (a POST with the same Idempotency-Key, never re-reading state first)
    until it is answered or `deadline` seconds pass; any other answer fails the client.
    intents[name] = {"size", "md5", "chunks", "upload": id or None, "file": id or None}."""

    what = "client"

    def __init__(self, api, token, project, clients=4, deadline=240, timeout=10,
                 sizes=(1, 96_000), seed=0):
        super().__init__(api, token, project, clients)
        self.deadline = deadline
        self.timeout = timeout
        self.sizes = sizes
        self.seed = seed
        self.intents = {}
        self._rngs = {}

    def _make_client(self, n):
        import random
        self._rngs[n] = random.Random(f"{self.seed}-{n}")
        return Client(self.api, self.token, retry=True, idempotency=True, attempts=1 << 30,
                      timeout=self.timeout, deadline=self.deadline)

    def _step(self, c, n, i):
        rng = self._rngs[n]
        data = rng.randbytes(rng.randint(*self.sizes))
        rec = {"size": len(data), "md5": hashlib.md5(data).hexdigest(),
               "chunks": rng.randint(1, min(3, len(data))), "upload": None, "file": None}
        name = f"intent-{n}-{i}-{uuid.uuid4().hex[:6]}.bin"
        with self._lock:
            self.intents[name] = rec
        self._intent(c, name, rec, data)

    def _intent(self, c, name, rec, data):
        r = c.call("POST", f"/projects/{self.project}/uploads", 201,
                   json={"name": name, "content_type": "application/octet-stream",
                         "size": len(data)})
        rec["upload"] = uid = r.json()["id"]
        step = -(-len(data) // rec["chunks"])
        for i in range(rec["chunks"]):
            c.put_chunk(uid, i + 1, data[i * step:(i + 1) * step])
        c.complete(uid, rec["md5"])
        r = c.call("POST", "/files", 201,
                   json={"parent": {"kind": "dds-project", "id": self.project},
                         "upload": {"id": uid}})
        rec["file"] = r.json()["id"]

    def done(self):
        """How many intents have their file."""
        with self._lock:
            return sum(1 for r in self.intents.values() if r["file"] is not None)

    def wait_done(self, n, timeout):
        poll(lambda: self.errors or self.done() >= n, timeout,
             what=f"{n} intents done by the load")
        self.check()

    def stop(self, timeout=None):
        super().stop(timeout or self.deadline * 2)


# -- database probes ------------------------------------------------------------------------

def q(db, sql, args=()):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def q1(db, sql, args=()):
    return q(db, sql, args)[0][0]


# Every job message written: the outbox holds the ones not published yet; the relay moves
# each published one into message_log (message_id = the outbox id, routing_key = kind).
JOBS = ("(SELECT id, kind, resource_id, false AS sent, created_at FROM outbox"
        " UNION ALL SELECT message_id::uuid, routing_key, (payload->>'resource_id')::uuid, true,"
        " (payload->>'enqueued_at')::timestamptz FROM message_log"
        " WHERE payload ? 'resource_id') AS o")


def job_counts(db, resource_ids, kind="upload.complete"):
    """{resource_id: (outbox rows, job_runs rows, job_runs rows with outcome consistent)}"""
    ids = [str(i) for i in resource_ids]
    out = {i: [0, 0, 0] for i in ids}
    for rid, n in q(db, "SELECT resource_id::text, count(*) FROM " + JOBS + " WHERE kind = %s"
                        " AND resource_id = ANY(%s::uuid[]) GROUP BY 1", (kind, ids)):
        out[rid][0] = n
    for rid, n, ok in q(db, "SELECT resource_id::text, count(*),"
                            " count(*) FILTER (WHERE outcome = 'consistent')"
                            " FROM job_runs WHERE kind = %s AND resource_id = ANY(%s::uuid[])"
                            " GROUP BY 1", (kind, ids)):
        out[rid][1] = n
        out[rid][2] = ok
    return {k: tuple(v) for k, v in out.items()}


def assert_each_job_once(db, upload_ids):
    """Every upload has exactly one job message (outbox or published), one job_runs row for that very message id
    (outcome consistent), consistent_at set and no error; returns the totals."""
    ids = [str(i) for i in upload_ids]
    # The relay retires a published job's row (outbox -> message_log) after the broker's
    # confirm, and a hand-over up to 20 ms later: a worker may have run the job already.
    # Wait until every row whose job ran is retired (a sweep retires those of a relay that
    # stopped in between).
    poll(lambda: q1(db, "SELECT count(*) = 0 FROM outbox o WHERE o.resource_id = ANY(%s::uuid[])"
                        " AND EXISTS (SELECT FROM job_runs j WHERE j.message_id = o.id)",
                    (ids,)), 15, 0.05, what="the relay to retire the rows of the jobs run")
    rows = q(db, "SELECT o.resource_id::text, o.id::text, o.sent,"
                 " j.message_id::text, j.outcome, j.attempt"
                 " FROM " + JOBS + " LEFT JOIN job_runs j ON j.message_id = o.id"
                 " WHERE o.kind = 'upload.complete' AND o.resource_id = ANY(%s::uuid[])", (ids,))
    by_upload = {}
    for rid, oid, sent, mid, outcome, attempt in rows:
        by_upload.setdefault(rid, []).append((oid, sent, mid, outcome, attempt))
    bad = {i: by_upload.get(i) for i in ids if len(by_upload.get(i, [])) != 1}
    assert not bad, f"{len(bad)} uploads without exactly one outbox row: {list(bad.items())[:5]}"
    unrun = [(i, v) for i, v in by_upload.items()
             if not v[0][1] or v[0][2] is None or v[0][3] != "consistent"]
    assert not unrun, f"{len(unrun)} outbox rows not sent/run once: {unrun[:5]}"
    runs = q(db, "SELECT resource_id::text, count(*) FROM job_runs WHERE kind = 'upload.complete'"
                 " AND resource_id = ANY(%s::uuid[]) GROUP BY 1 HAVING count(*) <> 1", (ids,))
    assert not runs, f"uploads with job_runs rows != 1: {runs[:5]}"
    st = q(db, "SELECT count(*), count(consistent_at), count(error_at),"
               " count(*) FILTER (WHERE is_consistent) FROM uploads WHERE id = ANY(%s::uuid[])",
           (ids,))[0]
    assert st == (len(ids), len(ids), 0, len(ids)), f"uploads (n, consistent_at, error_at, " \
        f"is_consistent) = {st}, want ({len(ids)}, {len(ids)}, 0, {len(ids)})"
    n_outbox = q1(db, "SELECT count(*) FROM " + JOBS + " WHERE kind = 'upload.complete'"
                      " AND resource_id = ANY(%s::uuid[])", (ids,))
    n_runs = q1(db, "SELECT count(*) FROM job_runs WHERE kind = 'upload.complete'"
                    " AND resource_id = ANY(%s::uuid[])", (ids,))
    assert n_outbox == n_runs == len(ids), (n_outbox, n_runs, len(ids))
    return n_outbox, n_runs


def stats(settle, **env):
    """`settle stats` as a dict (queue depths keyed by queue name)."""
    out = settle.cli("stats", **env).stdout
    d = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 2:
            continue
        k, v = parts
        if k.startswith("queue_depth{"):
            k = k[len("queue_depth{"):-1]
        d[k] = int(v)
    return d, out


def storage_chunk_path(storage_dir, db, upload_id, number=1):
    container = q1(db, "SELECT storage_container FROM uploads WHERE id = %s", (str(upload_id),))
    return os.path.join(storage_dir, container, str(upload_id), str(number))


def streaming_body(size, block=1 << 20, seed=b"settle"):
    """(iterator of bytes, size, md5) of `size` pseudo-random bytes made block by block;
    the md5 is computed up front by a first pass over the same generator."""
    def gen():
        blk = hashlib.sha256(seed).digest() * (block // 32)
        left = size
        i = 0
        while left > 0:
            n = min(left, block)
            yield (blk[:n] if i % 2 == 0 else blk[::-1][:n])
            left -= n
            i += 1
    h = hashlib.md5()
    for b in gen():
        h.update(b)
    return gen(), size, h.hexdigest()


__all__ = ["Client", "CallFailed", "Supervisor", "UploadLoad", "IntentLoad", "login", "poll", "run_threads", "q", "q1",
           "job_counts", "assert_each_job_once", "stats", "storage_chunk_path",
           "streaming_body", "parse_kv_lines"]


def jobs_logged(proc, upload_ids):
    """How many upload.complete jobs proc's log shows for upload_ids (a worker may also run,
    after reconcile, the job of an upload that an earlier test of the session left pending)."""
    mine = {str(i) for i in upload_ids}
    return sum(1 for line in proc.log_text().splitlines()
               if " job kind=upload.complete " in line
               and line.split(" resource=")[1].split()[0] in mine)
