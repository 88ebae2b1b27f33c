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
    ("sql", "check"),
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
        (("user", "create", "a", "--email"), "needs a value"),
        (("user", "create", "a", "--email", "no-at-sign"), "--email E must be"),
        (("user", "create", "a", "--email", "a b@example.org"), "--email E must not"),
        (("user", "create", "a", "--email", ""), "--email E must be"),
        (("agent", "create", "a", "--email", "a@example.org"), "unknown option '--email'"),
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
    r = settle.cli("user", "create", "--email=cli-options@example.org", name, timeout=60)
    assert "SETTLE_USER_KEY=" in r.stdout


def test_user_create_email(settle, db):
    """Issue 19 item 5: `settle user create NAME --email E` gives the user (new or not) that
    email; another user's email is refused (exit 1), changing nothing."""
    r = settle.cli("user", "create", "--help", timeout=20)
    assert "[--email E]" in r.stdout, r.stdout
    settle.cli("user", "create", "cli-mail-a", "--email", "cli-mail-a@example.org")
    settle.cli("user", "create", "cli-mail-b")
    r = settle.cli("user", "create", "cli-mail-b", "--email", "cli-mail-a@example.org",
                   check=False, timeout=20)
    assert r.returncode == 1 and "cli-mail-a@example.org" not in r.stdout, r.stdout
    assert "another user has that email" in r.stderr and "_KEY=" not in r.stdout, r.stderr
    settle.cli("user", "create", "cli-mail-a", "--email", "cli-mail-a2@example.org")
    with db.cursor() as cur:
        cur.execute("SELECT username, email, (SELECT count(*) FROM api_keys k"
                    " WHERE k.user_id = u.id) FROM users u"
                    " WHERE username LIKE 'cli-mail-%%' ORDER BY 1")
        assert cur.fetchall() == [("cli-mail-a", "cli-mail-a2@example.org", 2),
                                  ("cli-mail-b", None, 1)]


@pytest.mark.parametrize("kind", ["user", "agent"])
def test_names_with_control_or_format_characters_are_refused(settle, db, kind):
    """Issue 18 item 13: a NAME with a control character (an escape sequence, a newline) or
    a Unicode format character (U+202E) is refused with the rule, exit 2, and the name is
    not echoed; nothing is created."""
    cases = [("evil\x1b[2J", "must not contain control characters"),
             ("two\nlines", "must not contain control characters"),
             ("rtl\u202etxt", "must not contain Unicode format characters")]
    for name, rule in cases:
        r = settle.cli(kind, "create", name, check=False, timeout=20)
        assert r.returncode == 2, f"{name!r}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
        assert "_KEY=" not in r.stdout
        assert rule in r.stderr and name not in r.stderr, r.stderr
        assert _users_named(db, name) == 0
    r = settle.cli(kind, "create", "Ren\u00e9 M\u00fcller", timeout=20)
    assert "_KEY=" in r.stdout


def test_disable_by_uuid_takes_the_id_and_says_so(settle, db):
    """Issue 18 item 13: when the argument is one user's id and another's username, the user
    with that id is disabled (ids are unique), the output says it matched by id, and the
    other user is left alone with a note; that user is reached by its own id."""
    victim_id, _ = settle.create_user()
    other_id, _ = settle.create_user(victim_id)  # a username in UUID form
    r = settle.cli("user", "disable", victim_id, timeout=20)
    assert f"(id {victim_id}), matched by id" in r.stdout, r.stdout
    assert other_id not in r.stdout and f"id {other_id}" in r.stderr, r.stderr
    with db.cursor() as cur:
        cur.execute("SELECT id::text, disabled_at IS NOT NULL FROM users WHERE id IN (%s, %s)",
                    (victim_id, other_id))
        assert dict(cur.fetchall()) == {victim_id: True, other_id: False}
    r = settle.cli("user", "disable", other_id, timeout=20)
    assert f"disabled user {victim_id} (id {other_id}), matched by id" in r.stdout, r.stdout
    # A UUID that is nobody's id still matches a username.
    third_name = "00000000-0000-4000-8000-00000000abcd"
    third_id, _ = settle.create_user(third_name)
    r = settle.cli("user", "disable", third_name, timeout=20)
    assert f"disabled user {third_name} (id {third_id})\n" in r.stdout, r.stdout
