"""Erasure-coding maths and codecs.

Vocabulary (the same as Swift's EC docs, with MinIO's "block" for a stripe's
payload):

* an object of ``size`` bytes is cut into *stripes* of ``block_size`` bytes
  (the last one may be shorter);
* each stripe is encoded into ``k + m`` *fragments*; fragment ``i`` of every
  stripe is appended, as one *block*, to *shard* ``i``;
* so shard ``i`` holds ``stripe_count(size, block_size)`` blocks and block
  ``j`` of every shard belongs to stripe ``j``. A byte range of the object maps
  to a range of stripes, which is the same range of block indices in every
  shard: no per-shard arithmetic beyond the shard file's frame offsets
  (``nodes.shardstore.frame_offset``).

The pure functions come first, each with worked examples; the codecs after.
"""

from __future__ import annotations

import struct
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

Buffer = bytes | bytearray | memoryview

# --------------------------------------------------------------------------
# stripe maths


def stripe_count(size: int, block_size: int) -> int:
    """Number of stripes (= blocks per shard) of an object.

    >>> stripe_count(0, 1 << 20)
    0
    >>> stripe_count(1, 1 << 20)
    1
    >>> stripe_count(1 << 20, 1 << 20)
    1
    >>> stripe_count((1 << 20) + 1, 1 << 20)
    2
    """
    return -(-size // block_size)


def stripe_length(stripe: int, size: int, block_size: int) -> int:
    """Object bytes in stripe ``stripe``: ``block_size`` except for the last.

    A 2.5 MiB object in 1 MiB stripes:

    >>> [stripe_length(s, 5 << 19, 1 << 20) for s in range(3)]
    [1048576, 1048576, 524288]
    """
    return max(0, min(block_size, size - stripe * block_size))


def stripe_span(offset: int, length: int, block_size: int) -> tuple[int, int]:
    """Stripes ``[first, end)`` covering object bytes ``[offset, offset+length)``.

    Bytes 1000..2999 with 1 KiB stripes touch stripes 0, 1 and 2:

    >>> stripe_span(1000, 2000, 1024)
    (0, 3)
    >>> stripe_span(1024, 1024, 1024)   # exactly stripe 1
    (1, 2)
    >>> stripe_span(5, 0, 1024)         # empty range: no stripe
    (0, 0)
    """
    if length <= 0:
        return 0, 0
    return offset // block_size, (offset + length - 1) // block_size + 1


def client_range_to_stripe_range(start: int, end: int, block_size: int) -> tuple[int, int]:
    """Widen an inclusive client byte range to whole stripes, as Swift's
    ``client_range_to_segment_range`` does. Returns the inclusive byte range of
    the object that must be decoded.

    ``Range: bytes=100-1100`` with 1 KiB stripes needs stripes 0 and 1:

    >>> client_range_to_stripe_range(100, 1100, 1024)
    (0, 2047)
    >>> client_range_to_stripe_range(1024, 1024, 1024)
    (1024, 2047)
    """
    return (start // block_size) * block_size, (end // block_size + 1) * block_size - 1


def stripe_slice(stripe: int, offset: int, length: int, block_size: int) -> tuple[int, int]:
    """The ``[lo, hi)`` slice of decoded stripe ``stripe`` that falls inside
    object bytes ``[offset, offset+length)``.

    Bytes 1000..2999 with 1 KiB stripes: the tail of stripe 0, all of stripe 1,
    the head of stripe 2:

    >>> [stripe_slice(s, 1000, 2000, 1024) for s in (0, 1, 2)]
    [(1000, 1024), (0, 1024), (0, 952)]
    """
    base = stripe * block_size
    lo = max(offset - base, 0)
    hi = min(offset + length - base, block_size)
    return lo, hi


def stripe_block_range(offset: int, length: int, block_size: int) -> tuple[int, int]:
    """Shard block range ``(first, count)`` to read for an object byte range;
    the same for every shard (block ``j`` of a shard is its fragment of stripe
    ``j``).

    A 1-byte read at 5 MiB of an object in 1 MiB stripes reads block 5 of each
    shard it uses, and nothing else:

    >>> stripe_block_range(5 << 20, 1, 1 << 20)
    (5, 1)
    >>> stripe_block_range(1000, 2000, 1024)
    (0, 3)
    """
    first, end = stripe_span(offset, length, block_size)
    return first, end - first


def split_size(stripe_len: int, k: int) -> int:
    """Bytes of each data fragment when a stripe is cut into ``k`` equal
    pieces (the last padded): ``ceil(stripe_len / k)``.

    >>> split_size(1 << 20, 6)    # 1048576 / 6 = 174762.67
    174763
    >>> split_size(7, 6)
    2
    """
    return -(-stripe_len // k)


def write_quorum(k: int, m: int) -> int:
    """Shards that must be durable before a write succeeds: k+1 when there is
    parity (so one more failure still leaves k readable), k without.

    >>> write_quorum(6, 3), write_quorum(4, 0)
    (7, 4)
    """
    return k + 1 if m > 0 else k


def raised_parity(k: int, m: int, offline: int) -> tuple[int, int] | None:
    """The geometry of a new object when ``offline`` of the ``k + m`` drives of
    its placement are down (MinIO's "availability optimized" putObject): parity
    raised by the number offline, as many data shards fewer, so the shards on
    the drives still online survive the loss of ``m`` more drives. ``None`` when
    no write is possible: more than ``m`` offline, or no data shard left (MinIO
    refuses those with its write-quorum error). Unlike MinIO the parity is not
    capped at half the drives (MinIO's cap keeps its per-drive metadata readable
    by a majority; s3gw keeps its metadata in SQL).

    >>> raised_parity(6, 3, 0), raised_parity(6, 3, 1), raised_parity(6, 3, 3)
    ((6, 3), (5, 4), (3, 6))
    >>> raised_parity(6, 3, 4) is None, raised_parity(2, 2, 2) is None, raised_parity(4, 0, 1) is None
    (True, True, True)
    """
    if offline <= 0:
        return k, m
    if offline > m or k - offline < 1:
        return None
    return k - offline, m + offline


def raised_parity_ec(ec_type: str, m: int) -> str:
    """The codec for a layout with raised parity: ISA-L's Vandermonde matrix is
    not invertible for every choice of k fragments once m > 4 (ISA-L's
    ``gf_gen_rs_matrix`` notes), so such layouts use its Cauchy matrix, which is.

    >>> raised_parity_ec("isa_l_rs_vand", 6), raised_parity_ec("isa_l_rs_vand", 4)
    ('isa_l_rs_cauchy', 'isa_l_rs_vand')
    """
    return "isa_l_rs_cauchy" if ec_type == "isa_l_rs_vand" and m > 4 else ec_type


# --------------------------------------------------------------------------
# codecs


class Codec(ABC):
    """Encodes a stripe into ``k + m`` fragments and back."""

    name: str
    k: int
    m: int

    @property
    def n(self) -> int:
        return self.k + self.m

    @abstractmethod
    def fragment_size(self, stripe_len: int) -> int:
        """Length of every fragment of a stripe of ``stripe_len`` bytes."""

    @abstractmethod
    def encode(self, stripe: Buffer) -> list[bytes]:
        """``k + m`` fragments (fresh bytes, never views of ``stripe``)."""

    @abstractmethod
    def decode(self, frags: Mapping[int, Buffer], stripe_len: int) -> bytes:
        """The stripe from at least ``k`` good fragments (index -> bytes)."""

    @abstractmethod
    def reconstruct(self, frags: Mapping[int, Buffer], targets: Sequence[int], stripe_len: int) -> list[bytes]:
        """Fragments ``targets`` rebuilt from at least ``k`` good ones."""

    def check_fragment(self, index: int, frag: Buffer, stripe_len: int) -> bool:
        """Cheap sanity check of a fragment that passed its bitrot hash."""
        return len(frag) == self.fragment_size(stripe_len)

    def data_views(self, frags: Mapping[int, Buffer], stripe_len: int) -> list[memoryview] | None:
        """The stripe as views of its data fragments (nothing copied), or None when it
        needs decoding (a data fragment missing, or a code that is not systematic)."""
        return None


# liberasurecode's fragment header (liberasurecode/erasurecode.h,
# fragment_header_t; persisted by Swift, so stable):
#   0 idx u32 | 4 size u32 | 8 frag_backend_metadata_size u32
#   12 orig_data_size u64 | ... | 59 magic u32 = 0xb0c5ecc | ... 80 bytes
_LEC_HEADER = 80
_LEC_MAGIC = 0xB0C5ECC
_LEC_META = struct.Struct("<IIIQ")

#: backends whose data fragments are the stripe cut in k pieces (systematic),
#: so reading the k data fragments needs no decoding at all
_SYSTEMATIC = {"isa_l_rs_vand", "isa_l_rs_cauchy", "liberasurecode_rs_vand", "jerasure_rs_vand", "jerasure_rs_cauchy"}


def default_ec_type() -> str:
    """'isa_l_rs_vand' when ISA-L is present, else 'liberasurecode_rs_vand'."""
    from pyeclib.ec_iface import ECDriver

    for ec_type in ("isa_l_rs_vand", "liberasurecode_rs_vand"):
        try:
            ECDriver(k=2, m=1, ec_type=ec_type)
            return ec_type
        except Exception:  # pyeclib raises a family of its own errors
            continue
    raise RuntimeError("pyeclib has neither ISA-L nor liberasurecode_rs_vand")


class PyECLibCodec(Codec):
    """Reed-Solomon through pyeclib. Fragments carry liberasurecode's 80-byte
    header. pyeclib only takes ``bytes`` (a memoryview makes liberasurecode
    abort the process), so everything handed to it is converted first."""

    def __init__(self, k: int, m: int, ec_type: str) -> None:
        from pyeclib.ec_iface import ECDriver

        if m < 1:
            raise ValueError("PyECLibCodec needs m >= 1 (use StripeCodec)")
        self.k, self.m, self.name = k, m, ec_type
        self.driver = ECDriver(k=k, m=m, ec_type=ec_type)
        self._systematic = ec_type in _SYSTEMATIC

    @lru_cache(maxsize=64)  # noqa: B019 - a codec lives as long as the process
    def fragment_size(self, stripe_len: int) -> int:
        return int(self.driver.get_segment_info(stripe_len, stripe_len)["fragment_size"])

    def encode(self, stripe: Buffer) -> list[bytes]:
        return self.driver.encode(stripe if type(stripe) is bytes else bytes(stripe))

    def _header(self, frag: Buffer) -> tuple[int, int, int] | None:
        if len(frag) < _LEC_HEADER:
            return None
        idx, size, _, orig = _LEC_META.unpack_from(frag, 0)
        (magic,) = struct.unpack_from("<I", frag, 59)
        if magic != _LEC_MAGIC or _LEC_HEADER + size > len(frag):
            return None
        return idx, size, orig

    def check_fragment(self, index: int, frag: Buffer, stripe_len: int) -> bool:
        h = self._header(frag)
        return h is not None and h[0] == index and h[2] == stripe_len and len(frag) == self.fragment_size(stripe_len)

    def data_views(self, frags: Mapping[int, Buffer], stripe_len: int) -> list[memoryview] | None:
        """The stripe is the k data payloads back to back (each after its 80-byte header,
        the last one's zero padding cut off):

        >>> c = PyECLibCodec(4, 2, default_ec_type())
        >>> frags = dict(enumerate(c.encode(b"0123456789")))
        >>> [bytes(v) for v in c.data_views(frags, 10)]
        [b'012', b'345', b'678', b'9']
        >>> del frags[1]; c.data_views(frags, 10) is None
        True
        """
        if not self._systematic:
            return None
        parts, got = [], 0
        for i in range(self.k):
            f = frags.get(i)
            if f is None:
                return None
            h = self._header(f)
            if h is None:
                return None
            take = min(h[1], stripe_len - got)
            if take > 0:
                parts.append(memoryview(f)[_LEC_HEADER : _LEC_HEADER + take])
            got += take
        return parts if got == stripe_len else None

    def decode(self, frags: Mapping[int, Buffer], stripe_len: int) -> bytes:
        views = self.data_views(frags, stripe_len)
        if views is not None:
            return b"".join(views)
        use = [bytes(frags[i]) for i in sorted(frags)[: self.k]]
        out = self.driver.decode(use)
        if len(out) != stripe_len:
            raise ValueError(f"decoded {len(out)} bytes, expected {stripe_len}")
        return out

    def reconstruct(self, frags: Mapping[int, Buffer], targets: Sequence[int], stripe_len: int) -> list[bytes]:
        use = [bytes(frags[i]) for i in sorted(frags)[: self.k]]
        out = self.driver.reconstruct(use, list(targets))
        if len(out) != len(targets):
            raise ValueError("pyeclib reconstructed the wrong number of fragments")
        return out


class StripeCodec(Codec):
    """m = 0: plain striping, no parity, no pyeclib. Fragment ``i`` is bytes
    ``[i*c, (i+1)*c)`` of the stripe, ``c = ceil(len/k)``, zero padded.

    >>> c = StripeCodec(3)
    >>> c.encode(b"abcdefg")
    [b'abc', b'def', b'g\\x00\\x00']
    >>> c.decode(dict(enumerate(c.encode(b"abcdefg"))), 7)
    b'abcdefg'
    """

    def __init__(self, k: int) -> None:
        self.k, self.m, self.name = k, 0, "stripe"

    def fragment_size(self, stripe_len: int) -> int:
        return split_size(stripe_len, self.k)

    def encode(self, stripe: Buffer) -> list[bytes]:
        mv = memoryview(stripe).cast("B")
        c = split_size(len(mv), self.k)
        out = []
        for i in range(self.k):
            piece = bytes(mv[i * c : (i + 1) * c])
            out.append(piece if len(piece) == c else piece + bytes(c - len(piece)))
        return out

    def data_views(self, frags: Mapping[int, Buffer], stripe_len: int) -> list[memoryview] | None:
        c = split_size(stripe_len, self.k)
        if any(i not in frags for i in range(self.k)):
            return None
        return [
            memoryview(frags[i])[: max(0, min(c, stripe_len - i * c))] for i in range(self.k) if stripe_len - i * c > 0
        ]

    def decode(self, frags: Mapping[int, Buffer], stripe_len: int) -> bytes:
        views = self.data_views(frags, stripe_len)
        if views is None:
            raise ValueError("striping without parity needs every fragment")
        return b"".join(views)

    def reconstruct(self, frags: Mapping[int, Buffer], targets: Sequence[int], stripe_len: int) -> list[bytes]:
        raise ValueError("nothing to reconstruct from without parity")


_CODECS: dict[tuple[str, int, int], Codec] = {}


def codec_for(ec_type: str, k: int, m: int) -> Codec:
    """A (shared, cached) codec. ``ec_type`` 'stripe' means m = 0."""
    key = (ec_type, k, m)
    codec = _CODECS.get(key)
    if codec is None:
        if k < 1 or m < 0:
            raise ValueError(f"bad erasure geometry k={k} m={m}")
        codec = StripeCodec(k) if m == 0 else PyECLibCodec(k, m, ec_type)
        _CODECS[key] = codec
    return codec


# --------------------------------------------------------------------------
# batch work, run in the compute thread pool (one call per batch of stripes)


def encode_stripes(
    codec: Codec, hash_fn: Callable[[Buffer], Buffer], data: memoryview, block_size: int
) -> list[list[Buffer]]:
    """Encode consecutive stripes; per shard, the writev-ready frame buffers
    ``[hash(f0), f0, hash(f1), f1, ...]``."""
    out: list[list[Buffer]] = [[] for _ in range(codec.n)]
    for off in range(0, len(data), block_size):
        for i, frag in enumerate(codec.encode(data[off : off + block_size])):
            out[i].append(hash_fn(frag))
            out[i].append(frag)
    return out


def decode_stripes(codec: Codec, frags: Sequence[Mapping[int, Buffer]], lengths: Sequence[int]) -> list[bytes]:
    return [codec.decode(f, n) for f, n in zip(frags, lengths)]


def reconstruct_stripes(
    codec: Codec,
    hash_fn: Callable[[Buffer], Buffer],
    frags: Sequence[Mapping[int, Buffer]],
    lengths: Sequence[int],
    targets: Sequence[int],
) -> dict[int, list[Buffer]]:
    """Rebuild fragments ``targets`` of each stripe, framed like ``encode_stripes``."""
    out: dict[int, list[Buffer]] = {t: [] for t in targets}
    for f, n in zip(frags, lengths):
        for t, frag in zip(targets, codec.reconstruct(f, targets, n)):
            out[t].append(hash_fn(frag))
            out[t].append(frag)
    return out
