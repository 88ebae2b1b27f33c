"""The real DukeDSClient (`ddsclient`, from the project's shared clients beside the checkout,
or SETTLE_DDSCLIENT) against settle-api and a worker: upload a directory (a file of three
1 MiB chunks and a nested folder), list it, download it and compare every byte; then upload
a changed file (a new version) and download again. The client polls for consistency the
way DDS clients do. Skipped, saying why, where the client is not installed beside the
checkout.

A second test runs the client as two users: A shares a project with B as file_downloader
(add-user), B lists and downloads but cannot upload, A moves and renames files and folders
(the command line and the SDK), lists by role, and removes B again; share and deliver reach
the D4S2 delivery service (a stub here) and fail with the client's own message about it."""

import filecmp
import http.server
import os
import re
import subprocess
import threading
import time
import uuid

import pytest
import requests

STANDBY_DELAY_MS = 2000  # the `standby` fixture of this module applies the WAL 2 s late

DDSCLIENT = os.environ.get("SETTLE_DDSCLIENT") or os.path.normpath(os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "clients", "ddsclient"))


def same_tree(a, b):
    """True if directories a and b hold the same names with the same bytes."""
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


def sample_tree(root):
    """Writes the tree the single-user tests upload (a file of three 1 MiB chunks and a
    nested folder) under root/data; returns that directory."""
    data = root / "data"
    (data / "sub").mkdir(parents=True)
    (data / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 - 5))
    (data / "sub" / "small.txt").write_text("hello\n")
    return data


def test_ddsclient_upload_list_download(settle, tmp_path):
    needs_ddsclient()
    api = settle.api()
    settle.worker()
    who = settle.login(api)
    dds = Dds(tmp_path, "ddsclient", api, who["agent_key"], who["user_key"])
    data = sample_tree(tmp_path)

    dds("upload", "-p", "ddsproj", str(data))
    listed = dds("list", "-p", "ddsproj")
    assert "/data/big.bin" in listed and "/data/sub/small.txt" in listed, listed
    dds("download", "-p", "ddsproj", str(tmp_path / "out1"))
    assert same_tree(data, tmp_path / "out1" / "data")

    (data / "sub" / "small.txt").write_text("hello again\n")
    dds("upload", "-p", "ddsproj", str(data))
    dds("download", "-p", "ddsproj", str(tmp_path / "out2"))
    assert same_tree(data, tmp_path / "out2" / "data")


def test_ddsclient_with_keys_made_over_the_api(settle, tmp_path):
    """The keys ddsclient's configuration names (agent_key: /software_agents/{id}/api_key,
    user_key: /current_user/api_key, as its ddsc/config.py says) made over the API by a
    user who has only a token (issue 19 item 2)."""
    needs_ddsclient()
    api = settle.api()
    settle.worker()
    h = {"Authorization": settle.login(api)["token"]}
    r = requests.post(f"{api.base}/software_agents", json={"name": "ddsclient"}, headers=h,
                      timeout=10)
    assert r.status_code == 201, r.text
    agent_key = r.json()["api_key"]["key"]
    r = requests.put(f"{api.base}/current_user/api_key", headers=h, timeout=10)
    assert r.status_code == 200, r.text
    dds = Dds(tmp_path, "ddsclient", api, agent_key, r.json()["key"])
    data = sample_tree(tmp_path)
    dds("upload", "-p", "keysproj", str(data))
    assert "/data/sub/small.txt" in dds("list", "-p", "keysproj")


def test_ddsclient_delete_leaves_an_undo(settle, tmp_path):
    """A file deleted with `ddsclient delete` lands in the trash bin: restored over the API,
    ddsclient downloads it again with identical bytes (docs/api.md "Trash bin")."""
    needs_ddsclient()
    api = settle.api()
    settle.worker()
    who = settle.login(api)
    dds = Dds(tmp_path, "ddsclient", api, who["agent_key"], who["user_key"])
    data = sample_tree(tmp_path)
    dds("upload", "-p", "undoproj", str(data))
    dds("delete", "-p", "undoproj", "--path", "/data/big.bin", "--force")
    listed = dds("list", "-p", "undoproj")
    assert "/data/big.bin" not in listed and "/data/sub/small.txt" in listed, listed

    h = who["headers"]
    projects = requests.get(f"{api.base}/projects", headers=h, timeout=30).json()["results"]
    pid = next(x["id"] for x in projects if x["name"] == "undoproj")
    r = requests.get(f"{api.base}/trashbin/projects/{pid}/children", headers=h, timeout=30)
    assert r.status_code == 200, r.text
    trashed = r.json()["results"]
    assert [(x["kind"], x["name"], x["is_deleted"]) for x in trashed] == [
        ("dds-file", "big.bin", True)], trashed
    r = requests.put(f"{api.base}/trashbin/dds-file/{trashed[0]['id']}/restore", headers=h,
                     timeout=30)
    assert r.status_code == 200 and r.json()["is_deleted"] is False, r.text
    dds("download", "-p", "undoproj", str(tmp_path / "out"))
    assert same_tree(data, tmp_path / "out" / "data")


