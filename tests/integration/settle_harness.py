"""Integration test harness: private PostgreSQL and RabbitMQ servers on free loopback ports,
and the real Settle binaries started with environment variables (pgbouncer's
test/utils.py model).

Everything started here is recorded and stopped by the fixtures' finalizers, and again by
an atexit hook as a last resort, so that a failing or interrupted run leaves nothing
behind. Processes are only ever stopped by their pid.
"""

import atexit
import itertools
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import requests

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")
RABBIT_SBIN = os.environ.get(
    "RABBIT_SBIN", "/usr/lib/rabbitmq/lib/rabbitmq_server-3.10.8/sbin")

# A sanitizer report in any log fails the test that started the process.
SANITIZER_PATTERNS = ("ERROR: AddressSanitizer", "runtime error:", "LeakSanitizer")

# Every live resource, so that atexit can stop what the fixtures could not.
_live = set()
_live_lock = threading.Lock()
_log_counter = itertools.count(1)


def _track(obj):
    with _live_lock:
        _live.add(obj)


def _untrack(obj):
    with _live_lock:
        _live.discard(obj)


@atexit.register
def _stop_everything():
    with _live_lock:
        live = list(_live)
    # Processes first, then the servers they use.
    live.sort(key=lambda o: 0 if isinstance(o, SettleProcess) else 1)
    for obj in live:
        try:
            obj.kill()
        except Exception as e:  # pragma: no cover - best effort at exit
            print(f"settle_harness: could not stop {obj!r}: {e}", file=sys.stderr)


def is_root():
    return os.geteuid() == 0


def free_port():
    """A loopback TCP port the kernel just gave us (released again)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_until(predicate, timeout, interval=0.1, what="condition"):
    """Polls predicate until it returns a true value (returned) or timeout seconds pass
    (AssertionError naming what)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def wait_replayed(primary, standby, timeout=10.0):
    """Returns once the standby has replayed every WAL record the primary wrote so far;
    AssertionError after timeout seconds. primary, standby: autocommit psycopg2 connections.

    A standby receives only WAL the primary flushed, and with synchronous_commit off (the
    test settings) neither a commit nor an open transaction's records are flushed at once.
    So the primary first commits a transaction of its own with synchronous_commit on that
    writes a WAL record (a transactional logical message: a transaction that wrote none
    commits without a flush): its flush covers every record before it, and the flush
    position is a target the standby reaches."""
    import psycopg2.extensions
    plain = psycopg2.extensions.cursor  # not the ReplayedCursor a caller's connection has
    with primary.cursor(cursor_factory=plain) as cur:
        cur.execute("BEGIN; SET LOCAL synchronous_commit = on;"
                    " SELECT pg_logical_emit_message(true, 'settle-test', ''); COMMIT")
        cur.execute("SELECT pg_current_wal_flush_lsn()")
        lsn = cur.fetchone()[0]
    deadline = time.monotonic() + timeout
    with standby.cursor() as cur:
        while True:
            cur.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (lsn,))
            if cur.fetchone()[0]:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"standby did not replay {lsn} in {timeout} s")
            time.sleep(0.002)


def wait_replayed_urls(primary_url, standby_url, timeout=10.0):
    """wait_replayed for two database URLs, on connections of its own."""
    import psycopg2
    conns = []
    try:
        for url in (primary_url, standby_url):
            conns.append(psycopg2.connect(url))
            conns[-1].autocommit = True
        wait_replayed(*conns, timeout=timeout)
    finally:
        for c in conns:
            c.close()


def sanitizer_report(text):
    """The first sanitizer pattern found in text, or None."""
    for p in SANITIZER_PATTERNS:
        if p in text:
            return p
    return None


def sanitizer_env():
    env = {}
    env["ASAN_OPTIONS"] = os.environ.get("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=0")
    env["UBSAN_OPTIONS"] = os.environ.get("UBSAN_OPTIONS",
                                          "print_stacktrace=1:halt_on_error=1")
    return env


