"""S3 flexible checksums: CRC32, CRC32C, CRC64NVME, SHA1, SHA256.

S3 carries each checksum as the base64 of the big-endian digest, in the header
(or aws-chunked trailer) ``x-amz-checksum-<algorithm lower-case>``; the
algorithm itself is named in upper case (``x-amz-sdk-checksum-algorithm:
CRC32C``, ``<ChecksumAlgorithm>CRC32C</ChecksumAlgorithm>``). See the S3 user
guide, "Checking object integrity".

Implementations: CRC32 from zlib, CRC32C and CRC64NVME from ``awscrt`` (the
code botocore itself uses for them), SHA1/SHA256 from hashlib.

Multipart objects have two kinds of object checksum:

* COMPOSITE, the "checksum of checksums": the algorithm run over the
  concatenated raw part digests, reported with a ``-N`` suffix
  (:func:`composite`);
* FULL_OBJECT (CRC algorithms only): the CRC of the whole object, computed
  from the part CRCs and part lengths without re-reading the data
  (:func:`combine_crc`, :func:`full_object_crc`).

This module imports nothing from s3gw.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable

from awscrt import checksums as _crt

__all__ = [
    "ALGORITHMS",
    "CRC_ALGORITHMS",
    "Checksum",
    "combine_crc",
    "composite",
    "decode_b64",
    "digest_size",
    "full_object_crc",
    "header_name",
    "new_checksum",
    "normalize_algorithm",
]

ALGORITHMS: tuple[str, ...] = ("CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256")
CRC_ALGORITHMS: tuple[str, ...] = ("CRC32", "CRC32C", "CRC64NVME")

# Digest sizes in bytes.
_SIZES = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8, "SHA1": 20, "SHA256": 32}

# The three CRCs are all "reflected" CRCs with init = xorout = all ones; what the
# combine maths needs is the reflected polynomial and the register width.
#   CRC32     (ISO-HDLC): poly 0x04C11DB7           -> reflected 0xEDB88320
#   CRC32C    (Castagnoli): poly 0x1EDC6F41         -> reflected 0x82F63B78
#   CRC64NVME (NVM Express): poly 0xAD93D23594C93659 -> reflected 0x9A6C9329AC4BC9B5
_CRC_PARAMS: dict[str, tuple[int, int]] = {
    "CRC32": (0xEDB88320, 32),
    "CRC32C": (0x82F63B78, 32),
    "CRC64NVME": (0x9A6C9329AC4BC9B5, 64),
}


def normalize_algorithm(algo: str) -> str:
    """``"crc32c"`` -> ``"CRC32C"``; raise ValueError for an unknown algorithm."""
    name = algo.strip().upper()
    if name not in _SIZES:
        raise ValueError(f"unknown checksum algorithm: {algo!r}")
    return name


def header_name(algo: str) -> str:
    """The header / trailer carrying the value: ``x-amz-checksum-crc32`` etc."""
    return "x-amz-checksum-" + normalize_algorithm(algo).lower()


def digest_size(algo: str) -> int:
    """Size of the raw digest in bytes (4, 4, 8, 20, 32)."""
    return _SIZES[normalize_algorithm(algo)]


def decode_b64(algo: str, value: str) -> bytes | None:
    """The raw digest of a base64 checksum value, or None if it is not valid for ``algo``.

    Strict: canonical padding, no stray characters, exactly the digest size
    (what S3 answers ``InvalidRequest`` "Value for x-amz-checksum-... header is
    invalid." for).
    """
    size = digest_size(algo)
    try:
        raw = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw if len(raw) == size else None


class Checksum(ABC):
    """An incremental checksum; ``digest()`` may be called more than once."""

    algorithm: str

    @abstractmethod
    def update(self, data: bytes) -> None:
        """Feed more data."""

    @abstractmethod
    def digest(self) -> bytes:
        """The raw big-endian digest of everything fed so far."""

    def b64(self) -> str:
        """The digest as S3 sends it (base64)."""
        return base64.b64encode(self.digest()).decode("ascii")

    def __repr__(self) -> str:
        return f"<Checksum {self.algorithm} {self.b64()}>"


class _CrcChecksum(Checksum):
    """A running CRC kept as an int (zlib / awscrt take the previous value)."""

    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._crc = 0
        self._size = _SIZES[algorithm]
        if algorithm == "CRC32":
            self._fn = zlib.crc32
        elif algorithm == "CRC32C":
            self._fn = _crt.crc32c
        else:
            self._fn = _crt.crc64nvme

    def update(self, data: bytes) -> None:
        if data:
            self._crc = self._fn(data, self._crc)

    @property
    def value(self) -> int:
        """The CRC as an integer."""
        return self._crc

    def digest(self) -> bytes:
        return self._crc.to_bytes(self._size, "big")


class _HashChecksum(Checksum):
    def __init__(self, algorithm: str) -> None:
        self.algorithm = algorithm
        self._h = hashlib.sha1() if algorithm == "SHA1" else hashlib.sha256()

    def update(self, data: bytes) -> None:
        self._h.update(data)

    def digest(self) -> bytes:
        return self._h.digest()


def new_checksum(algo: str) -> Checksum:
    """A fresh checksum for ``algo`` (case-insensitive); ValueError if unknown."""
    name = normalize_algorithm(algo)
    if name in _CRC_PARAMS:
        return _CrcChecksum(name)
    return _HashChecksum(name)


def composite(algo: str, part_digests: Iterable[bytes]) -> str:
    """S3's COMPOSITE multipart checksum: ``b64(H(d1 || d2 || ... || dN)) + "-N"``.

    ``part_digests`` are the raw (not base64) part checksums, in part order.
    This is the value CompleteMultipartUpload / HeadObject report for a
    multipart object uploaded with a composite checksum (S3 user guide,
    "Checking object integrity" > "Using part-level checksums for multipart
    uploads").
    """
    ck = new_checksum(algo)
    n = 0
    for d in part_digests:
        ck.update(d)
        n += 1
    return f"{ck.b64()}-{n}"


# -------------------------------------------------------------- CRC combination
#
# crc(A || B) from crc(A), crc(B) and len(B), exactly as zlib's crc32_combine()
# (zlib 1.2.x crc32.c, Mark Adler): appending len(B) zero bytes to A is a linear
# map on the CRC register over GF(2), represented as a width x width bit matrix
# (one int per column). The matrix for one zero *bit* is the CRC's shift/xor
# step; squaring it repeatedly gives the operators for 2, 4, 8 ... zero bits,
# and the operator for len(B) zero bytes is the product of the squares selected
# by the bits of len(B). Then
#     crc(A || B) = op(len(B)) * crc(A)  XOR  crc(B)
# which holds as is for CRCs with init = xorout = all ones (the init/xorout
# contributions cancel), i.e. for all three S3 CRCs.


def _gf2_times(mat: list[int], vec: int) -> int:
    """Multiply the GF(2) matrix ``mat`` (columns as ints) by the vector ``vec``."""
    out = 0
    i = 0
    while vec:
        if vec & 1:
            out ^= mat[i]
        vec >>= 1
        i += 1
    return out


def _gf2_square(mat: list[int]) -> list[int]:
    """``mat * mat``."""
    return [_gf2_times(mat, col) for col in mat]


def _crc_combine_int(poly: int, width: int, crc1: int, crc2: int, len2: int) -> int:
    if len2 < 0:
        raise ValueError("len2 must be >= 0")
    if len2 == 0:
        return crc1
    # Operator for one zero bit: reflected CRC shifts right; bit 0 feeds back the poly.
    odd = [poly] + [1 << (n - 1) for n in range(1, width)]
    even = _gf2_square(odd)  # 2 zero bits
    odd = _gf2_square(even)  # 4 zero bits
    # Apply len2 zero *bytes*: the first square below is the 1-byte (8-bit) operator.
    while True:
        even = _gf2_square(odd)
        if len2 & 1:
            crc1 = _gf2_times(even, crc1)
        len2 >>= 1
        if not len2:
            break
        odd = _gf2_square(even)
        if len2 & 1:
            crc1 = _gf2_times(odd, crc1)
        len2 >>= 1
        if not len2:
            break
    return crc1 ^ crc2


def combine_crc(algo: str, crc1: bytes, crc2: bytes, len2: int) -> bytes:
    """CRC of ``A || B`` from the digests ``crc1 = crc(A)``, ``crc2 = crc(B)`` and ``len2 = len(B)``.

    Digests are raw big-endian bytes as returned by :meth:`Checksum.digest`
    (base64-decode stored values first). Only for CRC32 / CRC32C / CRC64NVME.
    """
    name = normalize_algorithm(algo)
    if name not in _CRC_PARAMS:
        raise ValueError(f"{name} is not a CRC algorithm; it cannot be combined")
    poly, width = _CRC_PARAMS[name]
    size = width // 8
    if len(crc1) != size or len(crc2) != size:
        raise ValueError(f"{name} digests are {size} bytes")
    out = _crc_combine_int(poly, width, int.from_bytes(crc1, "big"), int.from_bytes(crc2, "big"), len2)
    return out.to_bytes(size, "big")


def full_object_crc(algo: str, parts: Iterable[tuple[bytes, int]]) -> bytes:
    """The FULL_OBJECT CRC of a multipart object from its ``(part digest, part size)`` list."""
    name = normalize_algorithm(algo)
    acc: bytes | None = None
    for digest, size in parts:
        acc = digest if acc is None else combine_crc(name, acc, digest, size)
    if acc is None:
        return new_checksum(name).digest()
    return acc
