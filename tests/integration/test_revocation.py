"""Disabling users and software agents revokes their tokens (issue 9 item 9).

`settle user|agent disable NAME`: the live tokens of that user or agent answer 401 within
5 s (settle-api caches the revocations and refreshes them every 2 s), and
POST /software_agents/api_token for it answers 401 with a reason that says so.
`settle user|agent enable NAME`: new tokens work again; tokens issued before the disable
stay revoked. Tokens name their agent: "<user>.<agent>.<issued_ms>.<expires>.<mac>"."""

import hashlib
import hmac
import threading
import time

import requests

from settle_harness import wait_until

REVOKE_WITHIN = 5  # seconds


def _get(api, token, path="/projects"):
    return requests.get(api.base + path, headers={"Authorization": token}, timeout=10)


def _token(api, agent_key, user_key):
    return requests.post(api.base + "/software_agents/api_token",
                         json={"agent_key": agent_key, "user_key": user_key}, timeout=10)


def _name_of(db, table, col, id_):
    with db.cursor() as cur:
        cur.execute(f"SELECT {col} FROM {table} WHERE id = %s", (id_,))
        return cur.fetchone()[0]


def _wait_revoked(api, token, reason_part):
    """Polls until token answers 401 (at most REVOKE_WITHIN s); returns the answer."""
    start = time.monotonic()
    # (a Response of status 401 is false, so wrap it)
    r = wait_until(lambda: (lambda a: [a] if a.status_code == 401 else None)(_get(api, token)),
                   REVOKE_WITHIN, interval=0.1, what="the token to be revoked")[0]
    assert time.monotonic() - start < REVOKE_WITHIN
    body = r.json()
    assert body["error"] == 401 and body["code"] == "unauthorized", body
    assert reason_part in body["reason"], body
    return r


def _assert_refused(api, agent_key, user_key, reason):
    r = _token(api, agent_key, user_key)
    assert r.status_code == 401, f"{r.status_code} {r.text}"
    body = r.json()
    assert body["code"] == "unauthorized" and body["reason"] == reason, body


def test_token_names_its_agent(settle, api):
    who = settle.login(api)
    user, agent = who["token"].split(".")[:2]
    assert (user, agent) == (who["user_id"], who["agent_id"])
    me = _get(api, who["token"], "/current_user").json()
    assert (me["id"], me["agent"]["id"]) == (who["user_id"], who["agent_id"]), me
    # A forged agent is refused: the agent is signed.
    other = settle.create_agent()[0]
    forged = ".".join([user, other] + who["token"].split(".")[2:])
    assert _get(api, forged).status_code == 401


def test_tokens_of_the_old_format_are_refused(settle, api, secret):
    """The first format, "<user>.<expires>.<mac>", correctly signed, no longer works (it
    does not name the agent); documented in docs/operating.md
    "Revocation"."""
    who = settle.login(api)
    exp = str(int(time.time()) + 3600)
    mac = hmac.new(secret.encode(), f"token\0{who['user_id']}\0{exp}".encode(),
                   hashlib.sha256).hexdigest()
    r = _get(api, f"{who['user_id']}.{exp}.{mac}")
    assert r.status_code == 401, r.text
    assert _get(api, who["token"]).status_code == 200


def test_disable_and_enable_user(settle, api, db):
    a = settle.login(api)
    b = settle.login(api)
    name = _name_of(db, "users", "username", a["user_id"])
    assert _get(api, a["token"]).status_code == 200
    # a second token of the same user, through a second agent
    agent2_id, agent2_key = settle.create_agent()
    r = _token(api, agent2_key, a["user_key"])
    assert r.status_code == 201, r.text
    a2 = r.json()["api_token"]

    out = settle.cli("user", "disable", name).stdout
    assert f"disabled user {name} (id {a['user_id']})" in out, out
    _wait_revoked(api, a["token"], "the user is disabled")
    _wait_revoked(api, a2, "the user is disabled")
    assert _get(api, b["token"]).status_code == 200  # another user is untouched
    _assert_refused(api, a["agent_key"], a["user_key"], "the user is disabled")
    _assert_refused(api, agent2_key, a["user_key"], "the user is disabled")
    # the same agent still works for another user
    assert _token(api, b["agent_key"], b["user_key"]).status_code == 201
    # disabling twice is harmless; an unknown name is an error
    settle.cli("user", "disable", name)
    r = settle.cli("user", "disable", "no-such-user-x", check=False)
    assert r.returncode == 1 and "no user named 'no-such-user-x'" in r.stderr, r.stderr

    out = settle.cli("user", "enable", name).stdout
    assert f"enabled user {name}" in out, out
    r = _token(api, a["agent_key"], a["user_key"])
    assert r.status_code == 201, r.text
    fresh = r.json()["api_token"]
    wait_until(lambda: _get(api, fresh).status_code == 200, REVOKE_WITHIN,
               what="a new token to work")
    # Tokens issued before the disable stay revoked after the enable.
    r = _get(api, a["token"])
    assert r.status_code == 401 and "issued before" in r.json()["reason"], r.text
    with db.cursor() as cur:
        cur.execute("SELECT disabled_at IS NULL, tokens_valid_after IS NOT NULL FROM users"
                    " WHERE id = %s", (a["user_id"],))
        assert cur.fetchone() == (True, True)


