#!/usr/bin/python3
"""setup.py: prepares what the benchmarks read. Gets a token, creates a project (waits until
it is consistent) and two small files through the API, waits until both uploads are
consistent. Prints KEY=VALUE lines: TOKEN, PROJECT, CONTAINER (not known here: run.sh asks the
database), FILE_OK, FILE_PENDING, PENDING_UPLOAD. run.sh then flips PENDING_UPLOAD back to
not consistent in the database, so its file answers 404 resource_not_consistent.

    setup.py BASE_URL AGENT_KEY USER_KEY
"""
import hashlib
import sys
import time

import requests

base, agent_key, user_key = sys.argv[1:4]
s = requests.Session()


def call(method, url, expect, **kw):
    r = s.request(method, url if url.startswith("http") else base + url, timeout=30, **kw)
    if r.status_code != expect:
        sys.exit(f"setup.py: {method} {url}: want {expect}, got {r.status_code} {r.text[:300]}")
    return r.json() if r.content else None


tok = call("POST", "/api/v1/software_agents/api_token", 201,
           json={"agent_key": agent_key, "user_key": user_key})["api_token"]
s.headers["Authorization"] = tok


def wait(url, pred, what):
    deadline = time.time() + 60
    while time.time() < deadline:
        r = s.get(base + url, timeout=30)
        if r.status_code == 200 and pred(r.json()):
            return
        time.sleep(0.05)
    sys.exit(f"setup.py: {what} not consistent after 60 s")


proj = call("POST", "/api/v1/projects", 202, json={"name": "bench", "description": "bench"})["id"]
wait(f"/api/v1/projects/{proj}", lambda j: j.get("is_consistent"), "project")


def small_file(name):
    data = (name * 100).encode()
    md5 = hashlib.md5(data).hexdigest()
    up = call("POST", f"/api/v1/projects/{proj}/uploads", 201,
              json={"name": name, "content_type": "text/plain", "size": len(data)})["id"]
    u = call("PUT", f"/api/v1/uploads/{up}/chunks", 200,
             json={"number": 1, "size": len(data), "hash": {"value": md5, "algorithm": "md5"}})
    r = s.put(u["host"] + u["url"], data=data, timeout=30)
    if r.status_code not in (200, 201):
        sys.exit(f"setup.py: storage PUT: {r.status_code} {r.text[:300]}")
    call("PUT", f"/api/v1/uploads/{up}/complete", 202,
         json={"hash": {"value": md5, "algorithm": "md5"}})
    wait(f"/api/v1/uploads/{up}", lambda j: j["status"]["is_consistent"], "upload")
    f = call("POST", "/api/v1/files", 201,
             json={"parent": {"kind": "dds-project", "id": proj}, "upload": {"id": up}})
    return f["id"], up


ok, _ = small_file("bench-ok.txt")
pending, pending_up = small_file("bench-pending.txt")
print(f"TOKEN={tok}\nPROJECT={proj}\nFILE_OK={ok}\nFILE_PENDING={pending}\n"
      f"PENDING_UPLOAD={pending_up}")
