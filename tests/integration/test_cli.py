"""The `settle` command line (issue 9 item 10): every command and subcommand answers
-h/--help with its usage and exit 0 and does nothing else; an unknown option, a missing or
extra argument is an error (exit 2, message and usage on stderr); a NAME starting with '-'
is refused. Runs the real binary against the session's Postgres."""

import pytest

# Every command of `settle`, as the words that name it.
COMMANDS = [
    ("migrate",),
    ("user", "create"),
    ("user", "disable"),
    ("user", "enable"),
    ("agent", "create"),
    ("agent", "disable"),
    ("agent", "enable"),
    ("stats",),
    ("reconcile",),
    ("dead-letters", "list"),
    ("dead-letters", "requeue"),
    ("message-log", "drain"),
    ("relay",),
]
GROUPS = sorted({c[0] for c in COMMANDS if len(c) == 2})


def _users_named(db, name):
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM users WHERE username = %s", (name,))
        n = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM software_agents WHERE name = %s", (name,))
        return n + cur.fetchone()[0]


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_prints_usage(settle, db, words, flag):
    """`settle WORDS --help` prints the command's usage on stdout, exits 0 and runs nothing
    (`user create --help` made a user named --help)."""
    r = settle.cli(*words, flag, check=False, timeout=20)
    assert r.returncode == 0, f"{words} {flag}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert "usage" in r.stdout and f"settle {' '.join(words)}" in r.stdout, r.stdout
    assert "_KEY=" not in r.stdout and "migrations applied" not in r.stdout, r.stdout
    assert _users_named(db, flag) == 0


@pytest.mark.parametrize("words", COMMANDS, ids=" ".join)
@pytest.mark.parametrize("option", ["--bogus", "-q"])
def test_unknown_option_is_an_error(settle, db, words, option):
    """`settle WORDS --bogus` is an error that runs nothing."""
    r = settle.cli(*words, option, check=False, timeout=20)
    assert r.returncode == 2, f"{words} {option}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    assert f"unknown option '{option}'" in r.stderr, r.stderr
    assert "usage" in r.stderr, r.stderr
    assert r.stdout == "", r.stdout
    assert _users_named(db, option) == 0


@pytest.mark.parametrize("group", GROUPS)
def test_group_help_and_errors(settle, group):
    """`settle user --help` lists the subcommands of user; `settle user` and `settle user
    frob` are errors."""
    for flag in ("--help", "-h"):
        r = settle.cli(group, flag, check=False, timeout=20)
        assert r.returncode == 0, r.stderr
        subs = [c for c in COMMANDS if c[0] == group]
        for c in subs:
            assert f"settle {' '.join(c)}" in r.stdout, r.stdout
    for args in ((group,), (group, "frob")):
        r = settle.cli(*args, check=False, timeout=20)
        assert r.returncode == 2, f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        assert "usage" in r.stderr, r.stderr


def test_top_level(settle):
    for flag in ("--help", "-h"):
        r = settle.cli(flag, check=False, timeout=20)
        assert r.returncode == 0
        for c in COMMANDS:
            assert f"settle {' '.join(c)}" in r.stdout, r.stdout
        assert "SETTLE_DATABASE_URL" in r.stdout  # the configuration table
    for args in ((), ("frob",), ("--bogus",)):
        r = settle.cli(*args, check=False, timeout=20)
        assert r.returncode == 2, f"{args}: exit {r.returncode}\n{r.stderr}"
        assert "usage" in r.stderr


@pytest.mark.parametrize("kind", ["user", "agent"])
def test_names_starting_with_dash_are_refused(settle, db, kind):
    """A NAME that looks like an option is refused, even after `--`; nothing is created."""
    for args in (("-bob",), ("--", "-bob"), ("--", "--help")):
        r = settle.cli(kind, "create", *args, check=False, timeout=20)
        assert r.returncode == 2, f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        assert "_KEY=" not in r.stdout
        assert r.stderr.strip(), "no message"
    assert _users_named(db, "-bob") == 0 and _users_named(db, "--help") == 0
    r = settle.cli(kind, "create", "--", "-bob", check=False, timeout=20)
    assert "may not start with '-'" in r.stderr, r.stderr


def test_arguments_are_checked(settle, db):
    cases = [
        (("user", "create"), "NAME is missing"),
        (("user", "create", "a", "b"), "unexpected argument 'b'"),
        (("user", "create", ""), "may not be empty"),
        (("stats", "extra"), "unexpected argument 'extra'"),
        (("message-log", "drain"), "--duration S is required"),
        (("message-log", "drain", "--duration"), "needs a value"),
        (("message-log", "drain", "--duration", "soon"), "wants seconds"),
        (("reconcile", "--older-than", "-5"), "wants seconds"),
    ]
    for args, message in cases:
        r = settle.cli(*args, check=False, timeout=20)
        assert r.returncode == 2, f"{args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        assert message in r.stderr, f"{args}: {r.stderr}"
    assert _users_named(db, "a") == 0 and _users_named(db, "") == 0


def test_options_still_work(settle):
    """The options of the table reach their commands (in either place on the line)."""
    r = settle.cli("reconcile", "--older-than", "100000", timeout=60)
    assert r.stdout.startswith("re-enqueued "), r.stdout
    r = settle.cli("reconcile", "--older-than=100000", timeout=60)
    assert r.stdout.startswith("re-enqueued "), r.stdout
    name = "cli-options-user"
    r = settle.cli("user", "create", name, timeout=60)
    assert "SETTLE_USER_KEY=" in r.stdout