def test_ddsclient_against_a_delayed_standby(settle, standby, tmp_path):
    """ddsclient uploads and downloads through settle-api reading from a standby that applies
    the WAL 2 s late. What it relies on: its API calls go through one requests.Session per
    process, which keeps the SESSION cookie, so its polls for consistency read its own
    writes; its chunk PUTs (other processes, other sessions) are writes, on the primary;
    its downloads fetch the signed URLs with plain requests.get in a process pool, with no
    cookie: they rely on the position the download URL carries. A download at once (the
    standby lags: the primary serves what the standby has not replayed), then one through a
    second settle-api that waits for the standby as long as it takes
    (SETTLE_SESSION_WAIT_MS): there the standby serves every storage GET."""
    needs_ddsclient()
    api = settle.api(SETTLE_QUEUE="inline", SETTLE_DATABASE_REPLICA_URLS=standby.url())
    patient = settle.api(SETTLE_QUEUE="inline", SETTLE_DATABASE_REPLICA_URLS=standby.url(),
                         SETTLE_SESSION_WAIT_MS="20000", SETTLE_LOG_LEVEL="debug")
    time.sleep(0.5)  # the position pollers have seen the standby
    who = settle.login(api)
    dds = Dds(tmp_path, "ddsclient", api, who["agent_key"], who["user_key"])
    data = sample_tree(tmp_path)

    dds("upload", "-p", "ddsreplica", str(data))
    dds("download", "-p", "ddsreplica", str(tmp_path / "out1"))
    assert same_tree(data, tmp_path / "out1" / "data")

    late = Dds(tmp_path, "patient", patient, who["agent_key"], who["user_key"])
    late("download", "-p", "ddsreplica", str(tmp_path / "out2"))
    assert same_tree(data, tmp_path / "out2" / "data")
    gets = re.findall(r"request method=GET path=/storage/\S+ status=(\d+) .*standby=(\d+)",
                      patient.log_text())
    assert len(gets) >= 2 and all(g == ("200", "1") for g in gets), gets
    served = metric(patient, 'settle_reads_total{served="standby"}')
    assert served >= len(gets), served


def metric(api, name):
    """The value of one sample of settle-api's /metrics (0 when absent)."""
    for line in requests.get(f"{api.url}/metrics", timeout=30).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return 0.0


