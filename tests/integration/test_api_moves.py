"""Move and rename of files and folders (API.md "Move and rename"): ancestors and
name_contains listings follow the whole moved subtree, a folder cannot move into its own
subtree, nothing moves across projects, and bad input gets API.md's 4xx."""

import uuid


from test_api_roles import err, grant, login, ok


def folder(c, name, parent_kind, parent_id):
    return ok(c.req("POST", "/folders", json={
        "name": name, "parent": {"kind": parent_kind, "id": parent_id}}), 201)


def names(ancestors):
    return [a["name"] for a in ancestors]


def paths(c, pid):
    """Every live item of the project as "/a/b/name" (from name_contains= listings)."""
    items = ok(c.req("GET", f"/projects/{pid}/children", params={"name_contains": ""}))
    return sorted("/" + "/".join(names(x["ancestors"])[1:] + [x["name"]])
                  for x in items["results"])


def test_move_and_rename_keep_the_tree_right(settle, inline_api):
    c = login(settle, inline_api)
    pid = c.project("tree")
    a = folder(c, "a", "dds-project", pid)
    b = folder(c, "b", "dds-folder", a["id"])
    x = folder(c, "x", "dds-project", pid)
    f = c.file(pid, c.send(pid, [b"deep"], name="deep.txt"), parent={"kind": "dds-folder",
                                                                       "id": b["id"]})
    assert paths(c, pid) == ["/a", "/a/b", "/a/b/deep.txt", "/x"]

    # Move folder a (with b and the file below it) into x.
    moved = ok(c.req("PUT", f"/folders/{a['id']}/move",
                     json={"parent": {"kind": "dds-folder", "id": x["id"]}}))
    assert moved["parent"] == {"kind": "dds-folder", "id": x["id"]}
    assert names(moved["ancestors"]) == ["tree", "x"]
    assert paths(c, pid) == ["/x", "/x/a", "/x/a/b", "/x/a/b/deep.txt"]
    r = c.req("GET", f"/projects/{pid}/children", params={"name_contains": "", "page": 5,
                                                           "per_page": 1})
    assert ok(r)["results"] == [] and r.headers["X-Total"] == "4", r.headers
    got = ok(c.req("GET", f"/files/{f['id']}"))
    assert names(got["ancestors"]) == ["tree", "x", "a", "b"]
    hits = ok(c.req("GET", f"/projects/{pid}/children", params={"name_contains": "deep"}))
    assert [names(h["ancestors"]) for h in hits["results"]] == [["tree", "x", "a", "b"]]
    kids = ok(c.req("GET", f"/folders/{x['id']}/children"))["results"]
    assert [k["id"] for k in kids] == [a["id"]]

    # Rename a folder: the names below it follow.
    ok(c.req("PUT", f"/folders/{x['id']}/rename", json={"name": "y"}))
    assert paths(c, pid) == ["/y", "/y/a", "/y/a/b", "/y/a/b/deep.txt"]

    # Move the file to the root, then rename it (form body, as some clients send).
    got = ok(c.req("PUT", f"/files/{f['id']}/move",
                   json={"parent": {"kind": "dds-project", "id": pid}}))
    assert got["parent"] == {"kind": "dds-project", "id": pid} and names(got["ancestors"]) == [
        "tree"]
    got = ok(c.req("PUT", f"/files/{f['id']}/rename", data={"name": "top.txt"}))
    assert got["name"] == "top.txt" and got["current_version"]["id"] == f["current_version"]["id"]
    assert paths(c, pid) == ["/top.txt", "/y", "/y/a", "/y/a/b"]

    # A folder cannot move into itself or below itself.
    for target in (a["id"], b["id"]):
        e = err(c.req("PUT", f"/folders/{a['id']}/move",
                      json={"parent": {"kind": "dds-folder", "id": target}}),
                400, "validation_failed")
        assert e["errors"][0]["field"] == "parent"
    # PUT /folders/{id} checks the same.
    err(c.req("PUT", f"/folders/{x['id']}", json={"parent": {"kind": "dds-folder",
                                                             "id": b["id"]}}),
        400, "validation_failed")
    assert paths(c, pid) == ["/top.txt", "/y", "/y/a", "/y/a/b"]


def test_move_bad_input(settle, inline_api):
    c = login(settle, inline_api)
    other = login(settle, inline_api)
    pid, qid = c.project("one"), c.project("two")
    d = folder(c, "d", "dds-project", pid)
    e = folder(c, "e", "dds-project", qid)
    f = c.file(pid, c.send(pid, [b"f"], name="f.txt"))
    theirs = other.project("theirs")

    for kind, item in (("files", f["id"]), ("folders", d["id"])):
        # Across projects: 400 where the caller sees the other project, 403 where not.
        err(c.req("PUT", f"/{kind}/{item}/move",
                  json={"parent": {"kind": "dds-project", "id": qid}}), 400, "validation_failed")
        err(c.req("PUT", f"/{kind}/{item}/move",
                  json={"parent": {"kind": "dds-folder", "id": e["id"]}}),
            400, "validation_failed")
        err(c.req("PUT", f"/{kind}/{item}/move",
                  json={"parent": {"kind": "dds-project", "id": theirs}}), 403, "forbidden")
        # Missing or malformed parent, unknown ids, bad names.
        err(c.req("PUT", f"/{kind}/{item}/move", json={}), 400, "validation_failed")
        err(c.req("PUT", f"/{kind}/{item}/move", json={"parent": {"kind": "dds-file",
                                                                  "id": item}}),
            400, "validation_failed")
        err(c.req("PUT", f"/{kind}/{item}/move", json={"parent": {"kind": "dds-folder",
                                                                  "id": "nope"}}),
            404, "not_found")
        err(c.req("PUT", f"/{kind}/{item}/move",
                  json={"parent": {"kind": "dds-folder", "id": str(uuid.uuid4())}}),
            404, "not_found")
        err(c.req("PUT", f"/{kind}/{uuid.uuid4()}/move",
                  json={"parent": {"kind": "dds-project", "id": pid}}), 404, "not_found")
        err(c.req("PUT", f"/{kind}/not-a-uuid/rename", json={"name": "z"}), 404, "not_found")
        err(c.req("PUT", f"/{kind}/{item}/rename", json={}), 400, "validation_failed")
        err(c.req("PUT", f"/{kind}/{item}/rename", json={"name": ""}), 400, "validation_failed")
        err(c.req("PUT", f"/{kind}/{item}/rename", json={"name": 5}), 400, "validation_failed")
        err(c.req("PUT", f"/{kind}/{item}/rename", data=b"{bad json",
                  headers={"Content-Type": "application/json"}), 400, "validation_failed")
        # Someone without a role: 403.
        err(other.req("PUT", f"/{kind}/{item}/rename", json={"name": "z"}), 403, "forbidden")
    # Into a deleted folder: 404.
    gone = folder(c, "gone", "dds-project", pid)
    ok(c.req("DELETE", f"/folders/{gone['id']}"), 202)
    err(c.req("PUT", f"/files/{f['id']}/move",
              json={"parent": {"kind": "dds-folder", "id": gone["id"]}}), 404, "not_found")
    # A viewer may not move or rename.
    ok(grant(c, pid, other.user_id, "project_viewer"))
    err(other.req("PUT", f"/files/{f['id']}/rename", json={"name": "z"}), 403, "forbidden")
    # Nothing moved.
    assert ok(c.req("GET", f"/files/{f['id']}"))["parent"] == {"kind": "dds-project", "id": pid}
    assert ok(c.req("GET", f"/folders/{d['id']}"))["name"] == "d"