def make_workdir():
    """A fresh temp directory that the postgres user can traverse."""
    d = tempfile.mkdtemp(prefix="settle-it-")
    os.chmod(d, 0o755)
    return d


# The settings of the test clusters: speed over durability. Safe for these tests because
# none of them depends on what a crash keeps: a cluster is thrown away after the session,
# it is stopped with a fast shutdown (which writes everything out) or killed only at
# teardown, and nothing here crashes the machine (the one thing fsync and full-page writes
# protect against). synchronous_commit=off is different: it acknowledges a COMMIT before
# its WAL leaves Postgres's memory, so even a Postgres process crash loses the last commits.
# Tests that crash Postgres on purpose (test_recovery.py) therefore start their own cluster
# with DURABLE_SETTINGS.
FAST_SETTINGS = {"fsync": "off", "full_page_writes": "off", "synchronous_commit": "off"}
DURABLE_SETTINGS = dict(FAST_SETTINGS, synchronous_commit="on")


class Postgres:
    """A private PostgreSQL 15 cluster in root_dir/<name> on a free port, started with
    `settings` (default FAST_SETTINGS). As root, initdb and pg_ctl run as the `postgres`
    user, which owns the data directory."""

    def __init__(self, root_dir, name="pg", settings=None):
        self.settings = dict(FAST_SETTINGS if settings is None else settings)
        self.dir = os.path.join(root_dir, name)
        self.data = os.path.join(self.dir, "data")
        self.sock = os.path.join(self.dir, "sock")
        self.log = os.path.join(self.dir, "postgres.log")
        self.port = None
        self.pid = None

    def __repr__(self):
        return f"Postgres(port={self.port}, pid={self.pid})"

    def _as_pg(self, argv):
        if is_root():
            return ["runuser", "-u", "postgres", "--"] + argv
        return argv

    def _run(self, argv, timeout=60):
        r = subprocess.run(self._as_pg(argv), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}):\n{r.stdout}")
        return r.stdout

    def _make_dir(self):
        os.makedirs(self.sock, exist_ok=True)
        if is_root():
            shutil.chown(self.dir, "postgres", "postgres")
            shutil.chown(self.sock, "postgres", "postgres")
        os.chmod(self.dir, 0o700)

    def init(self):
        self._make_dir()
        self._run([f"{PG_BIN}/initdb", "-D", self.data, "-A", "trust", "--nosync",
                   "-U", "postgres", "-E", "UTF8"])

    def start(self, port=None):
        if not os.path.exists(os.path.join(self.data, "PG_VERSION")):
            self.init()
        self.port = port or self.port or free_port()
        opts = f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.sock}"
        for k, v in dict(self.settings, max_connections="300").items():
            opts += f" -c {k}={v}"
        _track(self)
        try:
            self._run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60",
                       "-o", opts, "start"], timeout=90)
        except Exception:
            self._read_pid()
            raise RuntimeError(f"postgres did not start:\n{self.log_text()[-3000:]}")
        self._read_pid()

    def _read_pid(self):
        try:
            with open(os.path.join(self.data, "postmaster.pid")) as f:
                self.pid = int(f.readline().strip())
        except (OSError, ValueError):
            pass

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def url(self, dbname="settle"):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    def psql(self, sql, dbname="postgres"):
        return subprocess.run(
            [f"{PG_BIN}/psql", "-X", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
             "-d", dbname, "-v", "ON_ERROR_STOP=1", "-tAc", sql],
            check=True, stdout=subprocess.PIPE, text=True, timeout=60).stdout.strip()

    def create_database(self, name):
        subprocess.run([f"{PG_BIN}/createdb", "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", name], check=True, timeout=60)
        return self.url(name)

    def stop(self):
        if self.pid and pid_alive(self.pid):
            try:
                self._run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", "fast", "-w", "-t", "30",
                           "stop"], timeout=40)
            except Exception:
                pass
            self.kill()
        _untrack(self)
        self.pid = None

    def halt(self, mode="immediate"):
        """`pg_ctl stop -m mode` (immediate: every Postgres process quits at once, as in a
        crash of Postgres, not of the machine; fast: a clean shutdown that ends sessions).
        start() brings it back on the same port and data."""
        self._run([f"{PG_BIN}/pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "30", "stop"],
                  timeout=40)
        self.pid = None

    def kill(self):
        if self.pid and pid_alive(self.pid):
            os.kill(self.pid, signal.SIGQUIT)  # immediate shutdown
            for _ in range(50):
                if not pid_alive(self.pid):
                    break
                time.sleep(0.1)
            else:
                os.kill(self.pid, signal.SIGKILL)
        _untrack(self)


class Standby(Postgres):
    """A streaming standby of `primary` (pg_basebackup through the physical replication
    slot `name`), in root_dir/<name> on a free port, applying the WAL `delay_ms` late
    (recovery_min_apply_delay). stop() also drops its slot on the primary."""

    def __init__(self, primary, root_dir, name="replica", delay_ms=0):
        super().__init__(root_dir, name=name, settings=dict(
            FAST_SETTINGS, hot_standby="on", recovery_min_apply_delay=f"{int(delay_ms)}ms"))
        self.primary = primary
        self.slot = name.replace("-", "_")

    def __repr__(self):
        return f"Standby(port={self.port}, pid={self.pid}, slot={self.slot})"

    def init(self):
        self._make_dir()
        self.primary.psql(f"SELECT pg_create_physical_replication_slot('{self.slot}', true)")
        self._run([f"{PG_BIN}/pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port),
                   "-U", "postgres", "-D", self.data, "-X", "stream", "-S", self.slot, "-R",
                   "--no-sync", "--checkpoint=fast"], timeout=120)

    def replay_lsn(self):
        return self.psql("SELECT pg_last_wal_replay_lsn()")

    def stop(self):
        super().stop()
        try:
            self.primary.psql("SELECT pg_drop_replication_slot(slot_name) FROM "
                              f"pg_replication_slots WHERE slot_name = '{self.slot}'")
        except Exception:
            pass


class RabbitMQ:
    """A private RabbitMQ 3.10 node in root_dir/rabbitmq, on free ports (AMQP, Erlang
    distribution and its own epmd port), under a unique node name. restart() stops and
    starts it again on the same ports and data."""

    def __init__(self, root_dir, name="rabbitmq", epmd_port=None, cookie=None):
        self.dir = os.path.join(root_dir, name)
        self.node = f"settle-it-{os.getpid()}-{secrets.token_hex(3)}@localhost"
        self.port = free_port()
        self.dist_port = free_port()
        # A node of a cluster shares the cluster's epmd (its peers look it up there) and
        # Erlang cookie; the cluster stops that epmd once all its nodes are gone.
        self.shared_epmd = epmd_port is not None
        self.epmd_port = epmd_port if epmd_port is not None else free_port()
        self.cookie = cookie
        self.launcher = None
        self.pid = None
        self.server_log = os.path.join(self.dir, "server.log")

    def __repr__(self):
        return f"RabbitMQ(node={self.node}, port={self.port}, pid={self.pid})"

    @property
    def url(self):
        return f"amqp://guest:guest@127.0.0.1:{self.port}"

    def env(self):
        env = dict(os.environ)
        env.update({
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": os.path.join(self.dir, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(self.dir, "log"),
            "RABBITMQ_CONFIG_FILE": os.path.join(self.dir, "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.dir, "enabled_plugins"),
            "RABBITMQ_CONF_ENV_FILE": os.path.join(self.dir, "rabbitmq-env.conf"),
            "RABBITMQ_PID_FILE": os.path.join(self.dir, "rabbit.pid"),
            "HOME": os.path.join(self.dir, "home"),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "ERL_EPMD_PORT": str(self.epmd_port),
        })
        return env

    def _prepare(self):
        for sub in ("mnesia", "log", "home"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as f:
            f.write(f"loopback_users = none\nlisteners.tcp.default = 127.0.0.1:{self.port}\n")
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as f:
            f.write("[].\n")
        open(os.path.join(self.dir, "rabbitmq-env.conf"), "w").close()
        if self.cookie is not None:
            path = os.path.join(self.dir, "home", ".erlang.cookie")
            if os.path.exists(path):
                os.chmod(path, 0o600)
            with open(path, "w") as f:
                f.write(self.cookie)
            os.chmod(path, 0o400)

    def start_async(self):
        """Launches the node without waiting; wait_ready() waits for it."""
        self._prepare()
        try:
            os.unlink(os.path.join(self.dir, "rabbit.pid"))
        except FileNotFoundError:
            pass
        log = open(self.server_log, "ab")
        _track(self)
        self.launcher = subprocess.Popen([f"{RABBIT_SBIN}/rabbitmq-server"], env=self.env(),
                                         cwd=self.dir, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    # free_port()'s ports are free when chosen, not when the node binds them: an outgoing
    # connection of another process (the ephemeral range) may take one meanwhile. A node
    # that exits for that starts again on new ports, at most twice.
    PORT_TAKEN = ("dist_port_already_used", "eaddrinuse")

    def wait_ready(self, timeout=90):
        deadline = time.monotonic() + timeout
        retries = 2
        while not port_open(self.port):
            if self.launcher.poll() is not None:
                tail = self.log_text()[-3000:]
                if retries > 0 and any(m in tail for m in self.PORT_TAKEN):
                    retries -= 1
                    self.port, self.dist_port = free_port(), free_port()
                    self.start_async()
                    continue
                raise RuntimeError(f"rabbitmq exited ({self.launcher.returncode}):\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"rabbitmq did not open port {self.port} in {timeout}s")
            time.sleep(0.2)
        self.ctl("await_startup", timeout=max(5, deadline - time.monotonic()))
        with open(os.path.join(self.dir, "rabbit.pid")) as f:
            self.pid = int(f.read().strip())

    def start(self, timeout=90):
        self.start_async()
        self.wait_ready(timeout)

    def ctl(self, *args, timeout=60):
        env = self.env()
        # The CLI's own distribution port: a private one instead of the shared 35672-35682.
        ctl_port = str(free_port())
        env["RABBITMQ_CTL_DIST_PORT_MIN"] = env["RABBITMQ_CTL_DIST_PORT_MAX"] = ctl_port
        r = subprocess.run([f"{RABBIT_SBIN}/rabbitmqctl", "-q", "-n", self.node, *args],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed ({r.returncode}):\n"
                               f"{r.stdout}")
        return r.stdout

    def log_text(self):
        text = ""
        for path in [self.server_log,
                     os.path.join(self.dir, "log", f"{self.node}.log")]:
            try:
                with open(path, errors="replace") as f:
                    text += f.read()
            except OSError:
                pass
        return text

    def stop(self):
        """Stops the node cleanly (rabbitmqctl stop), falling back to signals."""
        if self.pid and pid_alive(self.pid):
            try:
                self.ctl("stop", os.path.join(self.dir, "rabbit.pid"), timeout=60)
            except Exception:
                pass
        self.kill()

    def restart(self, timeout=90):
        """Stops and starts the node on the same ports, node name and data."""
        self.stop()
        self.start(timeout)

    def kill(self):
        if self.pid and pid_alive(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            for _ in range(50):
                if not pid_alive(self.pid):
                    break
                time.sleep(0.1)
            else:
                os.kill(self.pid, signal.SIGKILL)
        if self.launcher is not None:
            if self.launcher.poll() is None:
                self.launcher.terminate()
                try:
                    self.launcher.wait(10)
                except subprocess.TimeoutExpired:
                    self.launcher.kill()
                    self.launcher.wait(10)
            self.launcher = None
        # The epmd on our private port was started by our node; nobody else uses it.
        if not self.shared_epmd:
            subprocess.run(["epmd", "-kill"], env=self.env(), stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, timeout=10, check=False)
        self.pid = None
        _untrack(self)

    def kill9(self):
        """kill -9 of the node's Erlang VM, as a crash; its launcher script exits with it."""
        os.kill(self.pid, signal.SIGKILL)
        wait_until(lambda: not pid_alive(self.pid), 10, what=f"{self.node} gone")
        if self.launcher is not None:
            try:
                self.launcher.wait(10)
            except subprocess.TimeoutExpired:
                self.launcher.kill()
                self.launcher.wait(10)
            self.launcher = None
        self.pid = None


class RabbitCluster:
    """n private RabbitMQ 3.10 nodes on loopback (root_dir/rabbitmq-1..n) joined into one
    cluster: one epmd port and Erlang cookie for all, nodes 2..n join node 1. Every queue
    Settle declares is a quorum queue, which the cluster replicates on all n nodes."""

    def __init__(self, root_dir, n=3):
        epmd = free_port()
        cookie = secrets.token_hex(16).upper()
        self.nodes = [RabbitMQ(root_dir, f"rabbitmq-{k}", epmd_port=epmd, cookie=cookie)
                      for k in range(1, n + 1)]

    def __repr__(self):
        return f"RabbitCluster({self.nodes})"

    @property
    def urls(self):
        """Every node's URL, comma-separated, as SETTLE_AMQP_URL takes them."""
        return ",".join(n.url for n in self.nodes)

    def start(self, timeout=120):
        for n in self.nodes:
            n.start_async()
        for n in self.nodes:
            n.wait_ready(timeout)
        for n in self.nodes[1:]:
            n.ctl("stop_app")
            n.ctl("join_cluster", self.nodes[0].node)
            n.ctl("start_app")
        self.wait_running(len(self.nodes), timeout)

    def running_nodes(self, via=None):
        """Names of the running nodes of the cluster, as node `via` (default: any live
        one) sees them."""
        nodes = [via] if via is not None else [n for n in self.nodes if n.pid]
        for n in nodes:
            try:
                status = json.loads(n.ctl("cluster_status", "--formatter", "json"))
                return sorted(status.get("running_nodes", []))
            except Exception:
                continue
        return []

    def wait_running(self, count, timeout=60):
        wait_until(lambda: len(self.running_nodes()) == count, timeout,
                   interval=0.5, what=f"{count} running nodes")

    def node_named(self, name):
        return next(n for n in self.nodes if n.node == name)

    def queues(self, via=None):
        """{queue name: (type, leader node, [member nodes])} as a live node lists them."""
        node = via or next(n for n in self.nodes if n.pid)
        out = node.ctl("list_queues", "name", "type", "leader", "members", "--formatter",
                       "json")
        return {q["name"]: (q.get("type"), q.get("leader"), q.get("members") or [])
                for q in json.loads(out)}

    def stop(self):
        for n in reversed(self.nodes):
            n.stop()
        subprocess.run(["epmd", "-kill"], env=self.nodes[0].env(), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=10, check=False)


class SettleProcess:
    """One running Settle binary (settle-api or settle-worker) with its output captured to
    a log file."""

    def __init__(self, name, argv, env, log_path, port=None):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_path
        self.port = port
        self.url = f"http://127.0.0.1:{port}" if port else None
        self.base = f"{self.url}/api/v1" if port else None
        log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        self.pid = self.proc.pid
        _track(self)

    def __repr__(self):
        return f"SettleProcess({self.name}, pid={self.pid}, port={self.port})"

    @property
    def returncode(self):
        return self.proc.poll()

    def alive(self):
        return self.proc.poll() is None

    def wait(self, timeout=10):
        """Waits for exit; returns the exit code (negative: killed by that signal).
        Raises subprocess.TimeoutExpired."""
        rc = self.proc.wait(timeout)
        _untrack(self)
        return rc

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Sends sig and waits up to timeout for the exit code; kills on timeout (then
        raises AssertionError)."""
        if self.alive():
            self.proc.send_signal(sig)
        try:
            return self.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.name} (pid {self.pid}) did not exit within {timeout}s "
                                 f"after signal {sig}")

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        _untrack(self)

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def wait_ready(self, timeout=30, path="/readyz"):
        """Waits until GET url+path answers 200; raises with the log if the process exits
        or time runs out."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            if not self.alive():
                raise AssertionError(f"{self.name} exited with {self.returncode} during start:\n"
                                     f"{self.log_text()[-4000:]}")
            try:
                r = requests.get(self.url + path, timeout=2)
                if r.status_code == 200:
                    return
                last = f"{r.status_code} {r.text[:200]}"
            except requests.RequestException as e:
                last = str(e)
            time.sleep(0.1)
        raise AssertionError(f"{self.name} not ready in {timeout}s (last answer: {last}):\n"
                             f"{self.log_text()[-4000:]}")


def parse_kv_lines(text):
    """KEY=VALUE lines into a dict (other lines ignored)."""
    out = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            if k.strip().isidentifier():
                out[k.strip()] = v.strip()
    return out



class Swift:
    """A one-box OpenStack Swift in root_dir/swift, started and stopped by scripts/swift.sh
    (the same script `SETTLE_STORAGE=swift make run` uses), which stops it by the pids it
    recorded. env holds the SETTLE_STORAGE and SETTLE_SWIFT_* settings that reach it."""

    SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "scripts", "swift.sh")

    def __init__(self, root_dir):
        self.dir = os.path.join(root_dir, "swift")
        self.env = {}

    def __repr__(self):
        return f"Swift(dir={self.dir})"

    def _run(self, cmd, timeout):
        r = subprocess.run([self.SCRIPT, cmd, self.dir], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"swift.sh {cmd} failed ({r.returncode}):\n{r.stderr}")
        return r.stdout

    def start(self):
        _track(self)
        self.env = parse_kv_lines(self._run("start", 180))

    def stop(self):
        try:
            self._run("stop", 60)
        finally:
            _untrack(self)

    kill = stop

    def server_pid(self, server):
        """The pid swift.sh recorded for server (memcached, account, container, object or
        proxy), if that process still runs it; else None."""
        try:
            with open(os.path.join(self.dir, "run", f"{server}.pid")) as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/stat") as f:
                zombie = f.read().rsplit(") ", 1)[1].startswith("Z")
        except (OSError, ValueError):
            return None
        mark = b"memcached" if server == "memcached" else f"{server}-server.conf".encode()
        return pid if mark in cmdline and not zombie else None

    def halt(self, server, sig=signal.SIGKILL, timeout=10):
        """Stops one server that swift.sh started, by its recorded pid (SIGKILL: as in a
        crash). start() brings it back on the same port and data."""
        pid = self.server_pid(server)
        assert pid is not None, f"swift {server} is not running"
        os.kill(pid, sig)
        wait_until(lambda: self.server_pid(server) is None, timeout, what=f"swift {server} gone")

    def auth(self):
        """(token, storage URL) from tempauth."""
        r = requests.get(self.env["SETTLE_SWIFT_AUTH_URL"], timeout=10,
                         headers={"X-Auth-User": self.env["SETTLE_SWIFT_USER"],
                                  "X-Auth-Key": self.env["SETTLE_SWIFT_KEY"]})
        r.raise_for_status()
        return r.headers["X-Auth-Token"], r.headers["X-Storage-Url"]


class Settle:
    """Starts Settle binaries against the session's servers. Every process started is
    stopped by cleanup(), which also reports sanitizer findings."""

    def __init__(self, bin_dir, workdir, base_env, standby=None):
        """standby: None, or (database URL, standby URL): every settle-api started on that
        database (and not told otherwise) also reads from that standby."""
        self.bin_dir = bin_dir
        self.workdir = workdir
        self.base_env = base_env
        self.standby = standby
        self.logdir = os.path.join(workdir, "logs")
        os.makedirs(self.logdir, exist_ok=True)
        self.procs = []
        self.cli_outputs = []

    def binary(self, name):
        path = os.path.join(self.bin_dir, name)
        if not os.access(path, os.X_OK):
            raise AssertionError(f"binary {path} is missing: build first "
                                 f"(SETTLE_BIN_DIR={self.bin_dir})")
        return path

    def env(self, **overrides):
        """The base environment plus overrides; a value None removes the variable."""
        env = dict(self.base_env)
        for k, v in overrides.items():
            if v is None:
                env.pop(k, None)
            else:
                env[k] = str(v)
        return env

    def _log_path(self, name):
        return os.path.join(self.logdir, f"{next(_log_counter):04d}-{name}.log")

    def start(self, name, args=(), port=None, **env):
        p = SettleProcess(name, [self.binary(name), *args], self.env(**env),
                          self._log_path(name), port)
        self.procs.append(p)
        return p

    def api(self, wait=True, timeout=30, **env):
        """Starts settle-api on a free port (unless SETTLE_LISTEN is given) and waits for
        /readyz 200."""
        if "SETTLE_LISTEN" in env:
            port = int(str(env["SETTLE_LISTEN"]).rsplit(":", 1)[1])
        else:
            port = free_port()
            env["SETTLE_LISTEN"] = f"127.0.0.1:{port}"
        env.setdefault("SETTLE_PUBLIC_URL", f"http://127.0.0.1:{port}")
        if self.standby is not None and "SETTLE_DATABASE_REPLICA_URLS" not in env and \
                self.env(**env).get("SETTLE_DATABASE_URL") == self.standby[0]:
            env["SETTLE_DATABASE_REPLICA_URLS"] = self.standby[1]
        p = self.start("settle-api", port=port, **env)
        if wait:
            p.wait_ready(timeout)
        return p

    def worker(self, **env):
        return self.start("settle-worker", **env)

    def cli(self, *args, check=True, timeout=120, **env):
        """Runs `settle ARGS` to completion; returns the CompletedProcess (stdout and
        stderr as text). check: assert exit 0."""
        r = subprocess.run([self.binary("settle"), *args], env=self.env(**env),
                           stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, timeout=timeout)
        self.cli_outputs.append((args, r.stdout + r.stderr))
        found = sanitizer_report(r.stderr)
        assert found is None, f"settle {' '.join(args)}: sanitizer report:\n{r.stderr}"
        if check:
            assert r.returncode == 0, (f"settle {' '.join(args)} exited {r.returncode}:\n"
                                       f"{r.stdout}\n{r.stderr}")
        # The CLI writes outside any consistency session (no cookie carries its position):
        # with a standby, return once it has replayed what the CLI wrote, as a client's
        # cookie would make a read wait.
        if self.standby is not None and \
                self.env(**env).get("SETTLE_DATABASE_URL") == self.standby[0]:
            wait_replayed_urls(*self.standby)
        return r

    def create_user(self, name=None, **env):
        name = name or f"user-{uuid.uuid4().hex[:8]}"
        kv = parse_kv_lines(self.cli("user", "create", name, **env).stdout)
        assert "SETTLE_USER_ID" in kv and "SETTLE_USER_KEY" in kv, kv
        return kv["SETTLE_USER_ID"], kv["SETTLE_USER_KEY"]

    def create_agent(self, name=None, **env):
        name = name or f"agent-{uuid.uuid4().hex[:8]}"
        kv = parse_kv_lines(self.cli("agent", "create", name, **env).stdout)
        assert "SETTLE_AGENT_ID" in kv and "SETTLE_AGENT_KEY" in kv, kv
        return kv["SETTLE_AGENT_ID"], kv["SETTLE_AGENT_KEY"]

    def login(self, api, user_name=None):
        """Creates a user and an agent with the CLI and gets an API token from api.
        Returns a dict: user_id, user_key, agent_id, agent_key, token, headers."""
        user_id, user_key = self.create_user(user_name)
        agent_id, agent_key = self.create_agent()
        r = requests.post(f"{api.base}/software_agents/api_token",
                          json={"agent_key": agent_key, "user_key": user_key}, timeout=10)
        assert r.status_code == 201, f"api_token: {r.status_code} {r.text}"
        token = r.json()["api_token"]
        return {"user_id": user_id, "user_key": user_key, "agent_id": agent_id,
                "agent_key": agent_key, "token": token,
                "headers": {"Authorization": token}}

    def metrics(self):
        """The samples of /metrics of each settle-api still running (a dict per process;
        one that does not answer is left out)."""
        out = []
        for p in self.procs:
            if p.name != "settle-api" or not p.alive():
                continue
            try:
                text = requests.get(f"{p.url}/metrics", timeout=5).text
            except requests.RequestException:
                continue
            samples = {}
            for line in text.splitlines():
                name, _, value = line.rpartition(" ")
                try:
                    samples[name] = float(value)
                except ValueError:
                    pass  # a comment or a blank line
            out.append(samples)
        return out

    def cleanup(self):
        """Kills every process still running; returns a list of sanitizer findings."""
        for p in self.procs:
            if p.alive():
                try:
                    p.stop(signal.SIGTERM, timeout=10)
                except AssertionError:
                    pass
            p.kill()
        problems = []
        for p in self.procs:
            text = p.log_text()
            found = sanitizer_report(text)
            if found:
                problems.append(f"{p.name} (pid {p.pid}) log {p.log_path} has '{found}':\n"
                                f"{text[-6000:]}")
        self.procs = []
        return problems


class Amqp:
    """A small pika helper bound to one RabbitMQ: publish jobs and inspect queues."""

    def __init__(self, url):
        import pika
        self.pika = pika
        self.url = url
        self.conn = None
        self.ch = None

    def channel(self):
        if self.conn is None or self.conn.is_closed:
            params = self.pika.URLParameters(self.url)
            params.connection_attempts = 5
            params.retry_delay = 0.5
            self.conn = self.pika.BlockingConnection(params)
            self.ch = None
        if self.ch is None or self.ch.is_closed:
            self.ch = self.conn.channel()
        return self.ch

    def publish(self, routing_key, body, exchange="settle.jobs", message_id=None,
                confirm=True):
        """Publishes body (a dict is JSON-encoded) persistently with message_id."""
        import json
        if isinstance(body, dict):
            message_id = message_id or body.get("id")
            body = json.dumps(body)
        ch = self.channel()
        if confirm and not getattr(ch, "_settle_confirms", False):
            ch.confirm_delivery()
            ch._settle_confirms = True
        ch.basic_publish(exchange=exchange, routing_key=routing_key, body=body,
                         properties=self.pika.BasicProperties(
                             delivery_mode=2, content_type="application/json",
                             message_id=message_id or str(uuid.uuid4())),
                         mandatory=True)

    def queue(self, name):
        """(message_count, consumer_count) of a queue, or None if it does not exist."""
        try:
            ok = self.channel().queue_declare(queue=name, passive=True)
            return ok.method.message_count, ok.method.consumer_count
        except self.pika.exceptions.ChannelClosedByBroker:
            self.ch = None
            return None

    def consumers(self, name):
        q = self.queue(name)
        return q[1] if q else 0

    def close(self):
        try:
            if self.conn is not None and self.conn.is_open:
                self.conn.close()
        except Exception:
            pass
        self.conn = None
        self.ch = None


def job_message(kind, resource_id, attempt=1):
    """A job message body as DESIGN.md describes it."""
    return {"id": str(uuid.uuid4()), "kind": kind, "resource_id": str(resource_id),
            "attempt": attempt, "enqueued_at": int(time.time() * 1000)}
