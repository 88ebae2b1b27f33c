"""Chaos (issue 9): retrying clients run the whole upload flow (IntentLoad: upload, chunks,
storage PUTs, complete, POST /files, every POST with an Idempotency-Key that its repeats
keep) while four chaos loops, each on its own and overlapping, again and again: SIGKILL a
worker (a supervisor restarts it), SIGKILL settle-api and start another on the same port,
restart RabbitMQ, and stop Postgres with an immediate shutdown (a crash of Postgres, on a
durable cluster) and start it again. Then, with everything up and the clients stopped, the
end state:

- every intent gave exactly one upload and one file (the file's version is that upload),
  and nothing else exists in the project;
- every completed upload is consistent, with no integrity error (the clients sent the right
  bytes and hashes, so an error_on would be the system's fault), its job ran exactly once,
  and the file downloads as the bytes the client sent;
- the outbox holds nothing unsent;
- storage holds a file per chunk and nothing else: no temporary file of a storage PUT cut
  short by a kill of settle-api (upload.complete deletes them; before it did, they stayed).

It prints those counts and how many faults of each kind it caused. Only end-state invariants
are asserted, each after a generous bounded wait; nothing is timed. (Against a Postgres with
synchronous_commit=off it fails: a crash loses acknowledged writes, and a client's POST
/files finds its completed upload not completed.)

SETTLE_CHAOS_SECONDS (default 60) sets how long the chaos lasts (`make soak` runs 600),
SETTLE_CHAOS_SEED the seed of the pauses, sizes and choices (printed)."""

import hashlib
import os
import random
import signal
import threading
import time

import psycopg2

from pipeline_helpers import Client, IntentLoad, Supervisor, assert_each_job_once, q, q1, \
    run_threads
from settle_harness import free_port, wait_until

CHAOS_SECONDS = float(os.environ.get("SETTLE_CHAOS_SECONDS", "60"))
# Each kind of fault has a loop of its own that waits a random pause (seconds, from this
# range) between the end of one fault and the start of the next, so that faults overlap.
PAUSES = {"worker_kill": (2, 5), "api_kill": (4, 8), "postgres_restart": (6, 12),
          "rabbitmq_restart": (3, 8)}


class ApiKeeper:
    """settle-api on a fixed port; kill() SIGKILLs it and starts another on the same port
    (as a supervisor would)."""

    def __init__(self, settle, **env):
        self.settle = settle
        self.env = dict(env, SETTLE_LISTEN=f"127.0.0.1:{free_port()}")
        self.api = settle.api(**self.env)

    def kill(self):
        self.api.proc.send_signal(signal.SIGKILL)
        self.api.wait(10)
        self.api = self.settle.api(timeout=180, **self.env)


