"""The folder tree's bounds (docs/api.md "Folder depth"): folders nest at most MAX_DEPTH
levels, at create and at move; a folder never moves into its own subtree however deep that
subtree is (legacy rows may be deeper than the maximum); and every walk of the tree ends,
even on rows that already form a cycle."""

import uuid

from test_api_moves import folder, names, paths
from test_api_roles import err, login, ok

MAX_DEPTH = 100  # docs/api.md "Folder depth": folders nest at most 100 levels.


def chain(db, c, pid, n, parent=None):
    """n folders d1/d2/.../dn inserted directly (as legacy rows could be), under parent (a
    folder id) or at the project root; their ids, top first."""
    ids = [str(uuid.uuid4()) for _ in range(n)]
    parents = [parent] + ids[:-1]
    with db.cursor() as cur:
        cur.execute(
            "INSERT INTO folders (id, project_id, parent_id, name, created_by)"
            " SELECT i, %s, p, 'd' || n, %s"
            " FROM unnest(%s::uuid[], %s::uuid[]) WITH ORDINALITY AS t(i, p, n)",
            (pid, c.user_id, ids, parents))
    return ids


def total(c, pid):
    """The number of live items below the project root (X-Total of a name_contains listing)."""
    r = c.req("GET", f"/projects/{pid}/children", params={"name_contains": "", "per_page": 1})
    ok(r)
    return int(r.headers["X-Total"])


def depth_refused(r):
    e = err(r, 400, "validation_failed")
    assert e["errors"][0]["field"] == "parent", e
    assert f"at most {MAX_DEPTH} levels" in e["errors"][0]["message"], e


def test_create_refuses_a_folder_past_the_maximum_depth(settle, inline_api, db):
    c = login(settle, inline_api)
    pid = c.project("deep")
    ids = chain(db, c, pid, MAX_DEPTH)
    # A folder at the maximum depth is fine; one more level is not.
    last = folder(c, "last", "dds-folder", ids[-2])
    assert len(last["ancestors"]) == MAX_DEPTH  # the project and MAX_DEPTH - 1 folders
    depth_refused(c.req("POST", "/folders", json={
        "name": "x", "parent": {"kind": "dds-folder", "id": ids[-1]}}))
    kids = ok(c.req("GET", f"/folders/{ids[-1]}/children"))["results"]
    assert kids == []
    # Files have no depth of their own: one may live in the deepest folder.
    f = c.file(pid, c.send(pid, [b"x"], name="x.txt"), parent={"kind": "dds-folder",
                                                                 "id": ids[-1]})
    assert len(f["ancestors"]) == MAX_DEPTH + 1


def test_move_refuses_a_subtree_past_the_maximum_depth(settle, inline_api, db):
    c = login(settle, inline_api)
    pid = c.project("deep")
    ids = chain(db, c, pid, MAX_DEPTH - 2)
    a = folder(c, "a", "dds-project", pid)
    b = folder(c, "b", "dds-folder", a["id"])
    folder(c, "c", "dds-folder", b["id"])
    # a/b/c below the folder at depth MAX_DEPTH - 2 would put c at MAX_DEPTH + 1.
    depth_refused(c.req("PUT", f"/folders/{a['id']}/move",
                        json={"parent": {"kind": "dds-folder", "id": ids[-1]}}))
    depth_refused(c.req("PUT", f"/folders/{a['id']}",
                        json={"parent": {"kind": "dds-folder", "id": ids[-1]}}))
    assert ok(c.req("GET", f"/folders/{a['id']}"))["parent"] == {"kind": "dds-project",
                                                                  "id": pid}
    # One level higher, c lands exactly at the maximum.
    moved = ok(c.req("PUT", f"/folders/{a['id']}/move",
                     json={"parent": {"kind": "dds-folder", "id": ids[-2]}}))
    assert len(moved["ancestors"]) == MAX_DEPTH - 2
    # Deleted folders below the moved one do not count.
    got = folder(c, "e", "dds-folder", a["id"])
    ok(c.req("DELETE", f"/folders/{got['id']}"), 202)
    ok(c.req("PUT", f"/folders/{a['id']}/move", json={"parent": {"kind": "dds-project",
                                                                  "id": pid}}))
    sub = folder(c, "sub", "dds-folder", b["id"])
    folder(c, "leaf", "dds-folder", sub["id"])
    ok(c.req("DELETE", f"/folders/{sub['id']}"), 202)
    ok(c.req("PUT", f"/folders/{a['id']}/move",
             json={"parent": {"kind": "dds-folder", "id": ids[-2]}}))
    # Files move anywhere, also into the deepest folder.
    f = c.file(pid, c.send(pid, [b"f"], name="f.txt"))
    deepest = ok(c.req("POST", "/folders", json={
        "name": "z", "parent": {"kind": "dds-folder", "id": ids[-1]}}), 201)
    ok(c.req("PUT", f"/files/{f['id']}/move",
             json={"parent": {"kind": "dds-folder", "id": deepest["id"]}}))


