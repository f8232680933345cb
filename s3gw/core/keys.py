"""Key management as the admin surfaces see it (``s3gw admin kms status|rotate``, ``mc admin kms
key status``): the configured KMS's keys, their versions and rotation, in the admin API's
vocabulary (MinIO's admin errors), and the rotation worker of the gateway's background services.

The object data path (SSE-S3, SSE-KMS: sealing and opening each object's data key) uses the
KMS itself (``kms``); this module only reports on it and rotates it. How many objects each
key version still protects is only known to the object metadata: ``count_objects`` is the hook
for it (a function ``(key id) -> {version: objects}``, set where the object format is known),
and until it is set the counts are reported as unknown (None).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..kms import KMS, KeyNotFound, KeyStatus, KMSError
from ..kms.factory import rotation_worker
from ..kms.stats import KMSStats
from .iam import IamError

log = logging.getLogger(__name__)

#: the encryption context of the test data key ``check`` makes (MinIO's KMSKeyStatusHandler's)
CHECK_CONTEXT = {"MinIO admin API": "KMSKeyStatusHandler"}


class KmsNotConfigured(IamError):
    code = "NotImplemented"  # MinIO's ErrKMSNotConfigured
    status = 501
    default_message = "Server side encryption specified but KMS is not configured"


class KmsKeyNotFound(IamError):
    code = "kms:KeyNotFound"  # MinIO's kms.ErrKeyNotFound
    status = 404


class KmsUnavailable(IamError):
    code = "ServiceUnavailable"
    status = 503


#: the hook: (key id) -> {version: number of objects whose data key that version sealed}
ObjectCounter = Callable[[str], Awaitable[Mapping[str, int]]]


class KeyAdmin:
    """The KMS (None: none configured) for the admin API; ``stats``: where the key check's KMS
    calls are counted (the core's, so /metrics shows them with the data path's)."""

    def __init__(self, kms: KMS | None, stats: KMSStats | None = None) -> None:
        self.kms = kms
        self.stats = stats if stats is not None else KMSStats()
        self.count_objects: ObjectCounter | None = None  # set by the SSE data path (see the module doc)

    @property
    def configured(self) -> bool:
        return self.kms is not None

    def _kms(self) -> KMS:
        if self.kms is None:
            raise KmsNotConfigured()
        return self.kms

    def key_names(self) -> list[str]:
        """The keys one may ask about: the built-in KMS's master keys; with AWS KMS, the default key."""
        kms = self._kms()
        names: Callable[[], list[str]] | None = getattr(kms, "key_names", None)
        return names() if names is not None else [kms.default_key_id]

    def key_id(self, key_id: str | None) -> str:
        """``key_id``, or the default key when none is named."""
        return key_id or self._kms().default_key_id

    async def _call(self, fn: Callable[[], Awaitable[KeyStatus]]) -> KeyStatus:
        try:
            return await fn()
        except KeyNotFound as e:
            raise KmsKeyNotFound(str(e)) from None
        except KMSError as e:
            raise KmsUnavailable(f"KMS: {e}") from None

    async def status(self, key_id: str | None = None) -> dict[str, Any]:
        """A key's versions (oldest first, the last current), when each was made, how many objects
        each still protects (None: not known), and its rotation."""
        kms, name = self._kms(), self.key_id(key_id)
        return await self._report(await self._call(lambda: kms.status(name)))

    async def rotate(self, key_id: str | None = None) -> dict[str, Any]:
        """A new version of the key, current from now on (AWS KMS: RotateKeyOnDemand)."""
        kms, name = self._kms(), self.key_id(key_id)
        st = await self._call(lambda: kms.rotate(name))
        log.warning("KMS key %s rotated on request: version %s is current", st.key_id, st.current)
        return await self._report(st)

    async def _report(self, st: KeyStatus) -> dict[str, Any]:
        counts: Mapping[str, int] | None = None
        if self.count_objects is not None:
            counts = await self.count_objects(st.key_id)
        made = st.created.get(st.current)
        return {
            "key_id": st.key_id,
            "backend": st.backend,
            "default": st.key_id == self._kms().default_key_id,
            "current": st.current,
            # every object version the key protects, those sealed under a version the KMS does not
            # name included (AWS KMS's GenerateDataKey does not say which backing key it used)
            "objects": None if counts is None else sum(counts.values()),
            "versions": [
                {
                    "version": v,
                    "created": st.created.get(v),
                    "objects": None if counts is None else counts.get(v, 0),
                }
                for v in st.versions
            ],
            "rotation_enabled": st.rotation_enabled,
            "rotation_period": st.rotation_period,
            "next_rotation": made + st.rotation_period if made and st.rotation_period > 0 else None,
            "now": time.time(),
        }

    async def check(self, key_id: str | None = None) -> dict[str, str]:
        """MinIO's key status (``mc admin kms key status``): make a data key with the key, then open
        it again; the errors of each step, "" when it worked. Both calls are counted in the KMS
        metrics (``generate``, ``open``) as the data path's are."""
        kms, name = self._kms(), self.key_id(key_id)
        out = {"key-id": name, "encryption-error": "", "decryption-error": ""}
        try:
            dk = await self.stats.call("generate", kms.generate_data_key(name, CHECK_CONTEXT))
        except KMSError as e:
            out["encryption-error"] = str(e)
            return out
        try:
            opened = await self.stats.call("open", kms.decrypt_data_key(dk.key_id, dk.sealed, CHECK_CONTEXT))
            if opened != dk.plaintext:
                out["decryption-error"] = "The generated and the decrypted data key do not match"
        except KMSError as e:
            out["decryption-error"] = str(e)
        return out

    def describe(self) -> dict[str, Any]:
        """MinIO's KMSStatus (``GET /minio/kms/v1/status``): the KMS's name and default key."""
        kms = self._kms()
        endpoint = getattr(kms, "endpoint", "") or "builtin"
        return {
            "name": getattr(kms, "backend", "kms"),
            "default-key-id": kms.default_key_id,
            "endpoints": {endpoint: "online"},
            "state": {},
        }

    async def rotation_worker(self) -> None:
        """Rotate keys when due (run by the process that runs the background services)."""
        await rotation_worker(self.kms)