class Chaos:
    """For `seconds`, a thread per kind of fault (PAUSES) takes it again and again. Each fault
    is over (what it stopped is back up) before its thread pauses; the kinds overlap."""

    def __init__(self, seconds, seed, workers, api, rabbitmq, pg):
        self.seconds = seconds
        self.seed = seed
        self.workers = workers
        self.api = api
        self.rabbitmq = rabbitmq
        self.pg = pg
        self.counts = dict.fromkeys(PAUSES, 0)
        self.log = []
        self.errors = []
        self._t0 = time.monotonic()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(a,), daemon=True)
                         for a in PAUSES]

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def _run(self, action):
        rng = random.Random(f"{self.seed}-{action}")
        try:
            while not self._stop.wait(rng.uniform(*PAUSES[action])):
                started = time.monotonic()
                if started - self._t0 >= self.seconds:
                    return
                getattr(self, action)(rng)
                self.counts[action] += 1
                self.log.append(f"{started - self._t0:6.1f}s {action} "
                                f"({time.monotonic() - started:.1f}s)")
        except BaseException as e:  # noqa: B036 - reported by stop()
            self.errors.append(f"{action}: {e!r}")

    def worker_kill(self, rng):
        alive = wait_until(lambda: [w for w in self.workers.workers if w.alive()], 60,
                           what="a live worker")
        rng.choice(alive).proc.send_signal(signal.SIGKILL)

    def api_kill(self, rng):
        self.api.kill()

    def rabbitmq_restart(self, rng):
        self.rabbitmq.kill()  # SIGTERM: RabbitMQ stops cleanly, without rabbitmqctl's boot
        self.rabbitmq.start(timeout=300)  # it has taken 80 s on a loaded machine

    def postgres_restart(self, rng):
        self.pg.halt("immediate")
        time.sleep(rng.uniform(0.2, 1.5))
        self.pg.start()

    def abort(self):
        """Ends the chaos after the faults in progress."""
        self._stop.set()

    def stop(self):
        """Waits for the chaos to end (every fault over); raises its errors."""
        for t in self._threads:
            t.join(max(0.1, self._t0 + self.seconds + 300 - time.monotonic()))
        self._stop.set()
        assert not any(t.is_alive() for t in self._threads), "the chaos loops did not end"
        assert not self.errors, "the chaos failed: " + "; ".join(self.errors)


def storage_files(conn, storage, project):
    """(chunk files, temporary files) in the storage containers of the project's uploads."""
    chunks = temps = 0
    for (container,) in q(conn, "SELECT DISTINCT storage_container FROM uploads"
                                " WHERE project_id = %s", (project,)):
        for _, _, names in os.walk(os.path.join(storage, container)):
            for n in names:
                if n.startswith(".") and n.endswith(".tmp"):
                    temps += 1
                else:
                    chunks += 1
    return chunks, temps


def end_state(conn, storage, project, intents):
    """The project's uploads, files and stored bytes against the intents:
    (counts, problems)."""
    uploads = {}
    for uid, name, completed, consistent, error_at in q(
            conn, "SELECT id::text, name, completed_at IS NOT NULL, is_consistent,"
                  " error_at IS NOT NULL FROM uploads WHERE project_id = %s", (project,)):
        uploads.setdefault(name, []).append((uid, completed, consistent, error_at))
    files = {}
    for fid, name, uid in q(conn, "SELECT f.id::text, f.name, v.upload_id::text FROM files f"
                                  " JOIN file_versions v ON v.file_id = f.id"
                                  " WHERE f.project_id = %s AND NOT f.is_deleted", (project,)):
        files.setdefault(name, []).append((fid, uid))
    rows = [u for us in uploads.values() for u in us]
    counts = {
        "intents": len(intents),
        "uploads": len(rows),
        "files": sum(len(f) for f in files.values()),
        "completed": sum(1 for u in rows if u[1]),
        "consistent": sum(1 for u in rows if u[1] and u[2]),
        "error_on": sum(1 for u in rows if u[3]),
        "outbox_unsent": q1(conn, "SELECT count(*) FROM outbox"),
        "chunks": q1(conn, "SELECT count(*) FROM chunks c JOIN uploads u ON u.id = c.upload_id"
                           " WHERE u.project_id = %s", (project,)),
    }
    counts["chunk_files"], counts["temp_files"] = storage_files(conn, storage, project)
    problems = [f"upload {name}: no client asked for it" for name in set(uploads) - set(intents)]
    for name, rec in intents.items():
        got = [u[0] for u in uploads.get(name, [])]
        if got != [rec["upload"]]:
            problems.append(f"intent {name}: uploads {got}, its client got {rec['upload']}")
        got = files.get(name, [])
        if got != [(rec["file"], rec["upload"])]:
            problems.append(f"intent {name}: files (id, upload) {got}, its client got "
                            f"({rec['file']}, {rec['upload']})")
    if counts["chunk_files"] != counts["chunks"] or counts["temp_files"]:
        problems.append(f"storage holds {counts['chunk_files']} chunk files for "
                        f"{counts['chunks']} chunks and {counts['temp_files']} temporary files")
    return counts, problems


