"""SQL as named units (issue 21): every statement of settle-api, settle-worker and the CLI is
a unit of sql/*.sql, prepared on each connection and checked against its declaration before
the first statement runs. A broken unit stops the servers at start; `settle sql check`
prepares them all and finds any settle_* SQL function a unit's plan runs uninlined."""

import re
import uuid

from settle_harness import wait_until

# What a broken unit of _broken_database logs: the first unit (in the order of sql/) that
# inserts into outbox, its file and line, and the column it lacks.
BROKEN = re.compile(r"unit (\w+) \((sql/\w+\.sql):\d+\): .*column .*kind")


def test_every_unit_prepares_and_inlines(settle, postgres):
    """Against the suite's migrated database every unit prepares, returns the columns its
    "-- returns:" line names, and its generic plan runs no settle_* function as a separate
    function call."""
    r = settle.cli("sql", "check")
    assert "0 with a problem" in r.stdout, r.stdout + r.stderr


def _migrated_database(postgres, settle, prefix):
    """A new database, migrated: its name and URL."""
    name = prefix + uuid.uuid4().hex[:8]
    postgres.create_database(name)
    url = postgres.url(name)
    settle.cli("migrate", SETTLE_DATABASE_URL=url)
    return name, url


def _broken_database(postgres, settle):
    """A new database, migrated, where the table of unit outbox_insert (and of every unit that
    queues a job) lost a column."""
    name, url = _migrated_database(postgres, settle, "broken_")
    postgres.psql("ALTER TABLE outbox RENAME COLUMN kind TO kind_renamed", dbname=name)
    return url


def test_a_broken_unit_stops_the_servers_at_start(settle, postgres):
    """A unit that cannot be prepared (here: the schema lacks a column it names) makes
    settle-api and settle-worker exit 2 at start, naming the unit and its file, instead of
    failing requests one by one later."""
    url = _broken_database(postgres, settle)
    for name in ("settle-api", "settle-worker"):
        p = settle.start(name, SETTLE_DATABASE_URL=url)
        wait_until(lambda: not p.alive(), 30, what=f"{name} to exit")
        assert p.returncode == 2, (p.returncode, p.log_text()[-3000:])
        log = p.log_text()
        assert "db_unit_broken" in log and BROKEN.search(log), log[-3000:]


def test_sql_check_names_a_broken_unit(settle, postgres):
    """`settle sql check` exits 1 and names the unit that does not prepare."""
    url = _broken_database(postgres, settle)
    r = settle.cli("sql", "check", check=False, SETTLE_DATABASE_URL=url)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert BROKEN.search(r.stderr), r.stderr


def test_sql_check_finds_a_scalar_function_not_inlined(settle, postgres):
    """A scalar settle_* SQL function the planner cannot inline (here: declared IMMUTABLE
    while its body calls STABLE json_build_array) runs as a call in an expression of the
    plan, not as a Function Scan: the check names it too. Functions that are not SQL
    (settle_parse_ts, plpgsql on purpose) are not reported."""
    name, url = _migrated_database(postgres, settle, "uninlined_")
    r = settle.cli("sql", "check", SETTLE_DATABASE_URL=url)
    assert "0 with a problem" in r.stdout, r.stdout + r.stderr
    postgres.psql("ALTER FUNCTION settle_root_ancestors(uuid, text) IMMUTABLE", dbname=name)
    r = settle.cli("sql", "check", check=False, SETTLE_DATABASE_URL=url)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert re.search(r"unit files_create_in_project \(sql/files\.sql:\d+\): "
                     r"settle_root_ancestors runs as a function", r.stderr), r.stderr
    assert "settle_parse_ts" not in r.stderr, r.stderr
    # A set-returning one that is not inlined (a SET option forbids it) runs in a Function
    # Scan, whose verbose plan names it on a "Function Call:" line: named too.
    postgres.psql("ALTER FUNCTION settle_root_ancestors(uuid, text) STABLE", dbname=name)
    postgres.psql("ALTER FUNCTION settle_can(uuid, uuid, text) SET work_mem = '4MB'",
                  dbname=name)
    r = settle.cli("sql", "check", check=False, SETTLE_DATABASE_URL=url)
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert re.search(r"unit files_create_in_project \(sql/files\.sql:\d+\): "
                     r"settle_can runs as a function", r.stderr), r.stderr
    assert "settle_root_ancestors" not in r.stderr, r.stderr