class D4S2Stub:
    """A stand-in for the D4S2 delivery service (out of Settle's scope): it refuses every
    request with 401, as D4S2 does for an account it does not know."""

    def __init__(self):
        class Refuse(http.server.BaseHTTPRequestHandler):
            def _refuse(self):
                self.send_response(401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = do_PUT = _refuse

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class Dds:
    """Runs the real ddsclient (and its SDK) as one user."""

    def __init__(self, tmp_path, name, api, agent_key, user_key, d4s2_url=None):
        self.cwd = tmp_path
        conf = tmp_path / f"{name}.yml"
        conf.write_text(f"url: {api.base}\nagent_key: {agent_key}\nuser_key: {user_key}\n"
                        "upload_bytes_per_chunk: 1MB\n"
                        + (f"d4s2_url: {d4s2_url}\n" if d4s2_url else ""))
        conf.chmod(0o600)
        self.env = dict(os.environ, DDSCLIENT_CONF=str(conf))

    def run(self, *args, ok=True):
        r = subprocess.run([DDSCLIENT, *args], env=self.env, cwd=self.cwd, capture_output=True,
                           text=True, timeout=300)
        if ok:
            assert r.returncode == 0, f"ddsclient {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
        return r

    def __call__(self, *args):
        return self.run(*args).stdout

    def sdk(self, script):
        """Runs script with the SDK imported the way ddsclient_launch.py allows."""
        here = os.path.dirname(DDSCLIENT)
        env = dict(self.env, PYTHONPATH=os.pathsep.join(
            [here, os.path.join(here, "DukeDSClient"), os.path.join(here, "DukeDSClient", "meta")]))
        r = subprocess.run(["/usr/bin/python3", "-c", "import ddsclient_launch\n" + script],
                           env=env, cwd=self.cwd, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, f"sdk script:\n{script}\n{r.stdout}\n{r.stderr}"
        return r.stdout


def needs_ddsclient():
    """Skips the test where the real ddsclient is not beside the checkout."""
    if not os.access(DDSCLIENT, os.X_OK):
        pytest.skip(f"ddsclient not found at {DDSCLIENT} (set SETTLE_DDSCLIENT)")


def sdk_user(settle, tmp_path):
    """The session's user on an inline settle-api, as ddsclient user "a", with two local
    files for the SDK to upload: one.txt ("first") and two.txt ("second")."""
    needs_ddsclient()
    api = settle.api(SETTLE_QUEUE="inline")
    who = settle.login(api)
    (tmp_path / "one.txt").write_text("first\n")
    (tmp_path / "two.txt").write_text("second\n")
    return Dds(tmp_path, "a", api, who["agent_key"], who["user_key"])


def two_users(settle):
    """An inline settle-api, the session's user logged in on it and a second user, bob-…:
    (api, a_login, b_name, b_id, b_key)."""
    api = settle.api(SETTLE_QUEUE="inline")
    a_login = settle.login(api)
    b_name = f"bob-{uuid.uuid4().hex[:8]}"
    b_id, b_key = settle.create_user(b_name)
    return api, a_login, b_name, b_id, b_key


def listed_paths(out):
    return sorted(line.strip() for line in out.splitlines() if line.strip().startswith("/"))


def test_ddsclient_two_users(settle, tmp_path):
    needs_ddsclient()
    api, a_login, b_name, b_id, b_key = two_users(settle)
    d4s2 = D4S2Stub()
    try:
        a = Dds(tmp_path, "a", api, a_login["agent_key"], a_login["user_key"], d4s2.url)
        b = Dds(tmp_path, "b", api, a_login["agent_key"], b_key, d4s2.url)
        _two_users(a, b, b_name, b_id, tmp_path)
    finally:
        d4s2.close()


def _two_users(a, b, b_name, b_id, tmp_path):
    data = tmp_path / "data"
    (data / "sub" / "deeper").mkdir(parents=True)
    (data / "big.bin").write_bytes(os.urandom(2 * 1024 * 1024 + 7))
    (data / "sub" / "small.txt").write_text("hello\n")
    (data / "sub" / "deeper" / "x.txt").write_text("x\n")
    (data / "note.txt").write_text("note\n")
    a("upload", "-p", "shared", str(data))

    roles = a("list-auth-roles")
    for role in ("project_admin", "project_viewer", "file_downloader", "file_editor",
                 "file_uploader"):
        assert role in roles, roles
    a("add-user", "-p", "shared", "--user", b_name, "--auth-role", "file_downloader")

    # B sees the project, downloads identical bytes, and may not upload into it.
    assert "shared" in b("list").split("\n")
    assert "/data/sub/deeper/x.txt" in b("list", "-p", "shared")
    b("download", "-p", "shared", str(tmp_path / "b-out"))
    assert same_tree(data, tmp_path / "b-out" / "data")
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "intruder.txt").write_text("no\n")
    r = b.run("upload", "-p", "shared", str(extra), ok=False)
    assert r.returncode != 0, r.stdout
    assert "intruder" not in a("list", "-p", "shared")

    # A moves a file, renames a file and moves a folder.
    a("move", "-p", "shared", "/data/big.bin", "/data/sub/big.bin")
    a("move", "-p", "shared", "/data/note.txt", "/data/renamed.txt")
    a("move", "-p", "shared", "/data/sub/deeper", "/data/deeper")
    assert listed_paths(a("list", "-p", "shared")) == [
        "/data", "/data/deeper", "/data/deeper/x.txt", "/data/renamed.txt", "/data/sub",
        "/data/sub/big.bin", "/data/sub/small.txt"]

    # The SDK's rename and move.
    a.sdk("from ddsc.sdk.client import Client\n"
          "p = Client().get_project_by_name('shared')\n"
          "f = p.get_child_for_path('/data/renamed.txt').rename('sdk.txt')\n"
          "assert f.name == 'sdk.txt', f\n"
          "d = p.get_child_for_path('/data/deeper').rename('deep2')\n"
          "p.move_file_or_folder('/data/sdk.txt', '/data/deep2/sdk.txt')\n"
          "p.move_file_or_folder('/data/deep2', '/data/sub/deep2')\n")
    assert listed_paths(a("list", "-p", "shared")) == [
        "/data", "/data/sub", "/data/sub/big.bin", "/data/sub/deep2",
        "/data/sub/deep2/sdk.txt", "/data/sub/deep2/x.txt", "/data/sub/small.txt"]

    assert a("list", "--auth-role", "project_admin").split("\n")[0] == "shared"
    assert "shared" not in b("list", "--auth-role", "project_admin").split("\n")
    assert "shared" in b("list", "--auth-role", "file_downloader").split("\n")

    # share and deliver need D4S2; they fail with the client's own message about it.
    for cmd in ("share", "deliver"):
        r = a.run(cmd, "-p", "shared", "--user", b_name, ok=False)
        assert r.returncode != 0 and "authorization for D4S2" in r.stderr, (cmd, r.stdout,
                                                                            r.stderr)

    a("remove-user", "-p", "shared", "--user", b_name)
    assert "shared" not in b("list").split("\n")
    r = b.run("download", "-p", "shared", str(tmp_path / "b-out2"), ok=False)
    assert r.returncode != 0 and not (tmp_path / "b-out2" / "data").exists(), r.stdout


def test_ddsclient_add_user_by_email(settle, tmp_path):
    """Issue 19 item 5: `ddsclient add-user --email` finds the teammate by the email the
    operator gave them (`settle user create --email`), through GET /users?email=, and the
    teammate then sees the project; a second teammate sets their own email over the API
    (PUT /current_user) and is found the same way."""
    needs_ddsclient()
    api, a_login, b_name, b_id, b_key = two_users(settle)
    b_mail = f"{b_name}@example.org"
    settle.cli("user", "create", b_name, "--email", b_mail)
    a = Dds(tmp_path, "a", api, a_login["agent_key"], a_login["user_key"])
    b = Dds(tmp_path, "b", api, a_login["agent_key"], b_key)
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("x\n")
    a("upload", "-p", "bymail", str(tmp_path / "d"))
    assert "bymail" not in b("list").split("\n")
    a("add-user", "-p", "bymail", "--email", b_mail, "--auth-role", "file_downloader")
    assert "bymail" in b("list").split("\n")
    b("download", "-p", "bymail", str(tmp_path / "b-out"))
    assert (tmp_path / "b-out" / "d" / "x.txt").read_text() == "x\n"

    c_login = settle.login(api)
    c_mail = f"c-{uuid.uuid4().hex[:8]}@example.org"
    r = requests.put(f"{api.base}/current_user", json={"email": c_mail},
                     headers=c_login["headers"], timeout=10)
    assert r.status_code == 200 and r.json()["email"] == c_mail, r.text
    c = Dds(tmp_path, "c", api, c_login["agent_key"], c_login["user_key"])
    a("add-user", "-p", "bymail", "--email", c_mail, "--auth-role", "project_viewer")
    assert "bymail" in c("list").split("\n")
    r = a.run("add-user", "-p", "bymail", "--email", f"nobody-{c_mail}", ok=False)
    assert r.returncode != 0 and "Unable to find or register" in r.stderr, (r.stdout, r.stderr)


def test_ddsclient_download_cannot_leave_its_folder(settle, db, tmp_path):
    """Issue 18 item 1: rows stored before the name rule (a folder '..' holding a file
    '../escaped.txt', set here by SQL since the API refuses such names) are served with a
    safe name (docs/api.md "Names"), so a teammate's real `ddsclient download` writes only
    inside its destination; on a Settle that served the stored names it wrote
    tmp/escaped.txt, beside the destination's parent."""
    needs_ddsclient()
    api, a_login, b_name, _, b_key = two_users(settle)
    a = Dds(tmp_path, "a", api, a_login["agent_key"], a_login["user_key"])
    b = Dds(tmp_path, "b", api, a_login["agent_key"], b_key)
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "escaped.txt").write_text("planted\n")
    a("upload", "-p", "escape", str(data))
    a("add-user", "-p", "escape", "--user", b_name, "--auth-role", "file_downloader")
    with db.cursor() as cur:
        cur.execute("UPDATE folders SET name = '..' WHERE name = 'data' AND project_id ="
                    " (SELECT id FROM projects WHERE name = 'escape')")
        cur.execute("UPDATE folders SET name = '..' WHERE name = 'sub' AND project_id ="
                    " (SELECT id FROM projects WHERE name = 'escape')")
        cur.execute("UPDATE files SET name = '../escaped.txt' WHERE name = 'escaped.txt'"
                    " AND project_id = (SELECT id FROM projects WHERE name = 'escape')")
    dest = tmp_path / "box" / "in" / "dest"
    dest.mkdir(parents=True)
    before = {p for p in tmp_path.rglob("*")}
    b("download", "-p", "escape", str(dest))
    written = {p for p in tmp_path.rglob("*")} - before
    outside = [p for p in written if dest not in p.parents and p != dest]
    assert outside == [], outside
    assert not (tmp_path / "escaped.txt").exists()
    got = dest / "%2E%2E" / "%2E%2E" / "..%2Fescaped.txt"
    assert got.read_text() == "planted\n", sorted(written)


