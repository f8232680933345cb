"""The AWS-KMS-protocol KMS (s3gw/kms/aws.py) against a real KMS-protocol server: moto's server
mode, started here on 127.0.0.1 as its own process, spoken to over HTTP by botocore as AWS KMS
would be. Data keys round-trip bound to their encryption context, aliases name keys, ReEncrypt
rewraps without the data key leaving the KMS, rotation shows as versions, and a KMS that is down
or silent is a KMSError (the gateway's 503) within the bounded timeouts, never a hang."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from s3gw.kms import KeyNotFound, KMSError
from s3gw.kms.aws import AwsKMS
from s3gw.kms.factory import build_kms
from s3gw.kms.settings import KMSSettings
from s3gw.kms.stats import OUTCOMES
from tests.conftest import _STARTED, start_server
from tests.functional.conftest import s3_client
from tests.functional.drivers import Mc, admin
from tests.functional.test_encryption import assert_not_stored
from tests.functional.test_kms_admin import kms_metrics
from tests.services import free_port, wait_port
from tests.waiting import wait_until

CREDS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
CTX = {"bucket": "photos", "key": "2026/cat.jpg"}
#: a generous bound for "does not hang": the calls below allow 1 s per try, 2 tries
NO_HANG = 120.0


@pytest.fixture(scope="module")
def moto_kms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    log = open(tmp_path_factory.mktemp("moto") / "moto.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port), "-H", "127.0.0.1"],
        env={**os.environ, **CREDS},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    _STARTED.append(proc)
    try:
        wait_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


@pytest.fixture(autouse=True)
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in CREDS.items():
        monkeypatch.setenv(k, v)


@pytest.fixture
def key(moto_kms: str) -> tuple[str, str]:
    """A new KMS key with an alias: (key id, alias)."""
    client = boto3.client("kms", endpoint_url=moto_kms, region_name="us-east-1")
    key_id = client.create_key(Description="s3gw test")["KeyMetadata"]["KeyId"]
    alias = f"alias/s3gw-{key_id[:8]}"
    client.create_alias(AliasName=alias, TargetKeyId=key_id)
    return key_id, alias


def aws(endpoint: str, default: str = "alias/s3gw", timeout: float = 5.0) -> AwsKMS:
    return AwsKMS(endpoint, region="us-east-1", default_key_id=default, timeout=timeout, attempts=2)


def one_try_client(gw) -> Any:
    """A boto3 S3 client of ``gw`` that asks once (``s3_client`` retries once): each 503 is seen."""
    return s3_client(gw, retries={"total_max_attempts": 1})


async def test_data_key_round_trip_bound_to_its_context(moto_kms: str, key: tuple[str, str]) -> None:
    key_id, alias = key
    kms = aws(moto_kms, alias)
    dk = await kms.generate_data_key(alias, CTX)  # an alias names the key
    assert len(dk.plaintext) == 32 and dk.plaintext not in dk.sealed
    assert dk.key_id.endswith(key_id) and dk.key_id.startswith("arn:aws:kms:")
    assert await kms.decrypt_data_key(dk.key_id, dk.sealed, CTX) == dk.plaintext
    assert await kms.decrypt_data_key(alias, dk.sealed, CTX) == dk.plaintext
    # the sealed key of one object does not open as another's
    with pytest.raises(KMSError):
        await kms.decrypt_data_key(alias, dk.sealed, {**CTX, "key": "2026/dog.jpg"})
    with pytest.raises(KMSError):
        await kms.decrypt_data_key(alias, dk.sealed[:-1] + bytes([dk.sealed[-1] ^ 1]), CTX)


async def test_an_unknown_key_is_key_not_found(moto_kms: str) -> None:
    kms = aws(moto_kms)
    with pytest.raises(KeyNotFound):
        await kms.generate_data_key("alias/no-such-key", CTX)
    with pytest.raises(KeyNotFound):
        await kms.status("alias/no-such-key")


async def test_reencrypt_rewraps_inside_the_kms(moto_kms: str, key: tuple[str, str]) -> None:
    _, alias = key
    kms = aws(moto_kms, alias)
    dk = await kms.generate_data_key(alias, CTX)
    st = await kms.rotate(alias)  # RotateKeyOnDemand: a new backing key
    assert st.versions == ["1", "2"] and st.current == "2"
    again = await kms.reencrypt(alias, dk.sealed, CTX)
    assert again.sealed != dk.sealed and again.plaintext == b""  # the data key never left the KMS
    assert await kms.decrypt_data_key(alias, again.sealed, CTX) == dk.plaintext
    assert await kms.decrypt_data_key(alias, dk.sealed, CTX) == dk.plaintext  # old blobs still open


async def test_status_and_rotation_period(moto_kms: str, key: tuple[str, str]) -> None:
    key_id, alias = key
    kms = aws(moto_kms, alias)
    st = await kms.status(alias)
    assert st.key_id.endswith(key_id) and st.versions == ["1"] and st.rotation_enabled is False
    assert st.backend == "aws-kms" and "1" in st.created
    await kms.enable_rotation(alias, 2160 * 3600)  # the guide's 90 days
    st = await kms.status(alias)
    assert st.rotation_enabled is True
    assert st.rotation_period in (90 * 86400, 0.0)  # AWS reports RotationPeriodInDays; moto (5.2) does not


async def test_the_factory_builds_it_from_the_settings(moto_kms: str, key: tuple[str, str]) -> None:
    _, alias = key
    kms = await build_kms(KMSSettings(endpoint=moto_kms, key_id=alias), store=None)  # type: ignore[arg-type]
    assert isinstance(kms, AwsKMS) and kms.default_key_id == alias and kms.region == "us-east-1"
    dk = await kms.generate_data_key(kms.default_key_id, CTX)
    assert await kms.decrypt_data_key(kms.default_key_id, dk.sealed, CTX) == dk.plaintext


async def test_a_kms_that_is_down_is_a_kms_error(moto_kms: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    with pytest.raises(KMSError):
        await asyncio.wait_for(aws(closed, timeout=1.0).generate_data_key("alias/s3gw", CTX), NO_HANG)


async def test_a_kms_that_never_answers_is_a_kms_error() -> None:
    """A KMS that accepts the connection and says nothing: the read timeout ends each try."""
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(silent.accept()[0])  # kept open, never answered
            except OSError:
                continue

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        kms = aws(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=1.0)
        with pytest.raises(KMSError):
            await asyncio.wait_for(kms.decrypt_data_key("alias/s3gw", b"x" * 64, CTX), NO_HANG)
    finally:
        stop.set()
        t.join()
        for c in held:
            c.close()
        silent.close()


# --------------------------------------------------------------------------- a gateway on AWS KMS


def start_moto(tmp_path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    port = port or free_port()
    log = open(tmp_path / "moto.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port), "-H", "127.0.0.1"],
        env={**os.environ, **CREDS},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()
    _STARTED.append(proc)
    wait_port(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def test_a_gateway_configured_for_aws_kms(tmp_path, mc_bin: str) -> None:
    """security.encryption.kms_endpoint (the guide's key) and kms_key_id: the gateway's admin surfaces speak to
    the KMS; with the KMS gone, mc's key status reports the failed step and s3gw admin kms status is 503."""
    moto, endpoint = start_moto(tmp_path)
    client = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1")
    key_id = client.create_key()["KeyMetadata"]["KeyId"]
    client.create_alias(AliasName="alias/s3gw", TargetKeyId=key_id)
    env = {**CREDS, "S3GW_SECURITY_ENCRYPTION_KMS_ENDPOINT": endpoint, "S3GW_SECURITY_ENCRYPTION_KMS_TIMEOUT": "1s"}
    data = tmp_path / "data"
    data.mkdir()
    gw = start_server(str(data), env=env)
    try:
        mc = Mc(mc_bin, str(tmp_path / "mc"), gw)
        assert mc.json("admin", "kms", "key", "status", "s3gw") == {"keyId": "alias/s3gw", "status": "success"}
        # the rotation worker enabled the KMS's own rotation (key_rotation_period, 90 days by default)
        wait_until(lambda: client.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"], "rotation enabled")
        cp = admin_kms(gw, "status", "--json")
        assert cp.returncode == 0, cp.stderr
        st = json.loads(cp.stdout)
        assert st["backend"] == "aws-kms" and st["key_id"].endswith(key_id) and st["rotation_enabled"] is True
        cp = admin_kms(gw, "rotate", "--json")
        assert cp.returncode == 0 and json.loads(cp.stdout)["current"] == "2", cp.stderr
        moto.terminate()
        moto.wait(30)
        down = mc.json("admin", "kms", "key", "status", "s3gw")
        assert down["keyId"] == "alias/s3gw" and down["encryptionError"]
        cp = admin_kms(gw, "status")
        assert cp.returncode == 1 and "ServiceUnavailable" in cp.stderr, cp.stderr
    finally:
        gw.stop()
        if moto.poll() is None:
            moto.terminate()
            moto.wait(30)


def test_kms_metrics_count_refusals_failures_and_the_key_check(tmp_path, mc_bin: str) -> None:
    """``s3gw_kms_requests_total`` by outcome on a gateway whose KMS is a moto server: a write
    naming a key the KMS does not have is ``error``; with the KMS gone, a read and a write are
    ``unavailable`` (503); ``mc admin kms key status`` counts its two calls (a data key made and
    opened) and, with the KMS gone, its failed one. Each latency histogram counts every call."""
    moto, endpoint = start_moto(tmp_path)
    client = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1")
    client.create_alias(AliasName="alias/s3gw", TargetKeyId=client.create_key()["KeyMetadata"]["KeyId"])
    env = {**CREDS, "S3GW_SECURITY_ENCRYPTION_KMS_ENDPOINT": endpoint, "S3GW_SECURITY_ENCRYPTION_KMS_TIMEOUT": "1s"}
    data = tmp_path / "data"
    data.mkdir()
    gw = start_server(str(data), "--metrics-auth", "public", env=env)

    def calls(op: str, outcome: str) -> float:
        return kms_metrics(gw)[f's3gw_kms_requests_total{{operation="{op}",outcome="{outcome}"}}']

    def counts() -> dict[tuple[str, str], float]:
        m = kms_metrics(gw)
        for op in ("generate", "open"):  # the histogram's count is the calls of every outcome
            total = sum(m[f's3gw_kms_requests_total{{operation="{op}",outcome="{o}"}}'] for o in OUTCOMES)
            assert m[f's3gw_kms_request_seconds_count{{operation="{op}"}}'] == total, op
        return {(op, o): calls(op, o) for op in ("generate", "open") for o in OUTCOMES}

    try:
        s3 = one_try_client(gw)
        s3.create_bucket(Bucket="enc")
        s3.put_object(Bucket="enc", Key="k", Body=b"sealed", ServerSideEncryption="AES256")
        c0 = counts()
        assert c0[("generate", "ok")] == 1 and c0[("generate", "error")] == c0[("open", "unavailable")] == 0
        with pytest.raises(ClientError) as e:
            s3.put_object(
                Bucket="enc", Key="x", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/no-such-key"
            )
        assert _status(e)[1] == "kms:KeyNotFound"
        c1 = counts()
        assert c1 == {**c0, ("generate", "error"): 1}
        mc = Mc(mc_bin, str(tmp_path / "mc"), gw)
        assert mc.json("admin", "kms", "key", "status", "s3gw") == {"keyId": "alias/s3gw", "status": "success"}
        c2 = counts()
        assert c2 == {**c1, ("generate", "ok"): 2, ("open", "ok"): 1}
        moto.terminate()
        moto.wait(30)
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket="enc", Key="k")
        assert _status(e) == (503, "ServiceUnavailable")
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket="enc", Key="y", Body=b"y", ServerSideEncryption="AES256")
        assert _status(e) == (503, "ServiceUnavailable")
        c3 = counts()
        assert c3 == {**c2, ("open", "unavailable"): 1, ("generate", "unavailable"): 1}
        assert mc.json("admin", "kms", "key", "status", "s3gw")["encryptionError"]
        assert counts() == {**c3, ("generate", "unavailable"): 2}
    finally:
        gw.stop()
        if moto.poll() is None:
            moto.terminate()
            moto.wait(30)


