"""Provenance (docs/api.md "Provenance", DDS v1 activities, relations and provenance searches)
against a real settle-api in inline mode: activities, the four relation kinds, the relation
list of an object, the graph search and the origin search, who may do what, and bad input."""

import os
import uuid

from test_api_roles import err, grant, login, ok


def _version(c, pid, data=None):
    """A new file in project pid; returns (file, its current version id)."""
    f = c.file(pid, c.send(pid, [data or os.urandom(64)]))
    return f, f["current_version"]["id"]


def _activity(c, name="act", **extra):
    return ok(c.req("POST", "/activities", json=dict({"name": name}, **extra)), 201)


def _relate(c, kind, activity, version, entity_kind="dds-file-version"):
    return c.req("POST", f"/relations/{kind}",
                 json={"activity": {"id": activity}, "entity": {"kind": entity_kind,
                                                                "id": version}})


def _derive(c, used, generated):
    return c.req("POST", "/relations/was_derived_from",
                 json={"used_entity": {"kind": "dds-file-version", "id": used},
                       "generated_entity": {"kind": "dds-file-version", "id": generated}})


def test_activities(settle, inline_api):
    alice = login(settle, inline_api)
    bob = login(settle, inline_api)

    a = _activity(alice, "align reads", description="bwa mem\nline two",
                  started_on="2024-01-02T03:04:05+00:00")
    assert set(a) == {"kind", "id", "name", "description", "started_on", "ended_on",
                      "is_deleted", "audit"}, a
    assert a["kind"] == "dds-activity" and a["name"] == "align reads"
    assert a["description"] == "bwa mem\nline two" and a["is_deleted"] is False
    assert a["started_on"] == "2024-01-02T03:04:05.000Z" and a["ended_on"] is None
    assert a["audit"]["created_by"]["id"] == alice.user_id
    # started_on defaults to now, as in DDS; nulls (the SDK sends them) mean "not given".
    b = ok(alice.req("POST", "/activities", json={"name": "b", "description": None,
                                                  "started_on": None, "ended_on": None}), 201)
    assert b["started_on"] is not None and b["description"] is None

    r = alice.req("GET", f"/activities/{a['id']}/")
    assert ok(r) == a and "X-Total" not in r.headers
    r = alice.req("GET", "/activities", params={"per_page": 1})
    assert [x["id"] for x in ok(r)["results"]] == [a["id"]], r.text
    assert r.headers["X-Total"] == "2" and r.headers["X-Total-Pages"] == "2"
    assert ok(bob.req("GET", "/activities"))["results"] == []

    # Only the creator sees (no relation yet), updates and deletes it.
    err(bob.req("GET", f"/activities/{a['id']}"), 403, "forbidden")
    err(bob.req("PUT", f"/activities/{a['id']}", json={"name": "x"}), 403, "forbidden")
    err(bob.req("DELETE", f"/activities/{a['id']}"), 403, "forbidden")
    u = ok(alice.req("PUT", f"/activities/{a['id']}",
                     json={"name": "align", "ended_on": "2024-01-02T05:00:00Z",
                           "description": None}))
    assert u["name"] == "align" and u["description"] == "bwa mem\nline two"
    assert u["ended_on"] == "2024-01-02T05:00:00.000Z"
    assert u["audit"]["last_updated_by"]["id"] == alice.user_id

    # Bad input: a clear 400 naming the field; unknown ids 404.
    for body, field in [({}, "name"), ({"name": ""}, "name"), ({"name": 5}, "name"),
                        ({"name": "x" * 1025}, "name"), ({"name": "a\x01"}, "name"),
                        ({"name": "n", "description": "d" * (64 * 1024 + 1)}, "description"),
                        ({"name": "n", "started_on": "yesterday"}, "started_on"),
                        ({"name": "n", "started_on": "2024-13-01"}, "started_on"),
                        ({"name": "n", "ended_on": "now"}, "ended_on"),
                        ({"name": "n", "started_on": "2024-02-01", "ended_on": "2024-01-01"},
                         "ended_on")]:
        e = err(alice.req("POST", "/activities", json=body), 400, "validation_failed")
        assert e["errors"][0]["field"] == field, (body, e)
    e = err(alice.req("PUT", f"/activities/{a['id']}", json={"ended_on": "2000-01-01"}), 400,
            "validation_failed")
    assert e["errors"][0]["field"] == "ended_on", e
    err(alice.req("POST", "/activities", data="not json",
                  headers={"Content-Type": "application/json"}), 400, "validation_failed")
    err(alice.req("GET", f"/activities/{uuid.uuid4()}"), 404, "not_found")
    err(alice.req("GET", "/activities/not-a-uuid"), 404, "not_found")
    err(alice.req("PUT", f"/activities/{uuid.uuid4()}", json={"name": "x"}), 404, "not_found")

    assert alice.req("DELETE", f"/activities/{a['id']}").status_code == 204
    assert ok(alice.req("GET", f"/activities/{a['id']}"))["is_deleted"] is True
    err(alice.req("DELETE", f"/activities/{a['id']}"), 404, "not_found")
    err(alice.req("PUT", f"/activities/{a['id']}", json={"name": "x"}), 404, "not_found")
    assert [x["id"] for x in ok(alice.req("GET", "/activities"))["results"]] == [b["id"]]


