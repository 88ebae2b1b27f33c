"""Integration tests: nothing a client sends slowly, often or without a token starves
settle-api (issue 9, items 1-3). The whole of 127/8 is loopback on Linux, so a client
socket bound to 127.0.0.2 is "another address" for a server on 127.0.0.1."""

import errno
import select
import socket
import time

import requests

from settle_harness import SettleProcess, free_port, wait_until


def connect(port, src="127.0.0.1", timeout=5):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_by_server(s, timeout):
    """True if the server ends the connection within timeout seconds (EOF or reset)."""
    r, _, _ = select.select([s], [], [], timeout)
    if not r:
        return False
    try:
        return s.recv(65536) == b""
    except OSError:
        return True


def read_response(s):
    """(status, body) of one HTTP/1.1 response with a Content-Length read from s."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:  # an OSError, so that healthz_ok counts a refusal as "not yet"
            raise ConnectionError(f"connection closed before the response headers: {data!r}")
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    length = 0
    for line in lines[1:]:
        k, v = line.split(":", 1)
        if k.strip().lower() == "content-length":
            length = int(v)
    while len(body) < length:
        chunk = s.recv(65536)
        assert chunk, "connection closed in the middle of a response body"
        body += chunk
    return int(lines[0].split()[1]), body


def trickle_until_closed(s, piece, every, limit):
    """Sends piece every `every` seconds until the server ends the connection; returns the
    seconds that took, or None if it was still open after limit seconds."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        try:
            s.sendall(piece)
        except OSError:
            return time.monotonic() - start
        if closed_by_server(s, every):
            return time.monotonic() - start
    return None


def healthz_from(port, src):
    s = connect(port, src)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        return read_response(s)[0]
    finally:
        s.close()


def healthz_ok(port, src):
    try:
        return healthz_from(port, src) == 200
    except OSError:
        return False  # refused or closed unanswered: the address is still at its limit


def test_one_address_at_its_limit_leaves_room_for_others(settle):
    # 64 connections in 4 HTTP threads: 16 each, which 4 from one address cannot fill.
    api = settle.api(SETTLE_MAX_CONNECTIONS=64, SETTLE_MAX_CONNECTIONS_PER_IP=4, SETTLE_THREADS=4,
                     SETTLE_HEADER_TIMEOUT=60)
    held = []
    try:
        # More half-sent requests from one address than the server has connections.
        for _ in range(70):
            s = connect(api.port)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            held.append(s)
        deadline = time.monotonic() + 15
        open_ = list(held)
        while time.monotonic() < deadline and len(open_) > 4:
            open_ = [s for s in open_ if not closed_by_server(s, 0.1)]
        # (At most: the harness's own /readyz connection may not be counted out yet.)
        assert len(open_) <= 4, f"{len(open_)} connections from 127.0.0.1 held, want 4"
        # Another address is served at once.
        assert healthz_from(api.port, "127.0.0.2") == 200
    finally:
        for s in held:
            s.close()
    # The address's slots come back when its connections close.
    wait_until(lambda: healthz_ok(api.port, "127.0.0.1"), 5, what="slots back")


def test_per_ip_limit_must_be_below_a_threads_share(settle):
    # libmicrohttpd splits the 64 connections among the 4 threads: 16 each.
    p = settle.api(wait=False, SETTLE_MAX_CONNECTIONS=64, SETTLE_MAX_CONNECTIONS_PER_IP=16,
                   SETTLE_THREADS=4)
    assert p.wait(10) == 2
    assert "SETTLE_MAX_CONNECTIONS_PER_IP" in p.log_text()
    p = settle.api(SETTLE_MAX_CONNECTIONS=64, SETTLE_MAX_CONNECTIONS_PER_IP=15, SETTLE_THREADS=4)
    assert healthz_ok(p.port, "127.0.0.1")


def _api_with_nofile(settle, soft, hard, **env):
    """settle-api started under `prlimit --nofile=soft:hard` (prlimit execs it: same pid)."""
    port = free_port()
    env = settle.env(SETTLE_LISTEN=f"127.0.0.1:{port}", **env)
    p = SettleProcess("settle-api", ["prlimit", f"--nofile={soft}:{hard}", "--",
                                     settle.binary("settle-api")], env,
                      settle._log_path("settle-api"), port)
    settle.procs.append(p)
    return p


