"""Names that cannot escape a download folder (issue 18, items 1, 11 and 13): every call that
sets a name refuses '/', '\\', NUL, '.', '..', names of only whitespace and Unicode format
characters with 400 validation_failed naming the rule; rows stored before the rule keep
working for reads and are served with a safe name (docs/api.md "Names"); POST /files refuses an
upload whose stored name breaks the rule; PUT /files/{id} keeps the file's name."""

from test_api_limits import field_error
from test_api_uploads import assert_error

SLASH = "must not contain '/' or '\\'"
DOT = "must not be '.' or '..'"
SPACE = "must not be only whitespace"
FORMAT = "must not contain Unicode format characters (such as U+200B or U+202E)"
CONTROL = "must not contain control characters"

# Each kind of bad name with the rule it breaks.
BAD = [
    ("a/b", SLASH), ("../../../../tmp/x", SLASH), ("/", SLASH), ("a\\b", SLASH),
    ("..\\x", SLASH), (".", DOT), ("..", DOT), (" ", SPACE), ("   ", SPACE),
    ("\u3000\u00a0\u2003", SPACE), ("\u2028", SPACE), ("evil\u202etxt.exe", FORMAT),
    ("zero\u200bwidth", FORMAT), ("\ufeffbom", FORMAT), ("\u200b", FORMAT),
    ("tag\U000e0041", FORMAT), ("nul\x00", None),
]

# Names close to the bad ones that stay allowed.
GOOD = ["...", ". .", ".hidden", "a..b", "a b", " lead", "trail ", "\u00e9t\u00e9", "x:y",
        "\u6f22\u5b57", "%2F"]


def _rule(r, message):
    body = field_error(r, "name") if message is not None else assert_error(
        r, 400, "validation_failed")
    if message is not None:
        assert body["errors"][0]["message"] == message, body
    return body


def _setters(client, project):
    """Each place a name is set, as a function of the name (JSON bodies)."""
    folder = client.req("POST", "/folders", json={
        "name": "f", "parent": {"kind": "dds-project", "id": project}}).json()["id"]
    uid = client.send(project, [b"data"], name="file.txt")
    fid = client.file(project, uid)["id"]
    return folder, fid, {
        "POST /projects": lambda n: client.req("POST", "/projects", json={"name": n}),
        "PUT /projects/{id}": lambda n: client.req("PUT", f"/projects/{project}",
                                                   json={"name": n}),
        "POST /folders (project)": lambda n: client.req("POST", "/folders", json={
            "name": n, "parent": {"kind": "dds-project", "id": project}}),
        "POST /folders (folder)": lambda n: client.req("POST", "/folders", json={
            "name": n, "parent": {"kind": "dds-folder", "id": folder}}),
        "PUT /folders/{id}": lambda n: client.req("PUT", f"/folders/{folder}",
                                                  json={"name": n}),
        "PUT /folders/{id}/rename": lambda n: client.req("PUT", f"/folders/{folder}/rename",
                                                         json={"name": n}),
        "PUT /folders/{id}/move": lambda n: client.req("PUT", f"/folders/{folder}/move", json={
            "name": n, "parent": {"kind": "dds-project", "id": project}}),
        "PUT /files/{id}/rename": lambda n: client.req("PUT", f"/files/{fid}/rename",
                                                       json={"name": n}),
        "PUT /files/{id}/move": lambda n: client.req("PUT", f"/files/{fid}/move", json={
            "name": n, "parent": {"kind": "dds-project", "id": project}}),
        "POST /projects/{id}/uploads": lambda n: client.req(
            "POST", f"/projects/{project}/uploads", json={"name": n, "size": 1}),
    }


def test_unsafe_names_refused_everywhere(client, project, db):
    folder, fid, setters = _setters(client, project)
    for where, put in setters.items():
        for name, message in BAD:
            r = put(name)
            try:
                _rule(r, message)
            except AssertionError as e:
                raise AssertionError(f"{where} {name!r}: {e}") from None
    # Nothing was stored: the names are what they were.
    with db.cursor() as cur:
        cur.execute("SELECT name FROM projects WHERE id = %s", (project,))
        assert cur.fetchone()[0] == "p"
        cur.execute("SELECT name FROM folders WHERE project_id = %s", (project,))
        assert [r[0] for r in cur.fetchall()] == ["f"]
        cur.execute("SELECT name FROM files WHERE id = %s", (fid,))
        assert cur.fetchone()[0] == "file.txt"
        cur.execute("SELECT count(*) FROM uploads WHERE project_id = %s", (project,))
        assert cur.fetchone()[0] == 1
        cur.execute("SELECT count(*) FROM projects WHERE created_by = %s AND id <> %s",
                    (client.user_id, project))
        assert cur.fetchone()[0] == 0


