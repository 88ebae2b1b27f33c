"""Self-service credentials (issue 19 item 2): software agents and API keys over the API.

A user who holds only a token makes an agent of their own and its key, a key of their own,
and logs in with them (POST /software_agents/api_token); so the operator's CLI is needed
only for the first user. A key is shown once (on create and regenerate); the database keeps
its SHA-256 only. Regenerating (or deleting) a key revokes the tokens made with the old one;
deleting an agent revokes its tokens. Only an agent's creator sees or changes it."""

import hashlib
import uuid

import requests

from settle_harness import wait_until
from test_api_roles import err, ok

REVOKE_WITHIN = 5  # seconds (docs/api.md "Users, software agents and tokens")


def _token(api, agent_key, user_key):
    return requests.post(api.base + "/software_agents/api_token",
                         json={"agent_key": agent_key, "user_key": user_key}, timeout=10)


def _h(token):
    return {"Authorization": token}


def _req(api, token, method, path, headers=None, **kw):
    return requests.request(method, api.base + path, headers=dict(_h(token), **(headers or {})),
                            timeout=10, **kw)


def _wait_revoked(api, token):
    """Polls until token answers 401 (at most REVOKE_WITHIN s); returns the body."""
    r = wait_until(lambda: (lambda a: [a] if a.status_code == 401 else None)(
        _req(api, token, "GET", "/current_user")), REVOKE_WITHIN, interval=0.1,
        what="the token to be revoked")[0]
    body = r.json()
    assert body["code"] == "unauthorized" and "revoked" in body["reason"], body
    return body


def _stored(db, sql, *args):
    with db.cursor() as cur:
        cur.execute(sql, args)
        return cur.fetchall()


def test_self_service_agent_and_keys(settle, api, db):
    first = settle.login(api)  # the CLI's only use: the first user's token
    tok = first["token"]

    # An agent of one's own: 201 with the agent and its key, shown this once.
    a = ok(_req(api, tok, "POST", "/software_agents",
                json={"name": "my tool", "description": "does things",
                      "repo_url": "https://example.org/tool.git"}), 201)
    assert a["name"] == "my tool" and a["description"] == "does things", a
    assert a["repo_url"] == "https://example.org/tool.git" and a["is_deleted"] is False, a
    assert a["audit"]["created_by"]["id"] == first["user_id"], a
    agent_key = a["api_key"]["key"]
    assert len(agent_key) == 64 and a["api_key"]["created_on"], a

    # Later reads show no secret.
    got = ok(_req(api, tok, "GET", f"/software_agents/{a['id']}"))
    assert "api_key" not in got and got["id"] == a["id"], got
    k = ok(_req(api, tok, "GET", f"/software_agents/{a['id']}/api_key"))
    assert k["key"] is None and k["created_on"] == a["api_key"]["created_on"], k
    listed = ok(_req(api, tok, "GET", "/software_agents"))["results"]
    assert [x["id"] for x in listed] == [a["id"]], listed

    # The database holds the key's SHA-256, never the key.
    rows = _stored(db, "SELECT key_hash FROM api_keys WHERE software_agent_id = %s", a["id"])
    assert rows == [(hashlib.sha256(agent_key.encode()).hexdigest(),)], rows
    assert not _stored(db, "SELECT 1 FROM api_keys WHERE key_hash = %s", agent_key)

    # A user key of one's own (the CLI's key is replaced).
    err(_req(api, tok, "GET", "/software_agents/" + str(uuid.uuid4())), 404, "not_found")
    user_key = ok(_req(api, tok, "PUT", "/current_user/api_key"))["key"]
    assert len(user_key) == 64 and user_key != first["user_key"]
    assert not _stored(db, "SELECT 1 FROM api_keys WHERE key_hash = %s", user_key)
    # The CLI's old user key is gone, and the first token (made with it) is revoked.
    err(_token(api, first["agent_key"], first["user_key"]), 404, "not_found")
    _wait_revoked(api, tok)

    # Logging in with the keys made over the API.
    r = _token(api, agent_key, user_key)
    assert r.status_code == 201, r.text
    tok2 = r.json()["api_token"]
    me = ok(_req(api, tok2, "GET", "/current_user"))
    assert me["id"] == first["user_id"] and me["agent"]["id"] == a["id"], me
    k = ok(_req(api, tok2, "GET", "/current_user/api_key"))
    assert k["key"] is None and k["created_on"], k

    # Regenerating the agent's key: the old key no longer logs in, its tokens are revoked.
    new_agent_key = ok(_req(api, tok2, "PUT", f"/software_agents/{a['id']}/api_key"))["key"]
    assert len(new_agent_key) == 64 and new_agent_key != agent_key
    err(_token(api, agent_key, user_key), 404, "not_found")
    _wait_revoked(api, tok2)
    tok3 = ok(_token(api, new_agent_key, user_key), 201)["api_token"]
    assert ok(_req(api, tok3, "GET", "/current_user"))["id"] == first["user_id"]

    # Update, then the usage of a user with nothing yet.
    up = ok(_req(api, tok3, "PUT", f"/software_agents/{a['id']}",
                 json={"name": "renamed", "repo_url": None}))
    assert up["name"] == "renamed" and up["description"] == "does things", up
    assert up["audit"]["last_updated_by"]["id"] == first["user_id"], up
    u = ok(_req(api, tok3, "GET", "/current_user/usage"))
    assert u == {"project_count": 0, "file_count": 0, "storage_bytes": 0}, u

    # Deleting the user key: no key to show, and its tokens are revoked.
    assert _req(api, tok3, "DELETE", "/current_user/api_key").status_code == 204
    assert not _stored(db, "SELECT 1 FROM api_keys WHERE user_id = %s", first["user_id"])
    _wait_revoked(api, tok3)
    err(_token(api, new_agent_key, user_key), 404, "not_found")