def admin_kms(gw, *args: str) -> subprocess.CompletedProcess:
    return admin(gw, "kms", *args, check=False, access=gw.access_key, secret=gw.secret_key)


# --------------------------------------------------------------------------- S3 traffic through a gateway on AWS KMS

MiB = 1 << 20


@pytest.fixture(scope="module")
def aws_gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleNamespace]:
    """A gateway whose KMS is a moto server (security.encryption.kms_endpoint, the default key
    alias/s3gw): the gateway, an S3 client, a KMS client on the same KMS, the key's id."""
    moto, endpoint = start_moto(tmp_path_factory.mktemp("moto-gw"))
    kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1", **_creds())
    key_id = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.create_alias(AliasName="alias/s3gw", TargetKeyId=key_id)
    env = {**CREDS, "S3GW_SECURITY_ENCRYPTION_KMS_ENDPOINT": endpoint, "S3GW_SECURITY_ENCRYPTION_KMS_TIMEOUT": "1s"}
    gw = start_server(str(tmp_path_factory.mktemp("aws-gw-data")), env=env)
    try:
        yield SimpleNamespace(gw=gw, s3=s3_client(gw), kms=kms, key_id=key_id, endpoint=endpoint)
    finally:
        gw.stop()
        moto.terminate()
        moto.wait(30)