def test_no_move_into_a_very_deep_own_subtree(settle, inline_api, db):
    c = login(settle, inline_api)
    pid = c.project("legacy")
    n = 1200
    ids = chain(db, c, pid, n)
    for target in (ids[-1], ids[1000], ids[999]):
        for how in ("/move", ""):
            e = err(c.req("PUT", f"/folders/{ids[0]}{how}",
                          json={"parent": {"kind": "dds-folder", "id": target}}),
                    400, "validation_failed")
            assert e["errors"][0] == {
                "field": "parent",
                "message": "a folder cannot be moved into itself or its subfolders"}, e
    # Nothing vanished: the chain is still below the project root, all of it.
    assert [k["id"] for k in ok(c.req("GET", f"/projects/{pid}/children"))["results"]] == [
        ids[0]]
    assert total(c, pid) == n
    top = names(ok(c.req("GET", f"/folders/{ids[-1]}"))["ancestors"])
    assert top == ["legacy"] + [f"d{i}" for i in range(1, n)]
    # The legacy subtree is too deep to go anywhere else either (a move checks its depth),
    # but its lower part may move up.
    depth_refused(c.req("PUT", f"/folders/{ids[1]}/move",
                        json={"parent": {"kind": "dds-project", "id": pid}}))
    moved = ok(c.req("PUT", f"/folders/{ids[-10]}/move",
                     json={"parent": {"kind": "dds-project", "id": pid}}))
    assert names(moved["ancestors"]) == ["legacy"]
    assert total(c, pid) == n


def test_walks_end_on_a_cycle_already_in_the_rows(settle, inline_api, db):
    c = login(settle, inline_api)
    pid = c.project("cycle")
    a = folder(c, "a", "dds-project", pid)
    ids = chain(db, c, pid, 3, parent=a["id"])
    with db.cursor() as cur:  # d1 -> d2 -> d3 -> d1, cut off from the root
        cur.execute("UPDATE folders SET parent_id = %s WHERE id = %s", (ids[-1], ids[0]))
    got = ok(c.req("GET", f"/folders/{ids[0]}"))
    assert names(got["ancestors"]) == ["cycle", "d1", "d2", "d3"]  # each folder once
    assert paths(c, pid) == ["/a"]
    assert [k["name"] for k in ok(c.req("GET", f"/folders/{ids[0]}/children"))["results"]] == [
        "d2"]
    err(c.req("PUT", f"/folders/{ids[0]}/move",
              json={"parent": {"kind": "dds-folder", "id": ids[1]}}), 400, "validation_failed")
    ok(c.req("PUT", f"/folders/{ids[0]}/move", json={"parent": {"kind": "dds-project",
                                                                 "id": pid}}))
    assert paths(c, pid) == ["/a", "/d1", "/d1/d2", "/d1/d2/d3"]