def test_disable_and_enable_agent(settle, api, db):
    a = settle.login(api)
    b = settle.login(api)
    name = _name_of(db, "software_agents", "name", a["agent_id"])
    # a second user through the same agent
    user2_id, user2_key = settle.create_user()
    r = _token(api, a["agent_key"], user2_key)
    assert r.status_code == 201, r.text
    t2 = r.json()["api_token"]
    assert _get(api, a["token"]).status_code == 200 and _get(api, t2).status_code == 200

    out = settle.cli("agent", "disable", name).stdout
    assert f"disabled software agent {name} (id {a['agent_id']})" in out, out
    _wait_revoked(api, a["token"], "the software agent is disabled")
    _wait_revoked(api, t2, "the software agent is disabled")
    assert _get(api, b["token"]).status_code == 200  # another agent is untouched
    _assert_refused(api, a["agent_key"], a["user_key"], "the software agent is disabled")
    # the user still works through another agent
    assert _token(api, b["agent_key"], a["user_key"]).status_code == 201

    # by id as well as by name
    out = settle.cli("agent", "enable", a["agent_id"]).stdout
    assert f"enabled software agent {name}" in out, out
    r = _token(api, a["agent_key"], a["user_key"])
    assert r.status_code == 201, r.text
    fresh = r.json()["api_token"]
    wait_until(lambda: _get(api, fresh).status_code == 200, REVOKE_WITHIN,
               what="a new token to work")
    r = _get(api, a["token"])
    assert r.status_code == 401 and "issued before" in r.json()["reason"], r.text


def test_revocation_reaches_an_api_started_later(settle, api, db):
    """A settle-api started while a user is disabled refuses its tokens from its first
    request (the cache is loaded before the first answer)."""
    a = settle.login(api)
    name = _name_of(db, "users", "username", a["user_id"])
    settle.cli("user", "disable", name)
    other = settle.api()
    r = _get(other, a["token"])
    assert r.status_code == 401 and "disabled" in r.json()["reason"], r.text


def _q1(db, sql, args=()):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchone()[0]


def _wait_lock_wait(db, query_part, what):
    """Waits until a statement containing query_part waits on a lock."""
    wait_until(lambda: _q1(db, "SELECT count(*) FROM pg_stat_activity"
                               " WHERE wait_event_type = 'Lock' AND query LIKE %s",
                           (f"%{query_part}%",)),
               30, interval=0.05, what=what)


def _in_thread(fn):
    out = {}

    def run():
        try:
            out["value"] = fn()
        except Exception as e:  # re-raised by the caller
            out["error"] = e

    t = threading.Thread(target=run)
    t.start()
    return t, out


def _signed_token(secret, user, agent, issued_ms, expires):
    msg = "\0".join(["token.v2", user, agent, str(issued_ms), str(expires)])
    mac = hmac.new(secret.encode(), msg.encode(), hashlib.sha256).hexdigest()
    return f"{user}.{agent}.{issued_ms}.{expires}.{mac}"


def test_disable_racing_a_token_issue(settle, api, db, postgres, secret):
    """A token issue and a disable of the same user serialize on the user's row: a disable
    that locked first makes the issue answer 401; an issue that locked first is dated
    before the disable, so its token stays revoked after an enable."""
    import psycopg2
    a = settle.login(api)
    name = _name_of(db, "users", "username", a["user_id"])
    lock = psycopg2.connect(postgres.url())
    try:
        # The disable holds the row: the issue waits, then sees the user disabled.
        with lock.cursor() as cur:
            cur.execute("SELECT 1 FROM users WHERE id = %s FOR NO KEY UPDATE", (a["user_id"],))
        t, out = _in_thread(lambda: _token(api, a["agent_key"], a["user_key"]))
        _wait_lock_wait(db, "FOR SHARE OF a, u", "the token issue to wait for the row")
        with lock.cursor() as cur:
            cur.execute("UPDATE users SET disabled_at = clock_timestamp(),"
                        " tokens_valid_after = clock_timestamp() WHERE id = %s",
                        (a["user_id"],))
        lock.commit()
        t.join(30)
        r = out["value"]
        assert r.status_code == 401 and r.json()["reason"] == "the user is disabled", r.text
        settle.cli("user", "enable", name)

        # An issue holds the row (FOR SHARE, as api_token does): the disable waits for it,
        # and the token's issue time, taken while the disable waits, is before the disable.
        with lock.cursor() as cur:
            cur.execute("SELECT 1 FROM users WHERE id = %s FOR SHARE", (a["user_id"],))
        t, out = _in_thread(lambda: settle.cli("user", "disable", name))
        _wait_lock_wait(db, "users", "the disable to wait for the row")
        with lock.cursor() as cur:
            cur.execute("SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint")
            issued = cur.fetchone()[0]
        lock.commit()
        t.join(60)
        assert "error" not in out, out
        after = _q1(db, "SELECT floor(extract(epoch FROM tokens_valid_after) * 1000)::bigint"
                        " FROM users WHERE id = %s", (a["user_id"],))
        assert after >= issued, (after, issued)
        settle.cli("user", "enable", name)
        r = _token(api, a["agent_key"], a["user_key"])
        assert r.status_code == 201, r.text
        fresh = r.json()["api_token"]
        wait_until(lambda: _get(api, fresh).status_code == 200, REVOKE_WITHIN,
                   what="a new token to work")
        # a token issued at that moment stays revoked
        token = _signed_token(secret, a["user_id"], a["agent_id"], issued,
                              int(time.time()) + 3600)
        r = _get(api, token)
        assert r.status_code == 401 and "issued before" in r.json()["reason"], r.text
    finally:
        lock.close()