def test_sdk_new_version_keeps_the_remote_name(settle, tmp_path):
    """Issue 18 item 11: the SDK's upload_file of a changed local file (another local name)
    to an existing remote path makes a new version of that file, which keeps its name, so
    a download and a move by the old path still work."""
    a = sdk_user(settle, tmp_path)
    a.sdk("from ddsc.sdk.dukeds import DukeDS\n"
          "DukeDS.upload_file('sdkproj', 'one.txt', '/docs/report.txt')\n"
          "DukeDS.upload_file('sdkproj', 'two.txt', '/docs/report.txt')\n"
          "DukeDS.download_file('sdkproj', '/docs/report.txt', 'got.txt')\n"
          "DukeDS.move_file_or_folder('sdkproj', '/docs/report.txt', '/docs/final.txt')\n")
    assert (tmp_path / "got.txt").read_text() == "second\n"
    assert listed_paths(a("list", "-p", "sdkproj")) == ["/docs", "/docs/final.txt"]


def test_ddsclient_share_and_deliver_change_permissions_then_fail(settle, db, tmp_path):
    """What docs/api.md "Sharing a project" says of `share` and `deliver` (issue 18 item 13): share
    grants the role on Settle, deliver revokes the recipient's permission, and then each
    fails at the D4S2 host: with the client's own message when D4S2 answers 401 (the stub),
    with a Python traceback when the host cannot be reached (a closed port here; the
    default is Duke's datadelivery.genome.duke.edu)."""
    needs_ddsclient()
    api, a_login, b_name, b_id, _ = two_users(settle)
    with db.cursor() as cur:  # share and deliver need the recipient's email
        cur.execute("UPDATE users SET email = %s WHERE id = %s", (f"{b_name}@example.org", b_id))

    def role():
        with db.cursor() as cur:
            cur.execute("SELECT m.role FROM project_members m JOIN projects p ON"
                        " p.id = m.project_id WHERE p.name = 'deliv' AND m.user_id = %s",
                        (b_id,))
            row = cur.fetchone()
            return row[0] if row else None

    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}/api/v1"
    d4s2 = D4S2Stub()
    try:
        for url, says in ((d4s2.url, "authorization for D4S2"), (closed, "Traceback")):
            a = Dds(tmp_path, "a", api, a_login["agent_key"], a_login["user_key"], url)
            (tmp_path / "d").mkdir(exist_ok=True)
            (tmp_path / "d" / "x.txt").write_text("x\n")
            a("upload", "-p", "deliv", str(tmp_path / "d"))
            assert role() is None
            r = a.run("share", "-p", "deliv", "--user", b_name, "--auth-role", "project_viewer",
                      ok=False)
            assert r.returncode != 0 and says in r.stderr, (r.stdout, r.stderr)
            assert role() == "project_viewer"
            r = a.run("deliver", "-p", "deliv", "--user", b_name, ok=False)
            assert r.returncode != 0 and says in r.stderr, (r.stdout, r.stderr)
            assert role() is None
    finally:
        d4s2.close()


