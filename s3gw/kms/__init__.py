"""Key management for server-side encryption (issue 12).

The one small interface every KMS implements (built-in, AWS-KMS protocol): a
data key is generated for one object and returned twice, in plain text (to
encrypt the object, never stored) and sealed under a master key version (stored
with the object's metadata). The encryption context (bucket and key, as MinIO
binds them) is authenticated with the sealed key: a sealed key copied onto
another object does not open.

Layering: ``core -> kms``; this package imports nothing of s3gw but ``common``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class KMSError(Exception):
    """The KMS could not do it (unreachable, refused): the request answers 503, never plaintext."""


class KeyNotFound(KMSError):
    """The named master key does not exist (S3: KMS.NotFoundException / 400)."""


@dataclass(frozen=True)
class DataKey:
    plaintext: bytes  # 32 bytes; used to encrypt one object, never stored
    sealed: bytes  # opaque to the caller: stored with the object
    key_id: str  # the master key's name (what x-amz-server-side-encryption-aws-kms-key-id shows)
    version: str  # the master key version that sealed it (for rotation/rewrap and status)


@dataclass(frozen=True)
class KeyStatus:
    key_id: str
    versions: list[str]  # oldest first; the last is current
    current: str
    created: Mapping[str, float] = field(default_factory=dict)  # version -> creation time (when known)
    backend: str = ""  # "builtin" | "aws-kms"
    rotation_period: float = 0.0  # seconds between automatic rotations (0: none or not known)
    rotation_enabled: bool | None = None  # AWS KMS: GetKeyRotationStatus; built-in: rotation_period > 0


class VersionStore(Protocol):
    """Where the built-in KMS records its key versions: the metadata store's deployment-wide
    settings (every gateway of a deployment sees the same ones, they survive restarts). Only
    which versions exist, when each was made and a check value are stored, one setting per
    version (``kms/NAME/VERSION``): a version's key is derived from the master key (``builtin.py``)."""

    async def get_setting(self, name: str) -> tuple[str, float] | None: ...

    async def set_setting(self, name: str, value: str | None) -> None: ...


class KMS(Protocol):
    """What core needs of a KMS. Every call may raise KMSError (then 503)."""

    default_key_id: str

    async def generate_data_key(self, key_id: str, context: Mapping[str, str]) -> DataKey: ...

    async def decrypt_data_key(self, key_id: str, sealed: bytes, context: Mapping[str, str]) -> bytes: ...

    async def reencrypt(self, key_id: str, sealed: bytes, context: Mapping[str, str]) -> DataKey:
        """Re-seal under the current version of ``key_id`` (rewrap; the plaintext never leaves the KMS
        for AWS KMS's ReEncrypt)."""
        ...

    async def status(self, key_id: str) -> KeyStatus: ...

    async def rotate(self, key_id: str) -> KeyStatus: ...
