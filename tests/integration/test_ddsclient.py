"""The real DukeDSClient (`ddsclient`, from the project's shared clients beside the checkout,
or SETTLE_DDSCLIENT) against settle-api and a worker: upload a directory (a file of three
1 MiB chunks and a nested folder), list it, download it and compare every byte; then upload
a changed file (a new version) and download again. The client polls for consistency the
way DDS clients do. Skipped, saying why, where the client is not installed beside the
checkout."""

import filecmp
import os
import subprocess

import pytest

DDSCLIENT = os.environ.get("SETTLE_DDSCLIENT") or os.path.normpath(os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "shared", "clients", "ddsclient"))


def same_tree(a, b):
    """True if directories a and b hold the same names with the same bytes."""
    cmp = filecmp.dircmp(a, b)
    if cmp.left_only or cmp.right_only or cmp.funny_files:
        return False
    _, mismatch, errors = filecmp.cmpfiles(a, b, cmp.common_files, shallow=False)
    if mismatch or errors:
        return False
    return all(same_tree(os.path.join(a, d), os.path.join(b, d)) for d in cmp.common_dirs)


def test_ddsclient_upload_list_download(settle, tmp_path):
    if not os.access(DDSCLIENT, os.X_OK):
        pytest.skip(f"ddsclient not found at {DDSCLIENT} (set SETTLE_DDSCLIENT)")
    api = settle.api()
    settle.worker()
    who = settle.login(api)
    conf = tmp_path / "ddsclient.yml"
    conf.write_text(f"url: {api.base}\nagent_key: {who['agent_key']}\n"
                    f"user_key: {who['user_key']}\nupload_bytes_per_chunk: 1MB\n")
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024 - 5))
    (data / "sub" / "small.txt").write_text("hello\n")
    env = dict(os.environ, DDSCLIENT_CONF=str(conf))

    def dds(*args):
        r = subprocess.run([DDSCLIENT, *args], env=env, cwd=tmp_path, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, f"ddsclient {' '.join(args)}:\n{r.stdout}\n{r.stderr}"
        return r.stdout

    dds("upload", "-p", "ddsproj", str(data))
    listed = dds("list", "-p", "ddsproj")
    assert "/data/big.bin" in listed and "/data/sub/small.txt" in listed, listed
    dds("download", "-p", "ddsproj", str(tmp_path / "out1"))
    assert same_tree(data, tmp_path / "out1" / "data")

    (data / "sub" / "small.txt").write_text("hello again\n")
    dds("upload", "-p", "ddsproj", str(data))
    dds("download", "-p", "ddsproj", str(tmp_path / "out2"))
    assert same_tree(data, tmp_path / "out2" / "data")
