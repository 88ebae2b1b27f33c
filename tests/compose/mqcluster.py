#!/usr/bin/python3
"""mqcluster.py: checks the RabbitMQ cluster of the compose stack's mqcluster profile from
the host, through the management API of node 1 (http://127.0.0.1:15672, or the port in
SETTLE_MQ_ADMIN_PORT; user settle).

    tests/compose/mqcluster.py [WAIT_SECONDS]

Waits up to WAIT_SECONDS (default 0: asks once) until the cluster runs its 3 nodes and
every queue of Settle (settle.*) is a quorum queue with a member on each of them, all
online; then prints the node that leads settle.upload.complete. Exits non-zero with the
reason otherwise."""

import os
import sys
import time

import requests

API = f"http://127.0.0.1:{os.environ.get('SETTLE_MQ_ADMIN_PORT', '15672')}/api"
AUTH = ("settle", "settle")
NODES = 3


def state():
    """None when the cluster is as it should be, else what is wrong; and the leader."""
    try:
        nodes = requests.get(f"{API}/nodes", auth=AUTH, timeout=10).json()
        queues = requests.get(f"{API}/queues", auth=AUTH, timeout=10,
                              params={"columns": "name,type,leader,members,online"}).json()
    except (requests.RequestException, ValueError) as e:
        return f"management API: {e}", None
    running = sorted(n["name"] for n in nodes if n.get("running"))
    if len(running) != NODES:
        return f"{len(running)} nodes run, not {NODES}: {running}", None
    ours = {q["name"]: q for q in queues if q["name"].startswith("settle.")}
    if "settle.upload.complete" not in ours:
        return f"no queue settle.upload.complete among {sorted(ours)}", None
    bad = [n for n, q in ours.items() if q.get("type") != "quorum"
           or sorted(q.get("members") or []) != running
           or sorted(q.get("online") or []) != running]
    if bad:
        return f"not quorum queues with {NODES} members online: {bad}", None
    return None, ours["settle.upload.complete"]["leader"]


def main():
    wait = float(sys.argv[1]) if len(sys.argv) > 1 else 0
    deadline = time.monotonic() + wait
    while True:
        wrong, leader = state()
        if wrong is None:
            print(leader)
            return
        if time.monotonic() >= deadline:
            print(f"mqcluster: {wrong}", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.5)


if __name__ == "__main__":
    main()
