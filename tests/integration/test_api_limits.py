"""Integration tests: nothing a client sends slowly, often or without a token starves
settle-api (issue 9, items 1-3). The whole of 127/8 is loopback on Linux, so a client
socket bound to 127.0.0.2 is "another address" for a server on 127.0.0.1."""

import errno
import select
import socket
import time

import requests

from settle_harness import wait_until


def connect(port, src="127.0.0.1", timeout=5):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def vm_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def unread_by_server(port):
    """Bytes that the kernel holds for the server's sockets on port and it has not read
    (the rx_queue of /proc/net/tcp)."""
    total = 0
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            fields = line.split()
            if int(fields[1].split(":")[1], 16) == port:
                total += int(fields[4].split(":")[1], 16)
    return total


def send_bodies(socks, body, timeout):
    """Sends body on every socket at once (non-blocking) until each has sent it all or
    failed (the server answered and closed). Returns how many were refused that way."""
    left = {s: memoryview(body) for s in socks}
    refused = 0
    deadline = time.monotonic() + timeout
    for s in socks:
        s.setblocking(False)
    while left and time.monotonic() < deadline:
        _, w, _ = select.select([], list(left), [], 1)
        for s in w:
            try:
                n = s.send(left[s][:65536])
            except BlockingIOError:
                continue
            except OSError as e:
                assert e.errno in (errno.EPIPE, errno.ECONNRESET), e
                refused += 1
                del left[s]
                continue
            left[s] = left[s][n:]
            if not left[s]:
                del left[s]
    assert not left, f"{len(left)} bodies neither sent nor refused in {timeout}s"
    return refused


def test_bodies_without_a_token_are_not_read(settle):
    api = settle.api(SETTLE_MAX_CONNECTIONS_PER_IP=0)
    # The answer is the usual 401.
    r = requests.post(f"{api.base}/projects", json={"name": "x", "description": "y"},
                      timeout=10)
    assert r.status_code == 401 and r.json()["code"] == "unauthorized", r.text
    head = (b"POST /api/v1/projects HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 1048576\r\n\r\n")
    body = b"{" + b" " * (1048576 - 2) + b"}"
    before = vm_kib(api.pid, "VmHWM")
    socks = []
    try:
        for _ in range(300):
            s = connect(api.port)
            s.sendall(head)
            socks.append(s)
        # All but the last byte: a server that reads bodies holds all 300 at once, once it
        # has read what the kernel holds for it. The peak resident size counts, not the
        # current one.
        send_bodies(socks, body[:-1], 60)
        limit = 32 * 1024
        wait_until(lambda: unread_by_server(api.port) == 0
                   or vm_kib(api.pid, "VmHWM") - before >= limit, 60,
                   what="the server to read what it was sent")
        grown = vm_kib(api.pid, "VmHWM") - before
    finally:
        for s in socks:
            s.close()
    assert grown < limit, f"peak RSS grew by {grown} KiB"
    assert requests.get(f"{api.url}/healthz", timeout=5).status_code == 200
