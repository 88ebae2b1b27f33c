"""The one-box Swift of scripts/swift.sh (what `SETTLE_STORAGE=swift make run` and the Swift
tests use): tempauth, objects, temp URLs signed with the account's key, SLO manifests, and a
restart on the same ports and data."""

import hashlib
import hmac
import json
import time
import urllib.parse

import requests


def temp_url(swift, method, path, expires_in=300, key=None):
    """A Swift temp URL (HMAC-SHA256 over method, expiry and path) for path /v1/…."""
    expires = int(time.time()) + expires_in
    key = key or swift.env["SETTLE_SWIFT_TEMP_URL_KEY"]
    sig = hmac.new(key.encode(), f"{method}\n{expires}\n{path}".encode(),
                   hashlib.sha256).hexdigest()
    return f"{swift.env['SETTLE_SWIFT_URL']}{path}?temp_url_sig={sig}&temp_url_expires={expires}"


def test_tempauth_put_get(swift):
    token, url = swift.auth()
    assert url.startswith(swift.env["SETTLE_SWIFT_URL"] + "/v1/")
    h = {"X-Auth-Token": token}
    assert requests.put(f"{url}/smoke", headers=h, timeout=10).status_code in (201, 202)
    body = b"settle on swift\n" * 1000
    r = requests.put(f"{url}/smoke/hello", data=body, headers=h, timeout=10)
    assert r.status_code == 201
    assert r.headers["Etag"] == hashlib.md5(body).hexdigest()
    r = requests.get(f"{url}/smoke/hello", headers=h, timeout=10)
    assert r.status_code == 200 and r.content == body
    assert requests.get(f"{url}/smoke/hello", timeout=10).status_code == 401
    assert requests.get(f"{url}/smoke/hello", headers={"X-Auth-Token": "AUTH_tkforged"},
                        timeout=10).status_code == 401


def test_temp_urls_and_slo(swift):
    token, url = swift.auth()
    h = {"X-Auth-Token": token}
    requests.put(f"{url}/tmpurl", headers=h, timeout=10).raise_for_status()
    account = urllib.parse.urlsplit(url).path
    parts = [b"a" * 1000, b"b" * 10]
    for i, data in enumerate(parts, 1):
        r = requests.put(temp_url(swift, "PUT", f"{account}/tmpurl/up/{i}"), data=data,
                         timeout=10)
        assert r.status_code == 201, r.text
        assert r.headers["Etag"] == hashlib.md5(data).hexdigest()
    # A forged signature or one for another path is Swift's 401; nothing is stored.
    forged = temp_url(swift, "PUT", f"{account}/tmpurl/up/3", key="not-the-key")
    assert requests.put(forged, data=b"x", timeout=10).status_code == 401
    other = temp_url(swift, "PUT", f"{account}/tmpurl/up/3").replace("/up/3", "/up/4")
    assert requests.put(other, data=b"x", timeout=10).status_code == 401
    assert requests.head(f"{url}/tmpurl/up/4", headers=h, timeout=10).status_code == 404
    manifest = [{"path": f"/tmpurl/up/{i}"} for i in (1, 2)]
    r = requests.put(f"{url}/tmpurl/file?multipart-manifest=put", headers=h, timeout=10,
                     data=json.dumps(manifest))
    assert r.status_code == 201, r.text
    get = temp_url(swift, "GET", f"{account}/tmpurl/file")
    r = requests.get(get, timeout=10)
    assert r.status_code == 200 and r.content == b"".join(parts)
    r = requests.get(get, headers={"Range": "bytes=998-1001"}, timeout=10)
    assert r.status_code == 206 and r.content == b"aabb"


def test_restart_keeps_ports_and_data(swift):
    token, url = swift.auth()
    h = {"X-Auth-Token": token}
    requests.put(f"{url}/kept", headers=h, timeout=10).raise_for_status()
    requests.put(f"{url}/kept/obj", data=b"kept", headers=h, timeout=10).raise_for_status()
    before = dict(swift.env)
    swift.stop()
    try:
        requests.get(f"{url}/kept/obj", headers=h, timeout=10)
        raise AssertionError("the proxy still answers after swift.sh stop")
    except requests.ConnectionError:
        pass
    swift.start()
    assert swift.env == before
    token, url = swift.auth()
    r = requests.get(f"{url}/kept/obj", headers={"X-Auth-Token": token}, timeout=10)
    assert r.status_code == 200 and r.content == b"kept"
