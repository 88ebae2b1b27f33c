#!/usr/bin/python3
"""flow.py: the client flow against a running compose stack, from the host (what
`scripts/compose.sh test` runs for each profile).

    SETTLE_AGENT_KEY=... SETTLE_USER_KEY=... tests/compose/flow.py [BASE_URL]

BASE_URL defaults to http://localhost:8080/api/v1. The keys come from `settle agent create`
and `settle user create` run inside the stack. The flow: an API token; a project (202, then
polled until consistent); a chunked upload (three chunks, each registered and PUT to the
storage URL the api signs), completed (202) and polled until consistent; a file made from
it; its download URL polled until the file is consistent (404 resource_not_consistent
meanwhile); the downloaded bytes must be the uploaded ones. Prints one line per step and
exits non-zero on the first failure. With SETTLE_FLOW_STORAGE_HOST set, every chunk's
signed URL must point there (e.g. http://localhost:8081 with the swift profile)."""

import hashlib
import os
import sys
import time
import uuid

import requests

TIMEOUT = float(os.environ.get("SETTLE_FLOW_TIMEOUT", "60"))
CHUNK = 256 * 1024


def fail(msg):
    print(f"flow: FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def want(r, *codes):
    if r.status_code not in codes:
        fail(f"{r.request.method} {r.url}: want {codes}, got {r.status_code} {r.text[:400]}")
    return r


def poll(what, fn):
    """Calls fn until it returns something other than None, for at most TIMEOUT seconds."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        v = fn()
        if v is not None:
            return v
        if time.monotonic() > deadline:
            fail(f"{what}: not within {TIMEOUT:.0f} s")
        time.sleep(0.2)


def main():
    base = (sys.argv[1] if len(sys.argv) > 1 else "http://localhost:8080/api/v1").rstrip("/")
    storage = os.environ.get("SETTLE_FLOW_STORAGE_HOST", "")
    s = requests.Session()
    t0 = time.monotonic()

    r = want(s.post(f"{base}/software_agents/api_token", timeout=10,
                    json={"agent_key": os.environ["SETTLE_AGENT_KEY"],
                          "user_key": os.environ["SETTLE_USER_KEY"]}), 201)
    s.headers["Authorization"] = r.json()["api_token"]
    print("flow: token ok")

    name = f"compose-{uuid.uuid4().hex[:10]}"
    r = want(s.post(f"{base}/projects", json={"name": name, "description": "compose flow"},
                    timeout=10), 202)
    pid = r.json()["id"]
    poll(f"project {pid} consistent",
         lambda: True if want(s.get(f"{base}/projects/{pid}", timeout=10), 200)
         .json()["is_consistent"] else None)
    print(f"flow: project {pid} 202, consistent")

    data = os.urandom(2 * CHUNK + 12345)
    md5 = hashlib.md5(data).hexdigest()
    fname = f"{name}.bin"
    r = want(s.post(f"{base}/projects/{pid}/uploads", timeout=10,
                    json={"name": fname, "content_type": "application/octet-stream",
                          "size": len(data)}), 201)
    uid = r.json()["id"]
    for number, off in enumerate(range(0, len(data), CHUNK), start=1):
        part = data[off:off + CHUNK]
        u = want(s.put(f"{base}/uploads/{uid}/chunks", timeout=10,
                       json={"number": number, "size": len(part),
                             "hash": {"value": hashlib.md5(part).hexdigest(),
                                      "algorithm": "md5"}}), 200).json()
        if storage and not u["host"].startswith(storage):
            fail(f"chunk {number} goes to {u['host']}, not to {storage}")
        want(requests.request(u["http_verb"], u["host"] + u["url"], data=part, timeout=60),
             200, 201)
    r = want(s.put(f"{base}/uploads/{uid}/complete", timeout=30,
                   json={"hash": {"value": md5, "algorithm": "md5"}}), 202)
    poll(f"upload {uid} consistent",
         lambda: True if want(s.get(f"{base}/uploads/{uid}", timeout=10), 200)
         .json()["status"]["is_consistent"] else None)
    print(f"flow: upload {uid} of {len(data)} bytes in 3 chunks, complete 202, consistent")

    r = want(s.post(f"{base}/files", timeout=10,
                    json={"parent": {"kind": "dds-project", "id": pid},
                          "upload": {"id": uid}}), 201)
    fid = r.json()["id"]

    def url():
        r = want(s.get(f"{base}/files/{fid}/url", timeout=10), 200, 404)
        if r.status_code == 404:
            if r.json().get("code") != "resource_not_consistent":
                fail(f"GET /files/{fid}/url: 404 {r.text[:400]}")
            return None
        return r.json()

    signed = poll(f"file {fid} url", url)
    got = want(requests.get(signed["host"] + signed["url"], timeout=60), 200).content
    if got != data:
        fail(f"download of file {fid}: {len(got)} bytes, md5 {hashlib.md5(got).hexdigest()}, "
             f"want {len(data)} bytes, md5 {md5}")
    print(f"flow: file {fid} consistent, download identical ({len(got)} bytes, md5 {md5}); "
          f"{time.monotonic() - t0:.1f} s")


if __name__ == "__main__":
    main()
