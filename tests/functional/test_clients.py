"""The same everyday work through minio-py and the aws CLI, unmodified."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys

import pytest
from minio import Minio
from minio.commonconfig import CopySource
from minio.deleteobjects import DeleteObject
from minio.error import S3Error


@pytest.fixture
def mc_py(server) -> Minio:
    return Minio(
        f"127.0.0.1:{server.port}",
        access_key=server.access_key,
        secret_key=server.secret_key,
        secure=False,
        region="us-east-1",
    )


def test_minio_py_everyday_work(mc_py: Minio, bucket: str) -> None:
    data = os.urandom(300_000)
    mc_py.put_object(
        bucket,
        "m/one",
        io.BytesIO(data),
        len(data),
        content_type="application/x-test",
        metadata={"x-amz-meta-owner": "me"},
    )
    st = mc_py.stat_object(bucket, "m/one")
    assert st.size == len(data) and st.content_type == "application/x-test"
    assert st.metadata["x-amz-meta-owner"] == "me"
    resp = mc_py.get_object(bucket, "m/one", offset=1000, length=5000)
    try:
        assert resp.read() == data[1000:6000]
    finally:
        resp.close()
        resp.release_conn()
    mc_py.copy_object(bucket, "m/two", CopySource(bucket, "m/one"))
    names = [o.object_name for o in mc_py.list_objects(bucket, prefix="m/", recursive=True)]
    assert names == ["m/one", "m/two"]
    assert [o.object_name for o in mc_py.list_objects(bucket)] == ["m/"]
    errors = list(mc_py.remove_objects(bucket, [DeleteObject("m/one"), DeleteObject("m/two")]))
    assert errors == []
    assert list(mc_py.list_objects(bucket, recursive=True)) == []
    with pytest.raises(S3Error) as e:
        mc_py.stat_object(bucket, "m/one")
    assert e.value.code in ("NoSuchKey", "ResponseCode")


def test_minio_py_buckets(mc_py: Minio) -> None:
    mc_py.make_bucket("minio-py-bucket")
    assert mc_py.bucket_exists("minio-py-bucket")
    assert "minio-py-bucket" in [b.name for b in mc_py.list_buckets()]
    mc_py.remove_bucket("minio-py-bucket")
    assert not mc_py.bucket_exists("minio-py-bucket")


def aws(server, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    }
    exe = shutil.which("aws") or ""
    cmd = [exe] if exe else [sys.executable, "-m", "awscli"]
    return subprocess.run(
        [*cmd, "--endpoint-url", server.url, *args], env=env, capture_output=True, timeout=120, input=input
    )


def test_aws_cli_high_level(server, bucket: str, tmp_path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.txt").write_bytes(b"alpha")
    (src / "sub").mkdir()
    (src / "sub" / "b.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    r = aws(server, "s3", "cp", str(src / "a.txt"), f"s3://{bucket}/a.txt")
    assert r.returncode == 0, r.stderr
    r = aws(server, "s3", "sync", str(src), f"s3://{bucket}/synced/")
    assert r.returncode == 0, r.stderr
    r = aws(server, "s3", "ls", "--recursive", f"s3://{bucket}/")
    assert r.returncode == 0, r.stderr
    listed = sorted(line.split()[-1] for line in r.stdout.decode().splitlines())
    assert listed == ["a.txt", "synced/a.txt", "synced/sub/b.bin"]
    out = tmp_path / "back.bin"
    r = aws(server, "s3", "cp", f"s3://{bucket}/synced/sub/b.bin", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == (src / "sub" / "b.bin").read_bytes()
    r = aws(server, "s3", "rm", "--recursive", f"s3://{bucket}/synced/")
    assert r.returncode == 0, r.stderr


def test_aws_cli_s3api(server, bucket: str) -> None:
    r = aws(
        server,
        "s3api",
        "put-object",
        "--bucket",
        bucket,
        "--key",
        "api/key",
        "--content-type",
        "text/x-api",
        "--metadata",
        "k=v",
    )
    assert r.returncode == 0, r.stderr
    r = aws(server, "s3api", "head-object", "--bucket", bucket, "--key", "api/key")
    assert r.returncode == 0, r.stderr
    head = json.loads(r.stdout)
    assert head["ContentType"] == "text/x-api" and head["Metadata"] == {"k": "v"}
    r = aws(server, "s3api", "list-objects-v2", "--bucket", bucket, "--prefix", "api/")
    assert [o["Key"] for o in json.loads(r.stdout)["Contents"]] == ["api/key"]
    r = aws(server, "s3api", "get-object", "--bucket", bucket, "--key", "missing", "/dev/null")
    assert r.returncode != 0 and b"NoSuchKey" in r.stderr


def test_mc_pipe_and_cp(server, bucket: str, mc_bin: str, tmp_path) -> None:
    """mc streams data of unknown length as a multipart upload whose Complete carries the object's
    checksum in x-amz-checksum-* headers (not the XML body's): it must go through."""
    cfg = str(tmp_path / "mc")
    run = lambda *a, **kw: subprocess.run([mc_bin, "--config-dir", cfg, *a], capture_output=True, timeout=120, **kw)
    assert run("alias", "set", "t", server.url, server.access_key, server.secret_key).returncode == 0
    small = b"hello from mc pipe\n"
    r = run("pipe", f"t/{bucket}/piped-small", input=small)
    assert r.returncode == 0, r.stderr
    big = os.urandom(12 * 1024 * 1024)
    r = run("pipe", f"t/{bucket}/piped-big", input=big)
    assert r.returncode == 0, r.stderr
    assert run("cat", f"t/{bucket}/piped-small").stdout == small
    assert run("cat", f"t/{bucket}/piped-big").stdout == big
