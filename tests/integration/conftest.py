"""Fixtures of the integration tests: a private PostgreSQL and RabbitMQ per session, the
real Settle binaries started per test, and clients for the database and the broker.

Binaries come from $SETTLE_BIN_DIR (default build/ at the top of the checkout). Test
files are kept in a temp directory that is removed when every test passed (set
SETTLE_KEEP_TMP=1 to keep it anyway); its path is printed otherwise.

SETTLE_TEST_STANDBY=1 runs the tests through the consistency sessions (API.md): every
settle-api on the session's database also reads from a (non-delayed) standby of it, and the
tests' HTTP clients keep cookies (each thread of a test its own jar, for the calls made with
requests' functions; a requests.Session keeps its own), so that their reads carry the
SESSION cookie and go to the standby. The session fails unless the standby served reads.
Tests marked no_standby_run are skipped then.
"""

import os
import secrets
import shutil
import signal
import sys
import threading
import time
import uuid

import pytest
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from settle_harness import (  # noqa: E402
    DURABLE_SETTINGS, Amqp, Postgres, RabbitMQ, Settle, Standby, Swift, make_workdir,
    sanitizer_env, wait_replayed)
from storage_providers import LocalProvider, SwiftProvider  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
STANDBY_RUN = os.environ.get("SETTLE_TEST_STANDBY") == "1"


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: long tests (1 GiB bodies, load); run by default, deselect with -m 'not slow'")
    config.addinivalue_line(
        "markers", "no_standby_run(reason): skipped with SETTLE_TEST_STANDBY=1")
    # SIGTERM ends the run like Ctrl-C does, so that every finalizer still runs.
    def on_term(signum, frame):
        raise KeyboardInterrupt("SIGTERM")

    signal.signal(signal.SIGTERM, on_term)


def pytest_collection_modifyitems(config, items):
    if not STANDBY_RUN:
        return
    for item in items:
        mark = item.get_closest_marker("no_standby_run")
        if mark is not None:
            item.add_marker(pytest.mark.skip(reason="SETTLE_TEST_STANDBY: " + mark.args[0]))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


def _failed(request):
    node = request.node
    return any(getattr(node, f"rep_{w}", None) is not None and getattr(node, f"rep_{w}").failed
               for w in ("setup", "call"))


@pytest.fixture(scope="session")
def bin_dir():
    d = os.environ.get("SETTLE_BIN_DIR") or "build"
    if not os.path.isabs(d):
        d = os.path.join(REPO, d)
    return d


@pytest.fixture(scope="session")
def workdir(request):
    d = make_workdir()
    yield d
    if request.session.testsfailed == 0 and not os.environ.get("SETTLE_KEEP_TMP"):
        shutil.rmtree(d, ignore_errors=True)
    else:
        print(f"\nsettle: test files and logs kept in {d}", file=sys.stderr)


@pytest.fixture(scope="session")
def secret():
    return secrets.token_hex(24)


def _clean_env():
    """The environment of this process without any SETTLE_* variable."""
    return {k: v for k, v in os.environ.items() if not k.startswith("SETTLE_")}


@pytest.fixture(scope="session")
def postgres(workdir, bin_dir, secret):
    """A private PostgreSQL with the `settle` database, migrated."""
    pg = Postgres(workdir)
    try:
        pg.start()
        pg.create_database("settle")
        s = Settle(bin_dir, workdir, dict(_clean_env(), **sanitizer_env(),
                                          SETTLE_DATABASE_URL=pg.url(), SETTLE_SECRET=secret,
                                          SETTLE_QUEUE="inline"))
        s.cli("migrate")
        yield pg
    finally:
        pg.stop()


@pytest.fixture(scope="session")
def rabbitmq(workdir):
    """A private RabbitMQ node. rabbitmq.restart() stops and starts it on the same ports."""
    mq = RabbitMQ(workdir)
    try:
        mq.start()
        yield mq
    finally:
        mq.stop()


@pytest.fixture(scope="session")
def swift(workdir):
    """A one-box Swift (scripts/swift.sh), started once per session by the first test that
    asks for it; swift.env has its SETTLE_STORAGE and SETTLE_SWIFT_* settings."""
    sw = Swift(workdir)
    try:
        sw.start()
        yield sw
    finally:
        sw.stop()