def test_open_file_limit_is_raised_or_start_refused(settle):
    p = _api_with_nofile(settle, 256, 8192, SETTLE_MAX_CONNECTIONS=1000)
    p.wait_ready()
    with open(f"/proc/{p.pid}/limits") as f:
        line = next(ln for ln in f if ln.startswith("Max open files"))
    soft = int(line.split()[3])
    assert soft >= 2000, line
    p.stop()

    p = _api_with_nofile(settle, 256, 1024, SETTLE_MAX_CONNECTIONS=1000)
    assert p.wait(10) == 2
    assert "SETTLE_MAX_CONNECTIONS=1000 needs" in p.log_text(), p.log_text()


def test_headers_that_trickle_in_are_cut_off(settle):
    api = settle.api(SETTLE_HEADER_TIMEOUT=2)
    s = connect(api.port)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        took = trickle_until_closed(s, b"X-Slow: a\r\n", 0.5, 10)
        assert took is not None and took < 6, f"still open after {took}s"
    finally:
        s.close()
    # Half a request sent with the connection, then nothing.
    s = connect(api.port)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        assert closed_by_server(s, 6), "a half-sent request still open after 6 s"
    finally:
        s.close()


def test_header_timeout_counts_from_the_first_byte_of_each_request(settle):
    api = settle.api(SETTLE_HEADER_TIMEOUT=2)
    s = connect(api.port)
    try:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s)[0] == 200
        # Idle between requests for longer than the header timeout: not cut off.
        assert not closed_by_server(s, 3.5)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        assert read_response(s)[0] == 200
        # The next request trickles in: cut off, although bytes keep coming.
        s.sendall(b"GET /healthz HTTP/1.1\r\n")
        took = trickle_until_closed(s, b"X-Slow: a\r\n", 0.5, 10)
        assert took is not None and took < 6, f"still open after {took}s"
    finally:
        s.close()


def test_a_body_below_the_floor_is_cut_off(settle):
    api = settle.api(SETTLE_HEADER_TIMEOUT=2, SETTLE_BODY_MIN_RATE=1000)
    head = (b"POST /api/v1/software_agents/api_token HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n")
    # 20 bytes a second: closed soon after the grace.
    s = connect(api.port)
    try:
        s.sendall(head % 100000)
        took = trickle_until_closed(s, b" " * 10, 0.5, 10)
        assert took is not None and took < 6, f"still open after {took}s"
    finally:
        s.close()
    # 5,000 bytes a second for 4 s, past the grace: above the floor, answered.
    body = b'{"agent_key":"a","user_key":"b"}'.ljust(20000)
    s = connect(api.port)
    try:
        s.sendall(head % len(body))
        for i in range(0, len(body), 1000):
            time.sleep(0.2)
            s.sendall(body[i:i + 1000])
        assert read_response(s)[0] == 404  # the keys are unknown
    finally:
        s.close()


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


def test_every_503_says_retry_after(settle):
    """Issue 21: every 503 service_unavailable is made by http_unavailable, with Retry-After
    (API.md). With the database down: the readiness and status probes, a request whose token
    cannot be checked against revocations, and one that needs the database."""
    live = settle.api()
    token = settle.login(live)["headers"]
    closed = free_port()
    api = settle.api(wait=False,
                     SETTLE_DATABASE_URL=f"postgresql://postgres@127.0.0.1:{closed}/settle")

    api.wait_ready(30, path="/healthz")  # live, with the database down
    answers = [requests.get(api.url + "/readyz", timeout=10),
               requests.get(api.base + "/app/status", timeout=10),
               requests.get(api.base + "/projects", headers=token, timeout=10),
               requests.post(api.base + "/projects", headers=token, timeout=10,
                             json={"name": "p", "description": "d"}),
               requests.get(api.base + "/storage_providers", headers=token, timeout=10)]
    for r in answers:
        if r.status_code == 503:
            assert r.json()["code"] == "service_unavailable", r.text
            assert r.headers.get("Retry-After", "").isdigit(), (r.url, r.headers)
    assert [r.status_code for r in answers[:4]] == [503] * 4, [r.text for r in answers]
