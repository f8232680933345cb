"""The AWS-KMS-protocol KMS (s3gw/kms/aws.py) against a real KMS-protocol server: moto's server
mode, started here on 127.0.0.1 as its own process, spoken to over HTTP by botocore as AWS KMS
would be. Data keys round-trip bound to their encryption context, aliases name keys, ReEncrypt
rewraps without the data key leaving the KMS, rotation shows as versions, and a KMS that is down
or silent is a KMSError (the gateway's 503) within the bounded timeouts, never a hang."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator

import boto3
import pytest

from s3gw.kms import KeyNotFound, KMSError
from s3gw.kms.aws import AwsKMS
from s3gw.kms.factory import build_kms
from s3gw.kms.settings import KMSSettings
from tests.conftest import _STARTED, start_server
from tests.functional.test_admin_live import Mc
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


def start_moto(tmp_path) -> tuple[subprocess.Popen, str]:
    port = free_port()
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


def admin_kms(gw, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "S3GW_ROOT_USER": gw.access_key, "S3GW_ROOT_PASSWORD": gw.secret_key}
    return subprocess.run(
        [sys.executable, "-m", "s3gw.cli", "admin", "kms", *args, "--endpoint", gw.url],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
