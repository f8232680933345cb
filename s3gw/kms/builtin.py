"""The built-in KMS: master keys held by the gateway itself (embedded default, tests).

A master key comes from ``S3GW_KMS_SECRET_KEY`` as ``name:base64`` (the format of
MinIO's ``MINIO_KMS_SECRET_KEY``: 32 bytes). Each key has versions, oldest first;
the last one seals new data keys, every one still opens what it sealed.

A sealed data key is ``b"s3gwk1" | len(version) | version | nonce(12) | AES-256-GCM(data key)``
with the key name, the version and the encryption context (sorted, JSON) as
associated data, so a sealed key moved to another object, key or version does
not open.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import secrets
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from . import DataKey, KeyNotFound, KeyStatus, KMSError

MAGIC = b"s3gwk1"


def parse_secret_key(text: str) -> tuple[str, bytes]:
    """``name:base64`` -> (name, 32-byte key); ValueError says what is wrong.

    >>> parse_secret_key("my-key:" + "A" * 43 + "=")[0]
    'my-key'
    """
    name, sep, b64 = text.strip().partition(":")
    if not sep or not name:
        raise ValueError("KMS secret key must be NAME:BASE64")
    try:
        key = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("KMS secret key: the part after ':' is not base64") from e
    if len(key) != 32:
        raise ValueError(f"KMS secret key must be 32 bytes (is {len(key)})")
    return name, key


def context_bytes(key_id: str, version: str, context: Mapping[str, str]) -> bytes:
    return json.dumps([key_id, version, sorted(context.items())], separators=(",", ":")).encode()


class BuiltinKMS:
    """Master keys in memory: ``{name: [(version, key), ...]}``; the first name is the default."""

    def __init__(self, keys: Mapping[str, list[tuple[str, bytes]]], default_key_id: str | None = None) -> None:
        if not keys:
            raise ValueError("the built-in KMS needs at least one master key")
        self._keys = {name: list(versions) for name, versions in keys.items()}
        self.default_key_id = default_key_id or next(iter(self._keys))

    @classmethod
    def from_secret_key(cls, text: str) -> BuiltinKMS:
        name, key = parse_secret_key(text)
        return cls({name: [("1", key)]})

    def _versions(self, key_id: str) -> list[tuple[str, bytes]]:
        versions = self._keys.get(key_id)
        if not versions:
            raise KeyNotFound(f"key {key_id!r} does not exist")
        return versions

    def _seal(self, key_id: str, plaintext: bytes, context: Mapping[str, str]) -> DataKey:
        version, master = self._versions(key_id)[-1]
        nonce = os.urandom(12)
        ct = AESGCM(master).encrypt(nonce, plaintext, context_bytes(key_id, version, context))
        v = version.encode()
        sealed = MAGIC + bytes([len(v)]) + v + nonce + ct
        return DataKey(plaintext=plaintext, sealed=sealed, key_id=key_id, version=version)

    @staticmethod
    def sealed_version(sealed: bytes) -> str:
        if not sealed.startswith(MAGIC) or len(sealed) < len(MAGIC) + 1:
            raise KMSError("not a sealed key of the built-in KMS")
        n = sealed[len(MAGIC)]
        return sealed[len(MAGIC) + 1 : len(MAGIC) + 1 + n].decode()

    async def generate_data_key(self, key_id: str, context: Mapping[str, str]) -> DataKey:
        return self._seal(key_id, secrets.token_bytes(32), context)

    async def decrypt_data_key(self, key_id: str, sealed: bytes, context: Mapping[str, str]) -> bytes:
        version = self.sealed_version(sealed)
        masters = dict(self._versions(key_id))
        if version not in masters:
            raise KMSError(f"key {key_id!r} has no version {version!r}")
        start = len(MAGIC) + 1 + len(version.encode())
        nonce, ct = sealed[start : start + 12], sealed[start + 12 :]
        try:
            return AESGCM(masters[version]).decrypt(nonce, ct, context_bytes(key_id, version, context))
        except InvalidTag as e:
            raise KMSError("sealed key does not open (wrong key, version or context)") from e

    async def reencrypt(self, key_id: str, sealed: bytes, context: Mapping[str, str]) -> DataKey:
        return self._seal(key_id, await self.decrypt_data_key(key_id, sealed, context), context)

    async def status(self, key_id: str) -> KeyStatus:
        versions = [v for v, _ in self._versions(key_id)]
        return KeyStatus(key_id=key_id, versions=versions, current=versions[-1])

    async def rotate(self, key_id: str) -> KeyStatus:
        versions = self._versions(key_id)
        versions.append((str(int(versions[-1][0]) + 1), secrets.token_bytes(32)))
        return await self.status(key_id)
