"""Server-side encryption: the object format and the key handling (docs/encryption.md).

Object format. The plaintext is cut into packages of ``PACKAGE`` (64 KiB) bytes;
each is sealed on its own with AES-256-GCM, so it is stored as ``PACKAGE + TAG``
bytes (the last one shorter). A range read decrypts only the packages that
cover the range (``cipher_range``). The ciphertext goes through the normal
write path (erasure coding and bitrot hashing underneath, or the metadata row
for a small object): encryption happens above the storage.

Keys. Every object has its own random 256-bit data key, sealed by the KMS
(SSE-S3, SSE-KMS) or by the customer's key (SSE-C) and stored with the version
(``records.Encryption``). Every write of the data (the object, or each part of
a multipart object, each upload of that part) draws a random 256-bit ``iv``;
the packages of that write are sealed with

    package_key = HMAC-SHA256(data_key, "s3gw-sse-v1" | iv | part number (4 bytes))
    nonce       = package index (12 bytes, big-endian)
    aad         = "s3gw-sse-v1" | part number (4) | package index (8) | final (1)

so a (key, nonce) pair never repeats (a fresh iv gives a fresh key, the index
counts within it), and a package cannot be moved to another place, another
part, or cut off the end (``final`` marks the last one) without failing its
tag. The part number of a single-part object is 0.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..common.records import Encryption

PACKAGE = 64 * 1024  # plaintext bytes per package
TAG = 16  # AES-GCM tag
SEALED_PACKAGE = PACKAGE + TAG
DOMAIN = b"s3gw-sse-v1"

SSE_S3 = "AES256"
SSE_KMS = "aws:kms"
SSE_C = "SSE-C"

#: plaintext size above which the write path seals a chunk in a worker thread
OFFLOAD = 1 << 20


class Tampered(Exception):
    """A package failed its authentication tag (wrong key or altered data)."""


@dataclass
class SSERequest:
    """What a request asks of encryption (parsed by the API from its headers).

    ``kind`` SSE_S3, SSE_KMS or SSE_C (None: nothing asked); ``key_id`` and
    ``context`` for SSE-KMS; ``customer_key`` the SSE-C key (32 bytes, verified
    against its MD5 by the API), never stored.
    """

    kind: str | None = None
    key_id: str = ""
    context: dict[str, str] = field(default_factory=dict)
    customer_key: bytes | None = None
    customer_key_md5: str = ""  # base64, as the client sent it (echoed in responses)

    def __bool__(self) -> bool:
        return self.kind is not None


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text)


def new_iv() -> bytes:
    return os.urandom(32)


def new_data_key() -> bytes:
    return secrets.token_bytes(32)


def sealed_size(plain: int) -> int:
    """The stored size of ``plain`` bytes of plaintext.

    >>> sealed_size(0), sealed_size(1), sealed_size(PACKAGE), sealed_size(PACKAGE + 1)
    (0, 17, 65552, 65569)
    """
    full, rest = divmod(plain, PACKAGE)
    return full * SEALED_PACKAGE + (rest + TAG if rest else 0)


def cipher_range(offset: int, length: int, plain_size: int) -> tuple[int, int, int, int]:
    """The packages covering plaintext ``[offset, offset+length)``:
    (first package, ciphertext offset, ciphertext length, bytes to skip in the first package's plaintext).

    >>> cipher_range(0, 10, 100)
    (0, 0, 116, 0)
    >>> cipher_range(PACKAGE + 5, 10, 3 * PACKAGE)
    (1, 65552, 65552, 5)
    >>> cipher_range(PACKAGE - 1, 2, 3 * PACKAGE)  # straddles two packages
    (0, 0, 131104, 65535)
    """
    first = offset // PACKAGE
    last = (offset + length - 1) // PACKAGE
    start = first * SEALED_PACKAGE
    end = min(sealed_size(plain_size), (last + 1) * SEALED_PACKAGE)
    return first, start, end - start, offset - first * PACKAGE


def package_key(data_key: bytes, iv: bytes, part: int) -> bytes:
    return hmac.new(data_key, DOMAIN + iv + part.to_bytes(4, "big"), hashlib.sha256).digest()


def _nonce(index: int) -> bytes:
    return index.to_bytes(12, "big")


class _Packages:
    """The batching both directions share: buffers are held as they come (``feed``, no copy),
    and ``_drain`` runs ``_one`` on every complete package of ``size`` bytes into one new output
    of ``out_size`` bytes per package. A package split between two buffers is put together in
    one scratch buffer (the only copy); ``_copy_held`` copies the incomplete tail for callers
    that reuse their buffers (``update``)."""

    size = 0  # input bytes per package
    out_size = 0  # output bytes per package

    def __init__(self, part: int, first: int) -> None:
        self._part = part
        self._prefix = DOMAIN + part.to_bytes(4, "big")  # of every package's aad
        self._index = first
        self._held: list[memoryview] = []  # fed, not done yet: the first may start inside
        self._pos = 0  # where in _held[0] the next package starts
        self.pending = 0  # bytes held from _pos on
        self._scratch: bytearray | None = None

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Hold ``data`` (not copied: the caller must not change it) for the next drain."""
        if data:
            view = memoryview(data).cast("B")
            self._held.append(view)
            self.pending += len(view)

    def _drain(self, full: int) -> bytes | bytearray:
        if full <= 0:
            return b""
        size, out_size = self.size, self.out_size
        out = bytearray(full * out_size)
        dst = memoryview(out)
        held, pos = self._held, self._pos
        h = 0  # held[h] is the buffer the next package starts in, at pos
        for i in range(full):
            view = held[h]
            end = pos + size
            if end <= len(view):
                src = view[pos:end]
                pos = end
            else:  # it spans buffers: put it together
                if self._scratch is None:
                    self._scratch = bytearray(size)
                src = memoryview(self._scratch)
                got = len(view) - pos
                src[:got] = view[pos:]
                while got < size:
                    h += 1
                    view = held[h]
                    pos = min(len(view), size - got)
                    src[got : got + pos] = view[:pos]
                    got += pos
            if pos == len(view):
                h, pos = h + 1, 0
            self._one(src, dst[i * out_size : (i + 1) * out_size])
        del held[:h]
        self._pos = pos
        self.pending -= full * size
        return out

    def _copy_held(self) -> None:
        # one whole ``bytes`` held is kept as it is (nobody can change it)
        if self._held and (len(self._held) > 1 or self._pos or type(self._held[0].obj) is not bytes):
            rest = b"".join([self._held[0][self._pos :], *self._held[1:]])
            self._held, self._pos = ([memoryview(rest)] if rest else []), 0

    def _take_all(self) -> memoryview:
        """Every byte held, in one buffer (for the last, short package)."""
        self._copy_held()
        rest = self._held[0] if self._held else memoryview(b"")
        self._held, self._pos, self.pending = [], 0, 0
        return rest

    def _aad(self, final: bool) -> bytes:
        return self._prefix + self._index.to_bytes(8, "big") + (b"\x01" if final else b"\x00")

    def _one(self, src: memoryview, dst: memoryview) -> None:
        raise NotImplementedError


class Encryptor(_Packages):
    """Seals a stream into packages: ``update`` returns the complete packages so far (sealed
    straight from the caller's buffers into one output: ``AESGCM.encrypt_into``), ``finish``
    the last."""

    size, out_size = PACKAGE, SEALED_PACKAGE

    def __init__(self, data_key: bytes, iv: bytes, part: int) -> None:
        super().__init__(part, 0)
        self._aead = AESGCM(package_key(data_key, iv, part))

    def update(self, data: bytes | bytearray | memoryview) -> bytes | bytearray:
        self.feed(data)
        # keep at least one byte back: the last package is sealed as final by finish()
        out = self._drain((self.pending - 1) // PACKAGE)
        self._copy_held()
        return out

    def finish(self) -> bytes:
        if not self.pending:
            return b""  # an empty object has no package at all
        rest = self._take_all()
        out = self._aead.encrypt(_nonce(self._index), rest, self._aad(True))
        self._index += 1
        return out

    def _one(self, src: memoryview, dst: memoryview) -> None:
        self._aead.encrypt_into(_nonce(self._index), src, self._aad(False), dst)
        self._index += 1


def encrypt_all(data_key: bytes, iv: bytes, part: int, data: bytes) -> bytes:
    enc = Encryptor(data_key, iv, part)
    return bytes(enc.update(data)) + enc.finish()


class Decryptor(_Packages):
    """Opens packages ``first``, ``first + 1``, ... of a write whose plaintext is ``plain_size`` bytes:
    ``feed`` then ``drain`` for buffers nobody changes (the storage's read views: held, not
    copied), ``update`` for buffers the caller may reuse (only the incomplete tail is copied);
    opened straight into one output (``AESGCM.decrypt_into``)."""

    size, out_size = SEALED_PACKAGE, PACKAGE

    def __init__(self, data_key: bytes, iv: bytes, part: int, first: int, plain_size: int) -> None:
        super().__init__(part, first)
        self._aead = AESGCM(package_key(data_key, iv, part))
        self._last = max(0, (plain_size - 1) // PACKAGE)

    def drain(self) -> bytes | bytearray:
        """The plaintext of every complete package held, in one new buffer (b"" when none)."""
        return self._drain(self.pending // SEALED_PACKAGE)

    def update(self, data: bytes | bytearray | memoryview) -> bytes | bytearray:
        """The plaintext of every package ``data`` completes, in one buffer; b"" when none."""
        self.feed(data)
        out = self.drain()
        self._copy_held()
        return out

    def finish(self) -> bytes:
        if not self.pending:
            return b""
        rest = self._take_all()
        try:
            out = self._aead.decrypt(_nonce(self._index), rest, self._aad(self._index == self._last))
        except InvalidTag as e:
            raise Tampered(f"package {self._index} of part {self._part} does not authenticate") from e
        self._index += 1
        return out

    def _one(self, src: memoryview, dst: memoryview) -> None:
        try:
            self._aead.decrypt_into(_nonce(self._index), src, self._aad(self._index == self._last), dst)
        except InvalidTag as e:
            raise Tampered(f"package {self._index} of part {self._part} does not authenticate") from e
        self._index += 1


#: plaintext bytes opened per piece of a read (16 packages): one buffer and one write to the
#: client per MiB instead of one per storage fragment (about 171 KiB with 6 data shards)
READ_BATCH = 1 << 20


async def decrypt_range(
    source: AsyncIterator[bytes | bytearray | memoryview],
    data_key: bytes,
    iv: bytes,
    part: int,
    plain_size: int,
    offset: int,
    length: int,
) -> AsyncIterator[bytes | bytearray | memoryview]:
    """Plaintext ``[offset, offset+length)`` of one write, from ``source``: the ciphertext
    ``cipher_range`` names, in buffers nobody changes (held, not copied, until their packages
    are opened: the storage's read views), in pieces of about ``READ_BATCH`` (fresh buffers the
    caller may keep). Opened on the event loop: ``cryptography`` 48 holds the GIL while it opens,
    and a worker thread did not pay with a later one either (docs/benchmarks.md)."""
    first, _, _, skip = cipher_range(offset, length, plain_size)
    dec = Decryptor(data_key, iv, part, first, plain_size)
    left = length
    batch = READ_BATCH // PACKAGE * SEALED_PACKAGE
    async for chunk in source:
        dec.feed(chunk)
        if dec.pending < batch:
            continue
        plain = dec.drain()
        piece = _cut(plain, skip, left)
        skip = max(0, skip - len(plain))
        if piece:
            left -= len(piece)
            yield piece
    for plain in (dec.drain(), dec.finish()):
        piece = _cut(plain, skip, left)
        skip = max(0, skip - len(plain))
        if piece:
            left -= len(piece)
            yield piece


def _cut(plain: bytes | bytearray, skip: int, left: int) -> bytes | bytearray | memoryview:
    """``plain`` without its first ``skip`` bytes, at most ``left`` long (a view when cut)."""
    if not skip and len(plain) <= left:
        return plain
    return memoryview(plain)[skip : skip + max(0, left)]


# --------------------------------------------------------------------------- keys


@dataclass
class Sealing:
    """A write being encrypted: the version's ``Encryption`` (data key sealed) and the data key itself."""

    enc: Encryption
    data_key: bytes
    iv: bytes = b""

    part: int = 0

    def encryptor(self) -> Encryptor:
        """The packages of one write (the object: part 0; a multipart object's part: its number) under a fresh iv."""
        self.iv = new_iv()
        return Encryptor(self.data_key, self.iv, self.part)

    def finish(self, size: int, md5_hex: str) -> tuple[Encryption, str]:
        """The version's Encryption (its iv and plaintext size) and ETag (MinIO: the content's MD5 for
        SSE-S3; for SSE-KMS and SSE-C a value that is not it)."""
        etag = md5_hex if self.enc.alg == SSE_S3 else masked_etag(self.data_key, md5_hex)
        return replace(self.enc, iv=b64(self.iv), size=size), etag

    def finish_part(self, size: int, md5_hex: str) -> tuple[Encryption, str]:
        """A part's record of its encryption: the upload's algorithm and key id with the part's own iv
        and size (the sealed key stays with the upload, then the object: not one copy per part)."""
        enc, etag = self.finish(size, md5_hex)
        return replace(enc, sealed="", context={}), etag


def key_context(bucket: str, key: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The encryption context a data key is sealed with: the object's bucket and key (as MinIO binds
    them), plus the client's SSE-KMS context."""
    return {**(extra or {}), "bucket": bucket, "key": key}


def seal_with_customer_key(customer_key: bytes, data_key: bytes, bucket: str, key: str) -> bytes:
    """SSE-C: the data key sealed by the customer's key, bound to the object's name."""
    nonce = os.urandom(12)
    aad = DOMAIN + b"|ssec|" + bucket.encode() + b"/" + key.encode()
    return nonce + AESGCM(customer_key).encrypt(nonce, data_key, aad)


def open_with_customer_key(customer_key: bytes, sealed: bytes, bucket: str, key: str) -> bytes:
    aad = DOMAIN + b"|ssec|" + bucket.encode() + b"/" + key.encode()
    try:
        return AESGCM(customer_key).decrypt(sealed[:12], sealed[12:], aad)
    except (InvalidTag, ValueError) as e:
        raise Tampered("the customer key does not open this object's key") from e


def key_check(customer_key: bytes) -> str:
    """SSE-C: the keyed check value stored instead of the key (HMAC-SHA256 of a constant under the key)."""
    return b64(hmac.new(customer_key, DOMAIN + b"|ssec-check", hashlib.sha256).digest())


def masked_etag(data_key: bytes, md5_hex: str) -> str:
    """The ETag of an SSE-KMS/SSE-C object: 32 hex digits that are not the plaintext's MD5
    (MinIO shows such objects' ETags encrypted: never the content's MD5), stable for the object."""
    return hmac.new(data_key, DOMAIN + b"|etag|" + md5_hex.encode(), hashlib.sha256).hexdigest()[:32]


__all__ = [
    "PACKAGE",
    "SSE_C",
    "SSE_KMS",
    "SSE_S3",
    "Decryptor",
    "Encryptor",
    "Sealing",
    "SSERequest",
    "Tampered",
    "cipher_range",
    "decrypt_range",
    "sealed_size",
]