def test_sdk_provenance_calls(settle, tmp_path):
    """Issue 19 item 1: the SDK's provenance calls (ddsc/core/ddsapi.py) succeed against
    Settle and the relations read back; on a Settle without provenance the first one,
    create_activity, failed with "no such endpoint"."""
    a = sdk_user(settle, tmp_path)
    a.sdk("from ddsc.sdk.dukeds import DukeDS\n"
          "DukeDS.upload_file('provproj', 'one.txt', '/in.txt')\n"
          "DukeDS.upload_file('provproj', 'two.txt', '/out.txt')\n"
          "from ddsc.sdk.client import Client\n"
          "c = Client()\n"
          "ds = c.dds_connection.data_service\n"
          "p = c.get_project_by_name('provproj')\n"
          "fin = p.get_child_for_path('/in.txt').current_version['id']\n"
          "fout = p.get_child_for_path('/out.txt').current_version['id']\n"
          "act = ds.create_activity('sdk run', 'made by the SDK',"
          " started_on='2024-01-01T10:00:00+00:00').json()\n"
          "assert act['kind'] == 'dds-activity' and act['name'] == 'sdk run', act\n"
          "ds.update_activity(act['id'], 'sdk run', 'made by the SDK',"
          " started_on='2024-01-01T10:00:00+00:00', ended_on='2024-01-01T11:00:00+00:00')\n"
          "got = ds.get_activity_by_id(act['id']).json()\n"
          "assert got['ended_on'] == '2024-01-01T11:00:00.000Z', got\n"
          "assert act['id'] in [x['id'] for x in ds.get_activities().json()['results']]\n"
          "u = ds.create_used_relation(act['id'], 'dds-file', fin).json()\n"
          "g = ds.create_was_generated_by_relation(act['id'], 'dds-file', fout).json()\n"
          "d = ds.create_was_derived_from_relation(fin, 'dds-file', fout, 'dds-file').json()\n"
          "assert (u['kind'], g['kind'], d['kind']) == ('dds-relation-used',"
          " 'dds-relation-was-generated-by', 'dds-relation-was-derived-from')\n"
          "rels = ds.get_relations('dds-activity', act['id']).json()['results']\n"
          "assert {r['id'] for r in rels} == {u['id'], g['id']}, rels\n"
          "rels = ds.get_relations('dds-file-version', fout).json()['results']\n"
          "assert {r['id'] for r in rels} == {g['id'], d['id']}, rels\n"
          "one = ds.get_relation(d['id']).json()\n"
          "assert one['from']['id'] == fout and one['to']['id'] == fin, one\n"
          "ds.delete_relation(d['id'])\n"
          "rels = ds.get_relations('dds-file-version', fout).json()['results']\n"
          "assert [r['id'] for r in rels] == [g['id']], rels\n"
          "ds.delete_activity(act['id'])\n"
          "assert ds.get_activity_by_id(act['id']).json()['is_deleted'] is True\n"
          "print('provenance ok')\n")


