"""What the worker asks of Swift to verify an upload (the cost `make bench`'s Swift phase
measures): counted in the one-box Swift's proxy log."""

import os
import re

import requests

from test_api_uploads import Client, md5


def settle_heads(swift, container, uid):
    """Settle's own HEADs of the chunks of upload uid (their sealed copies), per chunk number, from the proxy's
    access log (subrequests of Swift's middlewares, e.g. the SLO manifest's checks, name
    their source and are not counted)."""
    pattern = re.compile(
        rf" HEAD /v1/[^/ ]+/{container}/{uid}/sealed/(\d+) HTTP/\S+ (\d+) (.*)$")
    heads = {}
    with open(os.path.join(swift.dir, "log", "proxy.log")) as f:
        for line in f:
            m = pattern.search(line.rstrip("\n"))
            if m is None:
                continue
            # After the status: referer, user agent, token, bytes in, bytes out, client
            # etag, transaction id, headers, request time, source, ...
            fields = m.group(3).split(" ")
            if len(fields) > 9 and fields[9] == "-":
                heads[int(m.group(1))] = heads.get(int(m.group(1)), 0) + 1
    return heads


def test_big_upload_asks_swift_once_a_chunk(settle, swift, db):
    """A multi-chunk upload with a whole-file md5 over more bytes than a batch may read (4
    MiB) is verified alone, reading its chunks back. Its chunks' facts are asked of Swift
    once each (a HEAD), not once by the batch that sets it aside and again alone."""
    api = settle.api(**swift.env)
    settle.worker(**swift.env)
    c = Client(api, settle.login(api))
    pid = c.project()
    with db.cursor() as cur:
        cur.execute("SELECT storage_container FROM projects WHERE id = %s", (pid,))
        container = cur.fetchone()[0]
    chunks = [os.urandom(3 << 20), os.urandom(3 << 20)]
    whole = b"".join(chunks)
    uid = c.upload(pid, len(whole)).json()["id"]
    for i, data in enumerate(chunks, 1):
        u = c.chunk_url(uid, i, len(data), md5(data))
        assert requests.put(u["host"] + u["url"], data=data, timeout=60).status_code == 201
    assert c.complete(uid, md5(whole)).status_code == 202
    done = c.wait_upload(uid)
    assert done["status"]["error_on"] is None, done
    assert settle_heads(swift, container, uid) == {1: 1, 2: 1}
