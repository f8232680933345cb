"""The built-in KMS: master keys held by the gateway itself (embedded default, tests).

A master key comes from ``S3GW_KMS_SECRET_KEY`` (or MinIO's ``MINIO_KMS_SECRET_KEY``) as
``name:base64`` (the format of MinIO's variable: 32 bytes), or from a key file
(``security.encryption.key_file``) holding one such line per key, the first being the
default. Each key has versions, oldest first; the last one seals new data keys, every
one still opens what it sealed.

**Key hierarchy.** Version 1 of a key is the master key itself; version N > 1 is
derived from it, ``HKDF-SHA256(master, info="s3gw-kms-version" | name | N)`` (RFC 5869;
NIST SP 800-108 calls this a key-derivation key). So a version's key is never stored
anywhere: what the metadata store keeps (``VersionStore``: its deployment-wide settings, one
``kms/NAME/VERSION`` each) is only which versions exist, when each was made and a check
value, shared by every gateway of the deployment and surviving restarts. Versions only
ever grow (a gateway finds new ones by asking for the next number), and two gateways
making the same version at once write the same key's record. Opening a sealed key needs only the master key and the
version number written in the sealed key, so a version another gateway has just made opens
here before this gateway has even heard of it. Rotation bounds what one AES-GCM key seals
(random 96-bit nonces: NIST's limit is 2^32 seals per key) and what one leaked version
key exposes (HKDF is one-way: a version key reveals neither the master nor other versions);
it does not protect against a leaked *master* key (docs/encryption.md, "Key management").

The check value of a version, ``HMAC-SHA256(version key, "s3gw-kms-check")`` (8 bytes,
hex), is stored with it: a gateway started with another secret under the same key name
refuses to start instead of sealing data nobody else can open.

A sealed data key is ``b"s3gwk1" | len(version) | version | nonce(12) | AES-256-GCM(data key)``
with the key name, the version and the encryption context (sorted, JSON) as
associated data, so a sealed key moved to another object, key or version does
not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from . import DataKey, KeyNotFound, KeyStatus, KMSError, VersionStore

log = logging.getLogger(__name__)

MAGIC = b"s3gwk1"
#: the highest version number a sealed key may name (a 90-day rotation makes 4 a year)
MAX_VERSION = 1_000_000
#: how long a gateway seals under the current version it knows before asking the store again
#: (a rotation made by another gateway is picked up within this; older versions keep opening)
REFRESH = 30.0


def parse_secret_key(text: str) -> tuple[str, bytes]:
    """``name:base64`` -> (name, 32-byte key); ValueError says what is wrong.

    >>> parse_secret_key("my-key:" + "A" * 43 + "=")[0]
    'my-key'
    """
    name, sep, b64 = text.strip().partition(":")
    if not sep or not name:
        raise ValueError("KMS secret key must be NAME:BASE64")
    if len(name) > 128 or any(c.isspace() or c in "/\\" for c in name):
        raise ValueError("KMS key name: at most 128 characters, no spaces or slashes")
    try:
        key = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError) as e:
        raise ValueError("KMS secret key: the part after ':' is not base64") from e
    if len(key) != 32:
        raise ValueError(f"KMS secret key must be 32 bytes (is {len(key)})")
    return name, key


def parse_key_file(text: str) -> list[tuple[str, bytes]]:
    """A key file: one ``name:base64`` per line (blank lines and ``#`` comments skipped), the
    first the default key; ValueError names the line.

    >>> [n for n, _ in parse_key_file("# keys\\na:" + "A" * 43 + "=\\n\\nb:" + "B" * 43 + "=\\n")]
    ['a', 'b']
    """
    keys: list[tuple[str, bytes]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            keys.append(parse_secret_key(line))
        except ValueError as e:
            raise ValueError(f"line {n}: {e}") from None
    if not keys:
        raise ValueError("no key in it (one NAME:BASE64 per line)")
    if len({name for name, _ in keys}) != len(keys):
        raise ValueError("a key name appears twice")
    return keys


def derive_version(master: bytes, name: str, version: int) -> bytes:
    """The key of ``version`` of master key ``name``: the master itself for 1, else HKDF-SHA256.

    >>> m = bytes(32)
    >>> derive_version(m, "k", 1) == m, derive_version(m, "k", 2) == derive_version(m, "k", 2)
    (True, True)
    >>> len({derive_version(m, "k", 2), derive_version(m, "k", 3), derive_version(m, "j", 2)})
    3
    """
    if version == 1:
        return master
    info = b"s3gw-kms-version\x00" + name.encode() + b"\x00" + str(version).encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master)


def check_value(version_key: bytes) -> str:
    """What the store keeps to recognise a version's key without holding it."""
    return hmac.new(version_key, b"s3gw-kms-check", hashlib.sha256).hexdigest()[:16]


def context_bytes(key_id: str, version: str, context: Mapping[str, str]) -> bytes:
    return json.dumps([key_id, version, sorted(context.items())], separators=(",", ":")).encode()


class BuiltinKMS:
    """Master keys in the gateway: ``{name: [(version, key), ...]}`` given outright (tests), or
    master keys whose versions are derived and recorded in a ``VersionStore``
    (``from_masters``; ``load`` before use). The first name is the default."""

    backend = "builtin"

    def __init__(self, keys: Mapping[str, list[tuple[str, bytes]]], default_key_id: str | None = None) -> None:
        if not keys:
            raise ValueError("the built-in KMS needs at least one master key")
        self._keys = {name: list(versions) for name, versions in keys.items()}
        self.default_key_id = default_key_id or next(iter(self._keys))
        self._masters: dict[str, bytes] = {}  # name -> master key (versions derived from it)
        self._created: dict[str, dict[str, float]] = {name: {} for name in self._keys}
        self._store: VersionStore | None = None
        self._known: dict[str, int] = {}  # name -> the newest version read from the store
        self._refreshed = 0.0  # time.monotonic() of the last read of the store
        self.rotation_period = 0.0  # seconds; 0: no automatic rotation (``rotate_due``)

    @classmethod
    def from_secret_key(cls, text: str) -> BuiltinKMS:
        return cls.from_masters([parse_secret_key(text)])

    @classmethod
    def from_masters(
        cls, masters: list[tuple[str, bytes]], store: VersionStore | None = None, rotation_period: float = 0.0
    ) -> BuiltinKMS:
        """Derived versions: version 1 until ``load`` reads the store (or, without a store, in memory)."""
        kms = cls({name: [("1", key)] for name, key in masters})
        kms._masters = dict(masters)
        kms._store = store
        kms.rotation_period = rotation_period
        return kms

    # -- the versions, from the store -------------------------------------------------

    async def load(self) -> None:
        """Read every key's versions from the store, recording version 1 of a new key; refuse
        (KMSError) a master key that is not the one the store's versions were made with."""
        if self._store is None:
            return
        for name in self._masters:
            self._known[name] = 0
            await self._read_new(name)
            if self._known[name] == 0:
                await self._record(name, 1, time.time())
                await self._read_new(name)
        self._refreshed = time.monotonic()

    @staticmethod
    def _setting(name: str, version: int) -> str:
        return f"kms/{name}/{version}"

    async def _record(self, name: str, version: int, created: float) -> None:
        assert self._store is not None
        key = derive_version(self._masters[name], name, version)
        doc = json.dumps({"created": created, "check": check_value(key)})
        await self._store.set_setting(self._setting(name, version), doc)

    async def _read_new(self, name: str) -> None:
        """The versions recorded after the last one this gateway knows (each checked)."""
        assert self._store is not None
        master = self._masters[name]
        while True:
            version = self._known[name] + 1
            row = await self._store.get_setting(self._setting(name, version))
            if row is None:
                return
            doc = json.loads(row[0])
            key = derive_version(master, name, version)
            if not hmac.compare_digest(str(doc.get("check", "")), check_value(key)):
                raise KMSError(
                    f"KMS key {name!r}: the configured secret is not the one version {version} was made with "
                    "(the metadata store holds another master key's versions under this name): refusing to "
                    "seal data nobody could open; start with the right S3GW_KMS_SECRET_KEY / key file"
                )
            if version == 1:
                self._keys[name], self._created[name] = [], {}
            self._keys[name].append((str(version), key))
            self._created[name][str(version)] = float(doc.get("created", row[1]))
            self._known[name] = version

    async def _refresh(self, force: bool = False) -> None:
        """Pick up versions other gateways made (every ``REFRESH`` seconds, or now when ``force``).
        A store that cannot be read leaves what this gateway knows (sealing under an older version
        is still sound; the version is named in what it seals)."""
        if self._store is None or (not force and time.monotonic() - self._refreshed < REFRESH):
            return
        try:
            for name in self._masters:
                await self._read_new(name)
            self._refreshed = time.monotonic()
        except KMSError:
            raise
        except Exception as e:  # the metadata store is down: keep sealing under what we know
            if force:
                raise KMSError(f"cannot read the KMS key versions: {e}") from e
            log.warning("KMS: cannot refresh key versions (%s); using version %s", e, self._current_names())

    def _current_names(self) -> dict[str, str]:
        return {name: versions[-1][0] for name, versions in self._keys.items()}

    # -- the KMS interface ------------------------------------------------------------

    def key_names(self) -> list[str]:
        return list(self._keys)

    def _versions(self, key_id: str) -> list[tuple[str, bytes]]:
        versions = self._keys.get(key_id)
        if not versions:
            raise KeyNotFound(f"key {key_id!r} does not exist")
        return versions

    def _version_key(self, key_id: str, version: str) -> bytes:
        for v, key in self._versions(key_id):
            if v == version:
                return key
        master = self._masters.get(key_id)
        # a version another gateway made since we last looked: derived, no store needed
        if master is not None and version.isascii() and version.isdigit() and 1 <= int(version) <= MAX_VERSION:
            return derive_version(master, key_id, int(version))
        raise KMSError(f"key {key_id!r} has no version {version!r}")

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
        try:
            return sealed[len(MAGIC) + 1 : len(MAGIC) + 1 + n].decode()
        except UnicodeDecodeError:
            raise KMSError("not a sealed key of the built-in KMS") from None

    async def generate_data_key(self, key_id: str, context: Mapping[str, str]) -> DataKey:
        await self._refresh()
        return self._seal(key_id, secrets.token_bytes(32), context)

    async def decrypt_data_key(self, key_id: str, sealed: bytes, context: Mapping[str, str]) -> bytes:
        version = self.sealed_version(sealed)
        key = self._version_key(key_id, version)
        start = len(MAGIC) + 1 + len(version.encode())
        nonce, ct = sealed[start : start + 12], sealed[start + 12 :]
        try:
            return AESGCM(key).decrypt(nonce, ct, context_bytes(key_id, version, context))
        except InvalidTag as e:
            raise KMSError("sealed key does not open (wrong key, version or context)") from e

    async def reencrypt(self, key_id: str, sealed: bytes, context: Mapping[str, str]) -> DataKey:
        plaintext = await self.decrypt_data_key(key_id, sealed, context)
        await self._refresh()
        return self._seal(key_id, plaintext, context)

    async def status(self, key_id: str) -> KeyStatus:
        await self._refresh(force=self._store is not None)
        versions = [v for v, _ in self._versions(key_id)]
        return KeyStatus(
            key_id=key_id,
            versions=versions,
            current=versions[-1],
            created=dict(self._created.get(key_id, {})),
            backend=self.backend,
            rotation_period=self.rotation_period,
            rotation_enabled=self.rotation_period > 0,
        )

    async def rotate(self, key_id: str) -> KeyStatus:
        """A new version of ``key_id``, current from now on (recorded in the store: every gateway
        seals under it within ``REFRESH`` seconds)."""
        versions = self._versions(key_id)
        master = self._masters.get(key_id)
        if master is None:  # versions given outright (tests): a random one, in memory
            versions.append((str(int(versions[-1][0]) + 1), secrets.token_bytes(32)))
            return await self.status(key_id)
        await self._refresh(force=self._store is not None)
        versions = self._versions(key_id)
        nxt = int(versions[-1][0]) + 1
        key = derive_version(master, key_id, nxt)
        now = time.time()
        if self._store is None:
            versions.append((str(nxt), key))
            self._created[key_id][str(nxt)] = now
        else:
            # two gateways rotating at once both record version nxt: the same key, one creation time
            await self._record(key_id, nxt, now)
            await self._refresh(force=True)
        log.warning("KMS key %s rotated: version %s is current", key_id, self._versions(key_id)[-1][0])
        return await self.status(key_id)

    async def rotate_due(self, now: float | None = None) -> list[str]:
        """Rotate every key whose current version is ``rotation_period`` old; the names rotated."""
        if self.rotation_period <= 0 or not self._masters:
            return []
        now = time.time() if now is None else now
        await self._refresh(force=self._store is not None)
        rotated = []
        for name in list(self._masters):
            current = self._versions(name)[-1][0]
            made = self._created.get(name, {}).get(current)
            if made is None:  # in memory, not timed yet: count from now
                self._created.setdefault(name, {})[current] = now
            elif now - made >= self.rotation_period:
                await self.rotate(name)
                rotated.append(name)
        return rotated

    def next_rotation(self, key_id: str) -> float | None:
        """When ``key_id``'s current version is due for rotation (None: no automatic rotation)."""
        if self.rotation_period <= 0:
            return None
        made = self._created.get(key_id, {}).get(self._versions(key_id)[-1][0])
        return None if made is None else made + self.rotation_period