@pytest.fixture(scope="session")
def base_env(workdir, postgres, rabbitmq, secret):
    """The environment every binary gets unless a test overrides a variable."""
    storage = os.path.join(workdir, "storage")
    os.makedirs(storage, exist_ok=True)
    env = _clean_env()
    env.update(sanitizer_env())
    env.update({
        "SETTLE_DATABASE_URL": postgres.url(),
        "SETTLE_AMQP_URL": rabbitmq.url,
        "SETTLE_QUEUE": "rabbitmq",
        "SETTLE_SECRET": secret,
        "SETTLE_STORAGE_DIR": storage,
        "SETTLE_RETRY_BASE_MS": "50",
        "SETTLE_LOG_LEVEL": "info",
    })
    return env


@pytest.fixture(scope="session")
def suite_standby(workdir, postgres):
    """With SETTLE_TEST_STANDBY=1, a standby of the session's Postgres (no delay) that every
    settle-api of the `settle` fixture reads from; else None."""
    if not STANDBY_RUN:
        yield None
        return
    sb = Standby(postgres, workdir, name="replica-suite")
    try:
        sb.start()
        yield sb
    finally:
        sb.stop()


class Routing:
    """Reads counted by the settle-api processes that had the suite's standby."""

    def __init__(self):
        self.apis = 0
        self.reads = {"primary": 0.0, "standby": 0.0}

    def add(self, samples):
        if not any(k.startswith("settle_standby_up") for k in samples):
            return  # no standby configured
        self.apis += 1
        for where in self.reads:
            self.reads[where] += samples.get(f'settle_reads_total{{served="{where}"}}', 0.0)


@pytest.fixture(scope="session", autouse=True)
def routing():
    """With SETTLE_TEST_STANDBY=1: at the end of the session, the standby must have served
    reads (else the suite did not go through the routing)."""
    seen = Routing()
    yield seen
    if STANDBY_RUN and seen.apis > 0:
        print(f"\nsettle: {seen.apis} settle-api processes with a standby; reads served by "
              f"the primary {seen.reads['primary']:.0f}, by the standby "
              f"{seen.reads['standby']:.0f}", file=sys.stderr)
        assert seen.reads["standby"] > 0, "SETTLE_TEST_STANDBY: the standby served no read"


class _CookieJars(threading.local):
    """A cookie jar per thread."""

    def __init__(self):
        self.jar = requests.cookies.RequestsCookieJar()


@pytest.fixture(autouse=True)
def cookie_clients(monkeypatch):
    """With SETTLE_TEST_STANDBY=1: requests.request, requests.get and the like keep the
    cookies of the test's thread, as a client keeping cookies would (a new connection per
    call still, as without)."""
    if not STANDBY_RUN:
        return
    jars = _CookieJars()

    def request(method, url, **kw):
        with requests.sessions.Session() as session:
            session.cookies = jars.jar
            return session.request(method=method, url=url, **kw)

    monkeypatch.setattr(requests.api, "request", request)
    monkeypatch.setattr(requests, "request", request)


