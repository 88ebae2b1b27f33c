"""The two storage providers as the storage-facing tests see them: the settings that pick
one, what a test may look at in the store, and the few points where API.md gives them a
different contract. A test parametrised over the `provider` fixture (conftest.py) runs the
same body against both and takes every difference from these attributes:

| attribute        | local                              | swift                               |
|------------------|------------------------------------|-------------------------------------|
| bad_url          | 403 `forbidden` (settle's answer)  | 401 (Swift's temp-URL check)        |
| oversize_put     | 413 `payload_too_large` at the PUT | None: 201, the integrity check      |
|                  |                                    | catches the size                    |
| max_chunks       | None (only the size bounds numbers)| 1000 (a manifest's segments)        |
| host(api)        | settle-api's public URL            | the Swift proxy                     |
| api_carries_bytes| True: settle-api's storage routes  | False: clients and Swift only       |
| etag(upload, chunks) | the upload's etag              | the manifest's: md5 of the chunks'  |
|                  |                                    | md5s (a Static Large Object's)      |
| info             | an upload's `storage_provider`: {id, name, description} (common/storage.c) |
| verified_chunk(uid, n) | `<uid>/<n>`                  | `<uid>/sealed/<n>`: the sealed copy |
|                  |                                    | (the chunk `<uid>/<n>` is deleted)  |
"""

import hashlib
import hmac
import os
import time
import urllib.parse

import pytest
import requests

# Marks a test to run once per provider (the `provider` fixture of conftest.py).
BOTH = pytest.mark.parametrize("provider", ["local", "swift"], indirect=True)


def sign_local(secret, method, path, expires):
    """The storage URL path+query that settle-api would issue (common/sign.c)."""
    msg = b"\0".join([b"url", method.encode(), str(expires).encode(), path.encode()])
    mac = hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()
    return f"{path}?expires={expires}&signature={mac}"


def sign_swift(key, method, path, expires):
    """A Swift temp URL path+query (HMAC-SHA256 over method, expiry and path /v1/…)."""
    sig = hmac.new(key.encode(), f"{method}\n{expires}\n{path}".encode(),
                   hashlib.sha256).hexdigest()
    return f"{path}?temp_url_sig={sig}&temp_url_expires={expires}"


class LocalProvider:
    name = "local"
    info = {"id": "00000000-0000-4000-8000-000000000001", "name": "local",
            "description": "local directory storage"}
    bad_url = (403, "forbidden")
    oversize_put = (413, "payload_too_large")
    max_chunks = None
    api_carries_bytes = True

    def __init__(self, storage_dir, secret):
        self.dir = storage_dir
        self.secret = secret
        self.env = {}

    def host(self, api):
        return api.url

    def etag(self, upload, chunks):
        return f'"{upload["etag"]}"'

    @staticmethod
    def verified_chunk(uid, n):
        """The stored object that holds chunk n of a verified upload."""
        return f"{uid}/{n}"

    def sign(self, method, path, expires, key=None):
        return sign_local(key or self.secret, method, path, expires)

    def objects(self, container, prefix=""):
        """Names of what the store holds in container under prefix (sorted), or None when
        the container does not exist."""
        root = os.path.join(self.dir, container)
        if not os.path.isdir(root):
            return None
        out = []
        for d, _, files in os.walk(root):
            rel = os.path.relpath(d, root)
            out += [f if rel == "." else f"{rel}/{f}" for f in files]
        return sorted(n for n in out if n.startswith(prefix))

    def remove(self, container, name):
        """Deletes one stored object behind Settle's back."""
        os.unlink(os.path.join(self.dir, container, name))


class SwiftProvider:
    name = "swift"
    info = {"id": "00000000-0000-4000-8000-000000000004", "name": "swift",
            "description": "OpenStack Swift object storage"}
    bad_url = (401, None)
    oversize_put = None
    max_chunks = 1000
    api_carries_bytes = False

    def __init__(self, swift):
        self.swift = swift
        self.env = dict(swift.env)

    def host(self, api):
        return self.env["SETTLE_SWIFT_URL"]

    def etag(self, upload, chunks):
        md5s = "".join(hashlib.md5(c).hexdigest() for c in chunks if c)
        return f'"{hashlib.md5(md5s.encode()).hexdigest()}"'

    @staticmethod
    def verified_chunk(uid, n):
        """The stored object that holds chunk n of a verified upload: its sealed copy."""
        return f"{uid}/sealed/{n}"

    def sign(self, method, path, expires, key=None):
        return sign_swift(key or self.env["SETTLE_SWIFT_TEMP_URL_KEY"], method, path, expires)

    def _call(self, method, path, **kw):
        token, url = self.swift.auth()
        return requests.request(method, url + path, headers={"X-Auth-Token": token},
                                timeout=30, **kw)

    def objects(self, container, prefix=""):
        r = self._call("GET", f"/{container}", params={"prefix": prefix})
        if r.status_code == 404:
            return None
        assert r.status_code in (200, 204), r.text
        return sorted(r.text.split())

    def remove(self, container, name):
        r = self._call("DELETE", f"/{container}/{name}")
        assert r.status_code == 204, r.text

    def has(self, container, name):
        """HEAD of one object (not the listing, which may lag)."""
        return self._call("HEAD", f"/{container}/{name}").status_code == 200


def storage_route_requests(api):
    """settle-api's count of requests on its own storage routes (/metrics)."""
    text = requests.get(api.url + "/metrics", timeout=10).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith("settle_http_requests_total") and 'route="storage.' in line)


def url_path(url):
    """The path of a signed URL's `url` (path and query)."""
    return urllib.parse.urlsplit(url).path


def expires_in(seconds):
    return int(time.time()) + seconds
