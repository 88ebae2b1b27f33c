"""The private stack of `make run` (scripts/stack.sh): every port its Postgres, RabbitMQ
(AMQP and Erlang distribution) and epmd listen on is on loopback, and Postgres runs durable."""

import os
import re
import shutil
import subprocess
import time

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
STACK = os.path.join(REPO, "scripts", "stack.sh")


def listeners():
    """[(local address, port, pids)] of every listening TCP socket on the machine."""
    out = subprocess.run(["ss", "-Hltnp"], capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        fields = line.split()
        addr, _, port = fields[3].rpartition(":")
        pids = {int(p) for p in re.findall(r"pid=(\d+)", line)}
        rows.append((addr, int(port), pids))
    return rows


def test_stack_listens_on_loopback_only_and_is_durable(tmp_path):
    state = str(tmp_path / "stack")
    env = dict(os.environ, SETTLE_QUEUE="rabbitmq")
    r = subprocess.run([STACK, "start", state], env=env, capture_output=True, text=True,
                       timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        st = dict(line.split("=", 1) for line in open(os.path.join(state, "state")).read()
                  .split())
        pids = {int(st["PG_PID"]), int(st["RABBIT_PID"])}
        ports = {int(st[k]) for k in ("PG_PORT", "AMQP_PORT", "DIST_PORT", "EPMD_PORT")}
        ours = [(a, p) for a, p, who in listeners() if who & pids or p in ports]
        # Postgres, AMQP, the node's distribution port and epmd at least.
        assert {p for _, p in ours} >= ports, (ours, ports)
        wide = [(a, p) for a, p in ours if a not in ("127.0.0.1", "[::1]")]
        assert not wide, f"listening beyond loopback: {wide}"
        url = open(os.path.join(state, "stack.env")).read().split(
            "SETTLE_DATABASE_URL=", 1)[1].split()[0]
        for setting in ("fsync", "synchronous_commit", "full_page_writes"):
            got = subprocess.run(["psql", url, "-Atc", f"SHOW {setting}"], capture_output=True,
                                 text=True, timeout=30).stdout.strip()
            assert got == "on", f"{setting}={got}"
    finally:
        stack_stop(state)


def stack_stop(state):
    """Stops the stack in state, then removes what it kept beside it (the Postgres data a
    checkout the postgres user cannot reach keeps in /var/tmp; `stop` keeps data)."""
    r = subprocess.run([STACK, "stop", state], capture_output=True, text=True, timeout=120)
    pg = os.path.join(state, "pg")
    if os.path.islink(pg):
        shutil.rmtree(os.path.realpath(pg), ignore_errors=True)
    return r


def psql(url, sql):
    return subprocess.run(["psql", "-X", url, "-Atc", sql], capture_output=True, text=True,
                          timeout=30, check=True).stdout.strip()


def test_stack_starts_delayed_standbys_on_loopback_and_stops_them(tmp_path):
    state = str(tmp_path / "stack")
    env = dict(os.environ, SETTLE_QUEUE="inline", SETTLE_PG_REPLICAS="1",
               SETTLE_PG_REPLICA_DELAY_MS="1500")
    r = subprocess.run([STACK, "start", state], env=env, capture_output=True, text=True,
                       timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    try:
        pidfile = os.path.join(state, "pg-replica-1", "postmaster.pid")
        pid, port = (int(x) for x in open(pidfile).read().split("\n")[0:4:3])
        assert [a for a, p, who in listeners() if p == port or pid in who] == ["127.0.0.1"]
        text = open(os.path.join(state, "stack.env")).read()
        primary = text.split("SETTLE_DATABASE_URL=", 1)[1].split()[0]
        urls = text.split("SETTLE_DATABASE_REPLICA_URLS=", 1)[1].split("\n")[0].strip("'")
        assert urls == f"postgresql://postgres@127.0.0.1:{port}/settle"
        assert psql(urls, "SELECT pg_is_in_recovery()") == "t"
        assert psql(urls, "SHOW recovery_min_apply_delay") == "1500ms"
        assert psql(primary, "SELECT slot_name || ' ' || active FROM pg_replication_slots") \
            == "settle_replica_1 true"
        assert psql(primary, "SHOW max_slot_wal_keep_size") != "-1"
        psql(primary, "CREATE TABLE stack_probe (x int)")
        assert psql(urls, "SELECT to_regclass('stack_probe') IS NULL") == "t"  # delayed
        time.sleep(3)
        assert psql(urls, "SELECT to_regclass('stack_probe') IS NOT NULL") == "t"
    finally:
        r = stack_stop(state)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(pidfile), "the standby still runs after stack.sh stop"