def _serve(s, request, routing=None):
    """Yields the Settle factory s to a test, then stops what it started; prints their logs
    when the test failed, and fails it on a sanitizer report in any of them. routing: counts
    the reads of its settle-api processes."""
    yield s
    if routing is not None and s.standby is not None:
        for samples in s.metrics():
            routing.add(samples)
    procs = list(s.procs)
    problems = s.cleanup()
    if _failed(request):
        for p in procs:
            print(f"\n----- {p.name} pid {p.pid} exit {p.returncode} log {p.log_path} -----\n"
                  f"{p.log_text()[-5000:]}")
    if problems:
        pytest.fail("sanitizer findings:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def settle(bin_dir, workdir, base_env, request, postgres, suite_standby, routing):
    """Factory of Settle processes: settle.api(**env), settle.worker(**env),
    settle.cli(*args, **env), settle.login(api). Everything it started is stopped after
    the test, and a sanitizer report in any log fails the test. With SETTLE_TEST_STANDBY=1
    its settle-api processes on the session's database read from suite_standby too."""
    standby = (postgres.url(), suite_standby.url()) if suite_standby is not None else None
    s = Settle(bin_dir, workdir, base_env, standby=standby)
    yield from _serve(s, request, routing)


@pytest.fixture(scope="module")
def durable_pg(request, workdir, base_env, bin_dir):
    """A Postgres of its own (one per test module) with synchronous_commit=on, migrated, for
    the tests that crash it. An immediate stop kills Postgres's processes, not the OS: what
    was written to the OS survives, so fsync=off (and full_page_writes=off) lose nothing
    here, but synchronous_commit=off would (its COMMITs are answered before their WAL leaves
    Postgres's memory, which the crash throws away)."""
    name = "pg-durable-" + request.module.__name__.rsplit(".", 1)[-1]
    pg = Postgres(workdir, name=name, settings=DURABLE_SETTINGS)
    try:
        pg.start()
        pg.create_database("settle")
        Settle(bin_dir, workdir, dict(base_env, SETTLE_DATABASE_URL=pg.url())).cli("migrate")
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def durable_settle(durable_pg, bin_dir, workdir, base_env, request):
    """Like settle, against durable_pg (and the session's RabbitMQ)."""
    s = Settle(bin_dir, workdir, dict(base_env, SETTLE_DATABASE_URL=durable_pg.url()))
    yield from _serve(s, request)


@pytest.fixture(scope="module")
def standby(request, workdir, postgres):
    """A streaming standby of the session's Postgres, one per test module, applying the WAL
    the module's STANDBY_DELAY_MS (default 0) late. Stopped by pid after the module."""
    delay = getattr(request.module, "STANDBY_DELAY_MS", 0)
    name = "replica-" + request.module.__name__.rsplit(".", 1)[-1].replace("_", "-")
    sb = Standby(postgres, workdir, name=name, delay_ms=delay)
    try:
        sb.start()
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def api(settle):
    """A running settle-api (relay on) with default settings."""
    return settle.api()


def _replayed_cursor(standby_url, timeout=10.0):
    """A psycopg2 cursor class whose execute() returns once the standby at standby_url has
    replayed the primary's WAL up to the statement's end. A test writing to the database
    directly writes outside any consistency session (no cookie can carry its position), so
    with SETTLE_TEST_STANDBY=1 the test waits for the standby as a client's cookie would."""
    import psycopg2
    import psycopg2.extensions
    sb = psycopg2.connect(standby_url)
    sb.autocommit = True

    class ReplayedCursor(psycopg2.extensions.cursor):
        def execute(self, query, vars=None):
            super().execute(query, vars)
            wait_replayed(self.connection, sb, timeout)

    return sb, ReplayedCursor


@pytest.fixture
def db(postgres, suite_standby):
    """An autocommit psycopg2 connection to the settle database. With SETTLE_TEST_STANDBY=1
    each statement returns once the suite's standby has replayed it (_replayed_cursor)."""
    import psycopg2
    sb, factory = None, None
    if suite_standby is not None:
        sb, factory = _replayed_cursor(suite_standby.url())
    conn = psycopg2.connect(postgres.url(), cursor_factory=factory)
    conn.autocommit = True
    yield conn
    conn.close()
    if sb is not None:
        sb.close()


@pytest.fixture
def amqp(rabbitmq):
    """A pika helper connected to the session's RabbitMQ."""
    a = Amqp(rabbitmq.url)
    yield a
    a.close()


@pytest.fixture
def fresh_database(postgres):
    """Factory: creates a new empty database and returns its URL."""
    def make(prefix="settle_fresh"):
        return postgres.create_database(f"{prefix}_{uuid.uuid4().hex[:10]}")
    return make


@pytest.fixture
def provider(request, base_env, secret):
    """The storage provider of the test's settle-api (storage_providers.py): local, unless
    the test is marked storage_providers.BOTH (then it runs once per provider, the swift run
    on the session's one Swift)."""
    if getattr(request, "param", "local") == "swift":
        return SwiftProvider(request.getfixturevalue("swift"))
    return LocalProvider(base_env["SETTLE_STORAGE_DIR"], secret)


# The API suites' common set-up: settle-api running jobs inline on the test's storage
# provider, a client logged in to it (test_api_uploads.Client), and a project of that client.
@pytest.fixture
def inline_api(settle, provider):
    return settle.api(SETTLE_QUEUE="inline", **provider.env)


@pytest.fixture
def client(settle, inline_api):
    from test_api_uploads import Client
    return Client(inline_api, settle.login(inline_api))


@pytest.fixture
def project(client):
    return client.project()