def test_form_bodies_are_held_to_the_rule(client, project, db):
    """A form body's %00 is refused (it was cut off at the NUL and stored), and the other
    rules hold for forms too."""
    for name, message in [("a%00b", CONTROL), ("a%2Fb", SLASH), ("..", DOT),
                          ("%E2%80%AEx", FORMAT), ("+", SPACE)]:
        r = client.req("POST", f"/projects/{project}/uploads", data=f"name={name}&size=1",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
        _rule(r, message)
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM uploads WHERE project_id = %s", (project,))
        assert cur.fetchone()[0] == 0


def test_names_close_to_bad_ones_are_allowed(client, project):
    for name in GOOD:
        r = client.req("POST", "/folders", json={
            "name": name, "parent": {"kind": "dds-project", "id": project}})
        assert r.status_code == 201 and r.json()["name"] == name, (name, r.text)


def _legacy(db, project, client):
    """Rows named as they could be before the rule: a folder '..' holding a file
    '../x/y' made from an upload named 'evil\\u202etxt.exe', and a project '..'."""
    uid = client.send(project, [b"legacy"], name="legacy.txt")
    fid = client.file(project, uid)["id"]
    folder = client.req("POST", "/folders", json={
        "name": "f", "parent": {"kind": "dds-project", "id": project}}).json()["id"]
    ok = client.req("PUT", f"/files/{fid}/move",
                    json={"parent": {"kind": "dds-folder", "id": folder}})
    assert ok.status_code == 200, ok.text
    with db.cursor() as cur:
        cur.execute("UPDATE folders SET name = '..' WHERE id = %s", (folder,))
        cur.execute("UPDATE files SET name = '../x/y' WHERE id = %s", (fid,))
        cur.execute("UPDATE uploads SET name = 'evil\u202etxt.exe' WHERE id = %s", (uid,))
        cur.execute("UPDATE projects SET name = '..' WHERE id = %s", (project,))
    return folder, fid, uid


def test_legacy_rows_are_read_with_safe_names(client, project, db):
    folder, fid, uid = _legacy(db, project, client)

    p = client.req("GET", f"/projects/{project}").json()
    assert p["name"] == "%2E%2E", p
    f = client.req("GET", f"/folders/{folder}").json()
    assert f["name"] == "%2E%2E" and f["project"]["name"] == "%2E%2E", f
    assert [a["name"] for a in f["ancestors"]] == ["%2E%2E"], f
    got = client.req("GET", f"/files/{fid}").json()
    assert got["name"] == "..%2Fx%2Fy", got
    assert [a["name"] for a in got["ancestors"]] == ["%2E%2E", "%2E%2E"], got
    kids = client.req("GET", f"/folders/{folder}/children").json()["results"]
    assert [k["name"] for k in kids] == ["..%2Fx%2Fy"], kids
    listed = client.req("GET", f"/projects/{project}/children",
                        params={"name_contains": ""}).json()["results"]
    assert sorted(k["name"] for k in listed) == ["%2E%2E", "..%2Fx%2Fy"], listed
    files = client.req("GET", f"/projects/{project}/files").json()["results"]
    assert [(x["name"], [a["name"] for a in x["ancestors"]]) for x in files] == [
        ("..%2Fx%2Fy", ["%2E%2E", "%2E%2E"])], files
    up = client.req("GET", f"/uploads/{uid}").json()
    assert up["name"] == "evil%E2%80%AEtxt.exe", up
    perms = client.req("GET", f"/projects/{project}/permissions").json()["results"]
    assert perms[0]["project"]["name"] == "%2E%2E", perms
    # The stored names are left as they are, and the rows can be renamed to good names.
    with db.cursor() as cur:
        cur.execute("SELECT name FROM folders WHERE id = %s", (folder,))
        assert cur.fetchone()[0] == ".."
    r = client.req("PUT", f"/folders/{folder}/rename", json={"name": "fixed"})
    assert r.status_code == 200 and r.json()["name"] == "fixed", r.text


def test_file_from_a_legacy_upload_is_refused(client, project, db):
    """POST /files gives the file its upload's name: one stored before the rule that breaks
    it is refused (400 naming the rule) and no file is made."""
    uid = client.send(project, [b"old"], name="old.txt")
    with db.cursor() as cur:
        cur.execute("UPDATE uploads SET name = '..' WHERE id = %s", (uid,))
    r = client.req("POST", "/files", json={"parent": {"kind": "dds-project", "id": project},
                                           "upload": {"id": uid}})
    body = assert_error(r, 400, "validation_failed")
    assert body["errors"][0] == {"field": "upload[id]",
                                 "message": "the upload's name " + DOT}, body
    with db.cursor() as cur:
        cur.execute("SELECT count(*) FROM files WHERE project_id = %s", (project,))
        assert cur.fetchone()[0] == 0
        cur.execute("SELECT count(*) FROM file_versions WHERE upload_id = %s", (uid,))
        assert cur.fetchone()[0] == 0


def test_new_version_keeps_the_file_name(client, project, db):
    """Item 11: PUT /files/{id} changes the current version (upload and label), never the
    name, whatever the new upload is called (even a name stored before the rule)."""
    first = client.send(project, [b"one"], name="report.txt")
    f = client.file(project, first)
    second = client.send(project, [b"two"], name="local-name.txt")
    r = client.req("PUT", f"/files/{f['id']}", json={"upload": {"id": second}, "label": "v2"})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["name"] == "report.txt", got
    assert got["current_version"]["upload"]["id"] == second, got
    assert got["current_version"]["label"] == "v2", got
    third = client.send(project, [b"three"], name="third.txt")
    with db.cursor() as cur:
        cur.execute("UPDATE uploads SET name = '../../x' WHERE id = %s", (third,))
    r = client.req("PUT", f"/files/{f['id']}", json={"upload": {"id": third}})
    assert r.status_code == 200 and r.json()["name"] == "report.txt", r.text
    with db.cursor() as cur:
        cur.execute("SELECT name FROM files WHERE id = %s", (f["id"],))
        assert cur.fetchone()[0] == "report.txt"
    versions = client.req("GET", f"/files/{f['id']}/versions").json()["results"]
    assert [v["upload"]["id"] for v in versions] == [first, second, third], versions

