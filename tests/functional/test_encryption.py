"""Server-side encryption against a real gateway (docs/encryption.md): SSE-S3, SSE-KMS and SSE-C
through boto3, over HTTPS with certificates from a throwaway CA (trustme), with the built-in KMS
(S3GW_KMS_SECRET_KEY). What is stored on the drives and in the metadata file is searched for the
plaintext."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
import os
import sqlite3
import subprocess
import time
import uuid
from collections.abc import Iterator
from types import SimpleNamespace

import boto3
import pytest
import trustme
import urllib3
from botocore.config import Config
from botocore.exceptions import ClientError
from minio import Minio
from minio.sse import SseCustomerKey, SseKMS, SseS3

from s3gw.kms.builtin import BuiltinKMS
from tests.conftest import Server, free_port, start_server
from tests.functional.conftest import s3_client
from tests.functional.drivers import admin
from tests.functional.test_clients import aws
from tests.functional.test_post_policy import post_form, presigned
from tests.services import PgServer, wait_port
from tests.waiting import wait_until

MASTER = "my-key:" + base64.b64encode(b"k" * 32).decode()
MiB = 1 << 20


def _marker() -> bytes:
    return f"PLAINTEXT-MARKER-{uuid.uuid4().hex}".encode()


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, str]]:
    """A gateway with the built-in KMS, serving HTTP and HTTPS: (server, https url, CA file)."""
    data = str(tmp_path_factory.mktemp("sse-data"))
    certs = str(tmp_path_factory.mktemp("sse-certs"))
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    paths = {name: os.path.join(certs, f"{name}.pem") for name in ("ca", "cert", "key")}
    ca.cert_pem.write_to_path(paths["ca"])
    cert.private_key_pem.write_to_path(paths["key"])
    with open(paths["cert"], "wb") as f:
        for blob in cert.cert_chain_pems:
            f.write(blob.bytes())
    tls_port = free_port()
    srv = start_server(
        data,
        env={
            "S3GW_KMS_SECRET_KEY": MASTER,
            "S3GW_SECURITY_TLS_CERT_FILE": paths["cert"],
            "S3GW_SECURITY_TLS_KEY_FILE": paths["key"],
            "S3GW_SERVER_TLS_PORT": str(tls_port),
        },
    )
    wait_port(tls_port, srv.proc)
    yield srv, f"https://127.0.0.1:{tls_port}", paths["ca"]
    srv.stop()


@pytest.fixture(scope="module")
def s3(tls_server: tuple[Server, str, str]):
    return s3_client(tls_server[0])


@pytest.fixture(scope="module")
def s3s(tls_server: tuple[Server, str, str]):
    """The same gateway over HTTPS (SSE-C needs it)."""
    srv, url, ca = tls_server
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=srv.access_key,
        aws_secret_access_key=srv.secret_key,
        region_name="us-east-1",
        verify=ca,
        config=Config(retries={"max_attempts": 1}),
    )


@pytest.fixture
def bucket(s3) -> Iterator[str]:
    name = f"sse-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])
    s3.delete_bucket(Bucket=name)


def _stored_files(data_dir: str) -> Iterator[str]:
    for root, _, files in os.walk(data_dir):
        for f in files:
            if not f.endswith(".log"):
                yield os.path.join(root, f)


def assert_not_stored(data_dir: str, marker: bytes) -> None:
    """No file under the data directory (shards, the SQLite file and its WAL) holds ``marker``."""
    for path in _stored_files(data_dir):
        with open(path, "rb") as f:
            assert marker not in f.read(), f"plaintext found in {path}"


def _code(e: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


# --------------------------------------------------------------------------- without a KMS


def test_without_a_kms_sse_s3_is_refused_not_ignored(server: Server) -> None:
    s3 = s3_client(server)
    name = f"nokms-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    try:
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=name, Key="k", Body=b"x", ServerSideEncryption="AES256")
        assert _code(e) == (501, "NotImplemented")
        assert "KMS is not configured" in e.value.response["Error"]["Message"]
        with pytest.raises(ClientError) as e:
            s3.create_multipart_upload(Bucket=name, Key="k", ServerSideEncryption="aws:kms")
        assert _code(e) == (501, "NotImplemented")
        with pytest.raises(ClientError) as e:
            s3.put_bucket_encryption(
                Bucket=name,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
                },
            )
        assert _code(e) == (501, "NotImplemented")
        with pytest.raises(ClientError):
            s3.head_object(Bucket=name, Key="k")  # nothing was stored
    finally:
        s3.delete_bucket(Bucket=name)


def test_ssec_over_plain_http_is_refused(s3, bucket: str) -> None:
    key = os.urandom(32)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert _code(e) == (400, "InvalidRequest")
    assert "must be made over a secure connection" in e.value.response["Error"]["Message"]


# --------------------------------------------------------------------------- SSE-S3 and SSE-KMS


@pytest.mark.parametrize("size", [0, 100, 300 * 1024])  # empty, inline in the metadata row, erasure-coded
def test_sse_s3_put_get_head(s3, bucket: str, tls_server: tuple[Server, str, str], size: int) -> None:
    marker = _marker()
    body = (marker * (size // len(marker) + 1))[:size]
    put = s3.put_object(Bucket=bucket, Key="obj", Body=body, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'  # MinIO: SSE-S3 ETags are the content's MD5
    got = s3.get_object(Bucket=bucket, Key="obj")
    assert got["Body"].read() == body
    assert got["ServerSideEncryption"] == "AES256" and got["ContentLength"] == size
    head = s3.head_object(Bucket=bucket, Key="obj")
    assert head["ServerSideEncryption"] == "AES256" and head["ContentLength"] == size
    if size:
        rng = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=37-90")
        assert rng["Body"].read() == body[37:91]
    listed = s3.list_objects_v2(Bucket=bucket)["Contents"][0]
    assert listed["Size"] == size and listed["ETag"] == put["ETag"]
    assert_not_stored(tls_server[0].data, marker)


def test_sse_kms_names_its_key_and_context(s3, bucket: str, tls_server: tuple[Server, str, str]) -> None:
    marker = _marker()
    ctx = base64.b64encode(b'{"project":"alpha"}').decode()
    put = s3.put_object(
        Bucket=bucket,
        Key="k",
        Body=marker,
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId="my-key",
        SSEKMSEncryptionContext=ctx,
    )
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"] == "arn:aws:kms:my-key"
    assert put["ETag"] != f'"{hashlib.md5(marker).hexdigest()}"'  # not the content's MD5 (MinIO)
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["Body"].read() == marker
    assert got["SSEKMSKeyId"] == "arn:aws:kms:my-key" and got["ETag"] == put["ETag"]
    # the default key when none is named
    assert s3.put_object(Bucket=bucket, Key="d", Body=b"x", ServerSideEncryption="aws:kms")["SSEKMSKeyId"] == (
        "arn:aws:kms:my-key"
    )
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="n", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="no-such-key")
    assert _code(e) == (404, "kms:KeyNotFound")  # MinIO's KMS error
    assert_not_stored(tls_server[0].data, marker)


def test_bad_encryption_headers(s3, bucket: str) -> None:
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ServerSideEncryption="AES128")  # type: ignore[arg-type]
    assert _code(e)[0] == 400


def _multipart(s3, bucket: str, key: str, parts: list[bytes], **kw: object) -> dict:
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **{k: v for k, v in kw.items() if k != "part_kw"})
    done = []
    for i, p in enumerate(parts, 1):
        r = s3.upload_part(
            Bucket=bucket, Key=key, UploadId=up["UploadId"], PartNumber=i, Body=p, **kw.get("part_kw", {})
        )  # type: ignore[arg-type]
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up["UploadId"], MultipartUpload={"Parts": done})
    return up


def test_sse_s3_multipart_ranges_and_part_numbers(s3, bucket: str, tls_server: tuple[Server, str, str]) -> None:
    marker = _marker()
    parts = [os.urandom(5 * MiB) + marker, os.urandom(5 * MiB), os.urandom(MiB + 7)]
    whole = b"".join(parts)
    _multipart(s3, bucket, "mp", parts, ServerSideEncryption="AES256")
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert head["ContentLength"] == len(whole) and head["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == whole
    p1 = len(parts[0])
    for lo, hi in [(0, 0), (p1 - 10, p1 + 10), (65536 - 3, 65536 * 3 + 5), (len(whole) - 100, len(whole) - 1)]:
        got = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={lo}-{hi}")
        assert got["Body"].read() == whole[lo : hi + 1], (lo, hi)
        assert got["ContentRange"] == f"bytes {lo}-{hi}/{len(whole)}"
    for n, p in enumerate(parts, 1):
        got = s3.get_object(Bucket=bucket, Key="mp", PartNumber=n)
        assert got["Body"].read() == p and got["PartsCount"] == 3
    assert_not_stored(tls_server[0].data, marker)


# --------------------------------------------------------------------------- bucket default


def test_bucket_default_encryption(s3, bucket: str, tls_server: tuple[Server, str, str]) -> None:
    with pytest.raises(ClientError) as e:
        s3.get_bucket_encryption(Bucket=bucket)
    assert _code(e) == (404, "ServerSideEncryptionConfigurationNotFoundError")
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    marker = _marker()
    assert s3.put_object(Bucket=bucket, Key="k", Body=marker)["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == marker
    _multipart(s3, bucket, "mp", [marker * 10])
    assert s3.head_object(Bucket=bucket, Key="mp")["ServerSideEncryption"] == "AES256"
    s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k"})
    assert s3.head_object(Bucket=bucket, Key="copy")["ServerSideEncryption"] == "AES256"
    assert_not_stored(tls_server[0].data, marker)
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "my-key"}}]
        },
    )
    assert s3.put_object(Bucket=bucket, Key="kms", Body=b"x")["SSEKMSKeyId"] == "arn:aws:kms:my-key"
    s3.delete_bucket_encryption(Bucket=bucket)
    with pytest.raises(ClientError) as e:
        s3.get_bucket_encryption(Bucket=bucket)
    assert _code(e)[1] == "ServerSideEncryptionConfigurationNotFoundError"
    assert "ServerSideEncryption" not in s3.put_object(Bucket=bucket, Key="plain", Body=b"x")


# --------------------------------------------------------------------------- SSE-C


def test_sse_c_put_get_head_and_wrong_keys(s3s, bucket: str, tls_server: tuple[Server, str, str]) -> None:
    key, other = os.urandom(32), os.urandom(32)
    marker = _marker()
    body = marker * 5000
    put = s3s.put_object(Bucket=bucket, Key="c", Body=body, SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(key).digest()).decode()
    assert put["ETag"] != f'"{hashlib.md5(body).hexdigest()}"'
    got = s3s.get_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert got["Body"].read() == body and got["SSECustomerAlgorithm"] == "AES256"
    rng = s3s.get_object(
        Bucket=bucket, Key="c", Range="bytes=70000-70100", SSECustomerAlgorithm="AES256", SSECustomerKey=key
    )
    assert rng["Body"].read() == body[70000:70101]
    head = s3s.head_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert head["ContentLength"] == len(body)
    with pytest.raises(ClientError) as e:
        s3s.get_object(Bucket=bucket, Key="c")
    assert _code(e) == (400, "InvalidRequest")
    with pytest.raises(ClientError) as e:
        s3s.get_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=other)
    assert _code(e) == (403, "AccessDenied")
    with pytest.raises(ClientError) as e:
        s3s.head_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=other)
    assert _code(e)[0] == 403
    # a key whose MD5 does not match
    with pytest.raises(ClientError) as e:
        s3s.put_object(
            Bucket=bucket,
            Key="bad",
            Body=b"x",
            SSECustomerAlgorithm="AES256",
            SSECustomerKey=base64.b64encode(key).decode(),  # with the MD5 given, boto3 sends the key as it is
            SSECustomerKeyMD5=base64.b64encode(hashlib.md5(other).digest()).decode(),
        )
    assert _code(e) == (400, "InvalidArgument")
    # SSE-C headers for an object that is not SSE-C
    s3s.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    with pytest.raises(ClientError) as e:
        s3s.get_object(Bucket=bucket, Key="plain", SSECustomerAlgorithm="AES256", SSECustomerKey=key)
    assert _code(e) == (400, "InvalidRequest")
    assert_not_stored(tls_server[0].data, marker)
    # the key itself is never stored
    assert_not_stored(tls_server[0].data, key)
    assert_not_stored(tls_server[0].data, base64.b64encode(key))


def test_sse_c_multipart_every_part_and_part_copy(s3s, bucket: str, tls_server: tuple[Server, str, str]) -> None:
    key = os.urandom(32)
    marker = _marker()
    parts = [marker + os.urandom(5 * MiB), os.urandom(5 * MiB)]
    ssec = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    up = s3s.create_multipart_upload(Bucket=bucket, Key="mp", **ssec)
    with pytest.raises(ClientError) as e:  # a part without the key
        s3s.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=parts[0])
    assert _code(e) == (400, "InvalidRequest")
    with pytest.raises(ClientError) as e:  # a part with another key
        s3s.upload_part(
            Bucket=bucket,
            Key="mp",
            UploadId=up["UploadId"],
            PartNumber=1,
            Body=parts[0],
            SSECustomerAlgorithm="AES256",
            SSECustomerKey=os.urandom(32),
        )
    assert _code(e)[0] == 403
    etags = []
    for i, p in enumerate(parts, 1):
        etags.append(
            s3s.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=i, Body=p, **ssec)["ETag"]
        )
    # part 3: copied from an SSE-C source with another key
    src_key = os.urandom(32)
    tail = os.urandom(300_000)
    s3s.put_object(Bucket=bucket, Key="src", Body=tail, SSECustomerAlgorithm="AES256", SSECustomerKey=src_key)
    cp = s3s.upload_part_copy(
        Bucket=bucket,
        Key="mp",
        UploadId=up["UploadId"],
        PartNumber=3,
        CopySource={"Bucket": bucket, "Key": "src"},
        CopySourceRange="bytes=100-199999",
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=src_key,
        **ssec,
    )
    etags.append(cp["CopyPartResult"]["ETag"])
    done = s3s.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": i, "ETag": t} for i, t in enumerate(etags, 1)]},
    )
    # Complete carries no key: its answer names no SSE-C algorithm or key MD5 (as AWS and MinIO)
    assert "SSECustomerAlgorithm" not in done and "SSECustomerKeyMD5" not in done
    whole = parts[0] + parts[1] + tail[100:200000]
    assert s3s.get_object(Bucket=bucket, Key="mp", **ssec)["Body"].read() == whole
    lo = len(parts[0]) - 5
    got = s3s.get_object(Bucket=bucket, Key="mp", Range=f"bytes={lo}-{lo + 99}", **ssec)
    assert got["Body"].read() == whole[lo : lo + 100]
    assert s3s.get_object(Bucket=bucket, Key="mp", PartNumber=3, **ssec)["Body"].read() == tail[100:200000]
    with pytest.raises(ClientError):
        s3s.get_object(Bucket=bucket, Key="mp", PartNumber=2)
    assert_not_stored(tls_server[0].data, marker)


def test_copy_between_modes(s3s, bucket: str, tls_server: tuple[Server, str, str]) -> None:
    key, key2 = os.urandom(32), os.urandom(32)
    marker = _marker()
    body = marker + os.urandom(200_000)
    s3s.put_object(Bucket=bucket, Key="plain", Body=body)
    # plain -> SSE-C
    s3s.copy_object(
        Bucket=bucket,
        Key="c",
        CopySource={"Bucket": bucket, "Key": "plain"},
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=key,
    )
    assert (
        s3s.get_object(Bucket=bucket, Key="c", SSECustomerAlgorithm="AES256", SSECustomerKey=key)["Body"].read() == body
    )
    # SSE-C -> SSE-C under another key
    s3s.copy_object(
        Bucket=bucket,
        Key="c2",
        CopySource={"Bucket": bucket, "Key": "c"},
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=key,
        SSECustomerAlgorithm="AES256",
        SSECustomerKey=key2,
    )
    assert (
        s3s.get_object(Bucket=bucket, Key="c2", SSECustomerAlgorithm="AES256", SSECustomerKey=key2)["Body"].read()
        == body
    )
    # SSE-C without the source key: refused
    with pytest.raises(ClientError) as e:
        s3s.copy_object(Bucket=bucket, Key="x", CopySource={"Bucket": bucket, "Key": "c"})
    assert _code(e)[0] == 400
    # SSE-C -> SSE-KMS
    r = s3s.copy_object(
        Bucket=bucket,
        Key="k",
        CopySource={"Bucket": bucket, "Key": "c"},
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=key,
        ServerSideEncryption="aws:kms",
    )
    assert r["ServerSideEncryption"] == "aws:kms"
    assert s3s.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    # SSE-KMS -> plain
    s3s.copy_object(Bucket=bucket, Key="p2", CopySource={"Bucket": bucket, "Key": "k"})
    got = s3s.get_object(Bucket=bucket, Key="p2")
    assert got["Body"].read() == body and "ServerSideEncryption" not in got
    # in place: plain -> SSE-S3 (a change of encryption is a change)
    s3s.copy_object(
        Bucket=bucket, Key="plain", CopySource={"Bucket": bucket, "Key": "plain"}, ServerSideEncryption="AES256"
    )
    assert s3s.head_object(Bucket=bucket, Key="plain")["ServerSideEncryption"] == "AES256"


# --------------------------------------------------------------------------- the KMS failing


def test_a_kms_that_cannot_open_the_key_answers_503_never_plaintext(tmp_path) -> None:
    """Objects written under one master key, read by a gateway whose KMS cannot open their data
    keys (it has lost that key and holds another: what a KMS that lost or replaced its key does): 503,
    no byte of the object; without any KMS: MinIO's 501. The gateway with the right key reads them
    again. (The same name with another secret does not get this far: the gateway refuses to start,
    tests/functional/test_kms_admin.py.)"""
    data = str(tmp_path)
    marker = _marker()
    srv = start_server(data, env={"S3GW_KMS_SECRET_KEY": MASTER})
    try:
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="kms-fail")
        s3.put_object(Bucket="kms-fail", Key="small", Body=marker, ServerSideEncryption="AES256")
        s3.put_object(Bucket="kms-fail", Key="big", Body=marker * 20000, ServerSideEncryption="aws:kms")
    finally:
        srv.stop()
    other = "other-key:" + base64.b64encode(b"o" * 32).decode()
    srv = start_server(data, env={"MINIO_KMS_SECRET_KEY": other})  # MinIO's variable is honoured too
    try:
        s3 = s3_client(srv)
        for key in ("small", "big"):
            with pytest.raises(ClientError) as e:
                s3.get_object(Bucket="kms-fail", Key=key)
            assert _code(e) == (503, "ServiceUnavailable")
            assert marker not in str(e.value.response).encode()
        # HEAD needs no key: it answers what the metadata says
        assert s3.head_object(Bucket="kms-fail", Key="small")["ServerSideEncryption"] == "AES256"
    finally:
        srv.stop()
    srv = start_server(data)
    try:
        with pytest.raises(ClientError) as e:
            s3_client(srv).get_object(Bucket="kms-fail", Key="small")
        assert _code(e) == (501, "NotImplemented")
    finally:
        srv.stop()
    srv = start_server(data, env={"S3GW_KMS_SECRET_KEY": MASTER})
    try:
        s3 = s3_client(srv)
        assert s3.get_object(Bucket="kms-fail", Key="small")["Body"].read() == marker
        assert s3.get_object(Bucket="kms-fail", Key="big")["Body"].read() == marker * 20000
    finally:
        srv.stop()


def test_a_builtin_kms_that_cannot_seal_refuses_writes_with_503(tmp_path) -> None:
    """The built-in KMS refuses to seal when the metadata store holds a version of its key that
    another master key made (a gateway that got in with another secret under the same name
    rotated it): every write that needs a new data key answers 503 and stores nothing;
    what needs no new data key (reads of existing objects, plain writes) still works; the store
    put right, writes are served again without a restart."""
    data = str(tmp_path)
    srv = start_server(data, env={"S3GW_KMS_SECRET_KEY": MASTER})
    db_path = os.path.join(data, "meta", "s3gw.db")
    try:
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="enc")
        s3.create_bucket(Bucket="dflt")
        s3.put_bucket_encryption(
            Bucket="dflt",
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_object(Bucket="enc", Key="old", Body=b"sealed before", ServerSideEncryption="AES256")
        # version 2 of my-key as a gateway holding another secret records it when it rotates
        other = json.dumps({"created": time.time(), "check": "0123456789abcdef"})
        with sqlite3.connect(db_path) as db:
            db.execute("INSERT INTO settings (name, value, updated) VALUES (?, ?, ?)", ("kms/my-key/2", other, 0.0))
        db.close()
        marker = _marker()
        body = marker * 20000
        n = iter(range(10**6))

        def put_refused() -> bool:
            # until the gateway re-reads the key versions (every 30 s), it seals under version 1
            key = f"probe-{next(n)}"
            try:
                s3.put_object(Bucket="enc", Key=key, Body=b"probe", ServerSideEncryption="AES256")
            except ClientError as e:
                status = e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"]["Code"]
                assert status == (503, "ServiceUnavailable"), status
                return True
            return False

        wait_until(put_refused, "writes refused once the foreign version is read")
        for write in (
            lambda: s3.put_object(Bucket="enc", Key="new-s3", Body=body, ServerSideEncryption="AES256"),
            lambda: s3.put_object(Bucket="enc", Key="new-kms", Body=body, ServerSideEncryption="aws:kms"),
            lambda: s3.put_object(Bucket="dflt", Key="new-default", Body=body),
            lambda: s3.create_multipart_upload(Bucket="enc", Key="new-mpu", ServerSideEncryption="AES256"),
            lambda: s3.copy_object(
                Bucket="enc", Key="new-copy", CopySource={"Bucket": "enc", "Key": "old"}, ServerSideEncryption="AES256"
            ),
        ):
            with pytest.raises(ClientError) as e:
                write()
            assert _code(e) == (503, "ServiceUnavailable")
        keys = {o["Key"] for b in ("enc", "dflt") for o in s3.list_objects_v2(Bucket=b).get("Contents", [])}
        assert not {k for k in keys if k.startswith("new-")}, keys
        assert not s3.list_multipart_uploads(Bucket="enc").get("Uploads")
        assert_not_stored(data, marker)
        # what needs no new data key
        assert s3.get_object(Bucket="enc", Key="old")["Body"].read() == b"sealed before"
        s3.put_object(Bucket="enc", Key="plain", Body=b"plain")
        assert s3.get_object(Bucket="enc", Key="plain")["Body"].read() == b"plain"
        # the foreign version removed: served again, same process
        with sqlite3.connect(db_path) as db:
            db.execute("DELETE FROM settings WHERE name = ?", ("kms/my-key/2",))
        db.close()
        assert s3.put_object(Bucket="enc", Key="after", Body=marker, ServerSideEncryption="AES256")["ETag"]
        assert s3.get_object(Bucket="enc", Key="after")["Body"].read() == marker
        assert_not_stored(data, marker)
    finally:
        srv.stop()


# --------------------------------------------------------------------------- other clients


def _https(tls_server: tuple[Server, str, str]) -> SimpleNamespace:
    srv, url, _ = tls_server
    return SimpleNamespace(url=url, access_key=srv.access_key, secret_key=srv.secret_key)


def test_aws_cli_sse_s3_sse_c_and_bucket_default(tls_server: tuple[Server, str, str], bucket: str, tmp_path) -> None:
    srv, _, ca = tls_server
    https = _https(tls_server)

    def over_tls(*args: str) -> subprocess.CompletedProcess:
        """The AWS CLI against the TLS endpoint."""
        return aws(https, "--ca-bundle", ca, *args)

    src = tmp_path / "src.bin"
    marker = _marker()
    src.write_bytes(marker + os.urandom(9 * MiB))  # the CLI uploads it in parts
    r = over_tls("s3", "cp", "--sse", "AES256", str(src), f"s3://{bucket}/s3")
    assert r.returncode == 0, r.stderr
    keyfile = tmp_path / "key"
    keyfile.write_bytes(os.urandom(32))
    sse_c = ("--sse-c", "AES256", "--sse-c-key", f"fileb://{keyfile}")
    r = over_tls("s3", "cp", *sse_c, str(src), f"s3://{bucket}/c")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out.bin"
    r = over_tls("s3", "cp", *sse_c, f"s3://{bucket}/c", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == src.read_bytes()
    r = over_tls("s3", "cp", f"s3://{bucket}/c", str(out))
    assert r.returncode != 0  # without the key
    r = over_tls("s3api", "head-object", "--bucket", bucket, "--key", "s3")
    assert json.loads(r.stdout)["ServerSideEncryption"] == "AES256"
    rule = '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms","KMSMasterKeyID":"my-key"}}]}'
    r = aws(srv, "s3api", "put-bucket-encryption", "--bucket", bucket, "--server-side-encryption-configuration", rule)
    assert r.returncode == 0, r.stderr
    r = aws(srv, "s3api", "get-bucket-encryption", "--bucket", bucket)
    got = json.loads(r.stdout)["ServerSideEncryptionConfiguration"]["Rules"][0]["ApplyServerSideEncryptionByDefault"]
    assert got == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "arn:aws:kms:my-key"}
    assert_not_stored(srv.data, marker)


def test_mc_encrypt_set_and_enc_c(tls_server: tuple[Server, str, str], bucket: str, mc_bin: str, tmp_path) -> None:
    srv, url, _ = tls_server
    cfg = str(tmp_path / "mc")

    def run(*a: str, **kw: object) -> subprocess.CompletedProcess:
        return subprocess.run([mc_bin, "--config-dir", cfg, "--insecure", *a], capture_output=True, timeout=120, **kw)  # type: ignore[call-overload]

    assert run("alias", "set", "t", url, srv.access_key, srv.secret_key).returncode == 0
    r = run("encrypt", "set", "sse-s3", f"t/{bucket}")
    assert r.returncode == 0, r.stderr
    r = run("encrypt", "info", f"t/{bucket}")
    assert r.returncode == 0 and b"SSE-S3" in r.stdout.upper().replace(b"SSE_S3", b"SSE-S3"), r.stdout
    marker = _marker()
    r = run("pipe", f"t/{bucket}/piped", input=marker)
    assert r.returncode == 0, r.stderr
    assert s3_client(srv).head_object(Bucket=bucket, Key="piped")["ServerSideEncryption"] == "AES256"
    r = run("encrypt", "clear", f"t/{bucket}")
    assert r.returncode == 0, r.stderr
    key = base64.b64encode(os.urandom(32)).decode().rstrip("=")  # mc takes RawBase64
    src = tmp_path / "f"
    src.write_bytes(marker * 1000)
    r = run("cp", "--enc-c", f"t/{bucket}/c={key}", str(src), f"t/{bucket}/c")
    assert r.returncode == 0, r.stderr
    r = run("cat", "--enc-c", f"t/{bucket}/c={key}", f"t/{bucket}/c")
    assert r.returncode == 0 and r.stdout == marker * 1000, r.stderr
    assert run("cat", f"t/{bucket}/c").returncode != 0
    assert_not_stored(srv.data, marker)


def test_mc_encrypt_set_sse_kms_then_stat(
    tls_server: tuple[Server, str, str], bucket: str, mc_bin: str, tmp_path
) -> None:
    """``mc encrypt set sse-kms KEY``: ``mc encrypt info`` names the key, an object ``mc pipe``
    writes with no headers of its own is SSE-KMS under it (``mc stat``), and reads back."""
    srv, url, _ = tls_server
    cfg = str(tmp_path / "mc")

    def run(*a: str, **kw: object) -> subprocess.CompletedProcess:
        return subprocess.run([mc_bin, "--config-dir", cfg, "--insecure", *a], capture_output=True, timeout=120, **kw)  # type: ignore[call-overload]

    assert run("alias", "set", "t", url, srv.access_key, srv.secret_key).returncode == 0
    r = run("encrypt", "set", "sse-kms", "my-key", f"t/{bucket}")
    assert r.returncode == 0, r.stderr
    r = run("--json", "encrypt", "info", f"t/{bucket}")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["encryption"]["algorithm"], info["encryption"]["keyId"]) == ("aws:kms", "arn:aws:kms:my-key"), info
    marker = _marker()
    r = run("pipe", f"t/{bucket}/piped", input=marker)
    assert r.returncode == 0, r.stderr
    r = run("--json", "stat", f"t/{bucket}/piped")
    assert r.returncode == 0, r.stderr
    meta = {k.lower(): v for k, v in json.loads(r.stdout)["metadata"].items()}
    assert meta["x-amz-server-side-encryption"] == "aws:kms", meta
    assert meta["x-amz-server-side-encryption-aws-kms-key-id"] == "arn:aws:kms:my-key", meta
    r = run("cat", f"t/{bucket}/piped")
    assert r.returncode == 0 and r.stdout == marker, r.stderr
    assert_not_stored(srv.data, marker)


def test_minio_py_sse_modes(tls_server: tuple[Server, str, str], bucket: str) -> None:
    srv, url, ca = tls_server
    client = Minio(
        url.removeprefix("https://"),
        access_key=srv.access_key,
        secret_key=srv.secret_key,
        secure=True,
        region="us-east-1",
        http_client=urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=ca),
    )
    data = os.urandom(100_000)
    for name, sse in (("s3", SseS3()), ("kms", SseKMS("my-key", {"team": "a"}))):
        client.put_object(bucket, name, io.BytesIO(data), len(data), sse=sse)
        resp = client.get_object(bucket, name)
        try:
            assert resp.read() == data
        finally:
            resp.close()
            resp.release_conn()
    ck = SseCustomerKey(os.urandom(32))
    client.put_object(bucket, "c", io.BytesIO(data), len(data), sse=ck)
    resp = client.get_object(bucket, "c", ssec=ck, offset=70_000, length=100)
    try:
        assert resp.read() == data[70_000:70_100]
    finally:
        resp.close()
        resp.release_conn()
    assert client.stat_object(bucket, "c", ssec=ck).size == len(data)


def test_admin_kms_rewrap(tls_server: tuple[Server, str, str], s3, bucket: str, server: Server) -> None:
    """``s3gw admin kms rewrap BUCKET``: every SSE-S3/KMS version looked at (here already under the
    current master key version: nothing to re-seal), JSON summary; without a KMS, MinIO's 501."""
    srv = tls_server[0]
    s3.put_object(Bucket=bucket, Key="a", Body=b"x", ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key="b", Body=b"y")
    cp = admin(srv, "kms", "rewrap", bucket, "--json")
    doc = json.loads(cp.stdout)
    assert (doc["scanned"], doc["encrypted"], doc["rewrapped"], doc["current"], doc["failed"]) == (2, 1, 0, 1, 0)
    assert s3.get_object(Bucket=bucket, Key="a")["Body"].read() == b"x"
    cp = admin(server, "kms", "rewrap", check=False)
    assert cp.returncode != 0 and "KMS is not configured" in cp.stderr


