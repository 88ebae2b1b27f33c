"""docker-compose.yml's optional standby (profile "replica") and Swift (profile "swift"),
without a Docker engine: the file's services and settings as `docker-compose config`
resolves them, with and without the profiles, and the standby's entrypoint (deploy/compose/pg-standby.sh) run against a real
Postgres that uses the compose file's pg_hba.conf and replication settings: it copies the
primary through its slot, authenticates with the password, streams, and a restart goes on
from its data without a new copy."""

import os
import shutil
import subprocess
import time

import pytest
import yaml

from settle_harness import PG_BIN, FAST_SETTINGS, Postgres, free_port, is_root, pid_alive

REPO = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
COMPOSE = os.path.join(REPO, "docker-compose.yml")
STANDBY_SH = os.path.join(REPO, "deploy", "compose", "pg-standby.sh")
HBA = os.path.join(REPO, "deploy", "compose", "pg_hba.conf")
REPLICA_URL = "postgresql://settle:settle@postgres-standby:5432/settle"


def private_copy(workdir, path):
    """A copy of a checkout file in the test's own directory, readable by the postgres user
    (who may not be able to read the checkout: a clone in root's home, mode 700)."""
    dest = os.path.join(workdir, "checkout-" + os.path.basename(path))
    shutil.copyfile(path, dest)
    os.chmod(dest, 0o644)
    return dest


def compose_config(*args, **env):
    """The compose file as `docker-compose [args] config` resolves it (a dict)."""
    if shutil.which("docker-compose") is None:
        pytest.skip("docker-compose is not installed")
    e = {k: v for k, v in os.environ.items() if not k.startswith(("SETTLE_", "COMPOSE_"))}
    e.update(SETTLE_SECRET="compose-config-check-only", **env)
    r = subprocess.run(["docker-compose", "-f", COMPOSE, *args, "config"], env=e,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)


def test_compose_swift_is_a_profile_and_settle_uses_it_when_told():
    plain = compose_config()["services"]
    assert [n for n, s in plain.items() if "swift" in s.get("profiles", [])] == ["swift"]
    assert plain["api"]["environment"].get("SETTLE_STORAGE", "local") == "local"
    on = compose_config("--profile", "swift", SETTLE_STORAGE="swift", SETTLE_SWIFT_KEY="k",
                        SETTLE_SWIFT_TEMP_URL_KEY="t")["services"]
    assert on["swift"]["environment"]["SWIFT_USER_KEY"] == "k", on["swift"]["environment"]
    for name in ("api", "worker", "migrate"):
        env = on[name]["environment"]
        assert env.get("SETTLE_STORAGE") == "swift", (name, env)
        assert env.get("SETTLE_SWIFT_AUTH_URL") == "http://swift:8081/auth/v1.0", (name, env)
        assert env.get("SETTLE_SWIFT_KEY") == "k", (name, env)
        assert env.get("SETTLE_SWIFT_TEMP_URL_KEY") == "t", (name, env)


def mounts(service, bind):
    """{target: source} of a service's bind mounts (bind) or named volumes (not bind)."""
    out = {}
    for v in service["volumes"]:
        source, target = v.split(":")[:2]
        if source.startswith("/") == bind:
            out[target] = source
    return out


def settings(command):
    """{name: value} of the `-c name=value` arguments of a postgres command."""
    return dict(command[i + 1].split("=", 1) for i, a in enumerate(command) if a == "-c")