def test_deleting_an_agent_revokes_its_tokens(settle, api, db):
    owner = settle.login(api)
    a = ok(_req(api, owner["token"], "POST", "/software_agents", json={"name": "gone"}), 201)
    tok = ok(_token(api, a["api_key"]["key"], owner["user_key"]), 201)["api_token"]
    assert ok(_req(api, tok, "GET", "/current_user"))["agent"]["id"] == a["id"]
    assert _req(api, owner["token"], "DELETE", f"/software_agents/{a['id']}").status_code == 204
    _wait_revoked(api, tok)
    err(_token(api, a["api_key"]["key"], owner["user_key"]), 404, "not_found")
    # It reads as deleted, is no longer listed, and cannot be changed or deleted again.
    got = ok(_req(api, owner["token"], "GET", f"/software_agents/{a['id']}"))
    assert got["is_deleted"] is True, got
    assert ok(_req(api, owner["token"], "GET", "/software_agents"))["results"] == []
    for method, path in [("PUT", ""), ("DELETE", ""), ("PUT", "/api_key"), ("GET", "/api_key")]:
        err(_req(api, owner["token"], method, f"/software_agents/{a['id']}{path}",
                 json={"name": "x"}), 404, "not_found")
    # The owner's token (another agent) still works.
    assert _req(api, owner["token"], "GET", "/current_user").status_code == 200


def test_only_the_creator_touches_an_agent(settle, api):
    alice, bob = settle.login(api), settle.login(api)
    a = ok(_req(api, alice["token"], "POST", "/software_agents", json={"name": "alice's"}), 201)
    for method, path in [("GET", ""), ("PUT", ""), ("DELETE", ""), ("GET", "/api_key"),
                         ("PUT", "/api_key"), ("DELETE", "/api_key")]:
        err(_req(api, bob["token"], method, f"/software_agents/{a['id']}{path}",
                 json={"name": "bob's now"}), 404, "not_found")
    assert ok(_req(api, bob["token"], "GET", "/software_agents"))["results"] == []
    # An agent the operator made (no creator) is nobody's to touch over the API.
    for method, path in [("GET", ""), ("PUT", ""), ("PUT", "/api_key")]:
        err(_req(api, bob["token"], method, f"/software_agents/{bob['agent_id']}{path}",
                 json={"name": "mine"}), 404, "not_found")
    got = ok(_req(api, alice["token"], "GET", f"/software_agents/{a['id']}"))
    assert got["name"] == "alice's", got
    # Deleting an agent's key: it no longer logs in; the agent stays.
    assert _req(api, alice["token"], "DELETE",
                f"/software_agents/{a['id']}/api_key").status_code == 204
    err(_token(api, a["api_key"]["key"], alice["user_key"]), 404, "not_found")
    err(_req(api, alice["token"], "GET", f"/software_agents/{a['id']}/api_key"), 404,
        "not_found")
    k = ok(_req(api, alice["token"], "PUT", f"/software_agents/{a['id']}/api_key"))
    assert ok(_token(api, k["key"], alice["user_key"]), 201)["api_token"]