def test_chaos(durable_settle, durable_pg, rabbitmq, capsys):
    seed = os.environ.get("SETTLE_CHAOS_SEED") or str(random.randrange(1 << 32))
    s = durable_settle
    api = ApiKeeper(s, SETTLE_THREADS=4)
    workers = Supervisor(s, count=2)
    try:
        run_chaos(s, api, workers, durable_pg, rabbitmq, seed, capsys)
    finally:
        workers.stop()


def run_chaos(s, api, workers, pg, rabbitmq, seed, capsys):
    chaos = load = None
    try:
        who = s.login(api.api)
        project = Client(api.api, who["token"], retry=True,
                         idempotency=True).create_project(wait=60)
        load = IntentLoad(api.api, who["token"], project, clients=4, seed=seed).start()
        load.wait_done(4, 60)
        chaos = Chaos(CHAOS_SECONDS, seed, workers, api, rabbitmq, pg).start()
        chaos.stop()
        t_end = time.monotonic()
    finally:
        if chaos is not None:
            chaos.abort()
        if load is not None:
            load.stop()
    api.api.wait_ready(60)
    conn = psycopg2.connect(pg.url())
    conn.autocommit = True
    try:
        def settled():
            return q1(conn, "SELECT count(*) FROM outbox") == 0 and q1(
                conn, "SELECT count(*) FROM uploads WHERE project_id = %s"
                      " AND completed_at IS NOT NULL AND NOT is_consistent", (project,)) == 0
        wait_until(settled, 300, interval=0.5,
                   what="an empty outbox and every completed upload consistent")
        t_settled = time.monotonic()
        counts, problems = end_state(conn, s.base_env["SETTLE_STORAGE_DIR"], project,
                                     load.intents)
        with capsys.disabled():
            print(f"\nchaos: {CHAOS_SECONDS:g} s, seed {seed}: "
                  + " ".join(f"{k}={v}" for k, v in counts.items())
                  + "; " + " ".join(f"{k}={v}" for k, v in chaos.counts.items())
                  + f" worker_exits={len(workers.exits)} client_retries={load.faults}\n  "
                  + "\n  ".join(sorted(chaos.log)), flush=True)
        assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems[:20])
        bad = q(conn, "SELECT id, error_message FROM uploads WHERE project_id = %s"
                      " AND error_at IS NOT NULL", (project,))
        assert not bad, f"{len(bad)} uploads failed verification: {bad[:5]}"
        assert counts["completed"] == counts["consistent"] == counts["intents"], counts
        assert_each_job_once(conn, [r["upload"] for r in load.intents.values()])
    finally:
        conn.close()
    assert all(n >= 1 for n in chaos.counts.values()), chaos.counts
    assert workers.exits == [-signal.SIGKILL] * chaos.counts["worker_kill"], \
        f"a worker exited by itself: exit codes {workers.exits}"
    assert load.faults > 0, "the clients never saw a fault: the test proved nothing"
    check_downloads(api.api, who["token"], load.intents)
    with capsys.disabled():
        print(f"chaos: settled {t_settled - t_end:.1f} s after the chaos, every file downloaded"
              f" and checked {time.monotonic() - t_settled:.1f} s later", flush=True)


def check_downloads(api, token, intents):
    """Every intent's file downloads as the bytes its client sent (their size and md5)."""
    def one(rec):
        c = Client(api, token, retry=True)
        try:
            signed = c.file_url(rec["file"], timeout=60)
            got = c.download(signed)
        finally:
            c.close()
        assert (len(got), hashlib.md5(got).hexdigest()) == (rec["size"], rec["md5"]), \
            f"file {rec['file']}: the {len(got)} bytes downloaded differ from those sent"
    run_threads(4, one, list(intents.values()), 600)