def _creds() -> dict[str, str]:
    return {"aws_access_key_id": CREDS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": CREDS["AWS_SECRET_ACCESS_KEY"]}


def _new_bucket(s3) -> str:
    name = f"awskms-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=name)
    return name


def _arn(kms, key: str) -> str:
    arn: str = kms.describe_key(KeyId=key)["KeyMetadata"]["Arn"]
    return arn


def _marker() -> bytes:
    return f"PLAINTEXT-MARKER-{uuid.uuid4().hex}".encode()


def _sse_of(gw, bucket: str, key: str) -> dict:
    """What the metadata store holds of the latest version's encryption (the sealed data key)."""
    db = sqlite3.connect(os.path.join(gw.data, "meta", "s3gw.db"))
    try:
        rows = db.execute("SELECT key, info FROM versions WHERE bucket = ? AND is_latest = 1", (bucket,)).fetchall()
    finally:
        db.close()
    for k, info in rows:
        if (k.decode() if isinstance(k, bytes) else k) == key:
            sse: dict = json.loads(info)["sse"]
            return sse
    raise AssertionError(f"{bucket}/{key} not in the metadata store")


def _data_key(kms, bucket: str, key: str, sealed: str) -> bytes:
    """The plaintext data key of a sealed one, asked of the KMS with the object's context."""
    blob = base64.b64decode(sealed)
    plaintext: bytes = kms.decrypt(CiphertextBlob=blob, EncryptionContext={"bucket": bucket, "key": key})["Plaintext"]
    return plaintext


def _status(e: pytest.ExceptionInfo[ClientError]) -> tuple[int, str]:
    r = e.value.response
    return r["ResponseMetadata"]["HTTPStatusCode"], r["Error"]["Code"]


@pytest.mark.parametrize("size", [100, 300 * 1024])  # inline in the metadata row, erasure-coded
def test_sse_s3_and_sse_kms_objects_on_aws_kms(aws_gw: SimpleNamespace, size: int) -> None:
    s3, kms = aws_gw.s3, aws_gw.kms
    bucket = _new_bucket(s3)
    other = kms.create_key(Description="per-request")["KeyMetadata"]["KeyId"]
    alias = f"alias/req-{other[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=other)
    marker = _marker()
    body = (marker * (size // len(marker) + 1))[:size]
    default_arn, other_arn = _arn(kms, "alias/s3gw"), _arn(kms, other)
    # SSE-S3: the default key (alias/s3gw)
    put = s3.put_object(Bucket=bucket, Key="s3", Body=body, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    assert _sse_of(aws_gw.gw, bucket, "s3")["key_id"] == default_arn
    # SSE-KMS naming a key by id, by alias and by ARN: the response names the key's ARN, as AWS does
    for name, key in (("by-id", other), ("by-alias", alias), ("by-arn", other_arn)):
        put = s3.put_object(Bucket=bucket, Key=name, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key)
        assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", other_arn), name
    put = s3.put_object(Bucket=bucket, Key="kms-default", Body=body, ServerSideEncryption="aws:kms")
    assert put["SSEKMSKeyId"] == default_arn
    for name in ("s3", "by-id", "by-alias", "by-arn", "kms-default"):
        got = s3.get_object(Bucket=bucket, Key=name)
        assert got["Body"].read() == body, name
        head = s3.head_object(Bucket=bucket, Key=name)
        assert head["ContentLength"] == size and head["ServerSideEncryption"] == got["ServerSideEncryption"]
        rng = s3.get_object(Bucket=bucket, Key=name, Range="bytes=37-90")
        assert rng["Body"].read() == body[37:91], name
    assert s3.head_object(Bucket=bucket, Key="by-alias")["SSEKMSKeyId"] == other_arn
    # a key the KMS does not have: MinIO's KMS error, nothing stored
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=bucket, Key="none", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/nope")
    assert _status(e) == (404, "kms:KeyNotFound")
    # bucket defaults: SSE-S3, then SSE-KMS with a key alias
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    assert s3.put_object(Bucket=bucket, Key="dflt-s3", Body=body)["ServerSideEncryption"] == "AES256"
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": alias}}]
        },
    )
    put = s3.put_object(Bucket=bucket, Key="dflt-kms", Body=body)
    assert (put["ServerSideEncryption"], put["SSEKMSKeyId"]) == ("aws:kms", other_arn)
    for name in ("dflt-s3", "dflt-kms"):
        assert s3.get_object(Bucket=bucket, Key=name)["Body"].read() == body
        assert s3.get_object(Bucket=bucket, Key=name, Range="bytes=-20")["Body"].read() == body[-20:]
    assert_not_stored(aws_gw.gw.data, marker)


def test_multipart_sse_kms_on_aws_kms(aws_gw: SimpleNamespace) -> None:
    s3, kms = aws_gw.s3, aws_gw.kms
    bucket = _new_bucket(s3)
    marker = _marker()
    parts = [os.urandom(5 * MiB) + marker, os.urandom(MiB + 7)]
    whole = b"".join(parts)
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/s3gw")
    done = []
    for i, p in enumerate(parts, 1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=i, Body=p)
        done.append({"PartNumber": i, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket=bucket, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": done})
    head = s3.head_object(Bucket=bucket, Key="mp")
    assert head["ContentLength"] == len(whole) and head["SSEKMSKeyId"] == _arn(kms, "alias/s3gw")
    assert s3.get_object(Bucket=bucket, Key="mp")["Body"].read() == whole
    lo = len(parts[0]) - 10  # across the part boundary
    got = s3.get_object(Bucket=bucket, Key="mp", Range=f"bytes={lo}-{lo + 99}")
    assert got["Body"].read() == whole[lo : lo + 100]
    assert s3.get_object(Bucket=bucket, Key="mp", PartNumber=2)["Body"].read() == parts[1]
    assert_not_stored(aws_gw.gw.data, marker)


def test_rotate_then_rewrap_on_aws_kms_keeps_every_object_readable(aws_gw: SimpleNamespace) -> None:
    """``s3gw admin kms rewrap`` with AWS KMS: every sealed data key goes through ReEncrypt (a new
    blob, the same data key), and every object still reads the same bytes."""
    s3, gw = aws_gw.s3, aws_gw.gw
    bucket = _new_bucket(s3)
    bodies = {"small": os.urandom(100), "big": os.urandom(300 * 1024), "kms": os.urandom(70_000)}
    s3.put_object(Bucket=bucket, Key="small", Body=bodies["small"], ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key="big", Body=bodies["big"], ServerSideEncryption="AES256")
    s3.put_object(Bucket=bucket, Key="kms", Body=bodies["kms"], ServerSideEncryption="aws:kms")
    s3.put_object(Bucket=bucket, Key="plain", Body=b"plain")
    before = {k: _sse_of(gw, bucket, k)["sealed"] for k in bodies}
    keys_before = {k: _data_key(aws_gw.kms, bucket, k, before[k]) for k in bodies}
    cp = admin_kms(gw, "rotate", "--json")
    assert cp.returncode == 0, cp.stderr
    cp = admin_kms(gw, "rewrap", bucket, "--json")
    assert cp.returncode == 0, cp.stderr
    doc = json.loads(cp.stdout)
    assert (doc["scanned"], doc["encrypted"], doc["rewrapped"], doc["failed"]) == (4, 3, 3, 0), doc
    after = {k: _sse_of(gw, bucket, k)["sealed"] for k in bodies}
    assert all(after[k] != before[k] for k in bodies)  # re-sealed by ReEncrypt
    # ... the same data keys: what was encrypted with them is not rewritten (docs/encryption.md's runbook)
    assert {k: _data_key(aws_gw.kms, bucket, k, after[k]) for k in bodies} == keys_before
    for k, body in bodies.items():
        assert s3.get_object(Bucket=bucket, Key=k)["Body"].read() == body, k
        assert s3.get_object(Bucket=bucket, Key=k, Range="bytes=10-20")["Body"].read() == body[10:21], k
    assert s3.get_object(Bucket=bucket, Key="plain")["Body"].read() == b"plain"
    # a second run (as after an interruption) finds them under the current version: resumable
    cp = admin_kms(gw, "rewrap", bucket, "--json")
    doc = json.loads(cp.stdout)
    assert (doc["encrypted"], doc["rewrapped"], doc["current"], doc["failed"]) == (3, 0, 3, 0), doc
    # every bucket: then the status shows the old version protects nothing (the runbook's check)
    cp = admin_kms(gw, "rewrap", "--json")
    assert cp.returncode == 0 and json.loads(cp.stdout)["failed"] == 0, cp.stderr
    cp = admin_kms(gw, "status", "--json")
    st = json.loads(cp.stdout)
    assert st["current"] == "2" and st["objects"] >= 3, st
    assert {v["version"]: v["objects"] for v in st["versions"]} == {"1": 0, "2": st["objects"]}, st


def test_copy_in_place_makes_a_new_data_key(aws_gw: SimpleNamespace) -> None:
    """What the compromised-key runbook relies on (docs/encryption.md): a CopyObject of an object onto
    itself with SSE headers rewrites it under a new data key (a rewrap keeps the old one), sealed by
    the key the request (or an alias moved to a new key) names."""
    s3, kms, gw = aws_gw.s3, aws_gw.kms, aws_gw.gw
    bucket = _new_bucket(s3)
    old = kms.create_key()["KeyMetadata"]["KeyId"]
    alias = f"alias/rb-{old[:8]}"
    kms.create_alias(AliasName=alias, TargetKeyId=old)
    body = os.urandom(300 * 1024)
    s3.put_object(Bucket=bucket, Key="k", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=alias)

    def data_key() -> tuple[str, bytes]:
        sse = _sse_of(gw, bucket, "k")
        return sse["key_id"], _data_key(kms, bucket, "k", sse["sealed"])

    key0, dk0 = data_key()
    assert key0 == _arn(kms, old)
    # the runbook: a new key behind the alias, then every object copied onto itself
    new = kms.create_key()["KeyMetadata"]["KeyId"]
    kms.update_alias(AliasName=alias, TargetKeyId=new)
    r = s3.copy_object(
        Bucket=bucket,
        Key="k",
        CopySource={"Bucket": bucket, "Key": "k"},
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=alias,
    )
    assert r["SSEKMSKeyId"] == _arn(kms, new)
    key1, dk1 = data_key()
    assert key1 == _arn(kms, new) and dk1 != dk0
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body
    # SSE-S3 in place: a new data key again
    s3.copy_object(Bucket=bucket, Key="k", CopySource={"Bucket": bucket, "Key": "k"}, ServerSideEncryption="AES256")
    _, dk2 = data_key()
    assert dk2 not in (dk0, dk1)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == body


def test_aws_kms_down_is_503_never_plaintext_and_comes_back_without_a_restart(tmp_path) -> None:
    """The KMS frozen (SIGSTOP: connections accepted, never answered) and then killed (connections
    refused): GET of an encrypted object and every write that needs a data key answer 503, nothing is
    stored; HEAD and unencrypted objects keep working. The same gateway serves again once the KMS
    answers again: the frozen one resumed, or a new KMS on the same address."""
    moto, endpoint = start_moto(tmp_path)
    port = int(endpoint.rsplit(":", 1)[1])
    kms = boto3.client("kms", endpoint_url=endpoint, region_name="us-east-1", **_creds())
    kms.create_alias(AliasName="alias/s3gw", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
    env = {**CREDS, "S3GW_SECURITY_ENCRYPTION_KMS_ENDPOINT": endpoint, "S3GW_SECURITY_ENCRYPTION_KMS_TIMEOUT": "1s"}
    data = tmp_path / "data"
    data.mkdir()
    gw = start_server(str(data), env=env)
    try:
        # one try per request (s3_client's max_attempts=1 is one retry): each 503 is asked once
        s3 = one_try_client(gw)
        s3.create_bucket(Bucket="enc")
        s3.create_bucket(Bucket="dflt")
        s3.create_bucket(Bucket="plain")
        s3.put_bucket_encryption(
            Bucket="dflt",
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        stored = {"small": os.urandom(100), "big": os.urandom(300 * 1024)}
        for k, body in stored.items():
            s3.put_object(Bucket="enc", Key=k, Body=body, ServerSideEncryption="AES256")
        up = s3.create_multipart_upload(Bucket="enc", Key="mp", ServerSideEncryption="AES256")

        def refused_while_down(phase: str) -> None:
            for k in stored:
                with pytest.raises(ClientError) as e:
                    s3.get_object(Bucket="enc", Key=k)
                assert _status(e) == (503, "ServiceUnavailable"), (phase, k)
                assert s3.head_object(Bucket="enc", Key=k)["ServerSideEncryption"] == "AES256"
            marker = _marker()
            body = marker * 20000  # erasure-coded if it were stored
            writes = {
                "sse-s3": lambda key: s3.put_object(Bucket="enc", Key=key, Body=body, ServerSideEncryption="AES256"),
                "sse-kms": lambda key: s3.put_object(Bucket="enc", Key=key, Body=body, ServerSideEncryption="aws:kms"),
                "default": lambda key: s3.put_object(Bucket="dflt", Key=key, Body=marker),
                "create-mpu": lambda key: s3.create_multipart_upload(
                    Bucket="enc", Key=key, ServerSideEncryption="AES256"
                ),
                "part": lambda key: s3.upload_part(
                    Bucket="enc", Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=body
                ),
            }
            for what, write in writes.items():
                with pytest.raises(ClientError) as e:
                    write(f"new-{phase}-{what}")
                assert _status(e) == (503, "ServiceUnavailable"), (phase, what)
            for b in ("enc", "dflt"):  # nothing was created
                keys = [o["Key"] for o in s3.list_objects_v2(Bucket=b).get("Contents", [])]
                assert not [k for k in keys if k.startswith("new-")], keys
            uploads = s3.list_multipart_uploads(Bucket="enc").get("Uploads", [])
            assert [u["Key"] for u in uploads] == ["mp"]
            assert not s3.list_parts(Bucket="enc", Key="mp", UploadId=up["UploadId"]).get("Parts")
            assert_not_stored(str(data), marker)
            # what needs no KMS still works
            s3.put_object(Bucket="plain", Key=phase, Body=marker)
            assert s3.get_object(Bucket="plain", Key=phase)["Body"].read() == marker

        def served_again(phase: str) -> None:
            body = os.urandom(200_000)
            s3.put_object(Bucket="enc", Key=f"after-{phase}", Body=body, ServerSideEncryption="AES256")
            assert s3.get_object(Bucket="enc", Key=f"after-{phase}")["Body"].read() == body
            assert s3.put_object(Bucket="dflt", Key=f"after-{phase}", Body=b"x")["ServerSideEncryption"] == "AES256"

        # frozen: the timeouts end every call (kms_timeout 1s, 2 tries)
        os.kill(moto.pid, signal.SIGSTOP)
        try:
            refused_while_down("frozen")
        finally:
            os.kill(moto.pid, signal.SIGCONT)
        for k, body in stored.items():  # the same gateway, no restart
            assert s3.get_object(Bucket="enc", Key=k)["Body"].read() == body
        served_again("frozen")
        # killed: connections refused
        moto.kill()
        moto.wait(30)
        refused_while_down("killed")
        # a new KMS on the same address, its own key under the alias: new objects are served at once;
        # those sealed by the lost KMS's key stay unreadable (503, never 500 nor plaintext)
        moto, _ = start_moto(tmp_path, port)
        kms.create_alias(AliasName="alias/s3gw", TargetKeyId=kms.create_key()["KeyMetadata"]["KeyId"])
        served_again("restarted")
        with pytest.raises(ClientError) as e:
            s3.get_object(Bucket="enc", Key="small")
        assert _status(e) == (503, "ServiceUnavailable")
    finally:
        gw.stop()
        if moto.poll() is None:
            moto.terminate()
            moto.wait(30)