def test_copy_in_place_with_the_cli_tools_makes_new_data_keys(
    tls_server: tuple[Server, str, str], s3, bucket: str, mc_bin: str, tmp_path
) -> None:
    """The compromised-key runbook's re-encryption (docs/encryption.md): ``aws s3 cp --recursive`` and
    ``mc cp --recursive`` of a bucket onto itself with SSE rewrite every object under a new data key
    (a rewrap would keep the old ones), the big one through a multipart copy; the bytes stay."""
    srv = tls_server[0]
    kms = BuiltinKMS.from_secret_key(MASTER)
    bodies = {"small": os.urandom(1000), "dir/mid": os.urandom(300_000), "big": os.urandom(9 * MiB)}
    for k, body in bodies.items():
        s3.put_object(Bucket=bucket, Key=k, Body=body, ServerSideEncryption="AES256")

    async def open_all() -> dict[str, bytes]:
        db = sqlite3.connect(os.path.join(srv.data, "meta", "s3gw.db"))
        try:
            rows = db.execute("SELECT key, info FROM versions WHERE bucket = ? AND is_latest = 1", (bucket,))
            sealed = {(k.decode() if isinstance(k, bytes) else k): json.loads(i)["sse"]["sealed"] for k, i in rows}
        finally:
            db.close()
        return {
            k: await kms.decrypt_data_key("my-key", base64.b64decode(v), {"bucket": bucket, "key": k})
            for k, v in sealed.items()
        }

    before = asyncio.run(open_all())
    r = aws(srv, "s3", "cp", f"s3://{bucket}/", f"s3://{bucket}/", "--recursive", "--sse", "AES256")
    assert r.returncode == 0, r.stderr
    after_aws = asyncio.run(open_all())
    cfg = str(tmp_path / "mc")
    mc = [mc_bin, "--config-dir", cfg]
    r = subprocess.run(
        [*mc, "alias", "set", "t", srv.url, srv.access_key, srv.secret_key], capture_output=True, timeout=60
    )
    assert r.returncode == 0, r.stderr
    r = subprocess.run(
        [*mc, "cp", "--recursive", "--enc-s3", f"t/{bucket}", f"t/{bucket}/", f"t/{bucket}/"],
        capture_output=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    after_mc = asyncio.run(open_all())
    for k, body in bodies.items():
        assert len({before[k], after_aws[k], after_mc[k]}) == 3, k
        got = s3.get_object(Bucket=bucket, Key=k)
        assert got["Body"].read() == body and got["ServerSideEncryption"] == "AES256", k


def test_a_browser_form_upload_takes_the_bucket_default(tls_server: tuple[Server, str, str], s3, bucket: str) -> None:
    srv = tls_server[0]
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    marker = _marker()
    r = post_form(srv, bucket, presigned(srv, bucket, "form"), file=marker * 10)
    assert r.status == 204, r.body
    assert s3.head_object(Bucket=bucket, Key="form")["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=bucket, Key="form")["Body"].read() == marker * 10
    assert_not_stored(srv.data, marker)


# --------------------------------------------------------------------------- on PostgreSQL


def pg_dump(pg: PgServer, database: str) -> bytes:
    """Everything the database holds, as ``pg_dump`` writes it (``bytea`` in hex)."""
    return subprocess.run(
        [f"{pg.bindir}/pg_dump", "-h", pg.host, "-p", str(pg.port), "-U", pg.user, "-d", database],
        env={**os.environ, "PGPASSWORD": pg.password},
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout


def in_dump(dump: bytes, marker: bytes) -> bool:
    return marker in dump or marker.hex().encode() in dump


def test_inline_rows_on_postgresql_hold_no_plaintext(tmp_path, postgres: PgServer) -> None:
    """Small objects live in their PostgreSQL metadata row: encrypted ones (SSE-S3, SSE-KMS, the
    bucket default, a copy) are stored sealed there; a plain object's marker is in the dump, so the
    search would see one."""
    pw = tmp_path / "db-password"
    pw.write_text(postgres.password + "\n")
    database = postgres.new_database("sse")
    srv = start_server(
        str(tmp_path),
        env={
            "S3GW_KMS_SECRET_KEY": MASTER,
            "S3GW_DATABASE_HOST": postgres.host,
            "S3GW_DATABASE_PORT": str(postgres.port),
            "S3GW_DATABASE_NAME": database,
            "S3GW_DATABASE_USER": postgres.user,
            "S3GW_DATABASE_PASSWORD_FILE": str(pw),
        },
    )
    try:
        s3 = s3_client(srv)
        s3.create_bucket(Bucket="pg-sse")
        s3.create_bucket(Bucket="pg-dflt")
        s3.put_bucket_encryption(
            Bucket="pg-dflt",
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        markers = {name: _marker() for name in ("plain", "s3-tiny", "s3", "kms", "default", "copy")}
        bodies = {name: m * (1 if name == "s3-tiny" else 1000) for name, m in markers.items()}  # all under 128 KiB
        s3.put_object(Bucket="pg-sse", Key="plain", Body=bodies["plain"])
        for name, enc in (("s3-tiny", "AES256"), ("s3", "AES256"), ("kms", "aws:kms"), ("copy", "AES256")):
            s3.put_object(Bucket="pg-sse", Key=name, Body=bodies[name], ServerSideEncryption=enc)
        s3.put_object(Bucket="pg-dflt", Key="default", Body=bodies["default"])
        s3.copy_object(
            Bucket="pg-sse", Key="copied", CopySource={"Bucket": "pg-sse", "Key": "copy"}, ServerSideEncryption="AES256"
        )
        for name, body in bodies.items():
            got = s3.get_object(Bucket="pg-dflt" if name == "default" else "pg-sse", Key=name)
            assert got["Body"].read() == body, name
            assert got.get("ServerSideEncryption") == (
                None if name == "plain" else "aws:kms" if name == "kms" else "AES256"
            )
        assert s3.get_object(Bucket="pg-sse", Key="copied")["Body"].read() == bodies["copy"]
        inline = postgres.psql("SELECT count(*) FROM versions WHERE inline_data IS NOT NULL", database)
        assert int(inline) == len(bodies) + 1  # every one (and the copy) in its row, not in shard files
        dump = pg_dump(postgres, database)
        assert in_dump(dump, markers["plain"]), "the plain object's marker is not in the dump"
        for name, marker in markers.items():
            if name != "plain":
                assert not in_dump(dump, marker), f"plaintext of {name!r} in the database"
                assert_not_stored(srv.data, marker)
    finally:
        srv.stop()
