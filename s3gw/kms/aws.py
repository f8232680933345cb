"""The AWS-KMS-protocol KMS: AWS KMS itself, or anything speaking its JSON protocol (LocalStack,
moto's server in the tests), at ``security.encryption.kms_endpoint``.

botocore (already a dependency) makes the calls, each in a thread of the KMS's own pool
(``POOL`` threads, so a slow KMS never starves the event loop's default executor that
other work shares): a KMS call is one small request per object written or read, so a
thread per call in flight costs little, and it spares a second HTTP stack (aiobotocore
pins botocore versions and would fight the ``boto3`` the tests use).
botocore signs (SigV4), finds credentials by its usual chain (``AWS_ACCESS_KEY_ID`` /
``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE``, web identity as on EKS, the instance role) and
retries throttling; every call is bounded: ``timeout`` to connect and to read, ``attempts``
tries, and the whole call (its wait for a thread included) ``deadline``; then ``KMSError``
(the gateway answers 503, never plaintext).

Mapping onto the interface (``s3gw/kms/__init__.py``):

* ``generate_data_key``: GenerateDataKey (KeySpec AES_256) with the object's encryption
  context; the sealed key is the CiphertextBlob, the key id the key's ARN.
* ``decrypt_data_key``: Decrypt, with the same context and the key id (an alias works:
  ``alias/NAME``), so a blob of another key is refused by the KMS (IncorrectKeyException).
* ``reencrypt``: ReEncrypt under the key's current backing key; the data key never leaves
  the KMS (``DataKey.plaintext`` is empty).
* ``status``: DescribeKey, GetKeyRotationStatus and ListKeyRotations: version 1 is the key's
  creation, each rotation one more version. AWS does not say which backing key sealed a
  blob, so ``DataKey.version`` is "".
* ``rotate``: RotateKeyOnDemand; ``enable_rotation``: EnableKeyRotation with the
  rotation period in days (AWS allows 90 to 2560), the KMS then rotates by itself.

Errors: NotFoundException -> ``KeyNotFound``; everything else (unreachable, throttled,
access denied, disabled key, a blob that does not open) -> ``KMSError``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import botocore.session
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from . import DataKey, KeyNotFound, KeyStatus, KMSError

log = logging.getLogger(__name__)

#: AWS's bounds on RotationPeriodInDays (EnableKeyRotation)
MIN_ROTATION_DAYS, MAX_ROTATION_DAYS = 90, 2560
#: threads making KMS calls at once (per gateway process); more calls wait for one, within the deadline
POOL = 32


def region_of(endpoint: str) -> str:
    """The region an AWS KMS endpoint names (``kms.REGION.amazonaws.com``, FIPS too), else "".

    >>> region_of("https://kms.us-west-1.amazonaws.com"), region_of("https://kms-fips.eu-west-3.amazonaws.com")
    ('us-west-1', 'eu-west-3')
    >>> region_of("http://127.0.0.1:4566")
    ''
    """
    host = (urlsplit(endpoint).hostname or "").split(".")
    if len(host) >= 4 and host[0] in ("kms", "kms-fips") and host[-2:] == ["amazonaws", "com"]:
        return host[1]
    return ""


def rotation_days(seconds: float) -> int:
    """A rotation period in whole days, within AWS's bounds.

    >>> rotation_days(2160 * 3600), rotation_days(3600), rotation_days(10**9)
    (90, 90, 2560)
    """
    return max(MIN_ROTATION_DAYS, min(MAX_ROTATION_DAYS, round(seconds / 86400)))


class AwsKMS:
    """The KMS interface over an AWS-KMS-protocol endpoint."""

    backend = "aws-kms"

    def __init__(
        self,
        endpoint: str,
        *,
        region: str = "",
        default_key_id: str,
        timeout: float = 5.0,
        attempts: int = 2,
        rotation_period: float = 0.0,
    ) -> None:
        self.endpoint = endpoint
        self.default_key_id = default_key_id
        self.rotation_period = rotation_period
        # connect + read per try, a little backoff between tries
        self.deadline = max(1, attempts) * (2 * timeout + 1.0)
        self._pool = ThreadPoolExecutor(max_workers=POOL, thread_name_prefix="s3gw-kms")
        session = botocore.session.get_session()
        self.region = region or region_of(endpoint) or session.get_config_variable("region") or "us-east-1"
        self._client: Any = session.create_client(
            "kms",
            region_name=self.region,
            endpoint_url=endpoint or None,
            config=Config(
                connect_timeout=timeout,
                read_timeout=timeout,
                retries={"max_attempts": max(1, attempts), "mode": "standard"},
                max_pool_connections=64,
            ),
        )

    async def _call(self, op: str, **kw: Any) -> dict[str, Any]:
        """One KMS call in a worker thread; botocore's errors in the interface's vocabulary."""
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(self.deadline):
                result: dict[str, Any] = await loop.run_in_executor(
                    self._pool, functools.partial(getattr(self._client, op), **kw)
                )
            return result
        except TimeoutError:
            raise KMSError(f"KMS {op}: no answer within {self.deadline:g}s") from None
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            message = e.response.get("Error", {}).get("Message", "") or str(e)
            if code == "NotFoundException":
                raise KeyNotFound(f"KMS: {message}") from None
            raise KMSError(f"KMS {op}: {code}: {message}") from None
        except BotoCoreError as e:  # unreachable, timed out, no credentials, ...
            raise KMSError(f"KMS {op}: {e}") from None

    async def generate_data_key(self, key_id: str, context: Mapping[str, str]) -> DataKey:
        r = await self._call("generate_data_key", KeyId=key_id, KeySpec="AES_256", EncryptionContext=dict(context))
        return DataKey(plaintext=r["Plaintext"], sealed=r["CiphertextBlob"], key_id=r["KeyId"], version="")

    async def decrypt_data_key(self, key_id: str, sealed: bytes, context: Mapping[str, str]) -> bytes:
        r = await self._call("decrypt", CiphertextBlob=sealed, KeyId=key_id, EncryptionContext=dict(context))
        plaintext: bytes = r["Plaintext"]
        return plaintext

    async def reencrypt(self, key_id: str, sealed: bytes, context: Mapping[str, str]) -> DataKey:
        r = await self._call(
            "re_encrypt",
            CiphertextBlob=sealed,
            SourceKeyId=key_id,
            SourceEncryptionContext=dict(context),
            DestinationKeyId=key_id,
            DestinationEncryptionContext=dict(context),
        )
        return DataKey(plaintext=b"", sealed=r["CiphertextBlob"], key_id=r["KeyId"], version="")

    async def status(self, key_id: str) -> KeyStatus:
        meta = (await self._call("describe_key", KeyId=key_id))["KeyMetadata"]
        arn = meta.get("Arn") or meta["KeyId"]
        created = {"1": meta["CreationDate"].timestamp()} if meta.get("CreationDate") else {}
        enabled: bool | None = None
        period = 0.0
        try:
            rot = await self._call("get_key_rotation_status", KeyId=arn)
            enabled = bool(rot.get("KeyRotationEnabled"))
            period = float(rot.get("RotationPeriodInDays") or 0) * 86400 if enabled else 0.0
            rotations = (await self._call("list_key_rotations", KeyId=arn)).get("Rotations", [])
        except KMSError as e:  # not allowed to ask (kms:GetKeyRotationStatus): the key's own status still
            log.info("KMS key %s: rotation status unknown: %s", key_id, e)
            rotations = []
        for i, r in enumerate(sorted(rotations, key=lambda r: r["RotationDate"]), 2):
            created[str(i)] = r["RotationDate"].timestamp()
        versions = [str(i) for i in range(1, len(rotations) + 2)]
        return KeyStatus(
            key_id=arn,
            versions=versions,
            current=versions[-1],
            created=created,
            backend=self.backend,
            rotation_period=period,
            rotation_enabled=enabled,
        )

    async def _arn(self, key_id: str) -> str:
        """The key's ARN (the rotation calls take no alias, as AWS documents)."""
        meta = (await self._call("describe_key", KeyId=key_id))["KeyMetadata"]
        arn: str = meta.get("Arn") or meta["KeyId"]
        return arn

    async def rotate(self, key_id: str) -> KeyStatus:
        await self._call("rotate_key_on_demand", KeyId=await self._arn(key_id))
        return await self.status(key_id)

    async def enable_rotation(self, key_id: str, period: float) -> None:
        """Let the KMS rotate ``key_id`` every ``period`` (in whole days, within AWS's bounds)."""
        if rotation_days(period) * 86400 != round(period / 86400) * 86400:
            log.warning(
                "KMS: AWS rotates every 90 to 2560 days: key_rotation_period %gd becomes %dd",
                period / 86400,
                rotation_days(period),
            )
        arn = await self._arn(key_id)
        await self._call("enable_key_rotation", KeyId=arn, RotationPeriodInDays=rotation_days(period))