def test_relations_and_graph(settle, inline_api):
    alice = login(settle, inline_api)
    bob = login(settle, inline_api)
    pid = alice.project()
    raw_file, raw = _version(alice, pid)
    _, out = _version(alice, pid)
    _, other = _version(alice, pid)
    act = _activity(alice, "analysis")["id"]

    used = ok(_relate(alice, "used", act, raw), 201)
    assert used["kind"] == "dds-relation-used" and set(used) == {"kind", "id", "audit", "from",
                                                                  "to"}
    assert used["from"]["kind"] == "dds-activity" and used["from"]["id"] == act
    to = used["to"]
    assert to["kind"] == "dds-file-version" and to["id"] == raw and to["version"] == 1
    assert to["file"] == {"id": raw_file["id"], "name": "f.bin", "project": {"id": pid}}, to
    assert to["upload"]["storage_provider"]["name"], to
    assert to["upload"]["size"] == 64 and to["is_deleted"] is False
    # The SDK names a file version's kind "dds-file": accepted, as DDS ignores it.
    gen = ok(_relate(alice, "was_generated_by", act, out, entity_kind="dds-file"), 201)
    assert gen["kind"] == "dds-relation-was-generated-by"
    assert gen["from"]["id"] == out and gen["to"]["id"] == act
    der = ok(_derive(alice, raw, out), 201)
    assert der["kind"] == "dds-relation-was-derived-from"
    assert der["from"]["id"] == out and der["to"]["id"] == raw
    # Repeating a relation answers the live one again.
    assert ok(_relate(alice, "used", act, raw), 201)["id"] == used["id"]

    # An activity cannot both use and generate one file version.
    e = err(_relate(alice, "was_generated_by", act, raw), 400, "validation_failed")
    assert e["errors"][0]["field"] == "activity", e
    err(_relate(alice, "used", act, out), 400, "validation_failed")
    # was_invalidated_by needs a deleted file version.
    e = err(_relate(alice, "was_invalidated_by", act, other), 400, "validation_failed")
    assert e["errors"][0]["field"] == "entity", e

    # Reading back: one relation, the relations of a node.
    r = alice.req("GET", f"/relations/{used['id']}/")
    assert ok(r) == used and "X-Total" not in r.headers
    r = alice.req("GET", f"/relations/dds-activity/{act}")
    got = ok(r)["results"]
    assert {x["id"] for x in got} == {used["id"], gen["id"]} and r.headers["X-Total"] == "2"
    pages = [alice.req("GET", f"/relations/dds-activity/{act}", params={"per_page": 1,
                                                                        "page": n})
             for n in (1, 2, 3)]
    assert [x["id"] for p in pages[:2] for x in ok(p)["results"]] == [gen["id"], used["id"]]
    assert ok(pages[2])["results"] == [] and pages[2].headers["X-Total"] == "2"
    assert pages[0].headers["X-Total-Pages"] == "2", pages[0].headers
    got = ok(alice.req("GET", f"/relations/dds-file-version/{raw}"))["results"]
    assert {x["id"] for x in got} == {used["id"], der["id"]}
    err(alice.req("GET", f"/relations/dds-project/{pid}"), 404, "not_found")
    err(alice.req("GET", f"/relations/dds-activity/{uuid.uuid4()}"), 404, "not_found")
    err(alice.req("GET", f"/relations/{uuid.uuid4()}"), 404, "not_found")

    # The graph around raw: both hops reach everything; one hop only the direct neighbours.
    def search(c, start, kind="dds-file-version", **extra):
        return c.req("POST", "/search/provenance",
                     json=dict({"start_node": {"kind": kind, "id": start}}, **extra))

    g = ok(search(alice, raw), 201)["graph"]
    nodes = {n["id"]: n for n in g["nodes"]}
    assert set(nodes) == {raw, out, act}, g
    assert nodes[act]["labels"] == ["Activity"] and nodes[raw]["labels"] == ["FileVersion"]
    assert nodes[act]["properties"]["name"] == "analysis"
    assert nodes[out]["properties"]["upload"]["storage_provider"]["name"]
    rels = {x["id"]: x for x in g["relationships"]}
    assert set(rels) == {used["id"], gen["id"], der["id"]}
    assert rels[used["id"]]["type"] == "Used" and rels[used["id"]]["start_node"] == act
    assert rels[used["id"]]["end_node"] == raw
    assert rels[gen["id"]]["type"] == "WasGeneratedBy"
    assert rels[der["id"]]["type"] == "WasDerivedFrom"
    assert rels[der["id"]]["properties"]["kind"] == "dds-relation-was-derived-from"
    g1 = ok(search(alice, act, kind="dds-activity", max_hops=1), 201)["graph"]
    assert {n["id"] for n in g1["nodes"]} == {act, raw, out}
    assert {x["id"] for x in g1["relationships"]} == {used["id"], gen["id"]}
    g0 = ok(search(alice, other), 201)["graph"]
    assert [n["id"] for n in g0["nodes"]] == [other] and g0["relationships"] == []

    # The origin of out: its generating activity, what that used, what out derives from.
    o = ok(alice.req("POST", "/search/provenance/origin",
                     json={"file_versions": [{"id": out}, {"id": str(uuid.uuid4())}]}),
           201)["graph"]
    assert {n["id"] for n in o["nodes"]} == {out, act, raw}, o
    assert {x["id"] for x in o["relationships"]} == {used["id"], gen["id"], der["id"]}
    o = ok(alice.req("POST", "/search/provenance/origin",
                     json={"file_versions": [{"id": raw}]}), 201)["graph"]
    assert [n["id"] for n in o["nodes"]] == [raw] and o["relationships"] == []

    # Bob sees nothing of it: 403 on each object, restricted nodes in an origin search.
    err(bob.req("GET", f"/activities/{act}"), 403, "forbidden")
    err(bob.req("GET", f"/relations/{used['id']}"), 403, "forbidden")
    err(bob.req("GET", f"/relations/dds-file-version/{raw}"), 403, "forbidden")
    err(search(bob, raw), 403, "forbidden")
    err(_relate(bob, "used", act, raw), 403, "forbidden")
    bob_act = _activity(bob, "mine")["id"]
    err(_relate(bob, "used", bob_act, raw), 403, "forbidden")
    err(_derive(bob, raw, out), 403, "forbidden")
    err(bob.req("DELETE", f"/relations/{used['id']}"), 403, "forbidden")
    o = ok(bob.req("POST", "/search/provenance/origin",
                   json={"file_versions": [{"id": out}]}), 201)["graph"]
    for n in o["nodes"]:
        assert set(n["properties"]) == {"kind", "id", "is_deleted"}, n
    assert all(x["properties"] is None for x in o["relationships"]), o

    # As a project viewer Bob sees the activity through the file versions, in graphs too,
    # but may not change it.
    ok(grant(alice, pid, bob.user_id, "project_viewer"))
    assert ok(bob.req("GET", f"/activities/{act}"))["name"] == "analysis"
    assert act in [x["id"] for x in ok(bob.req("GET", "/activities"))["results"]]
    g = ok(search(bob, raw), 201)["graph"]
    assert {n["id"] for n in g["nodes"]} == {raw, out, act}
    assert all(n["properties"].get("name") or n["properties"].get("file") for n in g["nodes"])
    err(bob.req("PUT", f"/activities/{act}", json={"name": "x"}), 403, "forbidden")
    err(bob.req("DELETE", f"/relations/{used['id']}"), 403, "forbidden")
    ok(_relate(bob, "used", bob_act, raw), 201)
    err(_relate(bob, "was_invalidated_by", bob_act, raw), 403, "forbidden")

    # was_invalidated_by, once the file is deleted.
    other_file = ok(alice.req("GET", f"/file_versions/{other}"))["file"]["id"]
    ok(alice.req("DELETE", f"/files/{other_file}"), 202)
    inv = ok(_relate(alice, "was_invalidated_by", act, other), 201)
    assert inv["kind"] == "dds-relation-was-invalidated-by" and inv["from"]["id"] == other
    assert inv["from"]["is_deleted"] is True and inv["to"]["id"] == act

    # Deleting a relation: its creator only; it leaves lists and graphs.
    assert alice.req("DELETE", f"/relations/{der['id']}/").status_code == 204
    err(alice.req("DELETE", f"/relations/{der['id']}"), 404, "not_found")
    got = ok(alice.req("GET", f"/relations/dds-file-version/{raw}"))["results"]
    assert der["id"] not in {x["id"] for x in got}
    g = ok(search(alice, raw), 201)["graph"]
    assert der["id"] not in {x["id"] for x in g["relationships"]}