def test_compose_standby_is_a_profile_and_the_api_gets_its_url_only_when_asked():
    plain = compose_config()
    svc = plain["services"]
    # The default stack: no service of the profile but the standby, the api without standby.
    assert [n for n, s in svc.items() if "replica" in s.get("profiles", [])] == ["postgres-standby"]
    assert svc["api"]["environment"]["SETTLE_DATABASE_REPLICA_URLS"] == ""
    assert "SETTLE_DATABASE_REPLICA_URLS" not in svc["worker"]["environment"]
    # The primary can feed a standby, and bounds what a dead one's slot keeps.
    pg = settings(svc["postgres"]["command"])
    assert pg["wal_level"] == "replica" and int(pg["max_wal_senders"]) >= 1
    assert pg["max_slot_wal_keep_size"] == "1GB"
    assert mounts(svc["postgres"], True)[pg["hba_file"]] == HBA

    on = compose_config("--profile", "replica", SETTLE_DATABASE_REPLICA_URLS=REPLICA_URL)
    svc = on["services"]
    sb = svc["postgres-standby"]
    assert svc["api"]["environment"]["SETTLE_DATABASE_REPLICA_URLS"] == REPLICA_URL
    assert sb["image"] == svc["postgres"]["image"]
    assert sb["environment"]["PGHOST"] == "postgres"
    assert sb["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert mounts(sb, True)[sb["entrypoint"][-1]] == STANDBY_SH
    data = list(mounts(sb, False))
    assert len(data) == 1 and sb["environment"]["PGDATA"].startswith(data[0] + "/")
    # The URL the compose file and docs/operating.md give names the standby's service and port.
    text = open(COMPOSE).read() + open(os.path.join(REPO, "docs", "operating.md")).read()
    assert REPLICA_URL in text


MQ_URLS = ",".join(f"amqp://settle:settle@{h}:5672" for h in ("rabbitmq", "rabbitmq-2", "rabbitmq-3"))
MQ_CLUSTER_CONF = os.path.join(REPO, "deploy", "compose", "rabbitmq-cluster.conf")


def test_compose_mqcluster_is_a_profile_of_three_clustered_nodes():
    plain = compose_config()["services"]
    assert [n for n, s in plain.items() if "mqcluster" in s.get("profiles", [])] == \
        ["rabbitmq-2", "rabbitmq-3"]
    assert plain["api"]["environment"]["SETTLE_AMQP_URLS"] == ""
    assert plain["rabbitmq"]["environment"]["SETTLE_MQ_NODES"] == "1"

    svc = compose_config("--profile", "mqcluster", SETTLE_MQ_NODES="3",
                         SETTLE_AMQP_URLS=MQ_URLS)["services"]
    nodes = ["rabbitmq", "rabbitmq-2", "rabbitmq-3"]
    # One image and one Erlang cookie; each node named after its host name (the service's
    # name, which the others resolve) and its data in a volume of its own.
    assert {svc[n]["image"] for n in nodes} == {"rabbitmq:3.10-management"}
    cookies = {svc[n]["environment"].get("RABBITMQ_ERLANG_COOKIE") for n in nodes}
    assert len(cookies) == 1 and None not in cookies and "" not in cookies, cookies
    for n in nodes:
        assert svc[n]["hostname"] == n
        assert svc[n]["environment"]["RABBITMQ_NODENAME"] == f"rabbit@{n}"
    data = [mounts(svc[n], False)["/var/lib/rabbitmq"] for n in nodes]
    assert len(set(data)) == 3, data
    # Nodes 2 and 3 join node 1 (classic peer discovery from a conf.d file), after it started.
    seeds = [l.split("=", 1)[1].strip() for l in open(MQ_CLUSTER_CONF)
             if l.startswith("cluster_formation.classic_config.nodes.")]
    assert seeds == ["rabbit@rabbitmq"], seeds
    assert "rabbitmq-cluster.conf" not in str(svc["rabbitmq"]["volumes"])
    for n in nodes[1:]:
        conf = [t for t, src in mounts(svc[n], True).items() if src == MQ_CLUSTER_CONF]
        assert len(conf) == 1 and conf[0].startswith("/etc/rabbitmq/conf.d/"), svc[n]["volumes"]
        assert "rabbitmq" in svc[n]["depends_on"]
    # Node 1 is healthy, and so Settle starts (its quorum queues get a member on every node
    # there is), only once the cluster runs SETTLE_MQ_NODES nodes.
    assert svc["rabbitmq"]["environment"]["SETTLE_MQ_NODES"] == "3"
    health = " ".join(svc["rabbitmq"]["healthcheck"]["test"])
    assert "SETTLE_MQ_NODES" in health and "rabbit_nodes:all_running()" in health, health
    for name in ("api", "worker"):
        assert svc[name]["depends_on"]["rabbitmq"]["condition"] == "service_healthy"
    # Settle is given every node's URL.
    for name in ("api", "worker", "migrate"):
        assert svc[name]["environment"]["SETTLE_AMQP_URLS"] == MQ_URLS, name
    # compose.sh's mqcluster profile sets what the compose file's header says to set.
    assert MQ_URLS in open(COMPOSE).read()
    script = open(COMPOSE_SH).read()
    assert f"SETTLE_AMQP_URLS={MQ_URLS}" in script
    # scripts/compose.sh test runs the profile (and its node kill).
    profiles = next(l for l in script.splitlines() if l.startswith("PROFILES=("))
    assert "mqcluster" in profiles and "check_mq_failover" in script, profiles


@pytest.fixture
def primary(workdir):
    """A Postgres configured as the compose file's: its pg_hba.conf, WAL for standbys, and a
    `settle` superuser with password `settle` (the image's POSTGRES_USER/PASSWORD)."""
    pg = Postgres(workdir, name="pg-compose", settings=dict(
        FAST_SETTINGS, hba_file=private_copy(workdir, HBA), wal_level="replica", max_wal_senders="10",
        max_slot_wal_keep_size="1GB"))
    try:
        pg.start()
        pg.psql("CREATE ROLE settle SUPERUSER LOGIN PASSWORD 'settle'")
        pg.create_database("settle")
        yield pg
    finally:
        pg.stop()


class ComposeStandby:
    """deploy/compose/pg-standby.sh run as the postgres user with the compose file's
    environment (but the primary's address), the standby on a port of its own."""

    def __init__(self, workdir, primary):
        self.dir = os.path.join(workdir, "compose-standby")
        os.makedirs(self.dir, exist_ok=True)
        if is_root():
            shutil.chown(self.dir, "postgres", "postgres")
        os.chmod(self.dir, 0o700)
        self.data = os.path.join(self.dir, "standby")
        self.port = free_port()
        self.primary = primary
        self.proc = None
        self.log = os.path.join(workdir, "compose-standby.log")
        self.script = private_copy(workdir, STANDBY_SH)

    def start(self):
        env = ["env", f"PATH={PG_BIN}:/usr/bin:/bin", "PGHOST=127.0.0.1",
               f"PGPORT={self.primary.port}", "PGUSER=settle", "PGPASSWORD=settle",
               f"PGDATA={self.data}", "SETTLE_STANDBY_SLOT=settle_standby_1"]
        # A hot standby needs max_connections at least the primary's (300 in these tests).
        argv = env + ["bash", self.script, "-p", str(self.port), "-c", "listen_addresses=127.0.0.1",
                      "-c", f"unix_socket_directories={self.dir}", "-c", "max_connections=300"]
        if is_root():
            argv = ["runuser", "-u", "postgres", "--"] + argv
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while self.sql("SELECT 1") != "1":
            assert self.proc.poll() is None, open(self.log).read()[-3000:]
            assert time.time() < deadline, open(self.log).read()[-3000:]
            time.sleep(0.2)

    def sql(self, query):
        r = subprocess.run([f"{PG_BIN}/psql", "-X", "-h", "127.0.0.1", "-p", str(self.port), "-U",
                            "settle", "-d", "settle", "-tAc", query], capture_output=True,
                           text=True, timeout=30)
        return r.stdout.strip() if r.returncode == 0 else None

    def stop(self):
        """Fast shutdown of the postmaster (its pid from postmaster.pid), then the script."""
        try:
            pid = int(open(os.path.join(self.data, "postmaster.pid")).readline())
            os.kill(pid, 2)
            for _ in range(300):
                if not pid_alive(pid):
                    break
                time.sleep(0.1)
        except (OSError, ValueError):
            pass
        if self.proc is not None:
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def wait_for(pred, what, timeout=30):
    deadline = time.time() + timeout
    while not pred():
        assert time.time() < deadline, what
        time.sleep(0.1)


def replication_login(pg, password):
    """Whether settle opens a replication connection to pg (with that password, or none)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    if password:
        env["PGPASSWORD"] = password
    r = subprocess.run([f"{PG_BIN}/psql", "-X", "-w", f"host=127.0.0.1 port={pg.port} user=settle "
                        "dbname=settle replication=true", "-c", "IDENTIFY_SYSTEM"], env=env,
                       capture_output=True, text=True, timeout=30)
    return r.returncode == 0


def test_compose_standby_entrypoint_copies_the_primary_and_streams(workdir, primary):
    # The compose file's pg_hba.conf: settle replicates with its password, even on loopback.
    assert not replication_login(primary, None)
    assert replication_login(primary, "settle")
    sb = ComposeStandby(workdir, primary)
    try:
        sb.start()
        assert sb.sql("SELECT pg_is_in_recovery()") == "t"
        # It streams from its slot, authenticated by password (not the loopback's trust).
        wait_for(lambda: primary.psql("SELECT active FROM pg_replication_slots "
                                      "WHERE slot_name = 'settle_standby_1'") == "t",
                 "the slot settle_standby_1 is not in use")
        conninfo = open(os.path.join(sb.data, "postgresql.auto.conf")).read()
        assert "password=settle" in conninfo and "settle_standby_1" in conninfo
        primary.psql("CREATE TABLE probe (v int); INSERT INTO probe VALUES (1)", dbname="settle")
        wait_for(lambda: sb.sql("SELECT v FROM probe") == "1", "the standby misses a write")

        # A restart goes on from its data and slot: no second copy.
        sb.stop()
        primary.psql("INSERT INTO probe VALUES (2)", dbname="settle")
        sb.start()
        wait_for(lambda: sb.sql("SELECT sum(v) FROM probe") == "3",
                 "the restarted standby misses a write")
        assert open(sb.log).read().count("copying the primary") == 1
    finally:
        sb.stop()
        primary.psql("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots "
                     "WHERE slot_name = 'settle_standby_1'")


# ---- scripts/compose.sh (the real run is `scripts/compose.sh test`, make test's last stage) --

COMPOSE_SH = os.path.join(REPO, "scripts", "compose.sh")
DOCKERFILES = [os.path.join(REPO, "Dockerfile"), os.path.join(REPO, "deploy", "swift", "Dockerfile"),
               os.path.join(REPO, "deploy", "compose", "postgres", "Dockerfile"),
               os.path.join(REPO, "deploy", "compose", "rabbitmq", "Dockerfile")]


def froms(path):
    """The images a Dockerfile's FROM lines name (not its own stages)."""
    stages, out = set(), []
    for line in open(path):
        parts = line.split()
        if parts[:1] == ["FROM"]:
            if parts[1] not in stages:
                out.append(parts[1])
            if len(parts) >= 4 and parts[2].upper() == "AS":
                stages.add(parts[3])
    return out


def test_compose_every_image_comes_from_the_one_debootstrap_base():
    # No registry: every Dockerfile starts from the base compose.sh imports, which it names
    # after the Dockerfile's FROM.
    bases = {b for path in DOCKERFILES for b in froms(path)}
    assert bases == {"debian:12-slim"}, bases
    text = open(COMPOSE_SH).read()
    assert 'BASE_IMAGE=$(sed -n' in text and "debootstrap --variant=minbase" in text
    # Every image of the compose file is built: by compose (build:), or by compose.sh's
    # stand-ins (postgres:15 from deploy/compose/postgres, rabbitmq:… from …/rabbitmq).
    svc = compose_config("--profile", "replica", "--profile", "swift",
                         SETTLE_SWIFT_KEY="k", SETTLE_SWIFT_TEMP_URL_KEY="t")["services"]
    built = {s["image"] for s in svc.values() if "build" in s}
    standins = {"postgres:15": "postgres", "rabbitmq:3.10-management": "rabbitmq"}
    for name, s in svc.items():
        image = s["image"]
        assert image in built or image in standins, (name, image)
        if image in standins:
            assert f'"{image} {standins[image]}"' in text, image
            assert os.path.exists(os.path.join(REPO, "deploy", "compose", standins[image],
                                               "Dockerfile")), image


def test_make_test_runs_the_compose_stack_last():
    lines = [l for l in open(os.path.join(REPO, "scripts", "test.sh")) if l.startswith("step ")]
    assert "scripts/compose.sh\" test" in lines[-1], lines
    r = subprocess.run(["bash", "-n", COMPOSE_SH], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    for script in ("flow.py", "mqcluster.py"):
        r = subprocess.run(["/usr/bin/python3", "-m", "py_compile",
                            os.path.join(REPO, "tests", "compose", script)],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr


def test_compose_postgres_keeps_fsync_on():
    # Durability: neither the compose file nor the stand-in turns off fsync or sync commits.
    svc = compose_config()["services"]
    pg = settings(svc["postgres"]["command"])
    for off in ("fsync", "synchronous_commit", "full_page_writes"):
        assert pg.get(off, "on") == "on", (off, pg)
    entry = open(os.path.join(REPO, "deploy", "compose", "postgres", "entrypoint.sh")).read()
    assert "fsync" not in entry and "synchronous_commit" not in entry


def published(service):
    """{container port: host port} a service publishes."""
    out = {}
    for p in service.get("ports", []):
        if isinstance(p, dict):
            out[int(p["target"])] = int(p["published"])
        else:
            host, container = str(p).split("/")[0].rsplit(":", 2)[-2:]
            out[int(container)] = int(host)
    return out


def test_compose_host_ports_default_and_follow_their_variables():
    """8080/8081/15672 by default; SETTLE_HTTP_PORT, SETTLE_SWIFT_PORT and
    SETTLE_MQ_ADMIN_PORT move them (what scripts/compose.sh does where one is taken)."""
    plain = compose_config("--profile", "swift")["services"]
    assert published(plain["api"]) == {8080: 8080}
    assert published(plain["swift"]) == {8081: 8081}
    assert published(plain["rabbitmq"]) == {15672: 15672}
    moved = compose_config("--profile", "swift", SETTLE_HTTP_PORT="18080",
                           SETTLE_SWIFT_PORT="18081", SETTLE_MQ_ADMIN_PORT="25672")["services"]
    assert published(moved["api"]) == {8080: 18080}
    assert published(moved["swift"]) == {8081: 18081}
    assert published(moved["rabbitmq"]) == {15672: 25672}