def test_ddsclient_deliver_copy_records_provenance(settle, db, tmp_path):
    """Issue 19 item 1: `ddsclient deliver --copy` copies the project (POST /activities,
    used, was_generated_by and was_derived_from relations, the activity finished) and then
    fails only where it reaches D4S2 (the stub), not with "no such endpoint"."""
    needs_ddsclient()
    api, a_login, b_name, b_id, _ = two_users(settle)
    with db.cursor() as cur:  # deliver needs the recipient's email
        cur.execute("UPDATE users SET email = %s WHERE id = %s", (f"{b_name}@example.org", b_id))
    d4s2 = D4S2Stub()
    try:
        a = Dds(tmp_path, "a", api, a_login["agent_key"], a_login["user_key"], d4s2.url)
        (tmp_path / "d" / "sub").mkdir(parents=True)
        (tmp_path / "d" / "x.txt").write_text("x\n")
        (tmp_path / "d" / "sub" / "y.txt").write_text("y\n")
        a("upload", "-p", "copyme", str(tmp_path / "d"))
        r = a.run("deliver", "-p", "copyme", "--copy", "--user", b_name, ok=False)
        assert r.returncode != 0 and "no such endpoint" not in r.stderr, r.stderr
        assert "authorization for D4S2" in r.stderr, (r.stdout, r.stderr)
    finally:
        d4s2.close()
    with db.cursor() as cur:
        cur.execute("SELECT id, name, ended_on IS NOT NULL FROM activities WHERE created_by = %s",
                    (a_login["user_id"],))
        acts = cur.fetchall()
        assert len(acts) == 1 and acts[0][1].startswith("DukeDSClient copying project"), acts
        assert acts[0][2], acts  # finished: update_activity set ended_on
        cur.execute("SELECT kind, count(*) FROM prov_relations WHERE created_by = %s"
                    " GROUP BY kind ORDER BY kind", (a_login["user_id"],))
        assert cur.fetchall() == [("used", 2), ("was_derived_from", 2),
                                  ("was_generated_by", 2)]