def test_relation_bad_input(settle, inline_api):
    alice = login(settle, inline_api)
    pid = alice.project()
    _, v = _version(alice, pid)
    act = _activity(alice)["id"]
    for kind in ("used", "was_generated_by", "was_invalidated_by"):
        for body, field in [({}, "activity"), ({"activity": "x"}, "activity"),
                            ({"activity": {"id": act}}, "entity"),
                            ({"activity": {}, "entity": {"kind": "dds-file-version", "id": v}},
                             "activity[id]"),
                            ({"activity": {"id": act}, "entity": {"id": v}}, "entity[kind]"),
                            ({"activity": {"id": act}, "entity": {"kind": "dds-project",
                                                                  "id": v}}, "entity[kind]"),
                            ({"activity": {"id": act}, "entity": {"kind": "dds-file-version",
                                                                  "id": 7}}, "entity[id]")]:
            e = err(alice.req("POST", f"/relations/{kind}", json=body), 400,
                    "validation_failed")
            assert e["errors"][0]["field"] == field, (kind, body, e)
        err(_relate(alice, kind, str(uuid.uuid4()), v), 404, "not_found")
        err(_relate(alice, kind, act, str(uuid.uuid4())), 404, "not_found")
        err(_relate(alice, kind, act, "not-a-uuid"), 404, "not_found")
    e = err(alice.req("POST", "/relations/was_derived_from", json={"used_entity": {
        "kind": "dds-file-version", "id": v}}), 400, "validation_failed")
    assert e["errors"][0]["field"] == "generated_entity", e
    err(_derive(alice, v, str(uuid.uuid4())), 404, "not_found")
    for body, field in [({}, "start_node"), ({"start_node": {"kind": "dds-file", "id": v}},
                                             "start_node[kind]"),
                        ({"start_node": {"kind": "dds-file-version", "id": v}, "max_hops": 0},
                         "max_hops"),
                        ({"start_node": {"kind": "dds-file-version", "id": v},
                          "max_hops": "x"}, "max_hops")]:
        e = err(alice.req("POST", "/search/provenance", json=body), 400, "validation_failed")
        assert e["errors"][0]["field"] == field, (body, e)
    err(alice.req("POST", "/search/provenance", json={"start_node": {
        "kind": "dds-activity", "id": str(uuid.uuid4())}}), 404, "not_found")
    for body in ({}, {"file_versions": []}, {"file_versions": "x"},
                 {"file_versions": [{"id": 5}]}, {"file_versions": [v]},
                 {"file_versions": [{"id": v}] * 1001}):
        e = err(alice.req("POST", "/search/provenance/origin", json=body), 400,
                "validation_failed")
        assert e["errors"][0]["field"].startswith("file_versions"), e