def test_bad_input_is_refused(settle, api):
    who = settle.login(api)
    t = who["token"]
    for body, field in [({}, "name"), ({"name": ""}, "name"), ({"name": 3}, "name"),
                        ({"name": "a\x1bb"}, "name"), ({"name": "x" * 1025}, "name"),
                        ({"name": "a\u202eb"}, "name"),
                        ({"name": "n", "description": "d" * (64 * 1024 + 1)}, "description"),
                        ({"name": "n", "repo_url": "u" * 2049}, "repo_url"),
                        ({"name": "n", "repo_url": "a\nb"}, "repo_url")]:
        e = err(_req(api, t, "POST", "/software_agents", json=body), 400, "validation_failed")
        assert e["errors"][0]["field"] == field, (body, e)
    a = ok(_req(api, t, "POST", "/software_agents", json={"name": "n"}), 201)
    e = err(_req(api, t, "PUT", f"/software_agents/{a['id']}", json={"name": ""}), 400,
            "validation_failed")
    assert e["errors"][0]["field"] == "name", e
    err(_req(api, t, "PUT", f"/software_agents/{a['id']}", data="{"), 400, "validation_failed")
    assert ok(_req(api, t, "GET", f"/software_agents/{a['id']}"))["name"] == "n"
    err(_req(api, t, "GET", "/software_agents/not-a-uuid"), 404, "not_found")
    # The answer holds a key shown once: it is never stored for an Idempotency-Key.
    for method, path in [("POST", "/software_agents"), ("PUT", "/current_user/api_key"),
                         ("PUT", f"/software_agents/{a['id']}/api_key")]:
        e = err(_req(api, t, method, path, json={"name": "n"},
                     headers={"Idempotency-Key": "k1"}), 400, "validation_failed")
        assert e["errors"][0]["field"] == "Idempotency-Key", e
    assert len(ok(_req(api, t, "GET", "/software_agents"))["results"]) == 1
    # Without a token: 401.
    for method, path in [("GET", "/software_agents"), ("POST", "/software_agents"),
                         ("GET", "/current_user/api_key"), ("PUT", "/current_user/api_key"),
                         ("GET", "/current_user/usage")]:
        r = requests.request(method, api.base + path, timeout=10)
        assert r.status_code == 401 and r.json()["code"] == "unauthorized", (path, r.text)
    # A user without a key of their own: GET /current_user/api_key is 404.
    assert _req(api, t, "DELETE", "/current_user/api_key").status_code == 204
    err(_req(api, t, "GET", "/current_user/api_key"), 404, "not_found")


def test_usage_counts_projects_files_and_bytes(settle, inline_api):
    from test_api_uploads import Client
    c = Client(inline_api, settle.login(inline_api))
    pid = c.project()
    sizes = [100, 250]
    for n in sizes:
        c.file(pid, c.send(pid, [b"x" * n]))
    c.project("empty")
    u = ok(c.req("GET", "/current_user/usage"))
    assert u == {"project_count": 2, "file_count": 2, "storage_bytes": sum(sizes)}, u


def test_token_request_that_waited_for_a_regenerate_is_refused(settle, api, postgres):
    """A token request with the old agent key that waits behind a regenerate (both wait
    for the agent's row, held here) is answered 404 once the regenerate commits: the old
    key is stale (key_generation), though the request's snapshot still saw it. Without the
    check it would get a token dated after the revocation, made with the old key."""
    import threading

    import psycopg2

    who = settle.login(api)
    a = ok(_req(api, who["token"], "POST", "/software_agents", json={"name": "raced"}), 201)
    old_key = a["api_key"]["key"]
    holder = psycopg2.connect(postgres.url())
    watch = psycopg2.connect(postgres.url())
    watch.autocommit = True
    answers = {}

    def waiting():
        with watch.cursor() as cur:
            cur.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
            return cur.fetchone()[0]

    def run(name, call):
        answers[name] = call()

    try:
        with holder.cursor() as cur:
            cur.execute("SELECT 1 FROM software_agents WHERE id = %s FOR NO KEY UPDATE",
                        (a["id"],))
        threads = [threading.Thread(target=run, args=("rekey", lambda: _req(
            api, who["token"], "PUT", f"/software_agents/{a['id']}/api_key")))]
        threads[0].start()
        wait_until(lambda: waiting() >= 1, 10, what="the regenerate to wait")
        threads.append(threading.Thread(target=run, args=("token", lambda: _token(
            api, old_key, who["user_key"]))))
        threads[1].start()
        wait_until(lambda: waiting() >= 2, 10, what="the token request to wait")
        holder.commit()
        for t in threads:
            t.join(30)
    finally:
        holder.close()
        watch.close()
    new_key = ok(answers["rekey"])["key"]
    r = answers["token"]
    assert r.status_code == 404, f"a token from the old key: {r.status_code} {r.text}"
    assert ok(_token(api, new_key, who["user_key"]), 201)["api_token"]


def test_at_most_100_agents_per_user(settle, api):
    t = settle.login(api)["token"]
    ids = [ok(_req(api, t, "POST", "/software_agents", json={"name": f"a{i}"}), 201)["id"]
           for i in range(100)]
    e = err(_req(api, t, "POST", "/software_agents", json={"name": "one too many"}), 409,
            "conflict")
    assert "at most 100" in e["reason"], e
    assert len(ok(_req(api, t, "GET", "/software_agents"))["results"]) == 100
    # A deleted agent no longer counts.
    assert _req(api, t, "DELETE", f"/software_agents/{ids[0]}").status_code == 204
    ok(_req(api, t, "POST", "/software_agents", json={"name": "room again"}), 201)


def test_cli_key_after_a_regenerate_works(settle, api):
    """A key the operator's CLI adds after the user replaced their keys over the API takes
    the user's current key_generation (migration 0014's trigger) and logs in."""
    who = settle.login(api)
    name = ok(_req(api, who["token"], "GET", "/current_user"))["username"]
    ok(_req(api, who["token"], "PUT", "/current_user/api_key"))
    _, cli_key = settle.create_user(name)
    ok(_token(api, who["agent_key"], cli_key), 201)
