"""The one place a KMS is built (``s3gw/server.py`` calls ``build_kms``), and the rotation
worker every gateway deployment runs once (in the process that runs the background services).

* ``security.encryption.kms_endpoint`` set: the AWS-KMS-protocol KMS (``aws.py``), the
  default key ``security.encryption.kms_key_id`` (``alias/s3gw`` when unset);
* else a master key (``S3GW_KMS_SECRET_KEY``, ``MINIO_KMS_SECRET_KEY`` or
  ``security.encryption.key_file``): the built-in KMS (``builtin.py``), its versions in the
  metadata store;
* else none: SSE-S3 and SSE-KMS are refused (MinIO's 501 "KMS is not configured").
"""

from __future__ import annotations

import asyncio
import logging

from . import KMS, KMSError, VersionStore
from .aws import AwsKMS
from .builtin import BuiltinKMS
from .settings import DEFAULT_AWS_KEY, KMSSettings

log = logging.getLogger(__name__)

#: how often the rotation worker looks whether a key is due (a rotation is due every 90 days)
CHECK_EVERY = 3600.0


async def build_kms(settings: KMSSettings, store: VersionStore) -> KMS | None:
    """The configured KMS, ready to use (the built-in one has read its key versions from
    ``store``); None when none is configured. KMSError: the master key does not match the
    versions the store holds under its name (refuse to start)."""
    if settings.endpoint:
        return AwsKMS(
            settings.endpoint,
            region=settings.region,
            default_key_id=settings.key_id or DEFAULT_AWS_KEY,
            timeout=settings.timeout,
            attempts=settings.attempts,
            rotation_period=settings.key_rotation_period,
        )
    if not settings.master_keys:
        return None
    kms = BuiltinKMS.from_masters(settings.master_keys, store, settings.key_rotation_period)
    if settings.key_id:
        if settings.key_id not in dict(settings.master_keys):
            raise KMSError(f"security.encryption.kms_key_id: no master key named {settings.key_id!r}")
        kms.default_key_id = settings.key_id
    await kms.load()
    return kms


async def rotation_worker(kms: KMS | None, every: float = CHECK_EVERY) -> None:
    """Keep keys rotated: the built-in KMS makes a new version of a key whose current one is
    ``key_rotation_period`` old (checked every ``every`` seconds; every gateway may run this,
    two making the same version at once record it once); with AWS KMS, rotation is the KMS's:
    EnableKeyRotation with the period, once at start (logged when not allowed)."""
    if isinstance(kms, AwsKMS):
        if kms.rotation_period > 0:
            try:
                await kms.enable_rotation(kms.default_key_id, kms.rotation_period)
            except KMSError as e:
                log.warning("KMS: could not enable rotation of %s: %s", kms.default_key_id, e)
        return
    if not isinstance(kms, BuiltinKMS) or kms.rotation_period <= 0:
        return
    while True:
        try:
            for name in await kms.rotate_due():
                log.warning("KMS key %s was due for rotation: a new version is current", name)
        except Exception as e:  # the metadata store is down: try again at the next check
            log.warning("KMS rotation check failed: %s", e)
        await asyncio.sleep(min(every, max(1.0, kms.rotation_period / 4)))
